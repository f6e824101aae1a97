"""Colorization with a classification autoencoder (Zhang, Isola & Efros 2016), automatic or
guided by the user's color hints (Zhang, Zhu, Isola et al. 2017)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from restore.ops.color import lab_to_rgb, rgb_to_lab, rgb_to_lightness, spread_chroma
from restore.ops.hints import hints_from_rgba, optimize_hints, pool_hints, propagate_hints
from restore.ops.palette import match_chroma, reference_logits, training_log_prior
from restore.ops.tiling import to_float
from restore.pipelines.base import OptionError, Pipeline, Prepared, prepare, to_dtype
from restore.pipelines.colorize_reference import read_reference
from restore.zoo.accel import autocast
from restore.zoo.settings import ColorizeSettings

#: The smallest ``render_size`` accepted, in pixels.
MIN_RENDER_SIZE = 16


def render_shape(height: int, width: int, render_size: int, multiple_of: int) -> tuple[int, int]:
    """The network's input size for an ``height`` x ``width`` image: the short side scaled
    to ``render_size``, both sides rounded to a multiple of ``multiple_of`` (at least one)."""
    s = render_size / min(height, width)
    return (max(multiple_of, round(height * s / multiple_of) * multiple_of),
            max(multiple_of, round(width * s / multiple_of) * multiple_of))


def _box(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over a (2r+1)^2 window, replicate-padded; shape kept."""
    return F.avg_pool2d(F.pad(x, (r, r, r, r), mode="replicate"), 2 * r + 1, stride=1)


def guided_upsample(ab: torch.Tensor, L_low: torch.Tensor, L: torch.Tensor, radius: int = 2,
                    eps: float = 1e-3) -> torch.Tensor:
    """Edge-aware upsampling of chroma with the full-resolution lightness as guide: the
    fast guided filter (He & Sun, "Fast Guided Filter", arXiv 1505.00996, 2015, after He,
    Sun & Tang, "Guided Image Filtering", ECCV 2010). In each window of the low-resolution
    grid chroma is fitted as ``A * L + b``; A and b are upsampled and applied to the
    full-resolution L*, so chroma edges snap to the lightness edges instead of bleeding
    across them.

    Args:
        ab: (B, 2, h, w) chroma.
        L_low: (B, 1, h, w) L* in [0, 100] at the chroma's resolution.
        L: (B, 1, H, W) full-resolution L* in [0, 100].
        radius: window radius in low-resolution pixels.
        eps: regularisation on the (L*/100)^2 scale; larger is closer to bilinear.

    Returns:
        (B, 2, H, W) chroma.
    """
    a, b = guided_coefficients(ab, L_low, radius, eps)
    size = L.shape[-2:]
    a = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
    b = F.interpolate(b, size=size, mode="bilinear", align_corners=False)
    return a * (L / 100.0) + b


def guided_coefficients(ab: torch.Tensor, L_low: torch.Tensor, radius: int = 2, eps: float = 1e-3
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """The low-resolution linear model of :func:`guided_upsample`: chroma ``~ A * L*/100 + b``
    in each window (He & Sun 2015), window-averaged.

    Args:
        ab: (B, 2, h, w) chroma.
        L_low: (B, 1, h, w) L* in [0, 100] at the chroma's resolution.
        radius, eps: as in :func:`guided_upsample`.

    Returns:
        ``(A, b)``, each (B, 2, h, w).
    """
    g_low = L_low / 100.0
    mean_g, mean_p = _box(g_low, radius), _box(ab, radius)
    cov = _box(g_low * ab, radius) - mean_g * mean_p
    var = _box(g_low * g_low, radius) - mean_g * mean_g
    a = cov / (var + eps)
    b = mean_p - a * mean_g
    return _box(a, radius), _box(b, radius)


class RowUpsampler:
    """Bilinear upsampling of a (B, C, h, w) map to (H, W), produced a band of rows at a time,
    with the values of ``F.interpolate(m, size=(H, W), mode="bilinear", align_corners=False)``
    (the columns are interpolated once at the map's h rows, then each band's rows from them,
    in the order PyTorch's kernel combines the four neighbours), so that nothing of the full
    size is made.

    Args:
        m: (B, C, h, w) float map.
        size: (H, W) output size.
    """

    def __init__(self, m: torch.Tensor, size: tuple[int, int]) -> None:
        h = m.shape[-2]
        H, W = size
        self.cols = F.interpolate(m, size=(h, W), mode="bilinear", align_corners=False)  # (B, C, h, W)
        # PyTorch's source index (area_pixel_compute_source_index, align_corners=False), in float32
        src = ((torch.arange(H, dtype=torch.float32) + 0.5) * torch.tensor(h / H, dtype=torch.float32) - 0.5
               ).clamp_min(0)
        i0 = src.floor().long().clamp(max=h - 1)
        self.i0, self.i1 = i0, torch.where(i0 < h - 1, i0 + 1, i0)
        self.l1 = (src - i0.float()).to(m.dtype)
        self.l0 = 1 - self.l1

    def rows(self, r0: int, r1: int) -> torch.Tensor:
        """Output rows ``r0 .. r1``: (B, C, r1 - r0, W)."""
        c, sl = self.cols, slice(r0, r1)
        view = (1, 1, -1, 1)
        return (c[:, :, self.i0[sl]] * self.l0[sl].view(view).to(c.device)
                + c[:, :, self.i1[sl]] * self.l1[sl].view(view).to(c.device))


def _rgb_input(image: Any) -> Any:
    """Gray inputs (numpy H x W / H x W x 1 / H x W x 2, PIL L/LA/I;16, tensors with C=1)
    as RGB(A) of the same kind and dtype, so that the result comes back as RGB(A)."""
    if isinstance(image, np.ndarray):
        a = image[:, :, None] if image.ndim == 2 else image
        if a.ndim == 3 and a.shape[2] in (1, 2):
            return np.concatenate([np.repeat(a[:, :, :1], 3, axis=2), a[:, :, 1:]], axis=2)
        return image
    if isinstance(image, torch.Tensor):
        if image.ndim in (3, 4) and image.shape[-3] == 1:
            return image.repeat_interleave(3, dim=-3)
        return image
    try:
        from PIL import Image as PILImage
    except ImportError:  # pragma: no cover
        return image
    if isinstance(image, PILImage.Image):
        if image.mode in ("L", "1", "P"):
            return image.convert("RGBA" if "transparency" in image.info else "RGB")
        if image.mode == "LA":
            return image.convert("RGBA")
        if image.mode in ("I", "I;16", "I;16B", "F"):
            return _rgb_input(np.clip(np.array(image), 0, 65535).astype(np.uint16))
    return image


def render_hints(hints: Any, image_shape: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
    """The user's hints as the network's hint channels at the render size.

    Args:
        hints: a hint image, RGBA (numpy ``H x W x 4`` uint8/uint16/float in [0, 1], PIL
            RGBA/LA/P with transparency, or a tensor (4, H, W)/(1, 4, H, W) in [0, 1]):
            transparent except where a color is wanted, the RGB there being that color.
            It is scaled to the photo, so any size with the photo's aspect works (best:
            the photo's size). Or a sequence of points ``(x, y, (r, g, b))``: column and
            row in the photo's pixels, color as 0-255 sRGB.
        image_shape: (H, W) of the photo.
        size: (h, w) render size.

    Returns:
        (1, 3, h, w) float32 a*, b*, mask (:func:`restore.ops.hints.hints_from_rgba`).

    Raises:
        ValueError: a hint image without alpha, or a point outside the photo or malformed.
        TypeError: an unsupported kind.
    """
    if isinstance(hints, Sequence) and not isinstance(hints, (str, bytes)):
        out = torch.zeros(1, 3, *size)
        H, W = image_shape
        h, w = size
        for point in hints:
            try:
                x, y, rgb = point
                rgb = [float(c) for c in rgb]
            except (TypeError, ValueError):
                raise ValueError(f"a hint point is (x, y, (r, g, b)), got {point!r}") from None
            if len(rgb) != 3 or not (0 <= x < W and 0 <= y < H):
                raise ValueError(f"hint point {point!r} is not (x, y, (r, g, b)) inside the {W} x {H} photo")
            lab = rgb_to_lab(torch.tensor(rgb, dtype=torch.float32).clamp(0, 255).view(1, 3, 1, 1) / 255.0)
            r, c = min(h - 1, int(y * h / H)), min(w - 1, int(x * w / W))
            out[0, :2, r, c] = lab[0, 1:, 0, 0]
            out[0, 2, r, c] = 1.0
        return out
    prep = prepare(hints)
    if prep.alpha is None:
        raise ValueError("a hint image needs transparency (RGBA): transparent where no hint is given, "
                         "the color wanted elsewhere")
    rgb = prep.x if prep.x.shape[1] == 3 else prep.x.expand(-1, 3, -1, -1)
    return hints_from_rgba(torch.cat([rgb[:1], prep.alpha[:1]], 1), size)


class ColorizePipeline(Pipeline):
    """Colorize gray, faded or sepia photos.

    Example:
        >>> pipe = ColorizePipeline.from_pretrained()        # default zoo model, device auto
        >>> color = pipe(gray)                               # numpy in -> numpy RGB out, same dtype
        >>> vivid = pipe(gray, saturation=1.3, render_size=384)

    The image's lightness L* (CIE Lab, D65; for an RGB input, sepia or not, its own
    lightness: any color it has is discarded) is resized so that its short side is
    ``render_size`` (the network sees a small image; its chroma is upsampled to the full
    image, DeOldify's "render factor" idea) and the network predicts a distribution over a*b* chroma bins
    (:class:`restore.zoo.archs.unet.ColorizationUNet`). Its annealed mean is upsampled to the
    full resolution with the L* as guide (:func:`guided_upsample`) and merged with the
    full-resolution L*, so the detail of the input is never lost: the output's L* is the
    input's. Gray inputs come back as RGB; alpha is passed through unchanged. A model
    with hint inputs (``colorize-hints-s``) also takes ``hints``, colors the user wants
    at some pixels (Zhang, Zhu, Isola et al., "Real-Time User-Guided Image Colorization
    with Learned Deep Priors", SIGGRAPH 2017): the network spreads them over the regions
    they belong to; only their chroma is used. Any model takes a ``reference`` photo whose
    palette guides the colors (:mod:`restore.ops.palette`: its a*b* histogram reweights the
    network's per-pixel distribution, then the chroma is moved part of the way to its a*b*
    mean and std); it combines with hints, which win where they are given. The
    defaults of ``render_size`` and of the decoding (``prior``, ``temperature``,
    ``saturation``) are the model's (``spec.settings``, a
    :class:`restore.zoo.settings.ColorizeSettings`); with hints, a model may decode
    otherwise (its ``hint_prior`` and ``hint_temperature``).
    """

    task = "colorize"
    settings_type = ColorizeSettings

    def resolve_options(self, *, render_size: int | None = None, saturation: float | None = None,
                        temperature: float | None = None, prior: float | None = None,
                        edge_aware: bool = True, reference: Any = None,
                        reference_strength: float | None = None, chroma_spread: float | None = None,
                        tta: bool | None = None) -> dict[str, Any]:
        """The options of ``__call__``, checked; None replaced by the model's settings,
        except ``temperature`` and ``prior``, whose defaults depend on whether the call
        has hints (the model's ``hint_temperature`` and ``hint_prior``): they stay None
        unless given. A ``reference`` photo (or file) is read and summarized here, once
        (:func:`restore.pipelines.colorize_reference.read_reference`), so a folder run
        reads it once and a bad one is an error before any photo is read.

        Raises:
            OptionError: for a ``render_size`` < 16, a negative ``saturation``, a
                temperature outside (0, 1], a prior outside [0, 1], a negative
                ``reference_strength`` or ``chroma_spread``, or a reference that cannot be
                read or has no color.
        """
        d = self.spec.settings
        render_size = d.render_size if render_size is None else render_size
        saturation = d.saturation if saturation is None else saturation
        if prior is not None and not 0 <= prior <= 1:
            raise OptionError("prior", f"must be in [0, 1], got {prior}")
        if render_size < MIN_RENDER_SIZE:
            raise OptionError("render_size", f"must be >= {MIN_RENDER_SIZE} pixels, got {render_size}")
        if saturation < 0:
            raise OptionError("saturation", f"must be >= 0, got {saturation}")
        if temperature is not None and not 0 < temperature <= 1:
            raise OptionError("temperature", f"must be in (0, 1], got {temperature}")
        strength = d.reference_strength if reference_strength is None else reference_strength
        if strength < 0:
            raise OptionError("reference_strength", f"must be >= 0, got {strength}")
        spread = d.chroma_spread if chroma_spread is None else chroma_spread
        if spread < 0:
            raise OptionError("chroma_spread", f"must be >= 0, got {spread}")
        if reference is not None:
            reference = read_reference(reference, self.model.ab_bins)
        return dict(render_size=render_size, saturation=saturation, temperature=temperature, prior=prior,
                    edge_aware=edge_aware, reference=reference, reference_strength=strength,
                    chroma_spread=spread, tta=d.tta if tta is None else bool(tta))

    def _decoding(self, hints: bool, temperature: float | None = None, prior: float | None = None
                 ) -> tuple[float, float]:
        """The ``(temperature, prior)`` a call decodes with: those given, else the model's
        (``spec.settings``): ``hint_temperature`` / ``hint_prior`` when ``hints`` is true
        (the call has at least one hint) and they are set, else ``temperature`` / ``prior``."""
        d = self.spec.settings
        if temperature is None:
            temperature = d.hint_temperature if hints and d.hint_temperature is not None else d.temperature
        if prior is None:
            prior = d.hint_prior if hints and d.hint_prior is not None else d.prior
        return temperature, prior

    @property
    def takes_hints(self) -> bool:
        """Whether the model takes color hints."""
        return bool(self.spec.arch_kwargs.get("hints", False))

    def __call__(self, image: Any, hints: Any = None, *, render_size: int | None = None,
                 saturation: float | None = None, temperature: float | None = None, prior: float | None = None,
                 edge_aware: bool = True, reference: Any = None, reference_strength: float | None = None,
                 chroma_spread: float | None = None, tta: bool | None = None) -> Any:
        """Colorize one image (or a batch, for tensors).

        Args:
            image: numpy ``H x W [x C]`` (uint8, uint16 or float32 in [0, 1], C in 1-4),
                PIL image, or tensor (B, C, H, W)/(C, H, W) float in [0, 1].
            hints: None (automatic), a hint image (RGBA, transparent except the dots or
                strokes of the colors wanted) or a sequence of points ``(x, y, (r, g, b))``
                (:func:`render_hints`); only for a model with hint inputs; the same hints
                for every image of a batch.
            render_size: short side, in pixels, of the image the network sees (larger:
                more local detail in the colors, slower); default: the model's (256 for
                colorize-s, the size it was trained at).
            saturation: factor on the decoded chroma (a*, b*); 0 gives the gray image;
                default: the model's (1.0 for colorize-s).
            temperature: annealed-mean temperature (0 < T <= 1; lower is more vivid);
                default: the model's (0.6 for colorize-s; with hints, the model's
                ``hint_temperature`` if it has one).
            prior: share of the training's class rebalancing to undo, 0 to 1 (1: the
                plain posterior; with ``temperature=1`` its mean, the least-squares
                estimate); default: the model's (0.5 for colorize-s; with hints, the
                model's ``hint_prior`` if it has one: 1 for colorize-hints-s).
            edge_aware: guided (edge-aware) upsampling of the chroma; ``False`` uses bilinear.
            reference: None, or a color photo whose palette the result should take: numpy
                ``H x W x 3/4``, PIL image, tensor (3/4, H, W) in [0, 1] or an image file's
                path (transparent pixels are left out; any size, it is reduced to a short
                side of 256). Its a*b* histogram replaces the training set's color
                frequencies as the prior of the network's per-pixel distribution (Zhang et
                al. 2016's bins; the global histogram hint of Zhang et al. 2017), then the
                chroma is moved ``spec.settings.reference_match`` of the way to the
                reference's a*b* mean and std (Reinhard et al. 2001, "Color Transfer
                between Images"). The lightness stays the input's. The same reference for
                every image of a batch.
            reference_strength: exponent of the reference's palette as that prior, >= 0
                (0: only the mean/std move; 1: the reference's color frequencies replace the
                training set's; above about 1.25 the colors turn garish); default: the
                model's (1.0 for colorize-hints-s, 0.75 for colorize-s).
            chroma_spread: automatic mode only (no hints, no reference): factor, >= 0, on
                each pixel's chroma minus the photo's mean chroma
                (:func:`restore.ops.color.spread_chroma`; above 1: the photo's colors move
                apart, less of one overall tint); default: the model's.
            tta: average the network's bin logits (for the decoding, the same as its
                log-probabilities) over the image and its left-right mirror (the flip
                self-ensemble of Lim et al., "Enhanced Deep Residual Networks for Single
                Image Super-Resolution", CVPRW 2017; about twice the network's time);
                default: the model's.

        Returns:
            The colorized image, RGB (RGBA if the input had alpha), of the same kind and
            dtype as ``image`` and the same height and width.

        Raises:
            OptionError: for a ``render_size`` < 16, a negative ``saturation``, a
                temperature outside (0, 1] or a prior outside [0, 1], hints for a model
                without hint inputs, a negative ``reference_strength`` or ``chroma_spread``,
                or a reference that is not a readable color image (a ValueError).
            ValueError: for an unsupported shape, or hints that are not a hint image or points.
            TypeError: for an unsupported input kind or dtype.
        """
        o = self.resolve_options(render_size=render_size, saturation=saturation, temperature=temperature,
                                 prior=prior, edge_aware=edge_aware, reference=reference,
                                 reference_strength=reference_strength, chroma_spread=chroma_spread, tta=tta)
        reference = o["reference"]
        render_size, saturation = o["render_size"], o["saturation"]
        if hints is not None and not self.takes_hints:
            raise OptionError("hints", f"model {self.spec.name} takes no color hints; use colorize-hints-s")
        prep = prepare(_rgb_input(image))
        if prep.array is not None:  # numpy / PIL: the image stays in its file dtype, float a band at a time
            L = _lightness_by_bands(prep.array).to(self.device)
        else:
            x = prep.x.to(self.device)
            gray = bool((x[:, :1] == x[:, 1:2]).all() and (x[:, :1] == x[:, 2:3]).all())
            L = rgb_to_lightness(x[:, :1] if gray else x)
        size = render_shape(*L.shape[-2:], render_size, self.spec.multiple_of)
        L_render = F.interpolate(L, size=size, mode="bilinear", align_corners=False,
                                 antialias=size[0] < L.shape[-2])
        cl = torch.channels_last if self.device.type == "cpu" else torch.contiguous_format
        hint_maps = None
        if hints is not None:
            hint_maps = render_hints(hints, tuple(L.shape[-2:]), size).to(self.device)
            hint_maps = hint_maps.expand(L.shape[0], -1, -1, -1).to(self.dtype).contiguous(memory_format=cl)
        # a hint image without any hint (all transparent) colors as the automatic mode does
        has_hints = hint_maps is not None and bool(hint_maps[:, 2].any())
        temperature, prior = self._decoding(has_hints, o["temperature"], o["prior"])
        with torch.inference_mode():
            with autocast(self.precision):
                L_in = L_render.to(self.dtype).contiguous(memory_format=cl)
                # the features before the 1x1 tail; hint_maps is None for a model without hint inputs
                features = self.model.bin_features(L_in, hint_maps)
                if o["tta"]:
                    # flip self-ensemble: the mean of both views' logits, which differs from the
                    # mean of their log-probabilities by one constant per pixel that every later
                    # step (a softmax over the bins after per-bin terms) cancels; the tail being
                    # a 1x1 conv, it is the tail of the mean of their features
                    mirrored = self.model.bin_features(L_in.flip(-1).contiguous(memory_format=cl),
                                                       None if hint_maps is None else
                                                       hint_maps.flip(-1).contiguous(memory_format=cl)).flip(-1)
                    features = (features.float() + mirrored.float()) / 2
                logits = self.model.tail(features.to(L_in.dtype).contiguous(memory_format=cl)).float()
            if reference is not None:
                logits = reference_logits(logits, reference, o["reference_strength"],
                                          training_log_prior(self.model.log_weights))
            ab = self.model.decode(logits, temperature, prior)
            if reference is not None:
                ab = match_chroma(ab, reference, self.spec.settings.reference_match)
            if reference is None and not has_hints:
                ab = spread_chroma(ab, o["chroma_spread"])
            ab = ab * saturation
            L_low = F.interpolate(L_render, size=ab.shape[-2:], mode="bilinear", align_corners=False,
                                  antialias=True)
            if hint_maps is not None:
                ab = self._spread_hints(ab, L_low, pool_hints(hint_maps.float(), tuple(ab.shape[-2:])))
            if prep.array is not None:
                return self._finish_by_bands(prep, L, ab, L_low, edge_aware)
            if edge_aware:
                ab = guided_upsample(ab, L_low, L)
            else:
                ab = F.interpolate(ab, size=L.shape[-2:], mode="bilinear", align_corners=False)
            y = lab_to_rgb(torch.cat([L, ab], 1))
        return prep.finish(y.to(prep.x.device), prep.alpha)

    def _spread_hints(self, ab: torch.Tensor, L_low: torch.Tensor, hints: torch.Tensor) -> torch.Tensor:
        """The decoded chroma with the hints' corrections spread as the model's settings
        say (``hint_method``: :func:`restore.ops.hints.propagate_hints` or
        :func:`restore.ops.hints.optimize_hints`), all at the chroma's grid."""
        d = self.spec.settings
        if d.hint_method == "optimize":
            return optimize_hints(ab, L_low, hints, sigma=d.hint_sigma, decay=d.hint_decay)
        if d.hint_method == "geodesic" and d.hint_spread > 0:
            return propagate_hints(ab, L_low, hints, spread=d.hint_spread, edge=d.hint_edge)
        if d.hint_method not in ("geodesic", "optimize", "none"):
            raise ValueError(f"unknown hint_method {d.hint_method!r} in the settings of {self.spec.name}")
        return ab

    def _finish_by_bands(self, prep: Prepared, L: torch.Tensor, ab: torch.Tensor, L_low: torch.Tensor,
                         edge_aware: bool) -> Any:
        """The full-resolution end of ``__call__`` for a numpy/PIL image, a band of rows at a
        time: chroma upsampled (guided or bilinear) to the band, merged with its L*, converted
        to RGB and written into an output of the file dtype; alpha copied through. Besides the
        input and the output only ``L`` (float32, 4 bytes per pixel) has the image's size."""
        H, W = L.shape[-2:]
        if edge_aware:
            a, b = guided_coefficients(ab, L_low)
            ups = (RowUpsampler(a, (H, W)), RowUpsampler(b, (H, W)))
        else:
            ups = (RowUpsampler(ab, (H, W)),)
        out = prep.new_output(H, W, 3)
        step = _band_rows(W)
        for r0 in range(0, H, step):
            r1 = min(H, r0 + step)
            Lb = L[:, :, r0:r1]
            ab_b = ups[0].rows(r0, r1) * (Lb / 100.0) + ups[1].rows(r0, r1) if edge_aware else ups[0].rows(r0, r1)
            y = lab_to_rgb(torch.cat([Lb, ab_b], 1))
            out[r0:r1, :, :3] = to_dtype(y[0].permute(1, 2, 0).cpu().numpy(), out.dtype)
        if prep.alpha_array is not None:
            a = prep.alpha_array  # integer levels come back unchanged from the float round trip
            out[..., 3:] = a if a.dtype.kind == "u" else to_dtype(a.astype(np.float32), a.dtype)
        return prep.finish_array(out)


#: Pixels per band of the full-resolution steps of a numpy/PIL image (a quarter MP: the
#: band's float temporaries stay near 30 MiB at any image size).
BAND_PIXELS = 2**18


def _band_rows(width: int) -> int:
    return max(1, BAND_PIXELS // max(1, width))


def _lightness_by_bands(array: np.ndarray) -> torch.Tensor:
    """L* (:func:`restore.ops.color.rgb_to_lightness`) of an ``H x W x 3`` numpy image of a
    file dtype, converted a band of rows at a time: (1, 1, H, W) float32. A gray image
    (three equal channels, checked band by band) is taken as gray, as the tensor path does."""
    H, W = array.shape[:2]
    step = _band_rows(W)
    gray = all(np.array_equal(array[r:r + step, :, 0], array[r:r + step, :, 1])
               and np.array_equal(array[r:r + step, :, 0], array[r:r + step, :, 2]) for r in range(0, H, step))
    L = torch.empty(1, 1, H, W)
    for r0 in range(0, H, step):
        band = to_float(array[r0:r0 + step, :, :1] if gray else array[r0:r0 + step]).permute(2, 0, 1)[None]
        L[:, :, r0:r0 + band.shape[-2]] = rgb_to_lightness(band)
    return L
