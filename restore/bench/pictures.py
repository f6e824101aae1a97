"""Every picture of the benchmarks: comparison grids drawn from a bench run's kept outputs
(``keep_outputs``), as H x W x 3 uint8 arrays. Nothing here reads or writes files."""

from __future__ import annotations

from collections.abc import Sequence

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


def outputs_grid(outputs: dict, columns: Sequence[tuple[str, str]], names: Sequence[str], cell: int,
                 font_scale: float = 0.5, enlarge: bool = False) -> np.ndarray:
    """:func:`labelled_grid` of a bench run's kept outputs: one row per image in ``names``,
    one column per ``(key, label)`` of ``columns`` showing ``outputs[key][name]``. With
    ``enlarge``, an image smaller than the cell is first enlarged by a whole factor with
    nearest neighbour, so its pixels stay visible. Returns H x W x 3 uint8."""
    def prepared(img: np.ndarray) -> np.ndarray:
        f = cell // max(img.shape[:2]) if enlarge else 1
        return cv2.resize(img, (img.shape[1] * f, img.shape[0] * f), interpolation=cv2.INTER_NEAREST) if f > 1 else img

    return labelled_grid([label for _, label in columns],
                         [[prepared(outputs[key][name]) for key, _ in columns] for name in names], cell, font_scale)


def _short(label: str) -> str:
    """A row label as a picture column label: without the ``restore `` prefix."""
    return label.removeprefix("restore ")


# --- upscale ------------------------------------------------------------------------------

def detail_crop(hr8: np.ndarray, side: int = 96, stride: int = 16) -> tuple[int, int, int]:
    """``(y, x, side)`` of the ``side`` x ``side`` window (on a ``stride`` grid) of an
    H x W x 3 uint8 ground truth with the most high-frequency energy: the region where
    upscalers differ most, picked from the ground truth alone, never from any method's
    output."""
    side = min(side, *hr8.shape[:2])
    y = cv2.cvtColor(hr8, cv2.COLOR_RGB2GRAY).astype(np.float32)
    hp = (y - cv2.GaussianBlur(y, (0, 0), 1.5)) ** 2
    integral = cv2.integral(hp)
    best, pos = -1.0, (0, 0)
    for y0 in range(0, hr8.shape[0] - side + 1, stride):
        for x0 in range(0, hr8.shape[1] - side + 1, stride):
            e = integral[y0 + side, x0 + side] - integral[y0, x0 + side] - integral[y0 + side, x0] + integral[y0, x0]
            if e > best:
                best, pos = e, (y0, x0)
    return pos[0], pos[1], side


def upscale_grid(outputs: dict, methods: Sequence[str], crops: Sequence[tuple[str, int, int, int]],
                 cell: int = 192) -> np.ndarray:
    """A grid of crops: one row per ``(image name, y, x, side)`` in ``crops`` (HR
    coordinates), one column per method in ``methods`` (keys of ``outputs`` as filled by
    :func:`restore.bench.upscale.bench_upscale`'s ``keep_outputs``, e.g. ``"HR"``), each
    crop resized to ``cell`` pixels with nearest neighbour so the pixels stay visible. A
    32-pixel label strip names each column. Returns H x W x 3 uint8."""
    gap = 4
    rows = []
    header = np.full((32, len(methods) * (cell + gap) - gap, 3), 255, np.uint8)
    for j, m in enumerate(methods):
        cv2.putText(header, _short(m).removesuffix(" (OpenCV)"), (j * (cell + gap) + 4, 22), cv2.FONT_HERSHEY_SIMPLEX,
                    0.55, (0, 0, 0), 1, cv2.LINE_AA)
    rows.append(header)
    for name, y, x, side in crops:
        cells = []
        for m in methods:
            crop = outputs[m][name][y:y + side, x:x + side]
            cells.append(cv2.resize(crop, (cell, cell), interpolation=cv2.INTER_NEAREST))
            cells.append(np.full((cell, gap, 3), 255, np.uint8))
        rows.append(np.concatenate(cells[:-1], 1))
        rows.append(np.full((gap, rows[-1].shape[1], 3), 255, np.uint8))
    return np.concatenate(rows[:-1], 0)


def upscale_picture(outputs: dict, rows: Sequence[dict]) -> np.ndarray:
    """The picture of ``restore bench upscale --picture``: :func:`upscale_grid` of HR and
    every method of ``rows`` but Lanczos (too close to bicubic to show), on the
    :func:`detail_crop` of each image."""
    methods = ["HR"] + [r["method"] for r in rows if not r["method"].startswith("lanczos")]
    return upscale_grid(outputs, methods, [(name, *detail_crop(hr)) for name, hr in outputs["HR"].items()])


# --- unwatermark, inpaint, colorize -----------------------------------------------------------

def unwatermark_grid(outputs: dict, model_label: str, names: Sequence[str], *, oracle_label: str,
                     cell: int = 256) -> np.ndarray:
    """watermarked | predicted mask | ``model_label``'s output | the ``oracle_label`` row
    (true mask + Telea) | clean, one row per image in ``names``, from
    :func:`restore.bench.unwatermark.bench_unwatermark`'s ``keep_outputs``."""
    return outputs_grid(outputs, [("watermarked", "watermarked"), (model_label + " mask", "predicted mask"),
                                  (model_label, _short(model_label)), (oracle_label, "true mask + Telea"),
                                  ("clean", "clean")], names, cell)


def inpaint_grid(outputs: dict, model_label: str, names: Sequence[str], *, telea_label: str, biharmonic_label: str,
                 cell: int = 160) -> np.ndarray:
    """masked | Telea | biharmonic | ``model_label`` | original, one row per image in
    ``names``, small images enlarged with nearest neighbour, from
    :func:`restore.bench.inpaint.bench_inpaint`'s ``keep_outputs``."""
    return outputs_grid(outputs, [("masked", "masked"), (telea_label, "Telea"), (biharmonic_label, "biharmonic"),
                                  (model_label, _short(model_label)), ("clean", "original")], names, cell,
                        font_scale=0.42, enlarge=True)


def colorize_grid(outputs: dict, model_label: str, names: Sequence[str], *, gray_label: str,
                  cell: int = 256) -> np.ndarray:
    """gray input | ``model_label``'s colorization | original, one row per image in
    ``names``, from :func:`restore.bench.colorize.bench_colorize`'s ``keep_outputs``."""
    return outputs_grid(outputs, [(gray_label, "gray input"), (model_label, _short(model_label)),
                                  ("original", "original")], names, cell)


def center_crop(img: np.ndarray, size: int) -> np.ndarray:
    """The central ``size`` x ``size`` part of an H x W [x C] image (the whole of a shorter side)."""
    h, w = img.shape[:2]
    y, x = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return img[y:y + size, x:x + size]


def pair_grid(pairs: Sequence[tuple[np.ndarray, np.ndarray]], labels: tuple[str, str], columns: int = 3,
              cell: int = 256) -> np.ndarray:
    """A grid of (before, after) pairs side by side, ``columns`` pairs per row, each image
    fitted into a ``cell`` x ``cell`` box (aspect ratio kept), with a label strip
    naming the two images of a pair. Returns H x W x 3 uint8."""
    gap = 4
    pair_w = 2 * cell + gap
    width = columns * pair_w + (columns - 1) * 3 * gap
    header = np.full((28, width, 3), 255, np.uint8)
    for j in range(columns):
        for k, label in enumerate(labels):
            cv2.putText(header, label, (j * (pair_w + 3 * gap) + k * (cell + gap) + 4, 20),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    rows = [header]
    for i in range(0, len(pairs), columns):
        cells = []
        for before, after in pairs[i:i + columns]:
            cells += [fit_cell(before, cell), np.full((cell, gap, 3), 255, np.uint8), fit_cell(after, cell),
                      np.full((cell, 3 * gap, 3), 255, np.uint8)]
        row = np.concatenate(cells[:-1], 1)
        if row.shape[1] < width:
            row = np.concatenate([row, np.full((cell, width - row.shape[1], 3), 255, np.uint8)], 1)
        rows += [row, np.full((gap, width, 3), 255, np.uint8)]
    return np.concatenate(rows[:-1], 0)


def photos_grid(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The old-photos picture of ``restore bench colorize``: (photo, colorized) pairs, three
    per row (:func:`pair_grid`)."""
    return pair_grid(pairs, ("photo", "restore"))


def photo_details_grid(pairs: Sequence[tuple[np.ndarray, np.ndarray]], count: int = 3, side: int = 256) -> np.ndarray:
    """1:1 (full-resolution) ``side`` px centre crops of the ``count`` largest photos of
    ``pairs``, photo | colorized (:func:`pair_grid`)."""
    largest = sorted(pairs, key=lambda p: -p[0].shape[0] * p[0].shape[1])[:count]
    return pair_grid([(center_crop(a, side), center_crop(b, side)) for a, b in largest],
                     ("photo (1:1 crop)", "restore"))
