"""Inpainting masks for training and benchmarks: (H, W) float32, 1 = missing, 0 = known."""

from __future__ import annotations

import cv2
import numpy as np

def center_mask(height: int, width: int, area: float = 0.25) -> np.ndarray:
    """A centered rectangular hole covering ``area`` of the image, with the image's aspect.

    Returns:
        (height, width) float32, 1 inside the hole (the benchmark's ``center`` kind).
    """
    if not 0 < area < 1:
        raise ValueError(f"area must be in (0, 1), got {area}")
    hh, hw = max(1, round(height * area ** 0.5)), max(1, round(width * area ** 0.5))
    y, x = (height - hh) // 2, (width - hw) // 2
    m = np.zeros((height, width), np.float32)
    m[y:y + hh, x:x + hw] = 1
    return m


def box_mask(height: int, width: int, rng: np.random.Generator, *, boxes: tuple[int, int] = (1, 4),
             side: tuple[float, float] = (0.1, 0.4)) -> np.ndarray:
    """Random axis-aligned boxes: between ``boxes[0]`` and ``boxes[1]`` of them, each side a
    random fraction ``side`` of the image's side. Returns (height, width) float32, 1 = missing."""
    m = np.zeros((height, width), np.float32)
    for _ in range(int(rng.integers(boxes[0], boxes[1] + 1))):
        bh = max(1, int(height * rng.uniform(*side)))
        bw = max(1, int(width * rng.uniform(*side)))
        y, x = int(rng.integers(0, height - bh + 1)), int(rng.integers(0, width - bw + 1))
        m[y:y + bh, x:x + bw] = 1
    return m


def stroke_mask(height: int, width: int, rng: np.random.Generator, *, coverage: float = 0.05,
                thickness: tuple[float, float] = (0.006, 0.015), max_strokes: int = 200) -> np.ndarray:
    """Free-form brush strokes (random walks of thick line segments, as in Yu et al.,
    DeepFill v2, ICCV 2019) drawn until about ``coverage`` of the pixels are missing.

    Args:
        coverage: target fraction of missing pixels (the result overshoots by at most one stroke).
        thickness: brush width as a fraction of the image's short side (at least 1 pixel);
            the default draws thin scratches, 3 to 7 pixels on a 481 x 321 image.

    Returns:
        (height, width) float32, 1 = missing.
    """
    m = np.zeros((height, width), np.uint8)
    short = min(height, width)
    target = coverage * height * width
    for _ in range(max_strokes):
        if m.sum() >= target:
            break
        y, x = float(rng.uniform(0, height)), float(rng.uniform(0, width))
        brush = max(1, int(round(short * rng.uniform(*thickness))))
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.integers(3, 9))):
            angle += rng.uniform(-0.8, 0.8)
            length = short * rng.uniform(0.03, 0.12)
            ny = float(np.clip(y + length * np.sin(angle), 0, height - 1))
            nx = float(np.clip(x + length * np.cos(angle), 0, width - 1))
            cv2.line(m, (int(x), int(y)), (int(nx), int(ny)), 1, brush)
            y, x = ny, nx
    return m.astype(np.float32)


#: Side of the benchmark's ``boxes`` kind as a fraction of the image's side: one
#: object-sized box (what a person paints over to remove something), 20-30 % of the
#: height by 20-30 % of the width, i.e. 4-9 % of the area.
OBJECT_BOX_SIDE = (0.2, 0.3)


def make_mask(kind: str, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A mask of the benchmark's ``kind``: ``center`` (25% of the area), ``boxes`` (one
    object-sized box, each side a uniform :data:`OBJECT_BOX_SIDE` fraction of the image's
    side, placed uniformly) or ``strokes`` (5% coverage). Returns (height, width) float32,
    1 = missing.

    Raises:
        ValueError: unknown kind.
    """
    if kind == "center":
        return center_mask(height, width)
    if kind == "boxes":
        return box_mask(height, width, rng, boxes=(1, 1), side=OBJECT_BOX_SIDE)
    if kind == "strokes":
        return stroke_mask(height, width, rng)
    raise ValueError(f"unknown mask kind {kind!r}: use center, boxes or strokes")
