"""Color conversions on (B, C, H, W) float tensors in [0, 1].

Constants are the ITU-R BT.601 luma weights (also used by ``cv2.cvtColor`` and MATLAB's
``rgb2gray``/``rgb2ycbcr``, the field's convention for gray images and SR metrics).
"""

from __future__ import annotations

import torch

#: ITU-R BT.601 luma weights (R, G, B).
BT601_LUMA = (0.299, 0.587, 0.114)


def rgb_to_gray(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 1, H, W) BT.601 luma in [0, 1].

    Raises:
        ValueError: if ``x`` does not have 3 channels.
    """
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W) RGB, got shape {tuple(x.shape)}")
    w = torch.tensor(BT601_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def gray_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) -> (B, 3, H, W) with the gray value in every channel."""
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"expected (B, 1, H, W) gray, got shape {tuple(x.shape)}")
    return x.expand(-1, 3, -1, -1).contiguous()


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 1, H, W) Y of YCbCr (BT.601, studio range
    16-235 scaled to [0, 1] as in MATLAB's ``rgb2ycbcr``), the channel SR metrics use."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W) RGB, got shape {tuple(x.shape)}")
    w = torch.tensor((65.481, 128.553, 24.966), dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return ((x * w).sum(1, keepdim=True) + 16.0) / 255.0
