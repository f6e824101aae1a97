"""Every quality metric of training and benchmarks, once.

Two forms share each definition:

* numpy, for the benchmarks: one image, ``H x W x C`` (or ``H x W``) float in [0, 1], a
  Python float out (:func:`psnr`, :func:`ssim`, :func:`blockiness`); PSNR/SSIM from scikit-image;
* torch, for training validation and the per-image task figures: ``(B, C, H, W)`` float
  in [0, 1], a ``(B,)`` tensor out (:func:`batch_psnr`, :func:`hole_psnr`, :func:`rmse`, :func:`frmse`,
  :func:`hole_l1`, :func:`mask_iou`, :func:`colorfulness`, :func:`high_frequency_ratio`).

PSNR is in dB with a data range of 1. ``crop_border`` and ``y_channel`` give the
super-resolution protocol (Y of YCbCr, BT.601 as MATLAB's ``rgb2ycbcr``, a border of
``scale`` pixels cropped).
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from restore.ops.color import rgb_to_gray, rgb_to_y


def _sr_view(image: np.ndarray, crop_border: int, y_channel: bool) -> np.ndarray:
    """``image`` as float64, reduced to Y (``H x W``) when ``y_channel``, with
    ``crop_border`` pixels cropped on each side."""
    a = np.asarray(image, dtype=np.float64)
    if y_channel:
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"y_channel needs an H x W x 3 RGB image, got shape {a.shape}")
        a = rgb_to_y(torch.from_numpy(a).permute(2, 0, 1)[None])[0, 0].numpy()
    if crop_border:
        a = a[crop_border:-crop_border, crop_border:-crop_border]
    return a


def _check_pair(reference, test) -> None:
    if reference.shape != test.shape:
        raise ValueError(f"shape mismatch: reference {tuple(reference.shape)}, test {tuple(test.shape)}")


def psnr(reference: np.ndarray, test: np.ndarray, *, crop_border: int = 0, y_channel: bool = False) -> float:
    """PSNR in dB of ``test`` against ``reference``.

    Args:
        reference, test: ``H x W x C`` or ``H x W`` float arrays in [0, 1], same shape.
        crop_border: pixels cropped on each side first (SR: the scale).
        y_channel: measure the Y channel of YCbCr (BT.601, MATLAB ``rgb2ycbcr``) of RGB
            inputs, as the super-resolution literature does.

    Raises:
        ValueError: if the shapes differ, or ``y_channel`` is asked of a non-RGB image.
    """
    _check_pair(reference, test)
    ref, out = (_sr_view(a, crop_border, y_channel) for a in (reference, test))
    return float(peak_signal_noise_ratio(ref, out, data_range=1.0))


def ssim(reference: np.ndarray, test: np.ndarray, *, crop_border: int = 0, y_channel: bool = False) -> float:
    """SSIM (Wang et al. 2004, Gaussian window sigma 1.5 as in the original code) of
    ``test`` against ``reference``; ``H x W x C`` arrays are averaged over channels.
    ``crop_border`` and ``y_channel`` as in :func:`psnr`.

    Raises:
        ValueError: if the shapes differ, or ``y_channel`` is asked of a non-RGB image.
    """
    _check_pair(reference, test)
    ref, out = (np.squeeze(_sr_view(a, crop_border, y_channel)) for a in (reference, test))
    return float(structural_similarity(ref, out, data_range=1.0, gaussian_weights=True,
                                       sigma=1.5, use_sample_covariance=False,
                                       channel_axis=-1 if ref.ndim == 3 else None))


#: Side of a JPEG block (DCT block of the luminance), pixels.
JPEG_BLOCK = 8


def blockiness(image: np.ndarray, scale: int = 1, block: int = JPEG_BLOCK) -> float:
    """JPEG blockiness of an image made from (or being) a JPEG whose 8x8 grid starts at the
    top-left pixel: the mean absolute luminance step across the block boundaries, over the
    mean step across the other pixel boundaries of the same grid phase. 1 = no blocking;
    on a natural photo a JPEG scores about 1.02 at quality 95, 1.6 at 30 and 2.7 at 10.

    For an upscaled output (``scale`` > 1) the low-resolution JPEG's grid is mapped to the
    output grid: a block boundary of the input, between input pixels ``8k - 1`` and ``8k``,
    is the step between output pixels ``8ks - 1`` and ``8ks``; the reference steps are
    those between output pixels ``js - 1`` and ``js`` for ``j`` not a multiple of 8 (the
    boundaries of the other input pixels), so that the phase of an interpolation kernel
    does not count as blocking. Steps are taken along rows and columns and pooled; the
    luminance is Y of YCbCr (BT.601, as the SR metrics).

    Args:
        image: ``H x W x 3`` RGB or ``H x W`` gray, float in [0, 1] or uint8.
        scale: output pixels per input pixel (1 for the JPEG itself).
        block: block side of the input's grid (8 for JPEG).

    Returns:
        The ratio (float); NaN if the image is too small to hold one block boundary and one
        other boundary (under ``(block + 1) * scale`` pixels a side).

    Raises:
        ValueError: for a scale or block below 1, or an image that is not 2-D or H x W x 3.
    """
    if scale < 1 or block < 1:
        raise ValueError(f"scale and block must be >= 1, got {scale}, {block}")
    a = np.asarray(image)
    a = a / 255.0 if a.dtype == np.uint8 else a.astype(np.float64)
    if a.ndim == 3 and a.shape[2] == 3:
        a = rgb_to_y(torch.from_numpy(a).permute(2, 0, 1)[None].double())[0, 0].numpy()
    elif a.ndim != 2:
        raise ValueError(f"expected an H x W x 3 or H x W image, got shape {a.shape}")
    on, off = [], []
    for steps in (np.abs(np.diff(a, axis=1)), np.abs(np.diff(a, axis=0)).T):  # steps[:, x]: between x and x + 1
        j = np.arange(1, steps.shape[1] // scale + 1)     # input boundaries j - 1 | j, at output step js - 1
        j = j[j * scale - 1 < steps.shape[1]]
        on.append(steps[:, j[j % block == 0] * scale - 1].ravel())
        off.append(steps[:, j[j % block != 0] * scale - 1].ravel())
    on, off = np.concatenate(on), np.concatenate(off)
    if on.size == 0 or off.size == 0:
        return float("nan")
    return float(on.mean() / max(off.mean(), 1e-12))


def batch_psnr(reference: torch.Tensor, test: torch.Tensor, *, crop_border: int = 0,
               y_channel: bool = False) -> torch.Tensor:
    """Per-image PSNR in dB for (B, C, H, W) tensors in [0, 1]; ``test`` is clamped to
    [0, 1] (after the Y conversion when ``y_channel``). ``crop_border`` and ``y_channel``
    as in :func:`psnr`. Returns a (B,) tensor.

    Raises:
        ValueError: if the shapes differ.
    """
    _check_pair(reference, test)
    if y_channel:
        reference, test = rgb_to_y(reference), rgb_to_y(test)
    if crop_border:
        c = slice(crop_border, -crop_border)
        reference, test = reference[..., c, c], test[..., c, c]
    mse = ((reference - test.clamp(0, 1)) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return -10 * torch.log10(mse)


def _masked_mse(reference: torch.Tensor, test: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error over the pixels (all channels) where ``mask`` is set;
    (B,), 0 for an empty mask."""
    _check_pair(reference, test)
    m = mask.to(reference.dtype).expand(-1, 1, -1, -1)
    area = (m.flatten(1).sum(1) * reference.shape[1]).clamp_min(1)
    return ((reference - test) ** 2 * m).flatten(1).sum(1) / area


def hole_psnr(reference: torch.Tensor, test: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB) inside the hole, the inpainting figure (Yeh et al. 2017 report
    PSNR over the filled region too).

    Args:
        reference, test: (B, C, H, W) float in [0, 1].
        mask: (B, 1, H, W), bool or float, nonzero = hole.

    Returns:
        (B,) PSNR; 100 dB where the hole is empty or filled exactly.

    Raises:
        ValueError: if ``reference`` and ``test`` differ in shape.
    """
    return -10 * torch.log10(_masked_mse(reference, test, mask).clamp_min(1e-10))


def rmse(reference: torch.Tensor, test: torch.Tensor, *, data_range: float = 255.0) -> torch.Tensor:
    """Per-image root mean squared error over all pixels and channels, on the
    0-``data_range`` scale (the ``RMSE`` of the watermark-removal papers with 255).

    Args:
        reference, test: (B, C, H, W) float in [0, 1].
        data_range: scale of the result.

    Returns:
        (B,) RMSE.

    Raises:
        ValueError: if the shapes differ.
    """
    _check_pair(reference, test)
    return ((reference - test) ** 2).flatten(1).mean(1).sqrt() * data_range


def frmse(reference: torch.Tensor, test: torch.Tensor, mask: torch.Tensor, *,
          data_range: float = 255.0) -> torch.Tensor:
    """Per-image RMSE inside ``mask`` (fRMSE, the watermark-removal figure of Hertz et al.
    2019), on the 0-``data_range`` scale.

    Args:
        reference, test: (B, C, H, W) float in [0, 1].
        mask: (B, 1, H, W) bool, True = watermark pixel.
        data_range: scale of the result (255 for the 8-bit scale of the benchmarks).

    Returns:
        (B,) RMSE; NaN where the mask is empty.
    """
    area = mask.flatten(1).sum(1)
    value = _masked_mse(reference, test, mask).sqrt() * data_range
    return torch.where(area > 0, value, torch.full_like(value, float("nan")))


def hole_l1(reference: torch.Tensor, test: torch.Tensor, mask: torch.Tensor, *,
            data_range: float = 255.0) -> torch.Tensor:
    """Per-image mean absolute error inside the hole, on the 0-``data_range`` scale;
    shapes as :func:`hole_psnr`; 0 where the hole is empty."""
    _check_pair(reference, test)
    m = mask.to(reference.dtype).expand(-1, 1, -1, -1)
    area = (m.flatten(1).sum(1) * reference.shape[1]).clamp_min(1)
    return ((reference - test).abs() * m).flatten(1).sum(1) / area * data_range


def to_batch(image: np.ndarray) -> torch.Tensor:
    """``H x W x C`` (or ``H x W``) numpy image -> (1, C, H, W) float64 tensor, values
    unchanged (uint8 stays on the 0-255 scale: divide first)."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None]


def high_frequency_ratio(x: torch.Tensor, reference: torch.Tensor, sigma: float = 1.5, border: int = 4) -> torch.Tensor:
    """High-frequency energy of ``x`` relative to ``reference``, on the luma channel (BT.601):
    the mean squared difference between an image and its Gaussian blur of std ``sigma``
    pixels, ``x`` over ``reference``, with ``border`` pixels cropped.

    This is the offline perceptual figure of ``restore bench upscale`` (NIQE needs model
    parameters fitted on a pristine image corpus that cannot be had offline). With the
    default sigma 1.5 the high-pass keeps half the power at 0.125 cycles per pixel, the
    Nyquist frequency of a x4 low-resolution input: it measures the detail a x4 upscaler
    has to create. 1.0 means as much fine detail as the ground truth; bicubic x4 scores
    about 0.05; noise or ringing artifacts can push it above 1.

    Args:
        x, reference: (B, 3, H, W) RGB or (B, 1, H, W) gray, float in [0, 1], same shape.
        sigma: Gaussian std in pixels.
        border: pixels cropped on each side before measuring.

    Returns:
        (B,) float ratios.

    Raises:
        ValueError: if the shapes differ.
    """
    if x.shape != reference.shape:
        raise ValueError(f"shape mismatch: {tuple(x.shape)} vs {tuple(reference.shape)}")
    r = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-r, r + 1, dtype=torch.float32, device=x.device)
    g = torch.exp(-t ** 2 / (2 * sigma ** 2))
    g = g / g.sum()

    def energy(img: torch.Tensor) -> torch.Tensor:
        img = img.float().clamp(0, 1)
        if img.shape[1] == 3:
            img = rgb_to_gray(img)
        pad = torch.nn.functional.pad(img, (r, r, r, r), mode="reflect")
        blur = torch.nn.functional.conv2d(pad, g.view(1, 1, 1, -1))
        blur = torch.nn.functional.conv2d(blur, g.view(1, 1, -1, 1))
        hp = img - blur
        if border:
            hp = hp[..., border:-border, border:-border]
        return hp.pow(2).mean(dim=(1, 2, 3))

    return energy(x) / energy(reference).clamp_min(1e-12)


def mask_iou(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Intersection over union of boolean masks (B, 1, H, W), per image: a (B,) float
    tensor, 1.0 where both masks are empty."""
    inter = (pred & true).flatten(1).sum(1).float()
    union = (pred | true).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


def colorfulness(x: torch.Tensor) -> torch.Tensor:
    """Colorfulness M of Hasler & Suesstrunk ("Measuring colourfulness in natural images",
    SPIE Human Vision and Electronic Imaging 2003), on the 0-255 scale of the paper:
    ``M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2)`` with
    ``rg = R - G`` and ``yb = (R + G) / 2 - B``. 0 for a gray image; the paper rates
    about 33 "moderately", 45 "quite" and 59 "highly" colorful.

    Args:
        x: (B, 3, H, W) sRGB float in [0, 1].

    Returns:
        (B,) float64 colorfulness.

    Raises:
        ValueError: if ``x`` is not (B, 3, H, W).
    """
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W) RGB, got shape {tuple(x.shape)}")
    x = x.double().clamp(0, 1) * 255.0
    rg = (x[:, 0] - x[:, 1]).flatten(1)
    yb = (0.5 * (x[:, 0] + x[:, 1]) - x[:, 2]).flatten(1)
    std = (rg.var(1, unbiased=False) + yb.var(1, unbiased=False)).sqrt()
    mean = (rg.mean(1) ** 2 + yb.mean(1) ** 2).sqrt()
    return std + 0.3 * mean
