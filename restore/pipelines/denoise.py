"""Denoising with the noise-level-conditioned autoencoder (FFDNet idea, Zhang et al. 2018)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from restore.ops.color import gray_to_rgb
from restore.ops.tiling import ArraySource
from restore.pipelines.base import OptionError, Pipeline, prepare
from restore.zoo.settings import DenoiseSettings

#: The noise levels of the field's AWGN benchmarks, on the 0-255 scale (FFDNet, Zhang et al.
#: 2018, is trained on [0, 75]): :func:`estimate_sigma` clips to it unless told otherwise.
SIGMA_RANGE = (0.0, 75.0)
#: Smallest side for which ``sigma="auto"`` can estimate the noise level.
MIN_SIDE_FOR_AUTO = 8
#: A coarse-scale noise reading this many times the fine-scale one means correlated noise.
CORRELATED_RATIO = 1.5
#: ``sigma="auto"`` estimates on a centre crop of at most this side (for speed).
AUTO_CROP = 1024


def _mad_sigma(a: np.ndarray) -> float:
    """``skimage.restoration.estimate_sigma`` of an H x W x C float image, averaged over
    channels; 0 where a channel has no non-zero detail coefficient (a flat image: skimage
    takes the median of an empty set, warns "mean of empty slice" and returns NaN)."""
    import warnings

    from skimage.restoration import estimate_sigma as mad_sigma

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sigmas = np.asarray(mad_sigma(a, channel_axis=-1, average_sigmas=False), dtype=np.float64)
    return float(np.nan_to_num(sigmas, nan=0.0).mean())


def auto_crop(height: int, width: int) -> tuple[slice, slice]:
    """The centre crop of at most ``AUTO_CROP`` px a side that :func:`estimate_sigma` reads,
    as ``(rows, cols)`` slices of an image of ``height x width`` px."""
    y0, x0 = max(0, (height - AUTO_CROP) // 2), max(0, (width - AUTO_CROP) // 2)
    return slice(y0, y0 + AUTO_CROP), slice(x0, x0 + AUTO_CROP)


def estimate_sigma(x: torch.Tensor, limits: tuple[float, float] = SIGMA_RANGE) -> float:
    """Estimate the noise level of an image, on the 0-255 scale.

    The wavelet-domain median absolute deviation of Donoho & Johnstone (1994)
    (``skimage.restoration.estimate_sigma``, averaged over channels) is taken on the
    image (``fine``) and on its 2x2 area-downsampled version (``coarse``, times 2, which
    is the same level for white noise). White noise reads about the same at both scales
    (image texture adds a little at the coarse one), so ``fine`` is returned unless
    ``coarse`` exceeds it by more than ``CORRELATED_RATIO``: then the noise is correlated
    between neighbouring pixels, as real camera noise is (demosaicing, JPEG), the finest
    scale misses most of it (about 0.5 where the noise std is 3-5 on PolyU pairs), and
    ``coarse`` is returned. Measured on AWGN over training images, the ratio is about 1.2
    at sigma 5 and closer to 1 above; on clean images about 2, where ``coarse`` (about 4)
    is returned. Runs on a centre crop of at most 1024 x 1024, for speed.

    Args:
        x: (1, C, H, W) float image in [0, 1].
        limits: ``(low, high)`` on the 0-255 scale to clip the estimate to (the pipeline
            passes its model's ``sigma_range``).

    Returns:
        The estimate, clipped to ``limits``.

    Raises:
        ValueError: if the image is smaller than 8 pixels on a side.
    """
    import cv2

    h, w = x.shape[-2:]
    if min(h, w) < MIN_SIDE_FOR_AUTO:
        raise ValueError(f"image is {w}x{h}: too small to estimate the noise level; pass sigma explicitly")
    rows, cols = auto_crop(h, w)
    a = x[0, :, rows, cols].permute(1, 2, 0).float().cpu().numpy()
    fine = _mad_sigma(a)
    half = cv2.resize(a, (a.shape[1] // 2, a.shape[0] // 2), interpolation=cv2.INTER_AREA)
    half = half[:, :, None] if half.ndim == 2 else half
    coarse = 2 * _mad_sigma(half) if min(half.shape[:2]) >= 4 else 0.0
    level = coarse if coarse > CORRELATED_RATIO * fine else fine
    return float(np.clip(level * 255.0, *limits))


class DenoisePipeline(Pipeline):
    """Remove noise from color or gray images with a noise-level-aware autoencoder.

    Example:
        >>> pipe = DenoisePipeline.from_pretrained()          # default zoo model, device auto
        >>> clean = pipe(noisy, sigma=25)                     # numpy in -> numpy out, same dtype

    Gray images run through the RGB network as three equal channels (it was trained on
    such gray crops) and come back gray. Alpha is passed through unchanged.
    """

    task = "denoise"
    settings_type = DenoiseSettings
    backends = ("torch", "onnx")

    def resolve_options(self, *, sigma: float | str = "auto") -> dict[str, Any]:
        """``sigma`` checked: ``"auto"``, or a number in the model's ``sigma_range`` (a
        blind model takes only ``"auto"``).

        Raises:
            OptionError: for another string, a number outside the range, or a number for
                a blind model.
        """
        if isinstance(sigma, str):
            if sigma != "auto":
                raise OptionError("sigma", f"must be a number (0-255 scale) or 'auto', got {sigma!r}")
            return {"sigma": sigma}
        if self.spec.settings.blind:
            raise OptionError("sigma", f"{self.spec.name} is a blind model and takes no noise level; leave sigma "
                                       f"at 'auto', or pick a model that takes one (e.g. dae-s)")
        s, (low, high) = float(sigma), self.spec.settings.sigma_range
        if not low <= s <= high:
            raise OptionError("sigma", f"{s:g} is outside the model's range {low:g}-{high:g} (0-255 scale)")
        return {"sigma": s}

    def __call__(self, image: Any, sigma: float | str = "auto") -> Any:
        """Denoise one image (or a batch, for tensors).

        Args:
            image: numpy ``H x W [x C]`` (uint8, uint16 or float32 in [0, 1], C in 1-4),
                PIL image, or tensor (B, C, H, W)/(C, H, W) float in [0, 1].
            sigma: noise standard deviation on the 0-255 scale, within the model's
                ``spec.settings.sigma_range`` (0-75 for dae-s); or ``"auto"`` to estimate
                it per image (:func:`estimate_sigma`). A blind model
                (``spec.settings.blind``, e.g. dae-real-s) takes only ``"auto"`` and
                estimates nothing: it removes whatever noise and compression it finds.

        Returns:
            The denoised image, of the same kind, dtype, shape and channel count as
            ``image``, clamped to [0, 1] (or the integer range).

        Raises:
            OptionError: for a sigma outside the model's range (a ValueError).
            ValueError: for an image too small for ``sigma="auto"``, or an unsupported shape.
            TypeError: for an unsupported input kind or dtype.
        """
        sigma = self.resolve_options(sigma=sigma)["sigma"]
        prep = prepare(image)
        limits, blind = self.spec.settings.sigma_range, self.spec.settings.blind
        if prep.array is not None:  # numpy or PIL: kept in its dtype, converted tile by tile
            gray = prep.array.shape[2] == 1
            if blind:
                sigma = 0.0
            elif sigma == "auto":
                crop = ArraySource(prep.array, 3).read(*auto_crop(*prep.array.shape[:2]))
                sigma = estimate_sigma(crop, limits)

            def post(y: torch.Tensor) -> torch.Tensor:
                y = y.clamp(0, 1)
                return y.mean(1, keepdim=True) if gray else y

            return self.map_streamed(prep, post, torch.full((1, 1, 1, 1), sigma / 255.0), channels=1 if gray else 3)
        x = prep.x
        gray = x.shape[1] == 1
        if gray:
            x = gray_to_rgb(x)
        sigmas = [0.0 if blind else estimate_sigma(x[i:i + 1], limits) if sigma == "auto" else sigma
                  for i in range(x.shape[0])]
        outs = []
        for i, s in enumerate(sigmas):
            smap = torch.full((1, 1, 1, 1), s / 255.0)
            outs.append(self.run_model(x[i:i + 1], smap))
        y = torch.cat(outs).clamp(0, 1)
        if gray:
            y = y.mean(1, keepdim=True)
        return prep.finish(y, prep.alpha)
