"""Noise, resizing and compression: pure functions, (B, C, H, W) float32 in [0, 1] in and
out for the tensor ones; JPEG through :mod:`restore.io`'s own encoder."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from restore.io import encode_image

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


def bicubic_down(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Downsample by an integer ``scale`` with antialiased bicubic interpolation, the
    MATLAB ``imresize`` kernel (Keys cubic, a = -0.5, widened by ``scale``) that made the
    Set5/Set14 low-resolution images: on Set5 x4 the result differs from the given
    ``*_LR.png`` by about 0.4 gray levels RMS, at the borders (MATLAB pads symmetrically).

    Args:
        x: (B, C, H, W) float in [0, 1]; H and W multiples of ``scale``.
        scale: integer factor >= 1.

    Returns:
        (B, C, H // scale, W // scale), same dtype; not clipped or rounded.

    Raises:
        ValueError: if ``x`` is not 4-D, ``scale`` < 1, or H/W are not multiples of it.
    """
    if x.ndim != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}")
    if scale < 1 or x.shape[-2] % scale or x.shape[-1] % scale:
        raise ValueError(f"H and W ({x.shape[-2]}, {x.shape[-1]}) must be multiples of scale {scale}")
    if scale == 1:
        return x
    return torch.nn.functional.interpolate(x, size=(x.shape[-2] // scale, x.shape[-1] // scale),
                                           mode="bicubic", antialias=True, align_corners=False)


def bicubic_down_8bit(image: np.ndarray, scale: int) -> np.ndarray:
    """:func:`bicubic_down` of an 8-bit image, rounded to 8 bit as a saved LR file is.

    Args:
        image: (H, W, 3) uint8, H and W multiples of ``scale``.

    Returns:
        (H // scale, W // scale, 3) uint8, contiguous.

    Raises:
        ValueError: as :func:`bicubic_down`.
    """
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
    lr = quantize_8bit(bicubic_down(x, scale))[0].permute(1, 2, 0).mul(255).round().byte().numpy()
    return np.ascontiguousarray(lr)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode an image as JPEG with :func:`restore.io.encode_image` (what ``restore ...
    --format jpg`` writes: OpenCV's libjpeg, 4:2:0 chroma) and decode it again, as a photo
    saved by a camera, an editor or a web site is.

    Args:
        image: (H, W, 3) uint8 RGB.
        quality: JPEG quality, 1-100.

    Returns:
        (H, W, 3) uint8 RGB.

    Raises:
        ValueError: for a quality outside 1-100 or an image that is not H x W x 3 uint8.
    """
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1-100, got {quality}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 uint8 image, got {image.shape} {image.dtype}")

    buf = np.frombuffer(encode_image(image, "jpg", quality), np.uint8)
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
