"""Colorization benchmark: zoo models against the gray image, on color ground truth.

Protocol (Zhang et al. 2016's: the network gets the ground truth's lightness): every image
of the folder is converted to gray by keeping its CIE L* (D65) and setting a* = b* = 0,
rounded to an 8-bit one-channel image as a gray file would be, and colorized at the
default render size. Figures on RGB in [0, 1]: PSNR and SSIM against the original color
image, and the mean colorfulness (Hasler & Suesstrunk 2003, 0-255 scale) of the outputs,
also as a share of the originals' mean colorfulness (a desaturated model scores low, and
the gray image 0). Seconds per megapixel include the Lab conversions. Nothing here
prints; progress goes to an optional callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from restore.bench.pictures import fit_cell
from restore.io import iter_images, read_image, to_rgb8
from restore.metrics import colorfulness, psnr, ssim
from restore.ops.color import lab_to_rgb, rgb_to_lab

Progress = Callable[[str], None] | None
GRAY_LABEL = "gray input (L* only)"


def to_gray_lightness(rgb: np.ndarray) -> np.ndarray:
    """The gray version of an H x W x 3 uint8 image: its CIE L* rendered with zero chroma,
    as H x W uint8 (what a black-and-white rendering of the photo keeps)."""
    t = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
    lab = rgb_to_lab(t)
    gray = lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], 1))[0, 0]
    return (gray.numpy() * 255.0 + 0.5).astype(np.uint8)


def _colorfulness(img: np.ndarray) -> float:
    return float(colorfulness(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0)[0])


def bench_colorize(data: str | Path, *, models: Iterable[str] | None = None, device: str = "auto",
                   variants: bool = True, limit: int | None = None, progress: Progress = None,
                   keep_outputs: dict | None = None) -> list[dict]:
    """Benchmark zoo colorization models and the gray baseline on one folder.

    Args:
        data: folder of color images (Kodak24, CBSD68).
        models: zoo model names; None = every colorize model, the default first.
        variants: also run each model decoded as the posterior mean (prior 1,
            temperature 1: the least-squares chroma, what an L2 regression estimates), as
            Zhang et al. decode (prior 0, temperature 0.38), and with bilinear instead of
            edge-aware chroma upsampling.
        limit: only the first N images.
        keep_outputs: if a dict is given, ``keep_outputs[method][name]`` receives each
            8-bit RGB output, and ``"original"`` the ground truth.

    Returns:
        One row per method: ``method``, ``psnr``, ``ssim``, ``colorfulness`` (mean),
        ``cf_ratio`` (its share of the originals' mean), ``s_per_mp``, ``images``.

    Raises:
        FileNotFoundError: no images in ``data``.
        KeyError: an unknown model.
    """
    from restore import load_pipeline
    from restore.zoo.registry import default_model, list_models

    paths = sorted(iter_images(data))[:limit] if limit else sorted(iter_images(data))
    if not paths:
        raise FileNotFoundError(f"no images in {data}")
    cases = []
    for path in paths:
        rgb = to_rgb8(read_image(path))
        cases.append(dict(name=path.stem, rgb=rgb, gray=to_gray_lightness(rgb)))
    names = (sorted(list_models("colorize"), key=lambda m: (m != default_model("colorize"), m))
             if models is None else list(models))
    methods: list[tuple[str, Callable[[np.ndarray], np.ndarray]]] = [
        (GRAY_LABEL, lambda g: np.repeat(g[..., None], 3, axis=2))]
    for m in names:
        pipe = load_pipeline("colorize", model=m, device=device)
        methods.append((f"restore {m}", lambda g, pipe=pipe: pipe(g)))
        if variants:
            methods.append((f"restore {m} (posterior mean: least squares, as an L2 regression)",
                            lambda g, pipe=pipe: pipe(g, temperature=1.0, prior=1.0, saturation=1.0)))
            methods.append((f"restore {m} (Zhang et al. decoding: rebalanced, T=0.38)",
                            lambda g, pipe=pipe: pipe(g, temperature=0.38, prior=0.0, saturation=1.0)))
            methods.append((f"restore {m} (bilinear chroma upsampling)",
                            lambda g, pipe=pipe: pipe(g, edge_aware=False)))
    cf_true = float(np.mean([_colorfulness(c["rgb"]) for c in cases]))
    if keep_outputs is not None:
        keep_outputs["original"] = {c["name"]: c["rgb"] for c in cases}
    rows = []
    for label, fn in methods:
        p, s, cf, seconds, mpix = [], [], [], 0.0, 0.0
        for case in cases:
            t0 = time.perf_counter()
            out = fn(case["gray"])
            seconds += time.perf_counter() - t0
            mpix += out.shape[0] * out.shape[1] / 1e6
            ref, test = case["rgb"] / 255.0, out / 255.0
            p.append(psnr(ref, test))
            s.append(ssim(ref, test))
            cf.append(_colorfulness(out))
            if keep_outputs is not None:
                keep_outputs.setdefault(label, {})[case["name"]] = out
        row = dict(method=label, images=len(cases), psnr=float(np.mean(p)), ssim=float(np.mean(s)),
                   colorfulness=float(np.mean(cf)), cf_ratio=float(np.mean(cf)) / cf_true,
                   s_per_mp=seconds / mpix if label.startswith("restore") else 0.0)
        rows.append(row)
        if progress:
            progress(f"{label}: PSNR {row['psnr']:.2f} dB, SSIM {row['ssim']:.4f}, colorfulness "
                     f"{row['colorfulness']:.1f} ({100 * row['cf_ratio']:.0f}% of the originals'), "
                     f"{row['s_per_mp']:.2f} s/MP")
    rows.append(dict(method="original (ground truth)", images=len(cases), psnr=float("inf"), ssim=1.0,
                     colorfulness=cf_true, cf_ratio=1.0, s_per_mp=0.0))
    return rows


def format_table(rows: Sequence[dict], title: str | None = None) -> str:
    """Markdown table ``method | PSNR | SSIM | colorfulness | % of original | s/MP`` of
    benchmark rows, optionally preceded by ``title`` and a blank line. No trailing newline."""
    lines = [title, ""] if title else []
    lines += ["| method | PSNR (dB) | SSIM | colorfulness | % of original's | s/MP |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        p = "-" if r["psnr"] == float("inf") else f"{r['psnr']:.2f}"
        lines.append(f"| {r['method']} | {p} | {r['ssim']:.4f} | {r['colorfulness']:.1f} | "
                     f"{100 * r['cf_ratio']:.0f}% | {r['s_per_mp']:.3f} |")
    return "\n".join(lines)


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


def picture_grid(outputs: dict, model_label: str, names: Sequence[str], columns: int = 3,
                 cell: int = 256) -> np.ndarray:
    """(gray input | ``model_label``'s colorization) pairs of the bench images in ``names``
    from :func:`bench_colorize`'s ``keep_outputs``, plus the original beside them."""
    gap = 4
    triples = []
    for n in names:
        cells = [fit_cell(outputs[GRAY_LABEL][n], cell), fit_cell(outputs[model_label][n], cell),
                 fit_cell(outputs["original"][n], cell)]
        triples.append(np.concatenate([cells[0], np.full((cell, gap, 3), 255, np.uint8), cells[1],
                                       np.full((cell, gap, 3), 255, np.uint8), cells[2]], 1))
    header = np.full((28, triples[0].shape[1], 3), 255, np.uint8)
    for k, label in enumerate(("gray input", model_label.removeprefix("restore "), "original")):
        cv2.putText(header, label, (k * (cell + gap) + 4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    rows = [header]
    for t in triples:
        rows += [t, np.full((gap, t.shape[1], 3), 255, np.uint8)]
    return np.concatenate(rows[:-1], 0)
