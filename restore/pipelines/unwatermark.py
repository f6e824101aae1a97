"""Visible watermark removal with a two-head autoencoder (SplitNet idea, Cun & Pun 2021)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from restore.ops.color import gray_to_rgb
from restore.pipelines.base import Pipeline, prepare
from restore.zoo.archs.unet import MASK_RAMP, compose, watermark_mask

#: Refinements of the opaque part of a watermark (predicted alpha above :data:`OPAQUE_ALPHA`):
#: the inpainting pipeline (its default zoo model), OpenCV Telea, or none.
REFINE = ("inpaint", "telea", "none")
#: Predicted alpha above which the watermark is taken as opaque and refined: 0.3 scored best
#: (PSNR) on held-out training crops with the shipped model (docs/compare_unwatermark_refine.py).
OPAQUE_ALPHA = 0.3
#: A connected part of the mask (pixels with probability above the soft mask's low end) is
#: kept only if one of its pixels is more probable than this: hysteresis thresholding
#: (Canny, "A Computational Approach to Edge Detection", IEEE TPAMI 1986). Chosen on the
#: held-out training images (``docs/unwatermark_per_image.py``), never the bench.
MIN_CONFIDENCE = 0.995
#: Test-time augmentation: the mirrored image is run again in boxes this many pixels wider,
#: on every side, than the confident parts of the first pass's mask, and the two outputs are
#: averaged there (:meth:`UnwatermarkPipeline.tta_average`). 16 scored best on the held-out
#: training images (``docs/unwatermark_per_image.py``; 32 and 64 within 0.04 dB) and costs least.
TTA_MARGIN = 16
#: ... except in boxes larger than this share of the image (tiled or very large marks),
#: so that an image covered with marks does not cost two full passes. On the held-out
#: training images it runs an eighth less area twice (23 % of the image instead of 26 %)
#: for 37.07 dB instead of 37.11.
TTA_MAX_AREA = 0.25


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


def telea_refine(y: torch.Tensor, region: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """Replace ``region`` of ``y`` by OpenCV's Telea inpainting (Telea, "An Image
    Inpainting Technique Based on the Fast Marching Method", J. Graphics Tools 2004),
    computed on the 8-bit image; pixels outside ``region`` are returned unchanged.

    Args:
        y: (B, 3, H, W) float in [0, 1].
        region: (B, 1, H, W) bool, the pixels to fill.
        radius: Telea's neighbourhood radius in pixels.

    Returns:
        (B, 3, H, W) float in [0, 1].
    """
    from restore.pipelines.inpaint import classical_inpaint

    out = y.clone()
    for i in range(y.shape[0]):
        r = region[i, 0].cpu().numpy()
        if not r.any():
            continue
        img = (y[i].permute(1, 2, 0).cpu().numpy().clip(0, 1) * 255 + 0.5).astype(np.uint8)
        filled = torch.from_numpy(classical_inpaint(img, r, "telea", radius)).permute(2, 0, 1).to(y) / 255.0
        out[i] = torch.where(region[i], filled, y[i])
    return out


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

    The network predicts the watermark's per-pixel alpha and a restored image; the
    output is ``mask * restored + (1 - mask) * input`` with the soft mask of
    :func:`restore.zoo.archs.unet.watermark_mask`, so every pixel where the mask is 0
    comes back exactly as it went in; a connected part of the mask is kept only if one of
    its pixels is confident (probability above :data:`MIN_CONFIDENCE`), which drops
    faint false detections on natural objects. Around the parts the first pass keeps, the
    mirrored image is run again and the two outputs averaged (test-time augmentation,
    :meth:`predict`), which drops many of the confident false detections, at about 1.4
    times the network's time on the benchmark images. Where the predicted alpha is above
    :data:`OPAQUE_ALPHA` (a strong mark, where a plain fill beats the network's guess) the
    region is filled by OpenCV Telea inpainting (``refine="telea"``, the default) or by
    the inpainting pipeline (``refine="inpaint"``: the default ``inpaint`` zoo model,
    loaded on first use on the same device). Telea is the default because the two fill
    about equally well on held-out images with the shipped models while the GAN search
    costs several seconds per megapixel of filled region (see the unwatermark-s card in
    docs/models.md and ``docs/compare_unwatermark_refine.py``). Gray images run as three
    equal channels and come back gray; alpha is passed through unchanged.
    """

    task = "unwatermark"
    default_tile = 512
    default_overlap = 64

    _inpainter = None

    def __call__(self, image: Any, *, return_mask: bool = False, refine: str = "telea",
                 opaque_alpha: float = OPAQUE_ALPHA, min_confidence: float | None = MIN_CONFIDENCE,
                 tta: bool = True) -> Any:
        """Remove the watermark of one image (or a batch, for tensors).

        Args:
            image: numpy ``H x W [x C]`` (uint8, uint16 or float32 in [0, 1], C in 1-4),
                PIL image, or tensor (B, C, H, W)/(C, H, W) float in [0, 1].
            return_mask: also return the predicted watermark mask.
            refine: ``"telea"`` fills the opaque part of the mark with OpenCV Telea
                inpainting, ``"inpaint"`` with the inpainting pipeline; ``"none"`` keeps
                the network's restoration there.
            opaque_alpha: predicted opacity in (0, 1] above which the mark is taken as
                opaque and the region refined.
            min_confidence: a connected part of the mask is kept only if its most probable
                pixel is more probable than this (:func:`confident_components`); None keeps
                every part.
            tta: average in the mirrored pass around the mask's parts (:meth:`predict`);
                False runs the network once (faster, more false detections).

        Returns:
            The restored image, of the same kind, dtype, shape and channel count as
            ``image``. With ``return_mask``, ``(image, mask)``: the soft mask in [0, 1]
            (1 = watermark) as an ``H x W`` array of the input's dtype (full scale =
            1), an ``L`` PIL image, or a (B, 1, H, W) / (1, H, W) float tensor.

        Raises:
            ValueError: for an unknown ``refine`` or an unsupported shape.
            TypeError: for an unsupported input kind or dtype.
            WeightsError: ``refine="inpaint"`` and the inpainting model's weights are missing.
        """
        if refine not in REFINE:
            raise ValueError(f"refine must be one of {REFINE}, got {refine!r}")
        if not 0 < opaque_alpha <= 1:
            raise ValueError(f"opaque_alpha must be in (0, 1], got {opaque_alpha}")
        if min_confidence is not None and not MASK_RAMP[0] <= min_confidence <= 1:
            raise ValueError(f"min_confidence must be in [{MASK_RAMP[0]}, 1] or None, got {min_confidence}")
        prep = prepare(image)
        x = prep.x.clamp(0, 1)
        gray = x.shape[1] == 1
        if gray:
            x = gray_to_rgb(x)
        pred = self.predict(x, tta=tta, min_confidence=min_confidence)
        y, mask = self.restore_from_prediction(x, pred, refine=refine, opaque_alpha=opaque_alpha,
                                               min_confidence=min_confidence)
        if gray:
            y = y.mean(1, keepdim=True)
        result = prep.finish(y, prep.alpha)
        return (result, _mask_like(image, mask)) if return_mask else result

    def predict(self, x: torch.Tensor, *, tta: bool = True,
                min_confidence: float | None = MIN_CONFIDENCE) -> torch.Tensor:
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
                    min_confidence: float | None = MIN_CONFIDENCE) -> torch.Tensor:
        """Test-time augmentation where it matters, given the first pass ``pred``.

        The parts of the first pass's mask that :meth:`restore_from_prediction` would keep
        (probability above the soft mask's low end, connected to a pixel above
        ``min_confidence``) are boxed with :data:`TTA_MARGIN` pixels of context
        (:func:`tta_boxes`); each box that covers at most :data:`TTA_MAX_AREA` of the
        image is mirrored left-right, run again, mirrored back, and averaged with the first
        pass (logits and restored pixels). This is the flip self-ensemble of EDSR (Lim et
        al., "Enhanced Deep Residual Networks for Single Image Super-Resolution", CVPRW
        2017), run only where the mask may end up: a false detection on a natural object
        rarely survives the mirrored view, a real mark does. Outside the boxes the first
        pass is returned as it is, so an image without any detection costs one pass, and
        the second pass runs on at most a quarter of the image per box.

        Args:
            x: (B, 3, H, W) float in [0, 1], the watermarked images.
            pred: (B, 5, H, W) float, :meth:`run_model`'s output for ``x`` (not modified).
            min_confidence: as in ``__call__`` (None: every part of the mask is boxed).

        Returns:
            (B, 5, H, W) float32, a new tensor on ``pred``'s device.
        """
        pred = pred.clone()  # run_model's output is an inference tensor, not writable outside inference mode
        low = MASK_RAMP[0]
        keep = confident_components(torch.sigmoid(pred[:, 3:4]), low, low if min_confidence is None else min_confidence)
        for i in range(x.shape[0]):
            for y0, y1, x0, x1 in tta_boxes(keep[i, 0].cpu().numpy(), TTA_MARGIN):
                if (y1 - y0) * (x1 - x0) > TTA_MAX_AREA * x.shape[-2] * x.shape[-1]:
                    continue
                mirrored = self.run_model(x[i:i + 1, :, y0:y1, x0:x1].flip(-1)).flip(-1)
                pred[i:i + 1, :, y0:y1, x0:x1] = (pred[i:i + 1, :, y0:y1, x0:x1] + mirrored) / 2
        return pred

    def restore_from_prediction(self, x: torch.Tensor, pred: torch.Tensor, *, refine: str = "telea",
                                opaque_alpha: float = OPAQUE_ALPHA, ramp: tuple[float, float] = MASK_RAMP,
                                min_confidence: float | None = MIN_CONFIDENCE) -> tuple[torch.Tensor, torch.Tensor]:
        """The restored image and soft mask from the network's output (what ``__call__``
        does after the model ran): drop the parts of the mask without a confident pixel,
        compose with the soft mask, then refine the opaque part.

        Args:
            x: (B, 3, H, W) float in [0, 1], the watermarked images.
            pred: (B, 5, H, W) float, :meth:`predict`'s output for ``x`` (restored image,
                mask logit, opacity logit).
            refine, opaque_alpha, min_confidence: as in ``__call__``.
            ramp: the soft mask's ``(low, high)`` of :func:`restore.zoo.archs.unet.watermark_mask`.

        Returns:
            ``(y, mask)``: (B, 3, H, W) float in [0, 1] and (B, 1, H, W) float in [0, 1].

        Raises:
            ValueError: for a ramp that is not ordered within [0, 1], or a ``min_confidence``
                below its low end.
        """
        prob = torch.sigmoid(pred[:, 3:4])
        mask = watermark_mask(prob, ramp)
        if min_confidence is not None:
            mask = mask * confident_components(prob, ramp[0], min_confidence)
        alpha = torch.sigmoid(pred[:, 4:5])
        y = compose(x, pred[:, :3].clamp(0, 1), mask)
        region = (alpha > opaque_alpha) & (mask > 0)
        if refine == "telea":
            y = telea_refine(y, region)
        elif refine == "inpaint" and region.any():
            y = inpaint_refine(y, region, self.inpainter())
        return y.clamp(0, 1), mask

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
        return (m * np.iinfo(image.dtype).max + 0.5).astype(image.dtype)
    if isinstance(image, np.ndarray):
        return m.astype(image.dtype)
    from PIL import Image
    return Image.fromarray((m * 255 + 0.5).astype(np.uint8), mode="L")
