"""Visible watermark removal with a two-head autoencoder (SplitNet idea, Cun & Pun 2021)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from restore.ops.blend import classical_fill, classical_inpaint
from restore.ops.color import gray_to_rgb
from restore.ops.jpeg_history import has_jpeg_history
from restore.ops.tiling import ArraySource, pad_to_multiple, to_float
from restore.pipelines.base import OptionError, Pipeline, Prepared, prepare, read_mask, to_dtype
from restore.zoo.archs.unet import compose, watermark_mask
from restore.zoo.settings import UnwatermarkSettings

log = logging.getLogger(__name__)

#: Refinements of the opaque part of a watermark (predicted alpha above the model's
#: ``opaque_alpha``): the inpainting pipeline (its default zoo model), OpenCV Telea, or none.
REFINE = ("inpaint", "telea", "none")


def confident_components(prob: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """The pixels of ``prob`` above ``low`` that are connected (4-neighbourhood) to a pixel
    above ``high`` (scikit-image's ``apply_hysteresis_threshold``).

    Args:
        prob: (B, 1, H, W) float mask probabilities in [0, 1].
        low, high: thresholds, ``0 <= low <= high <= 1``.

    Returns:
        (B, 1, H, W) bool, on ``prob``'s device.

    Raises:
        ValueError: unless ``0 <= low <= high <= 1``.
    """
    from skimage.filters import apply_hysteresis_threshold

    if not 0 <= low <= high <= 1:
        raise ValueError(f"hysteresis thresholds must satisfy 0 <= low <= high <= 1, got {low}, {high}")
    p = prob.detach().float().cpu().numpy()
    keep = np.stack([apply_hysteresis_threshold(p[i, 0], low, high) for i in range(p.shape[0])])[:, None]
    return torch.from_numpy(keep).to(prob.device)


def tta_boxes(keep: np.ndarray, margin: int) -> list[tuple[int, int, int, int]]:
    """The boxes in which :meth:`UnwatermarkPipeline.tta_average` runs its mirrored pass: the
    bounding box of each connected part (8-neighbourhood) of ``keep``, grown by ``margin``
    pixels on every side and clipped to the image, with overlapping boxes merged into
    their bounding box until none overlap.

    Args:
        keep: (H, W) bool.
        margin: pixels added on every side, >= 0.

    Returns:
        ``(y0, y1, x0, x1)`` per box (``keep[y0:y1, x0:x1]``), none overlapping; empty if
        ``keep`` has no pixel.

    Raises:
        ValueError: for a negative margin or a ``keep`` that is not 2-D.
    """
    import cv2

    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if keep.ndim != 2:
        raise ValueError(f"keep must be (H, W), got shape {keep.shape}")
    h, w = keep.shape
    n, _, stats, _ = cv2.connectedComponentsWithStats(keep.astype(np.uint8), connectivity=8)
    boxes = [(max(0, y - margin), min(h, y + bh + margin), max(0, x - margin), min(w, x + bw + margin))
             for x, y, bw, bh, _ in stats[1:n]]
    merged = True
    while merged:
        merged, out = False, []
        for b in boxes:
            for j, o in enumerate(out):
                if b[0] < o[1] and o[0] < b[1] and b[2] < o[3] and o[2] < b[3]:
                    out[j] = (min(b[0], o[0]), max(b[1], o[1]), min(b[2], o[2]), max(b[3], o[3]))
                    merged = True
                    break
            else:
                out.append(b)
        boxes = out
    return boxes


def _same_shape_batches(boxes: list[tuple[int, tuple[int, int, int, int]]], multiple_of: int, max_pixels: int
                        ) -> list[list[tuple[int, tuple[int, int, int, int]]]]:
    """Group ``(image index, (y0, y1, x0, x1))`` boxes by their size padded up to
    ``multiple_of``, each group cut into batches of at most ``max_pixels`` padded pixels (a
    box larger than that, or ``max_pixels`` 0, runs alone); order kept within a group."""
    m = max(1, multiple_of)
    groups: dict[tuple[int, int], list] = {}
    for item in boxes:
        y0, y1, x0, x1 = item[1]
        groups.setdefault((-(-(y1 - y0) // m) * m, -(-(x1 - x0) // m) * m), []).append(item)
    batches = []
    for (h, w), items in groups.items():
        per = max(1, max_pixels // (h * w)) if max_pixels else 1
        batches += [items[k:k + per] for k in range(0, len(items), per)]
    return batches


def inpaint_refine(y: torch.Tensor, region: torch.Tensor, inpainter) -> torch.Tensor:
    """Replace ``region`` of ``y`` by the inpainting pipeline's fill (GAN latent
    optimization, Yeh et al. 2017, Poisson-blended; :class:`restore.pipelines.inpaint.
    InpaintPipeline`); pixels outside ``region`` are returned unchanged.

    Args:
        y: (B, 3, H, W) float in [0, 1].
        region: (B, 1, H, W) bool, the pixels to fill.
        inpainter: an ``InpaintPipeline`` (called once per image that has a region pixel).

    Returns:
        (B, 3, H, W) float in [0, 1].
    """
    out = y.clone()
    for i in range(y.shape[0]):
        if not region[i].any():
            continue
        filled = inpainter(y[i:i + 1].cpu(), region[i:i + 1].float().cpu()).to(y)
        out[i] = torch.where(region[i], filled[0], y[i])
    return out


class UnwatermarkPipeline(Pipeline):
    """Remove visible watermarks (text, logos, tiled patterns) from photos.

    Example:
        >>> pipe = UnwatermarkPipeline.from_pretrained()     # default zoo model, device auto
        >>> clean = pipe(image)                              # numpy in -> numpy out, same dtype
        >>> clean, mask = pipe(image, return_mask=True)
        >>> clean = pipe(image, mask=corrected)              # a mask corrected by hand

    The network predicts the watermark's per-pixel alpha and a restored image; the
    output is ``mask * restored + (1 - mask) * input`` with the soft mask of
    :func:`restore.zoo.archs.unet.watermark_mask`, so every pixel where the mask is 0
    comes back exactly as it went in; a connected part of the mask is kept only if one of
    its pixels is confident (probability above the model's ``min_confidence``), which
    drops faint false detections on natural objects. Around the parts the first pass
    keeps, the mirrored image is run again and the two outputs averaged (test-time
    augmentation, :meth:`predict`), which drops many of the confident false detections, at
    about 1.4 times the network's time on the benchmark images. Where the predicted alpha
    is above the model's ``opaque_alpha`` (a strong mark, where a plain fill beats the
    network's guess) the region is filled by OpenCV Telea inpainting (``refine="telea"``,
    the shipped model's default) or by the inpainting pipeline (``refine="inpaint"``: the
    default ``inpaint`` zoo model, loaded on first use on the same device). Telea is the
    default because the two fill about equally well on held-out images with the shipped
    models while the GAN search costs several seconds per megapixel of filled region (see
    the unwatermark-s card in docs/models.md and ``docs/compare_unwatermark_refine.py``).
    Gray images run as three equal channels and come back gray; alpha is passed through
    unchanged.

    Marks on a photo that was saved as JPEG look different from marks on a lossless one
    (the mark is compressed with the photo), and a model trained on lossless marks finds
    few of them. A model whose settings name a ``jpeg_partner`` (unwatermark-s:
    unwatermark-jpeg-s, the same network fine-tuned on marked crops saved as JPEG) runs the
    partner's weights on an input with a JPEG history (:func:`restore.ops.jpeg_history.has_jpeg_history`:
    the 8x8 DCT coefficients sit on a quantization lattice; quality up to about 95, the
    8x8 grid where the encoder put it) and its own on the others; ``jpeg=True/False``
    overrides the detection.

    Every default (mask ramp, ``min_confidence``, ``opaque_alpha``, ``refine``, the TTA
    boxes' margin and largest area) is the model's: ``spec.settings``, a
    :class:`restore.zoo.settings.UnwatermarkSettings`.
    """

    task = "unwatermark"
    settings_type = UnwatermarkSettings
    backends = ("torch", "onnx")

    _inpainter = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._states: dict[bool, dict[str, torch.Tensor]] = {}
        self._networks: dict[bool, Any] = {}     # backend="onnx": the exported network of each set of weights
        self._jpeg_loaded = False
        self._active: UnwatermarkSettings = self.spec.settings

    @property
    def settings(self) -> UnwatermarkSettings:
        """The settings of the weights in use: the model's, or during a call that runs the
        JPEG partner's weights, the partner's (its ``min_confidence``, ``opaque_alpha``, ...)."""
        return self._active

    @property
    def jpeg_partner(self) -> str | None:
        """The zoo name of the model whose weights run on JPEG-saved inputs, or None."""
        return self.spec.settings.jpeg_partner

    def uses_jpeg_weights(self, image: Any, jpeg: bool | None = None) -> bool:
        """Whether ``__call__`` runs the JPEG partner's weights on ``image``.

        Args:
            image: one image (numpy ``H x W [x C]``, PIL image, or tensor (C, H, W) /
                (1, C, H, W)).
            jpeg: as in ``__call__``: None detects the JPEG history, True/False decide.

        Returns:
            False for a model without a ``jpeg_partner``; else ``jpeg``, or when None
            :func:`restore.ops.jpeg_history.has_jpeg_history` of the image.
        """
        if self.jpeg_partner is None:
            return False
        if jpeg is not None:
            return bool(jpeg)
        if not isinstance(image, (np.ndarray, torch.Tensor)):
            image = prepare(image).array
        return has_jpeg_history(image)

    @contextlib.contextmanager
    def _weights(self, use_jpeg: bool) -> Iterator[None]:
        """Hold the lock with the network's weights those of the partner (``use_jpeg``) or
        the model's own; the partner's are loaded on first use."""
        with self._lock:
            if use_jpeg != self._jpeg_loaded:
                if self.onnx_model is not None:
                    # ONNX Runtime runs a network exported from fixed weights: one per set, kept apart
                    if not self._networks:
                        self._networks[False] = self.onnx_model
                    if use_jpeg not in self._networks:
                        from restore.zoo.onnx_backend import OnnxNetwork
                        net, partner = self.load_partner(self.jpeg_partner, "JPEG")
                        self._networks[True] = OnnxNetwork(net, partner)
                    self.onnx_model = self._networks[use_jpeg]
                else:
                    if not self._states:
                        self._states[False] = {k: v.clone() for k, v in self.model.state_dict().items()}
                    if use_jpeg not in self._states:
                        net, _ = self.load_partner(self.jpeg_partner, "JPEG")
                        self._states[True] = {k: v.to(self._states[False][k].dtype)
                                              for k, v in net.state_dict().items()}
                    self.model.load_state_dict(self._states[use_jpeg])
                self._jpeg_loaded = use_jpeg
                log.debug("unwatermark: running %s's weights", self.jpeg_partner if use_jpeg else self.spec.name)
            if use_jpeg:
                from restore.zoo.registry import get_spec
                self._active = get_spec(self.jpeg_partner).settings
            try:
                yield
            finally:
                self._active = self.spec.settings

    def _min_confidence(self, min_confidence: float | str | None) -> float | None:
        """``"auto"`` -> the ``min_confidence`` of the weights in use; None and numbers as they are."""
        return self.settings.min_confidence if min_confidence == "auto" else min_confidence

    def resolve_options(self, *, return_mask: bool = False, refine: str | None = None,
                        opaque_alpha: float | None = None, min_confidence: float | str | None = "auto",
                        tta: bool = True, jpeg: bool | None = None) -> dict[str, Any]:
        """The options of ``__call__``, the model's settings filled in (None, ``"auto"``), checked.
        (On an image that runs the JPEG partner's weights, ``__call__`` fills in the
        partner's settings instead.)

        Raises:
            OptionError: for an unknown ``refine``, an ``opaque_alpha`` outside (0, 1], a
                ``min_confidence`` outside [the mask ramp's low end, 1] (and not None), or
                ``jpeg=True`` for a model without a JPEG partner.
        """
        if jpeg and self.jpeg_partner is None:
            raise OptionError("jpeg", f"{self.spec.name} has no JPEG-trained partner; it runs its own weights on "
                                      "every input (the default model, unwatermark-s, has one)")
        d = self.settings
        refine = d.refine if refine is None else refine
        opaque_alpha = d.opaque_alpha if opaque_alpha is None else opaque_alpha
        if refine not in REFINE:
            raise OptionError("refine", f"must be one of {', '.join(REFINE)}, got {refine!r}")
        if not 0 < opaque_alpha <= 1:
            raise OptionError("opaque_alpha", f"must be in (0, 1], got {opaque_alpha}")
        low = d.mask_ramp[0]
        if isinstance(min_confidence, str) and min_confidence != "auto":
            raise OptionError("min_confidence",
                              f"must be a number in [{low}, 1], 'auto' or None, got {min_confidence!r}")
        min_confidence = self._min_confidence(min_confidence)
        if min_confidence is not None and not low <= min_confidence <= 1:
            raise OptionError("min_confidence", f"must be in [{low}, 1], got {min_confidence}")
        return dict(return_mask=return_mask, refine=refine, opaque_alpha=opaque_alpha, min_confidence=min_confidence,
                    tta=tta, jpeg=None if jpeg is None else bool(jpeg))

    def __call__(self, image: Any, mask: Any = None, *, return_mask: bool = False, refine: str | None = None,
                 opaque_alpha: float | None = None, min_confidence: float | str | None = "auto",
                 tta: bool = True, jpeg: bool | None = None) -> Any:
        """Remove the watermark of one image (or a batch, for tensors).

        Args:
            image: numpy ``H x W [x C]`` (uint8, uint16 or float32 in [0, 1], C in 1-4),
                PIL image, or tensor (B, C, H, W)/(C, H, W) float in [0, 1].
            mask: where the watermark is, given instead of the model's decision (for
                example a predicted mask corrected by hand): numpy ``H x W`` or ``H x W x 1``
                (bool, uint8, uint16 or float), a PIL image (read as ``L``), or a tensor
                (H, W), (1, H, W) or (B, 1, H, W); nonzero = watermark, same height and
                width as ``image``. Pixels outside it come back exactly as they went in.
                Inside it the network's restoration is blended in with the model's soft
                mask where the model sees the mark (so its soft edges are kept) and the
                opaque part is refined as usual; where the model sees no mark (a part
                added by hand) the pixels are filled by ``refine`` (``"none"`` leaves the
                network's output there, which is close to the input). ``min_confidence``
                is not used. The mask that ``return_mask=True`` returns, passed back
                unchanged, gives the same result as the call without a mask, bit for bit.
                Default (None): the model finds the mark.
            return_mask: also return the watermark mask (the model's, or the given one
                with the model's soft edges).
            refine: ``"telea"`` fills the opaque part of the mark with OpenCV Telea
                inpainting, ``"inpaint"`` with the inpainting pipeline; ``"none"`` keeps
                the network's restoration there; default (None): the model's (telea).
            opaque_alpha: predicted opacity in (0, 1] above which the mark is taken as
                opaque and the region refined; default: the model's (0.3 for unwatermark-s).
            min_confidence: a connected part of the mask is kept only if its most probable
                pixel is more probable than this (:func:`confident_components`); None keeps
                every part; ``"auto"``: the model's (0.995 for unwatermark-s).
            tta: average in the mirrored pass around the mask's parts (:meth:`predict`);
                False runs the network once (faster, more false detections).
            jpeg: for a model with a ``jpeg_partner``: True runs the partner's weights
                (trained on marks saved as JPEG), False the model's own; default (None):
                the partner's on an image with a JPEG history (:meth:`uses_jpeg_weights`),
                decided per image of a batch.

        Returns:
            The restored image, of the same kind, dtype, shape and channel count as
            ``image``. With ``return_mask``, ``(image, mask)``: the soft mask in [0, 1]
            (1 = watermark) as an ``H x W`` array of the input's dtype (full scale =
            1), an ``L`` PIL image, or a (B, 1, H, W) / (1, H, W) float tensor.

        Raises:
            OptionError: for an option out of range (:meth:`resolve_options`; a ValueError).
            ValueError: for an unsupported shape, or a ``mask`` of another size than ``image``.
            TypeError: for an unsupported input or mask kind or dtype.
            WeightsError: ``refine="inpaint"`` and the inpainting model's weights are missing.
        """
        raw = dict(return_mask=return_mask, refine=refine, opaque_alpha=opaque_alpha, min_confidence=min_confidence,
                   tta=tta, jpeg=jpeg)
        o = self.resolve_options(**raw)
        prep = prepare(image)
        if prep.array is not None:
            use_jpeg = self.uses_jpeg_weights(prep.array, o["jpeg"])
        else:
            x = prep.x
            uses = [self.uses_jpeg_weights(x[i], o["jpeg"]) for i in range(x.shape[0])]
            if len(set(uses)) > 1:        # a batch of both kinds: each image with its own weights
                parts = [self(image[i:i + 1], None if mask is None else _batch_item(mask, i, x.shape[0]),
                              **{**raw, "jpeg": u}) for i, u in enumerate(uses)]
                if return_mask:
                    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
                return torch.cat(parts)
            use_jpeg = uses[0]
        with self._weights(use_jpeg):
            o = self.resolve_options(**raw)     # the settings of the weights in use (the partner's, or own)
            return self._call(image, prep, mask, o)

    def _call(self, image: Any, prep: Prepared, mask: Any, o: dict[str, Any]) -> Any:
        """``__call__`` with the options resolved and the weights chosen."""
        if prep.array is not None and prep.array.dtype in (np.uint8, np.uint16) and o["refine"] != "inpaint":
            h, w = prep.array.shape[:2]
            given = None if mask is None else given_mask(mask, 1, h, w)
            return self._call_by_bands(prep, given, o, mask_kind=image)
        x = prep.x.clamp(0, 1)
        given = None if mask is None else given_mask(mask, x.shape[0], x.shape[2], x.shape[3]).to(x.device)
        gray = x.shape[1] == 1
        if gray:
            x = gray_to_rgb(x)
        pred = self.predict(x, tta=o["tta"], min_confidence=o["min_confidence"])
        y, mask = self.restore_from_prediction(x, pred, refine=o["refine"], opaque_alpha=o["opaque_alpha"],
                                               min_confidence=o["min_confidence"], mask=given)
        if gray:
            y = y.mean(1, keepdim=True)
        result = prep.finish(y, prep.alpha)
        return (result, _mask_like(image, mask)) if o["return_mask"] else result

    def predict(self, x: torch.Tensor, *, tta: bool = True,
                min_confidence: float | str | None = "auto") -> torch.Tensor:
        """The network's output for ``x``: one pass (:meth:`run_model`, tiled), then, with
        ``tta``, the mirrored pass around what it found (:meth:`tta_average`).

        Args:
            x: (B, 3, H, W) float in [0, 1], the watermarked images.
            tta: run the mirrored pass; False returns :meth:`run_model`'s output.
            min_confidence: as in ``__call__`` (None: every part of the mask is boxed).

        Returns:
            (B, 5, H, W) float32 on ``x``'s device: the restored image (not clamped), the
            mask logit and the opacity logit, as :class:`restore.zoo.archs.unet.WatermarkUNet`.
        """
        pred = self.run_model(x)
        return self.tta_average(x, pred, min_confidence=min_confidence) if tta else pred

    def tta_average(self, x: torch.Tensor, pred: torch.Tensor, *,
                    min_confidence: float | str | None = "auto") -> torch.Tensor:
        """Test-time augmentation where it matters, given the first pass ``pred``.

        The parts of the first pass's mask that :meth:`restore_from_prediction` would keep
        (probability above the soft mask's low end, connected to a pixel above
        ``min_confidence``) are boxed with the model's ``tta_margin`` pixels of context
        (:func:`tta_boxes`); each box that covers at most the model's ``tta_max_area`` of
        the image is mirrored left-right, run again, mirrored back, and averaged with the
        first pass (logits and restored pixels). This is the flip self-ensemble of EDSR
        (Lim et al., "Enhanced Deep Residual Networks for Single Image Super-Resolution",
        CVPRW 2017), run only where the mask may end up: a false detection on a natural
        object rarely survives the mirrored view, a real mark does. Outside the boxes the
        first pass is returned as it is, so an image without any detection costs one pass,
        and the second pass runs on at most a quarter of the image per box (with the
        shipped model's settings). Boxes of the same size (padded to the model's
        ``multiple_of``) run as one batch, up to a tile's pixels (a tiled mark gives many
        such boxes): each box gets the numbers it would get alone.

        Args:
            x: (B, 3, H, W) float in [0, 1], the watermarked images.
            pred: (B, 5, H, W) float, :meth:`run_model`'s output for ``x`` (not modified).
            min_confidence: as in ``__call__`` (None: every part of the mask is boxed).

        Returns:
            (B, 5, H, W) float32, a new tensor on ``pred``'s device.
        """
        pred = pred.clone()  # run_model's output is an inference tensor, not writable outside inference mode
        return self._tta_in_place(lambda i, y0, y1, x0, x1: x[i:i + 1, :, y0:y1, x0:x1], pred,
                                  min_confidence=min_confidence)

    def _tta_in_place(self, read: Callable[[int, int, int, int, int], torch.Tensor], pred: torch.Tensor, *,
                      min_confidence: float | str | None = "auto") -> torch.Tensor:
        """:meth:`tta_average` on ``pred`` in place, the image's crops read by
        ``read(i, y0, y1, x0, x1)`` -> (1, 3, y1 - y0, x1 - x0) float32 (image ``i``)."""
        d = self.settings
        min_confidence = self._min_confidence(min_confidence)
        low = d.mask_ramp[0]
        b, _, h, w = pred.shape
        keep = confident_components(torch.sigmoid(pred[:, 3:4]), low, low if min_confidence is None else min_confidence)
        boxes = [(i, box) for i in range(b) for box in tta_boxes(keep[i, 0].cpu().numpy(), d.tta_margin)
                 if (box[1] - box[0]) * (box[3] - box[2]) <= d.tta_max_area * h * w]
        del keep
        for batch in _same_shape_batches(boxes, self.spec.multiple_of, (self.tile or 0) ** 2):
            # each box mirrored and padded as run_model would pad it alone; boxes of one padded
            # size run as one batch (fewer, larger network calls; the same numbers)
            crops = [pad_to_multiple(read(i, y0, y1, x0, x1).flip(-1), self.spec.multiple_of)[0]
                     for i, (y0, y1, x0, x1) in batch]
            out = self.run_model(torch.cat(crops))
            for k, (i, (y0, y1, x0, x1)) in enumerate(batch):
                mirrored = out[k:k + 1, :, :y1 - y0, :x1 - x0].flip(-1).to(pred.device)
                pred[i:i + 1, :, y0:y1, x0:x1] = (pred[i:i + 1, :, y0:y1, x0:x1] + mirrored) / 2
        return pred

    def restore_from_prediction(self, x: torch.Tensor, pred: torch.Tensor, *, refine: str | None = None,
                                opaque_alpha: float | None = None, ramp: tuple[float, float] | None = None,
                                min_confidence: float | str | None = "auto",
                                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The restored image and soft mask from the network's output (what ``__call__``
        does after the model ran): drop the parts of the mask without a confident pixel,
        compose with the soft mask, then refine the opaque part.

        With ``mask`` (where the watermark is, given), the soft mask is the model's inside
        ``mask`` and 0 outside; the pixels of ``mask`` where the model's is 0 get 1 and are
        refined with the opaque part (see ``__call__``).

        Args:
            x: (B, 3, H, W) float in [0, 1], the watermarked images.
            pred: (B, 5, H, W) float, :meth:`predict`'s output for ``x`` (restored image,
                mask logit, opacity logit).
            refine, opaque_alpha, min_confidence: as in ``__call__`` (None/"auto": the model's).
            ramp: the soft mask's ``(low, high)`` of :func:`restore.zoo.archs.unet.watermark_mask`;
                default: the model's ``mask_ramp``.
            mask: (B, 1, H, W) bool, the given watermark region; None: the model's.

        Returns:
            ``(y, mask)``: (B, 3, H, W) float in [0, 1] and (B, 1, H, W) float in [0, 1].

        Raises:
            ValueError: for a ramp that is not ordered within [0, 1], or a ``min_confidence``
                below its low end.
        """
        d = self.settings
        refine = d.refine if refine is None else refine
        opaque_alpha = d.opaque_alpha if opaque_alpha is None else opaque_alpha
        ramp = d.mask_ramp if ramp is None else ramp
        min_confidence = self._min_confidence(min_confidence)
        prob = torch.sigmoid(pred[:, 3:4])
        soft = watermark_mask(prob, ramp)
        alpha = torch.sigmoid(pred[:, 4:5])
        if mask is None:
            if min_confidence is not None:
                soft = soft * confident_components(prob, ramp[0], min_confidence)
            region = (alpha > opaque_alpha) & (soft > 0)
        else:
            given = mask.bool()
            added = given & (soft <= 0)           # marked by hand where the model sees no mark: fill it
            soft = torch.where(given, torch.where(added, torch.ones_like(soft), soft), torch.zeros_like(soft))
            region = given & ((alpha > opaque_alpha) | added)
        mask = soft
        y = compose(x, pred[:, :3].clamp(0, 1), mask)
        if refine == "telea":
            y = classical_fill(y, region, "telea")
        elif refine == "inpaint" and region.any():
            y = inpaint_refine(y, region, self.inpainter())
        return y.clamp(0, 1), mask

    def _call_by_bands(self, prep: Prepared, given: torch.Tensor | None, o: dict[str, Any], mask_kind: Any) -> Any:
        """``__call__`` for a numpy/PIL image of an integer dtype, with the numbers of the
        tensor path but bounded memory: the image stays in its file dtype (converted to
        float a tile or a band of rows at a time), the first pass is streamed
        (:meth:`Pipeline.run_model_streamed`) into one float32 prediction (20 bytes per
        pixel), the mirrored pass reads its crops from the file-dtype image, and the
        composition, rounding and returned mask are made a band of rows at a time into
        outputs of the file dtype. Besides those, the full-size arrays are a few bytes per
        pixel: the kept parts and the refined region (bool), the mask probability while the
        hysteresis runs, and, with a refined region, the 8-bit image that Telea fills."""
        arr = prep.array
        h, w = arr.shape[:2]
        gray = arr.shape[2] == 1
        d = self.settings
        ramp, opaque_alpha = d.mask_ramp, o["opaque_alpha"]
        min_confidence = o["min_confidence"]
        pred = torch.empty(1, 5, h, w)

        def sink(row0: int, block: torch.Tensor) -> None:
            pred[:, :, row0:row0 + block.shape[-2]] = block

        self.run_model_streamed(ArraySource(arr, 3), sink=sink)

        def read(i: int, y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
            t = to_float(arr[y0:y1, x0:x1]).permute(2, 0, 1)[None]
            return gray_to_rgb(t) if gray else t

        if o["tta"]:
            self._tta_in_place(read, pred, min_confidence=min_confidence)
        keep = None
        if given is None and min_confidence is not None:
            keep = confident_components(torch.sigmoid(pred[:, 3:4]), ramp[0], min_confidence)
        channels = 1 if gray else 3
        out = prep.new_output(h, w, channels)
        want_mask = o["return_mask"]
        mask_dtype = np.uint16 if arr.dtype == np.uint16 and isinstance(mask_kind, np.ndarray) else np.uint8
        mask_out = np.empty((h, w), mask_dtype) if want_mask else None
        region = torch.zeros(1, 1, h, w, dtype=torch.bool)
        # Telea fills the 8-bit image of the composition (:func:`restore.ops.blend.classical_fill`);
        # for an RGB uint8 image that is the output itself
        img8 = None
        if o["refine"] == "telea" and (gray or arr.dtype != np.uint8):
            img8 = np.empty((h, w, 3), np.uint8)
        step = max(1, (1 << 18) // w)  # a quarter MP per band
        for r0 in range(0, h, step):
            r1 = min(h, r0 + step)
            p = pred[:, :, r0:r1]
            prob = torch.sigmoid(p[:, 3:4])
            soft = watermark_mask(prob, ramp)
            alpha = torch.sigmoid(p[:, 4:5])
            if given is None:
                if keep is not None:
                    soft = soft * keep[:, :, r0:r1]
                reg = (alpha > opaque_alpha) & (soft > 0)
            else:
                g = given[:, :, r0:r1]
                added = g & (soft <= 0)
                soft = torch.where(g, torch.where(added, torch.ones_like(soft), soft), torch.zeros_like(soft))
                reg = g & ((alpha > opaque_alpha) | added)
            region[:, :, r0:r1] = reg
            y = compose(read(0, r0, r1, 0, w), p[:, :3].clamp(0, 1), soft)
            if img8 is not None:
                img8[r0:r1] = to_dtype(y[0].permute(1, 2, 0).numpy(), np.uint8)
            y = y.clamp(0, 1)
            if gray:
                y = y.mean(1, keepdim=True)
            out[r0:r1, :, :channels] = to_dtype(y[0].permute(1, 2, 0).numpy(), out.dtype)
            if want_mask:
                mask_out[r0:r1] = _quantize(soft[0, 0].numpy(), mask_dtype)
        pred = keep = None  # noqa: F841 - freed before Telea
        if o["refine"] == "telea" and bool(region.any()):
            r = region[0, 0].numpy()
            del region
            src = np.ascontiguousarray(out[..., :3]) if img8 is None else img8
            filled = classical_inpaint(src, r, "telea")[r].astype(np.float32) / np.float32(255.0)  # (n, 3)
            del src, img8
            if gray:
                filled = torch.from_numpy(filled).mean(1, keepdim=True).numpy()
            out[r, :channels] = to_dtype(filled, out.dtype)
        if prep.alpha_array is not None:
            a = prep.alpha_array  # integer levels come back unchanged from the float round trip
            out[..., channels:] = a
        result = prep.finish_array(out)
        if not want_mask:
            return result
        if isinstance(mask_kind, np.ndarray):
            return result, mask_out
        from PIL import Image
        return result, Image.fromarray(mask_out, mode="L")

    def inpainter(self):
        """The inpainting pipeline used by ``refine="inpaint"`` (the default ``inpaint``
        zoo model on this pipeline's device), loaded once on first use."""
        if self._inpainter is None:
            from restore.pipelines.inpaint import InpaintPipeline
            self._inpainter = InpaintPipeline.from_pretrained(device=str(self.device))
        return self._inpainter


def _mask_like(image: Any, mask: torch.Tensor) -> Any:
    """The (B, 1, H, W) mask in the caller's kind: numpy H x W of its dtype, PIL ``L``, or a tensor."""
    if isinstance(image, torch.Tensor):
        return mask.to(image.device) if image.ndim == 4 else mask[0].to(image.device)
    m = mask[0, 0].cpu().numpy()
    if isinstance(image, np.ndarray) and image.dtype in (np.uint8, np.uint16):
        return _quantize(m, image.dtype)
    if isinstance(image, np.ndarray):
        return m.astype(image.dtype)
    from PIL import Image
    return Image.fromarray(_quantize(m, np.uint8), mode="L")


def _batch_item(mask: Any, i: int, batch: int) -> Any:
    """Image ``i``'s part of a mask given for a batch of tensors ((B, 1, H, W), or one mask for all)."""
    if isinstance(mask, torch.Tensor) and mask.ndim == 4 and mask.shape[0] == batch:
        return mask[i:i + 1]
    return mask


def _quantize(m: np.ndarray, dtype: type) -> np.ndarray:
    """A soft mask in [0, 1] as ``dtype`` (full scale = 1), rounded, but nonzero exactly where
    ``m`` is: the mask can be passed back as ``mask=`` and gives the same result."""
    q = (m * np.iinfo(dtype).max + 0.5).astype(dtype)
    q[(q == 0) & (m > 0)] = 1
    return q


def given_mask(mask: Any, batch: int, height: int, width: int) -> torch.Tensor:
    """A watermark mask given to ``UnwatermarkPipeline.__call__`` -> (batch, 1, H, W) bool, True = mark:
    :func:`restore.pipelines.base.read_mask` with the rule "nonzero = mark" (``threshold=None``),
    so the soft mask this pipeline returns (nonzero exactly where the mark is) reads back as it was.

    Args:
        mask: numpy ``H x W`` / ``H x W x 1`` (any dtype, nonzero = mark), PIL image (read as
            ``L``), or tensor (H, W), (1, H, W) or (B, 1, H, W) (nonzero = mark).
        batch, height, width: the image's batch size and size.

    Raises:
        TypeError: an unsupported kind of mask.
        ValueError: a mask of another size (or batch size) than the image's.
    """
    return read_mask(mask, height, width, threshold=None, batch=batch).expand(batch, 1, height, width)
