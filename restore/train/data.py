"""Training data: clean images held in memory, random (zoomed) crops with flips and rotations."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from restore.io import iter_images, read_image, to_rgb8


def load_folder(data: str | Path | list, *, min_side: int, limit: int | None = None) -> tuple[list[np.ndarray], list[str]]:
    """Read every image under ``data`` (a folder or a list of folders, recursively) as
    H x W x 3 uint8 RGB.

    Images smaller than ``min_side`` on either side are skipped; gray images are
    replicated to three channels. Returns the arrays and their relative paths, sorted
    by path so that a seed fixes the split.

    Raises:
        FileNotFoundError: if ``data`` does not exist or holds no usable image.
    """
    if isinstance(data, (list, tuple)):
        images, names = [], []
        for d in data:
            i, n = load_folder(d, min_side=min_side, limit=limit)
            images += i
            names += [f"{Path(d).name}/{x}" for x in n]
        return images, names
    root = Path(data)
    if not root.exists():
        raise FileNotFoundError(f"training data folder not found: {root}")
    images, names = [], []
    for path in sorted(iter_images(root, recursive=True)):
        try:
            img = read_image(path)
        except Exception:
            continue
        img = to_rgb8(img)
        if min(img.shape[:2]) < min_side:
            continue
        images.append(np.ascontiguousarray(img))
        names.append(str(path.relative_to(root)))
        if limit and len(images) >= limit:
            break
    if not images:
        raise FileNotFoundError(f"no usable images (min side {min_side}) under {root}")
    return images, names


def split_train_val(images: list, names: list[str], n_val: int, seed: int = 0):
    """Deterministic split: ``n_val`` images (chosen with ``seed``) are held out."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    val_idx, train_idx = set(order[:n_val].tolist()), order[n_val:]
    train = [images[i] for i in sorted(train_idx)]
    val = [images[i] for i in sorted(val_idx)]
    val_names = [names[i] for i in sorted(val_idx)]
    return train, val, val_names


def random_crops(images: list[np.ndarray], batch: int, patch: int, rng: np.random.Generator,
                 rotate: bool = True) -> np.ndarray:
    """Sample ``batch`` random ``patch`` x ``patch`` crops with a random left-right flip and
    (with ``rotate``) a random 90-degree rotation each; without ``rotate`` up stays up (for
    colorization, where the sky is on top). Returns (batch, 3, patch, patch) float32 in [0, 1]."""
    out = np.empty((batch, patch, patch, 3), dtype=np.uint8)
    for i in range(batch):
        img = images[rng.integers(len(images))]
        y = rng.integers(img.shape[0] - patch + 1)
        x = rng.integers(img.shape[1] - patch + 1)
        out[i] = flip_rotate(img[y:y + patch, x:x + patch], rng, rotate)
    return out.transpose(0, 3, 1, 2).astype(np.float32) / 255.0


def flip_rotate(crop: np.ndarray, rng: np.random.Generator, rotate: bool = True,
                point: tuple[int, int] | None = None):
    """A random left-right flip and (with ``rotate``) a random 90-degree rotation of an
    H x W x C crop (a view; square crops keep their shape). With ``point``, a (row,
    column) pixel of ``crop``, returns ``(crop, point)`` with the point where that pixel
    went."""
    h, w = crop.shape[:2]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
        point = None if point is None else (point[0], w - 1 - point[1])
    turns = int(rng.integers(4)) if rotate else 0
    for _ in range(turns):                 # np.rot90 takes pixel (a, b) of an h x w array to (w - 1 - b, a)
        point = None if point is None else (w - 1 - point[1], point[0])
        h, w = w, h
    crop = np.rot90(crop, k=turns) if turns else crop
    return crop if point is None else (crop, point)


def zoomed_region(img: np.ndarray, side: int, zoom: float, rng: np.random.Generator,
                  point: tuple[int, int] | None = None) -> tuple:
    """A random ``side`` x ``side`` region of ``img`` resized by ``zoom`` (bicubic up, area
    down), with a random left-right flip and 90-degree rotation (:func:`flip_rotate`).

    The zoom is lowered where the image is too small for it (a region never leaves the
    image). Enlarging lets a small training photo stand in for a larger one: the same
    scene with wider smooth areas and softer edges, as a photo of higher resolution has.

    Args:
        img: H x W x 3 uint8.
        side: side of the region returned, in pixels.
        zoom: resize factor (> 0).
        rng: the random generator.
        point: (row, column) of a pixel of ``img``; the region is then drawn among those
            that hold it.

    Returns:
        ``(region, zoom)``: (side, side, 3) uint8 and the zoom actually used; with
        ``point``, ``(region, zoom, (row, column))``, the last the point's pixel in the
        region (after the flip and rotation).
    """
    r = min(max(1, int(round(side / zoom))), *img.shape[:2])
    if point is None:
        y, x = rng.integers(img.shape[0] - r + 1), rng.integers(img.shape[1] - r + 1)
    else:
        y, x = (int(rng.integers(max(0, p - r + 1), min(n - r, p) + 1)) for p, n in zip(point, img.shape[:2]))
    region = img[y:y + r, x:x + r]
    if r != side:
        region = cv2.resize(region, (side, side), interpolation=cv2.INTER_CUBIC if side > r else cv2.INTER_AREA)
    if point is None:
        return np.ascontiguousarray(flip_rotate(region, rng)), side / r
    q = tuple(min(side - 1, int((p - o + 0.5) * side / r)) for p, o in zip(point, (y, x)))
    region, q = flip_rotate(region, rng, point=q)
    return np.ascontiguousarray(region), side / r, q


def center_crops(images: list[np.ndarray], size: int) -> np.ndarray:
    """Center crops of every image: (N, 3, size, size) float32 in [0, 1]."""
    out = []
    for img in images:
        h, w = img.shape[:2]
        s = min(size, h, w)
        y, x = (h - s) // 2, (w - s) // 2
        out.append(img[y:y + s, x:x + s])
    s = min(o.shape[0] for o in out)
    return np.stack([o[:s, :s] for o in out]).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
