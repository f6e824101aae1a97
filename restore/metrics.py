"""Quality metrics: PSNR and SSIM from scikit-image, plus small task helpers.

Images are ``H x W x C`` (or ``H x W``) float arrays in [0, 1]; PSNR is in dB with a data
range of 1.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from restore.ops.color import rgb_to_gray


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR in dB of ``test`` against ``reference`` (same shape, floats in [0, 1]).

    Raises:
        ValueError: if the shapes differ.
    """
    if reference.shape != test.shape:
        raise ValueError(f"shape mismatch: reference {reference.shape}, test {test.shape}")
    return float(peak_signal_noise_ratio(reference.astype(np.float64), test.astype(np.float64), data_range=1.0))


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    """SSIM (Wang et al. 2004, Gaussian window sigma 1.5 as in the original code) of
    ``test`` against ``reference``; ``H x W x C`` arrays are averaged over channels."""
    if reference.shape != test.shape:
        raise ValueError(f"shape mismatch: reference {reference.shape}, test {test.shape}")
    reference, test = np.squeeze(reference).astype(np.float64), np.squeeze(test).astype(np.float64)
    return float(structural_similarity(reference, test, data_range=1.0, gaussian_weights=True,
                                       sigma=1.5, use_sample_covariance=False,
                                       channel_axis=-1 if reference.ndim == 3 else None))


def batch_psnr(reference: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for (B, C, H, W) tensors in [0, 1]; ``test`` is clamped first.
    Returns a (B,) tensor. Used for quick validation during training."""
    mse = ((reference - test.clamp(0, 1)) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return -10 * torch.log10(mse)


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
