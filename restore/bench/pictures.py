"""Pieces of the benchmark pictures (comparison grids)."""

from __future__ import annotations

import cv2
import numpy as np


def fit_cell(img: np.ndarray, cell: int) -> np.ndarray:
    """``img`` (H x W or H x W x 3 uint8, or an H x W bool mask shown white) resized with
    area interpolation into a ``cell`` x ``cell`` white box, letterboxed: the aspect ratio
    is kept. Returns cell x cell x 3 uint8."""
    if img.dtype == bool:
        img = (img * 255).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    f = cell / max(img.shape[:2])
    img = cv2.resize(img, (max(1, round(img.shape[1] * f)), max(1, round(img.shape[0] * f))),
                     interpolation=cv2.INTER_AREA)
    box = np.full((cell, cell, 3), 255, np.uint8)
    y0, x0 = (cell - img.shape[0]) // 2, (cell - img.shape[1]) // 2
    box[y0:y0 + img.shape[0], x0:x0 + img.shape[1]] = img
    return box
