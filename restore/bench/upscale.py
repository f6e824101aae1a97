"""Super-resolution benchmark: zoo models against bicubic and Lanczos, in one run.

Protocol (``../shared/data/README.md``): the given ``*_LR.png`` inputs (MATLAB bicubic
downsampling) are upscaled and compared with ``*_HR.png`` on the Y channel of YCbCr
(BT.601, MATLAB's ``rgb2ycbcr``), 8-bit outputs, a border of ``scale`` pixels cropped:
PSNR and SSIM (Wang et al. 2004, Gaussian window). The perceptual figure is
:func:`restore.metrics.high_frequency_ratio` (detail energy of the output over the ground
truth's; 1 is best, blur scores low). Seconds are per output megapixel, under the timing
protocol of :mod:`restore.bench.runner`. Nothing here prints; progress goes to an
optional callback.

The realistic test set (``--realistic``, :func:`realistic_cases`) is made from clean photos
(Kodak24, CBSD68): each HR image, cropped to a multiple of the scale, goes through the
realistic degradation model (:func:`restore.ops.degrade.sr_preset` ``"realesrgan"`` of the
scale: blur, resize, noise and JPEG in two stages, a final JPEG) with a generator seeded by
the seed and the file name, so the same LR comes out on every machine and run. Its table
adds :func:`restore.metrics.blockiness` of each output (1 = no visible 8x8 JPEG grid of
the input; higher when an upscaler sharpens the blocks).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from restore.bench import pictures
from restore.bench.runner import Column, Method, Progress, Report, over_folders, resolve_models, run_methods
from restore.bench.runner import format_table as runner_format_table
from restore.io import iter_images, read_image, to_rgb8, write_image
from restore.ops.degrade import bicubic_down_8bit
from restore.metrics import blockiness, high_frequency_ratio, psnr, ssim, to_batch

#: Baseline keys accepted in ``baselines``: OpenCV bicubic (a = -0.75) and Lanczos (8x8).
BASELINES = ("bicubic", "lanczos")
_INTERP = {"bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}

#: The figure columns of an upscaling table.
COLUMNS = (Column("PSNR-Y (dB)", "psnr"), Column("SSIM-Y", "ssim", ".4f"), Column("HF ratio", "hf_ratio", ".3f"),
           Column("s/MP", "s_per_mp", ".3f"))
#: The columns of the realistic test set's table: :data:`COLUMNS` with the blockiness.
REALISTIC_COLUMNS = COLUMNS[:3] + (Column("blockiness", "blockiness", ".3f"),) + COLUMNS[3:]
#: The seed of the realistic test set (with each file's name).
REALISTIC_SEED = 0


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


def sr_cases(data: str | Path, limit: int | None = None, scale: int | None = None) -> list[dict]:
    """The test cases of an SR folder (:func:`find_sr_pairs`, the first ``limit``): ``name``,
    ``hr`` (cropped to ``scale`` times the LR size) and ``lr`` (H x W x 3 uint8),
    ``scale`` and ``mp`` (megapixels of the output, the HR size).

    ``scale`` other than the given pairs' (e.g. 2 on Set5, whose ``*_LR`` files are x4):
    the LR is made from the HR image, cropped to a multiple of ``scale``, by MATLAB-style
    antialiased bicubic downsampling rounded to 8 bit
    (:func:`restore.ops.degrade.bicubic_down_8bit`), the protocol of the published x2 figures.

    Raises:
        FileNotFoundError: no pairs.
        ValueError: pairs of several scales (without ``scale``).
    """
    pairs = find_sr_pairs(data)[:limit] if limit else find_sr_pairs(data)
    cases = []
    for name, hr_path, lr_path in pairs:
        hr, lr = to_rgb8(read_image(hr_path)), to_rgb8(read_image(lr_path))
        given = hr.shape[0] // lr.shape[0]
        made = scale is not None and scale != given
        if made:
            hr = np.ascontiguousarray(hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale])
            lr, given = bicubic_down_8bit(hr, scale), scale
        hr = hr[: lr.shape[0] * given, : lr.shape[1] * given]
        cases.append(dict(name=name, hr=hr, lr=lr, scale=given, mp=hr.shape[0] * hr.shape[1] / 1e6, made=made))
    scales = {c["scale"] for c in cases}
    if len(scales) != 1:
        raise ValueError(f"pairs of several scales in {data}: {sorted(scales)}")
    return cases


def realistic_lr(hr: np.ndarray, name: str, scale: int, seed: int = REALISTIC_SEED) -> np.ndarray:
    """The realistic LR of one HR image: :func:`restore.ops.degrade.degrade` with the
    ``realesrgan`` preset of ``scale`` and ``numpy.random.default_rng([seed, crc32(name)])``.

    Args:
        hr: H x W x 3 uint8, sides multiples of ``scale``.
        name: the image's file name (fixes its draw, whatever the other files).

    Returns:
        (H/scale, W/scale, 3) uint8.

    Raises:
        ValueError: no preset for ``scale`` (2 and 4 exist), or sides not multiples of it.
    """
    from restore.ops.degrade import degrade, sr_preset

    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    lr = degrade(hr.astype(np.float32) / 255.0, rng, sr_preset("realesrgan", scale))
    return np.round(lr * 255.0).astype(np.uint8)


def realistic_cases(data: str | Path, scale: int = 4, *, seed: int = REALISTIC_SEED, cache: str | Path | None = None,
                    limit: int | None = None) -> list[dict]:
    """The realistic test cases of a folder of clean images (:func:`realistic_lr`).

    Args:
        data: folder of clean photos (Kodak24, CBSD68), read in sorted order.
        scale: 2 or 4.
        seed: the test set's seed.
        cache: a folder for the LR files (PNG, lossless); a file already there is read
            instead of made again. They go to a subfolder named after the data folder, the
            scale, the seed and a digest of the degradation preset, so a changed model or
            seed never reads stale files.
        limit: only the first N images.

    Returns:
        One dict per image: ``name``, ``hr`` (cropped to a multiple of ``scale``) and ``lr``
        (H x W x 3 uint8), ``scale`` and ``mp`` (output megapixels).

    Raises:
        FileNotFoundError: no folder or no image in it.
        ValueError: no preset for ``scale``.
    """
    from restore.ops.degrade import sr_preset

    root = Path(data)
    if not root.is_dir():
        raise FileNotFoundError(f"benchmark folder not found: {root}")
    paths = sorted(iter_images(root))[:limit] if limit else sorted(iter_images(root))
    if not paths:
        raise FileNotFoundError(f"no images in {root}")
    digest = hashlib.sha256(repr(sr_preset("realesrgan", scale)).encode()).hexdigest()[:8]
    folder = Path(cache) / f"{root.name}_realistic_x{scale}_seed{seed}_{digest}" if cache is not None else None
    cases = []
    for path in paths:
        hr = to_rgb8(read_image(path))
        hr = np.ascontiguousarray(hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale])
        cached = folder / f"{path.stem}.png" if folder is not None else None
        if cached is not None and cached.exists():
            lr = to_rgb8(read_image(cached))
        else:
            lr = realistic_lr(hr, path.name, scale, seed)
            if cached is not None:
                write_image(cached, lr)
        if lr.shape[:2] != (hr.shape[0] // scale, hr.shape[1] // scale):
            raise ValueError(f"{cached}: LR of shape {lr.shape} does not fit {path} at x{scale}")
        cases.append(dict(name=path.stem, hr=hr, lr=lr, scale=scale, mp=hr.shape[0] * hr.shape[1] / 1e6))
    return cases


def _interpolate(lr: np.ndarray, scale: int, interpolation: int) -> np.ndarray:
    return cv2.resize(lr, (lr.shape[1] * scale, lr.shape[0] * scale), interpolation=interpolation)


def bench_upscale(data: str | Path, *, models: Iterable[str] | None = None, device: str = "auto",
                  baselines: Sequence[str] = BASELINES, limit: int | None = None,
                  progress: Progress = None, keep_outputs: dict | None = None, realistic: bool = False,
                  scale: int | None = None, seed: int = REALISTIC_SEED, cache: str | Path | None = None,
                  strengths: Sequence[float] | None = None) -> list[dict]:
    """Benchmark zoo upscale models and interpolation baselines on one SR test set.

    Args:
        data: folder of ``*_HR`` / ``*_LR`` pairs (Set5, Set14); with ``realistic``, a
            folder of clean photos made into the realistic test set (:func:`realistic_cases`).
        realistic, scale, seed, cache: the realistic test set and its scale (default 4),
            seed and LR cache folder. Without ``realistic``, ``scale`` None is the pairs'
            scale, another one makes the LR from the HR images (:func:`sr_cases`).
        strengths: also run each model that has a strength control (a PSNR partner,
            :class:`restore.zoo.settings.UpscaleSettings`) at these strengths, one row
            each, labelled ``restore <model> strength <s>``; only its own default
            strength's row is the model's (recorded) row.
        models: zoo model names; None = every upscale model of the pairs' scale, the
            task's default first.
        baselines: subset of :data:`BASELINES`.
        limit: only the first N pairs.
        keep_outputs: if a dict is given, ``keep_outputs[method][name]`` receives each
            8-bit output (for comparison pictures), and ``keep_outputs["HR"][name]``
            the ground truth.

    Returns:
        One row per method (:func:`restore.bench.runner.run_methods`): ``method``,
        ``model``, ``psnr`` (dB, Y), ``ssim`` (Y), ``hf_ratio``, (realistic only)
        ``blockiness`` (:func:`restore.metrics.blockiness`), ``seconds``, ``s_per_mp``
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
    cases = (realistic_cases(data, scale or 4, seed=seed, cache=cache, limit=limit) if realistic
             else sr_cases(data, limit, scale))
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
        settings = get_spec(m).settings
        if strengths and getattr(settings, "psnr_partner", None):
            for st in sorted(set(float(v) for v in strengths)):
                own = st == settings.default_strength
                methods.append(Method(f"restore {m} strength {st:g}",
                                      lambda c, pipe=pipe, st=st: pipe(c["lr"], strength=st), model=m if own else None))
        else:
            methods.append(Method(f"restore {m}", lambda c, pipe=pipe: pipe(c["lr"]), model=m))
    if keep_outputs is not None:
        keep_outputs["HR"] = {c["name"]: c["hr"] for c in cases}
    def score(c: dict, out: np.ndarray) -> dict[str, float]:
        figures = sr_scores(c["hr"], out, border=scale)
        return dict(figures, blockiness=blockiness(out, scale)) if realistic else figures

    rows = run_methods(methods, cases, score, progress=progress, keep_outputs=keep_outputs)
    made = bool(cases[0].get("made"))
    return [dict(row, scale=scale, lr_from_hr=made) for row in rows]


def format_table(rows: Sequence[dict], title: str | None = None) -> str:
    """Markdown table ``method | PSNR-Y (dB) | SSIM-Y | HF ratio | s/MP`` (:data:`COLUMNS`;
    :data:`REALISTIC_COLUMNS` when the rows have a blockiness) of benchmark rows, optionally
    preceded by ``title`` and a blank line. No trailing newline."""
    realistic = bool(rows) and "blockiness" in rows[0]
    return runner_format_table(rows, REALISTIC_COLUMNS if realistic else COLUMNS, title)


def reports(data: Sequence[str | Path], *, models: Iterable[str] | None = None, device: str = "auto",
            baselines: Sequence[str] = BASELINES, limit: int | None = None, picture: str | Path | None = None,
            record: bool = False, progress: Progress = None, realistic: bool = False, scale: int | None = None,
            seed: int = REALISTIC_SEED, cache: str | Path | None = None,
            strengths: Sequence[float] | None = None) -> Iterator[Report]:
    """``restore bench upscale``: one table per folder (:func:`bench_upscale`), yielded when
    done.

    Args:
        data: folders of ``*_HR`` / ``*_LR`` pairs; with ``realistic``, of clean photos.
        models, device, baselines, limit, progress, realistic, scale, seed, cache, strengths:
            as in :func:`bench_upscale`.
        picture: write :func:`restore.bench.pictures.upscale_picture` of the first folder
            (HR | the methods but Lanczos, on each image's most detailed crop) there.
        record: store the models' figures in the manifest under ``"<folder> x<scale>"``
            (``"<folder> realistic x<scale>"`` for the realistic set; not for a ``limit`` run).

    Yields:
        One :class:`restore.bench.runner.Report` per folder.
    """
    def run(folder: Path, outputs: dict | None) -> list[dict]:
        return bench_upscale(folder, models=models, device=device, baselines=baselines, limit=limit,
                             progress=progress, keep_outputs=outputs, realistic=realistic, scale=scale, seed=seed,
                             cache=cache, strengths=strengths)

    def text(folder: Path, rows: list[dict]) -> str:
        s = rows[0]["scale"]
        inputs = (f"realistic LR (Real-ESRGAN degradation model x{s}, seed {seed})" if realistic
                  else "LR made from HR (MATLAB-style bicubic, 8 bit)" if rows[0].get("lr_from_hr") else "given LR inputs")
        return format_table(rows, title=f"{folder.name}, x{s}, {inputs}; Y channel, border {s} px cropped")

    def key(folder: Path, rows: list[dict]) -> str:
        return f"{folder.name}{' realistic' if realistic else ''} x{rows[0]['scale']}"

    yield from over_folders(data, run, text=text, key=key,
                            picture=picture, draw=pictures.upscale_picture, record_figures=record, limit=limit)
