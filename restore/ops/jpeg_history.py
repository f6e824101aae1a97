"""Does an image carry the trace of a JPEG compression? (compression-history detection).

A JPEG encoder rounds each 8x8 block's DCT coefficients to multiples of a quantization step
(larger for coarser quality); decoding keeps that lattice, up to the rounding of the
pixels to 8 bits. So the luma of a once-JPEG image, cut on the 8x8 grid and transformed
again, has coefficients that cluster at multiples of a step, where an image never saved
as JPEG has coefficients spread smoothly. This is the quantizer-estimation idea of Fan &
de Queiroz 2003 ("Identification of bitmap compression history: JPEG detection and
quantizer estimation", IEEE TIP 12(2)), scored here as the periodicity of the coefficient
values (the mean of ``cos(2 pi c / q)`` over coefficients well away from zero, the best
step ``q`` in 2-16) of the ten lowest AC frequencies, and the median over them.

Measured by ``python docs/jpeg_history_check.py`` on 40 training photos (BSDS): as read
0.02-0.07, re-saved at JPEG quality 95 alike (its low-frequency steps are 1-2, below what
the rounding to 8 bits hides), at quality 90 0.40-0.71, at 75 0.49-0.94; the marked
benchmark images (CBSD68, Kodak24) as PNG 0.02-0.09, saved at quality 90 0.34-0.74.
:data:`JPEG_HISTORY_THRESHOLD` sits between.
Limits: the grid must be where the encoder put it (a JPEG cropped by a number of pixels
that is not a multiple of 8, resized or rotated afterwards loses the trace), and
quality 95 and above is not detected.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.fft import dctn

#: Score above which :func:`has_jpeg_history` says yes (midway between never-saved photos,
#: up to 0.08, and quality 90, from 0.4).
JPEG_HISTORY_THRESHOLD = 0.2
#: The AC frequencies (row, column of the 8x8 DCT) that are scored: the lowest ones, whose
#: coefficients are large enough to show the lattice.
_FREQUENCIES = ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (1, 2), (2, 1), (2, 2), (0, 3), (3, 0))
_STEPS = np.arange(2, 17)
_MIN_COEFFICIENTS = 50


def _as_hwc(image: Any) -> np.ndarray:
    """A tensor (C, H, W) / (1, C, H, W) as a numpy ``H x W x C`` float array; other inputs as arrays."""
    if not isinstance(image, torch.Tensor):
        return np.asarray(image)
    t = image.detach().to("cpu", torch.float32)
    if t.ndim == 4:
        if t.shape[0] != 1:
            raise ValueError(f"one image at a time, got a batch of {t.shape[0]}")
        t = t[0]
    if t.ndim != 3:
        raise ValueError(f"expected a (C, H, W) or (1, C, H, W) tensor, got shape {tuple(image.shape)}")
    return t.permute(1, 2, 0).numpy()


def _luma_255(image: Any) -> np.ndarray:
    """The image's BT.601 luma on the 0-255 scale (JPEG's own Y), float64, ``H x W``."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        a = a.astype(np.float64)
    elif a.dtype == np.uint16:
        a = a.astype(np.float64) / 257.0
    elif np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float64) * 255.0
    else:
        raise TypeError(f"expected uint8, uint16 or float pixels, got {a.dtype}")
    if a.ndim == 2:
        return a
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected H x W or H x W x C (C in 1-4), got shape {a.shape}")
    if a.shape[2] < 3:
        return a[..., 0]
    return 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]


def jpeg_history_score(image: Any, *, max_blocks: int = 16384) -> float:
    """How strongly the image's 8x8 DCT coefficients sit on a quantization lattice.

    Args:
        image: numpy ``H x W`` or ``H x W x C`` (C in 1-4; alpha ignored; uint8, uint16
            or float in [0, 1]), or a tensor (C, H, W) / (1, C, H, W) float in [0, 1]. The
            8x8 grid starts at the top-left pixel, as the encoder's does.
        max_blocks: at most about this many blocks are scored, on block rows and columns
            spread evenly over the image (so a photo of any size costs about the same).

    Returns:
        A score in [-1, 1]: about 0 for images never saved as JPEG (up to 0.08 on the
        photos measured), 0.4-1 for JPEG quality 90 and below. 0 for an image smaller
        than 8x8 or too flat to tell.

    Raises:
        TypeError: for pixels that are not uint8, uint16 or float.
        ValueError: for an unsupported shape.
    """
    image = _as_hwc(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"expected H x W or H x W x C (C in 1-4), got shape {image.shape}")
    h, w = image.shape[0] // 8, image.shape[1] // 8
    if h == 0 or w == 0:
        return 0.0
    side = max(1, int(np.sqrt(max_blocks)))       # evenly spaced block rows and columns, read before any
    rows = np.unique(np.linspace(0, h - 1, min(h, side)).astype(np.int64))   # conversion of the whole image
    cols = np.unique(np.linspace(0, w - 1, min(w, side)).astype(np.int64))
    r = (rows[:, None] * 8 + np.arange(8)).ravel()
    c = (cols[:, None] * 8 + np.arange(8)).ravel()
    y = _luma_255(np.asarray(image)[r][:, c])
    blocks = (y - 128.0).reshape(len(rows), 8, len(cols), 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    coefficients = dctn(blocks, axes=(1, 2), norm="ortho")
    scores = []
    for u, v in _FREQUENCIES:
        c = coefficients[:, u, v]
        best = 0.0
        for q in _STEPS:
            far = c[np.abs(c) > 1.5 * q]          # near zero every image looks "quantized"
            if len(far) >= _MIN_COEFFICIENTS:
                best = max(best, float(np.cos(2 * np.pi * far / q).mean()))
        scores.append(best)
    return float(np.median(scores))


def has_jpeg_history(image: Any, threshold: float = JPEG_HISTORY_THRESHOLD) -> bool:
    """Whether the image was saved as JPEG (quality below about 95) at some point.

    Args:
        image: as in :func:`jpeg_history_score`.
        threshold: score above which the answer is yes.

    Returns:
        ``jpeg_history_score(image) > threshold``.

    Raises:
        TypeError, ValueError: as :func:`jpeg_history_score`.
    """
    return jpeg_history_score(image) > threshold
