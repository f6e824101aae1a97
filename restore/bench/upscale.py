"""Super-resolution benchmark: zoo models against bicubic and Lanczos, in one run.

Protocol (``../shared/data/README.md``): the given ``*_LR.png`` inputs (MATLAB bicubic
downsampling) are upscaled and compared with ``*_HR.png`` on the Y channel of YCbCr
(BT.601, MATLAB's ``rgb2ycbcr``), 8-bit outputs, a border of ``scale`` pixels cropped:
PSNR and SSIM (Wang et al. 2004, Gaussian window). The perceptual figure is
:func:`restore.metrics.high_frequency_ratio` (detail energy of the output over the ground
truth's; 1 is best, blur scores low). Seconds are per output megapixel, under the timing
protocol of :mod:`restore.bench.runner`. Nothing here prints; progress goes to an
optional callback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from restore.bench import pictures
from restore.bench.runner import Column, Method, Progress, Report, over_folders, resolve_models, run_methods
from restore.bench.runner import format_table as runner_format_table
from restore.io import read_image, to_rgb8
from restore.metrics import high_frequency_ratio, psnr, ssim, to_batch

#: Baseline keys accepted in ``baselines``: OpenCV bicubic (a = -0.75) and Lanczos (8x8).
BASELINES = ("bicubic", "lanczos")
_INTERP = {"bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}

#: The figure columns of an upscaling table.
COLUMNS = (Column("PSNR-Y (dB)", "psnr"), Column("SSIM-Y", "ssim", ".4f"), Column("HF ratio", "hf_ratio", ".3f"),
           Column("s/MP", "s_per_mp", ".3f"))


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
    result ``sr8`` against ``hr8`` (both H x W x 3 uint8, same shape), by
    :mod:`restore.metrics`."""
    hr, sr = hr8 / 255.0, sr8 / 255.0
    return dict(psnr=psnr(hr, sr, crop_border=border, y_channel=True),
                ssim=ssim(hr, sr, crop_border=border, y_channel=True),
                hf_ratio=float(high_frequency_ratio(to_batch(sr), to_batch(hr), border=border)[0]))


def sr_cases(data: str | Path, limit: int | None = None) -> list[dict]:
    """The test cases of an SR folder (:func:`find_sr_pairs`, the first ``limit``): ``name``,
    ``hr`` (cropped to ``scale`` times the LR size) and ``lr`` (H x W x 3 uint8),
    ``scale`` and ``mp`` (megapixels of the output, the HR size).

    Raises:
        FileNotFoundError: no pairs.
        ValueError: pairs of several scales.
    """
    pairs = find_sr_pairs(data)[:limit] if limit else find_sr_pairs(data)
    cases = []
    for name, hr_path, lr_path in pairs:
        hr, lr = to_rgb8(read_image(hr_path)), to_rgb8(read_image(lr_path))
        scale = hr.shape[0] // lr.shape[0]
        hr = hr[: lr.shape[0] * scale, : lr.shape[1] * scale]
        cases.append(dict(name=name, hr=hr, lr=lr, scale=scale, mp=hr.shape[0] * hr.shape[1] / 1e6))
    scales = {c["scale"] for c in cases}
    if len(scales) != 1:
        raise ValueError(f"pairs of several scales in {data}: {sorted(scales)}")
    return cases


def _interpolate(lr: np.ndarray, scale: int, interpolation: int) -> np.ndarray:
    return cv2.resize(lr, (lr.shape[1] * scale, lr.shape[0] * scale), interpolation=interpolation)


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
        One row per method (:func:`restore.bench.runner.run_methods`): ``method``,
        ``model``, ``psnr`` (dB, Y), ``ssim`` (Y), ``hf_ratio``, ``seconds``, ``s_per_mp``
        (seconds per output megapixel of the upscaling call), ``images``, ``scale``.
        Every method runs on the same images; the scale is read from the pairs and each
        model must have it.

    Raises:
        FileNotFoundError: no pairs.
        ValueError: an unknown baseline, pairs of mixed scales, or a model of another scale.
        KeyError: an unknown model.
    """
    from restore import load_pipeline
    from restore.zoo.registry import get_spec

    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise ValueError(f"unknown baseline(s) {sorted(unknown)}; choose from {BASELINES}")
    cases = sr_cases(data, limit)
    scale = cases[0]["scale"]
    names = resolve_models("upscale", models)
    if models is None:
        names = [m for m in names if get_spec(m).scale == scale]
    for m in names:
        if get_spec(m).scale != scale:
            raise ValueError(f"model {m} is x{get_spec(m).scale}, the pairs in {data} are x{scale}")
    methods = [Method(f"{b} (OpenCV)", lambda c, i=_INTERP[b]: _interpolate(c["lr"], scale, i)) for b in baselines]
    for m in names:
        pipe = load_pipeline("upscale", model=m, device=device)
        methods.append(Method(f"restore {m}", lambda c, pipe=pipe: pipe(c["lr"]), model=m))
    if keep_outputs is not None:
        keep_outputs["HR"] = {c["name"]: c["hr"] for c in cases}
    rows = run_methods(methods, cases, lambda c, out: sr_scores(c["hr"], out, border=scale), progress=progress,
                       keep_outputs=keep_outputs)
    return [dict(row, scale=scale) for row in rows]


def format_table(rows: Sequence[dict], title: str | None = None) -> str:
    """Markdown table ``method | PSNR-Y (dB) | SSIM-Y | HF ratio | s/MP`` (:data:`COLUMNS`)
    of benchmark rows, optionally preceded by ``title`` and a blank line. No trailing newline."""
    return runner_format_table(rows, COLUMNS, title)


def reports(data: Sequence[str | Path], *, models: Iterable[str] | None = None, device: str = "auto",
            baselines: Sequence[str] = BASELINES, limit: int | None = None, picture: str | Path | None = None,
            record: bool = False, progress: Progress = None) -> Iterator[Report]:
    """``restore bench upscale``: one table per folder (:func:`bench_upscale`), yielded when
    done.

    Args:
        data: folders of ``*_HR`` / ``*_LR`` pairs.
        models, device, baselines, limit, progress: as in :func:`bench_upscale`.
        picture: write :func:`restore.bench.pictures.upscale_picture` of the first folder
            (HR | the methods but Lanczos, on each image's most detailed crop) there.
        record: store the models' figures in the manifest under ``"<folder> x<scale>"``
            (not for a ``limit`` run).

    Yields:
        One :class:`restore.bench.runner.Report` per folder.
    """
    def run(folder: Path, outputs: dict | None) -> list[dict]:
        return bench_upscale(folder, models=models, device=device, baselines=baselines, limit=limit,
                             progress=progress, keep_outputs=outputs)

    def text(folder: Path, rows: list[dict]) -> str:
        s = rows[0]["scale"]
        return format_table(rows, title=f"{folder.name}, x{s}, given LR inputs; Y channel, border {s} px cropped")

    yield from over_folders(data, run, text=text, key=lambda folder, rows: f"{folder.name} x{rows[0]['scale']}",
                            picture=picture, draw=pictures.upscale_picture, record_figures=record, limit=limit)
