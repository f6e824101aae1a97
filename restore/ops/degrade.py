"""Synthetic degradations used for training and benchmarks.

Every function is a pure tensor function: (B, C, H, W) float32 in [0, 1] in, same out.
"""

from __future__ import annotations

import torch


def add_awgn(x: torch.Tensor, sigma: float | torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Add white Gaussian noise.

    Args:
        x: clean images, shape (B, C, H, W), float in [0, 1].
        sigma: noise standard deviation on the 0-255 scale (sigma=25 is the field's usual
            level); a float, or a tensor of shape (B,) for one level per image.
        generator: optional RNG for reproducible noise.

    Returns:
        Noisy images, same shape and dtype as ``x``; not clipped.

    Raises:
        ValueError: if ``x`` is not 4-D or a ``sigma`` is negative.
    """
    if x.ndim != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}")
    sigma_t = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if (sigma_t < 0).any():
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma_t.ndim == 1:
        sigma_t = sigma_t.view(-1, 1, 1, 1)
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x + noise * (sigma_t / 255.0)


def quantize_8bit(x: torch.Tensor) -> torch.Tensor:
    """Clip to [0, 1] and round to the 256 levels of an 8-bit file (what saving a noisy
    image as PNG does). Shape and dtype are kept."""
    return torch.round(x.clamp(0, 1) * 255.0) / 255.0
