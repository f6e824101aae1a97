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


def labelled_grid(columns: list[str], rows: list[list[np.ndarray]], cell: int, font_scale: float = 0.5,
                  gap: int = 4) -> np.ndarray:
    """A comparison grid: a strip with the ``columns`` labels, then one row of images per
    entry of ``rows`` (each image fitted into a ``cell`` x ``cell`` box by :func:`fit_cell`),
    ``gap`` white pixels between cells. Returns H x W x 3 uint8."""
    width = len(columns) * (cell + gap) - gap
    header = np.full((28, width, 3), 255, np.uint8)
    for j, label in enumerate(columns):
        cv2.putText(header, label, (j * (cell + gap) + 4, 20), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    parts = [header]
    for images in rows:
        cells = []
        for img in images:
            cells += [fit_cell(img, cell), np.full((cell, gap, 3), 255, np.uint8)]
        parts += [np.concatenate(cells[:-1], 1), np.full((gap, width, 3), 255, np.uint8)]
    return np.concatenate(parts[:-1], 0)
