"""Super-resolution benchmark: zoo models against bicubic and Lanczos, in one run.

Protocol (``../shared/data/README.md``): the given ``*_LR.png`` inputs (MATLAB bicubic
downsampling) are upscaled and compared with ``*_HR.png`` on the Y channel of YCbCr
(BT.601, MATLAB's ``rgb2ycbcr``), 8-bit outputs, a border of ``scale`` pixels cropped:
PSNR and SSIM (Wang et al. 2004, Gaussian window). The perceptual figure is
:func:`restore.metrics.high_frequency_ratio` (detail energy of the output over the ground
truth's; 1 is best, blur scores low). Seconds are per output megapixel. Nothing here
prints; progress goes to an optional callback.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from restore.io import read_image, to_rgb8
from restore.metrics import high_frequency_ratio, psnr, ssim
from restore.ops.color import rgb_to_y

#: Baseline keys accepted in ``baselines``: OpenCV bicubic (a = -0.75) and Lanczos (8x8).
BASELINES = ("bicubic", "lanczos")
_INTERP = {"bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}

Progress = Callable[[str], None] | None


def find_sr_pairs(data: str | Path) -> list[tuple[str, Path, Path]]:
    """``(name, hr, lr)`` for every ``<name>_HR.<ext>`` with a ``<name>_LR.<ext>`` beside it,
    sorted by name.

    Raises:
        FileNotFoundError: if ``data`` does not exist or holds no pair.
    """
    root = Path(data)
    if not root.is_dir():
        raise FileNotFoundError(f"benchmark folder not found: {root}")
    pairs = []
    for hr in sorted(root.iterdir()):
        m = re.match(r"(.+)_HR(\.\w+)$", hr.name)
        if m:
            lr = hr.with_name(f"{m.group(1)}_LR{m.group(2)}")
            if lr.exists():
                pairs.append((m.group(1), hr, lr))
    if not pairs:
        raise FileNotFoundError(f"no *_HR / *_LR image pairs in {root}")
    return pairs


def sr_scores(hr8: np.ndarray, sr8: np.ndarray, border: int) -> dict[str, float]:
    """PSNR-Y, SSIM-Y (``border`` pixels cropped) and the high-frequency ratio of an 8-bit
    result ``sr8`` against ``hr8`` (both H x W x 3 uint8, same shape)."""
    b = slice(border, -border) if border else slice(None)
    t = lambda a: torch.from_numpy(a.astype(np.float64) / 255).permute(2, 0, 1)[None]  # noqa: E731
    yh, ys = (rgb_to_y(t(a))[0, 0].numpy()[b, b] for a in (hr8, sr8))
    return dict(psnr=psnr(yh, ys), ssim=ssim(yh, ys),
                hf_ratio=float(high_frequency_ratio(t(sr8), t(hr8), border=border)[0]))


def bench_upscale(data: str | Path, *, models: Iterable[str] | None = None, device: str = "auto",
                  baselines: Sequence[str] = BASELINES, limit: int | None = None,
                  progress: Progress = None, keep_outputs: dict | None = None) -> list[dict]:
    """Benchmark zoo upscale models and interpolation baselines on one SR test set.

    Args:
        data: folder of ``*_HR`` / ``*_LR`` pairs (Set5, Set14).
        models: zoo model names; None = every upscale model of the pairs' scale, the
            task's default first.
        baselines: subset of :data:`BASELINES`.
        limit: only the first N pairs.
        keep_outputs: if a dict is given, ``keep_outputs[method][name]`` receives each
            8-bit output (for comparison pictures), and ``keep_outputs["HR"][name]``
            the ground truth.

    Returns:
        One row per method: ``method``, ``psnr`` (dB, Y), ``ssim`` (Y), ``hf_ratio``,
        ``s_per_mp`` (seconds per output megapixel, upscaling only), ``images``, ``scale``.
        Every method runs on the same images; the scale is read from the pairs and each
        model must have it.

    Raises:
        FileNotFoundError: no pairs.
        ValueError: an unknown baseline, pairs of mixed scales, or a model of another scale.
        KeyError: an unknown model.
    """
    from restore import load_pipeline
    from restore.zoo.registry import get_spec, list_models

    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise ValueError(f"unknown baseline(s) {sorted(unknown)}; choose from {BASELINES}")
    pairs = find_sr_pairs(data)[:limit] if limit else find_sr_pairs(data)
    images = []
    for name, hr_path, lr_path in pairs:
        hr, lr = to_rgb8(read_image(hr_path)), to_rgb8(read_image(lr_path))
        scale = hr.shape[0] // lr.shape[0]
        hr = hr[: lr.shape[0] * scale, : lr.shape[1] * scale]
        images.append((name, hr, lr, scale))
    scales = {s for *_, s in images}
    if len(scales) != 1:
        raise ValueError(f"pairs of several scales in {data}: {sorted(scales)}")
    scale = scales.pop()
    if models is None:  # the default (PSNR-oriented) model first, then the others by name
        from restore.zoo.registry import default_model
        names = sorted((m for m in list_models("upscale") if get_spec(m).scale == scale),
                       key=lambda m: (m != default_model("upscale"), m))
    else:
        names = list(models)
    for m in names:
        if get_spec(m).scale != scale:
            raise ValueError(f"model {m} is x{get_spec(m).scale}, the pairs in {data} are x{scale}")
    methods: list[tuple[str, Callable[[np.ndarray], np.ndarray]]] = []
    for b in baselines:
        methods.append((f"{b} (OpenCV)", lambda lr, i=_INTERP[b]: cv2.resize(
            lr, (lr.shape[1] * scale, lr.shape[0] * scale), interpolation=i)))
    for m in names:
        pipe = load_pipeline("upscale", model=m, device=device)
        methods.append((f"restore {m}", pipe))
    if keep_outputs is not None:
        keep_outputs["HR"] = {name: hr for name, hr, *_ in images}
    rows = []
    for label, fn in methods:
        scores, seconds, mpix = [], 0.0, 0.0
        for name, hr, lr, _ in images:
            t0 = time.perf_counter()
            out = fn(lr)
            seconds += time.perf_counter() - t0
            mpix += out.shape[0] * out.shape[1] / 1e6
            scores.append(sr_scores(hr, out, border=scale))
            if keep_outputs is not None:
                keep_outputs.setdefault(label, {})[name] = out
        row = dict(method=label, images=len(images), scale=scale, s_per_mp=seconds / mpix,
                   **{k: float(np.mean([s[k] for s in scores])) for k in ("psnr", "ssim", "hf_ratio")})
        rows.append(row)
        if progress:
            progress(f"{label}: PSNR-Y {row['psnr']:.2f} dB, SSIM-Y {row['ssim']:.4f}, "
                     f"HF ratio {row['hf_ratio']:.3f}, {row['s_per_mp']:.2f} s/MP")
    return rows


def format_table(rows: Sequence[dict], title: str | None = None) -> str:
    """Markdown table ``method | PSNR-Y (dB) | SSIM-Y | HF ratio | s/MP`` of benchmark rows,
    optionally preceded by ``title`` and a blank line. No trailing newline."""
    lines = [title, ""] if title else []
    lines += ["| method | PSNR-Y (dB) | SSIM-Y | HF ratio | s/MP |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['hf_ratio']:.3f} | {r['s_per_mp']:.3f} |"
              for r in rows]
    return "\n".join(lines)


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


def comparison_picture(outputs: dict, methods: Sequence[str], crops: Sequence[tuple[str, int, int, int]],
                       cell: int = 192) -> np.ndarray:
    """A grid of crops: one row per ``(image name, y, x, side)`` in ``crops`` (HR
    coordinates), one column per method in ``methods`` (keys of ``outputs`` as filled by
    :func:`bench_upscale`'s ``keep_outputs``, e.g. ``"HR"``), each crop resized to
    ``cell`` pixels with nearest neighbour so the pixels stay visible. A 32-pixel label
    strip names each column. Returns H x W x 3 uint8."""
    gap = 4
    rows = []
    header = np.full((32, len(methods) * (cell + gap) - gap, 3), 255, np.uint8)
    for j, m in enumerate(methods):
        label = m.removeprefix("restore ").removesuffix(" (OpenCV)")
        cv2.putText(header, label, (j * (cell + gap) + 4, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1,
                    cv2.LINE_AA)
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
