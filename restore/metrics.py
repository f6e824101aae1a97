"""Quality metrics: PSNR and SSIM from scikit-image, plus small task helpers.

Images are ``H x W x C`` (or ``H x W``) float arrays in [0, 1]; PSNR is in dB with a data
range of 1.
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


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
