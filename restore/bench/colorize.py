"""Colorization benchmark: zoo models against the gray image, on color ground truth.

Protocol (Zhang et al. 2016's: the network gets the ground truth's lightness): every image
of the folder is converted to gray by keeping its CIE L* (D65) and setting a* = b* = 0,
rounded to an 8-bit one-channel image as a gray file would be, and colorized at the
default render size. Figures on RGB in [0, 1]: PSNR and SSIM against the original color
image, and the mean colorfulness (Hasler & Suesstrunk 2003, 0-255 scale) of the outputs,
also as a share of the originals' mean colorfulness (a desaturated model scores low, and
the gray image 0). Seconds per input megapixel (timing protocol of
:mod:`restore.bench.runner`) include the Lab conversions. Nothing here prints; progress
goes to an optional callback.

With hints (``--hints N``), models with hint inputs also get N random ground-truth
points per image, as a user's hint file would give them (Zhang et al. 2017's evaluation):
1-pixel dots at uniformly random places, colored as the original there, drawn with a
fixed seed per image and count (:func:`add_hint_images`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from restore.bench import pictures
from restore.bench.runner import (Column, Method, Progress, Report, first_model_label, over_folders, resolve_models,
                                  run_methods)
from restore.bench.runner import record as record_rows
from restore.bench.runner import format_table as runner_format_table
from restore.io import iter_images, read_image, to_rgb8
from restore.metrics import colorfulness, psnr, ssim, to_batch
from restore.ops.color import lab_to_rgb, rgb_to_lab
from restore.ops.hints import hint_image_from

GRAY_LABEL = "gray input (L* only)"
#: Default hint counts of the hints table: random ground-truth points per image.
HINT_COUNTS = (1, 10, 50)
#: Each model's extra rows with ``variants``: (suffix of the label, pipeline call options).
VARIANTS = (
    (" (posterior mean: least squares, as an L2 regression)",
     dict(temperature=1.0, prior=1.0, saturation=1.0, chroma_spread=1.0)),
    (" (Zhang et al. decoding: rebalanced, T=0.38)", dict(temperature=0.38, prior=0.0, saturation=1.0, chroma_spread=1.0)),
    (" (no chroma spread, no mirrored pass)", dict(chroma_spread=1.0, tta=False)),
    (" (bilinear chroma upsampling)", dict(edge_aware=False)),
)

#: The figure columns of a colorization table.
COLUMNS = (Column("PSNR (dB)", "psnr"), Column("SSIM", "ssim", ".4f"), Column("colorfulness", "colorfulness", ".1f"),
           Column("% of original's", "cf_ratio", lambda r: f"{100 * r['cf_ratio']:.0f}%"),
           Column("s/MP", "s_per_mp", ".3f"))


def to_gray_lightness(rgb: np.ndarray) -> np.ndarray:
    """The gray version of an H x W x 3 uint8 image: its CIE L* rendered with zero chroma,
    as H x W uint8 (what a black-and-white rendering of the photo keeps)."""
    t = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
    lab = rgb_to_lab(t)
    gray = lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], 1))[0, 0]
    return (gray.numpy() * 255.0 + 0.5).astype(np.uint8)


def image_colorfulness(rgb8: np.ndarray) -> float:
    """:func:`restore.metrics.colorfulness` of an H x W x 3 uint8 image (scaled to [0, 1]
    in float32, as the published figures were computed)."""
    return float(colorfulness(to_batch(rgb8).float() / 255.0)[0])


def colorize_cases(data: str | Path, limit: int | None = None) -> list[dict]:
    """The test cases of a folder: ``name``, ``rgb`` (H x W x 3 uint8, the ground truth),
    ``gray`` (:func:`to_gray_lightness`, the input) and ``mp`` (input megapixels).

    Raises:
        FileNotFoundError: no images in ``data``.
    """
    paths = sorted(iter_images(data))[:limit] if limit else sorted(iter_images(data))
    if not paths:
        raise FileNotFoundError(f"no images in {data}")
    cases = []
    for path in paths:
        rgb = to_rgb8(read_image(path))
        cases.append(dict(name=path.stem, rgb=rgb, gray=to_gray_lightness(rgb), mp=rgb.shape[0] * rgb.shape[1] / 1e6))
    return cases


def _gray_method() -> Method:
    """The baseline row: the gray input itself, as RGB (no work, not timed)."""
    return Method(GRAY_LABEL, lambda c: np.repeat(c["gray"][..., None], 3, axis=2), timed=False)


def _run_rows(methods: list[Method], cases: list[dict], progress: Progress, keep_outputs: dict | None,
              **extra) -> list[dict]:
    """:func:`restore.bench.runner.run_methods` rows with ``cf_ratio`` (the colorfulness over
    the originals' mean) and, last, the row "original (ground truth)". ``extra[key]`` maps a
    method label to a value the row gets under ``key`` (None for the original)."""
    cf_true = float(np.mean([image_colorfulness(c["rgb"]) for c in cases]))
    if keep_outputs is not None:
        keep_outputs["original"] = {c["name"]: c["rgb"] for c in cases}
    rows = [dict(row, cf_ratio=row["colorfulness"] / cf_true, **{k: v[row["method"]] for k, v in extra.items()})
            for row in run_methods(methods, cases, _score, progress=progress, keep_outputs=keep_outputs)]
    rows.append(dict(method="original (ground truth)", model=None, images=len(cases), psnr=float("inf"), ssim=1.0,
                     colorfulness=cf_true, cf_ratio=1.0, seconds=None, s_per_mp=None, **{k: None for k in extra}))
    return rows


def _score(case: dict, out: np.ndarray) -> dict[str, float]:
    ref, test = case["rgb"] / 255.0, out / 255.0
    return dict(psnr=psnr(ref, test), ssim=ssim(ref, test), colorfulness=image_colorfulness(out))


def bench_colorize(data: str | Path, *, models: Iterable[str] | None = None, device: str = "auto",
                   variants: bool = True, limit: int | None = None, progress: Progress = None,
                   keep_outputs: dict | None = None, reference_self: bool = False) -> list[dict]:
    """Benchmark zoo colorization models and the gray baseline on one folder.

    Args:
        data: folder of color images (Kodak24, CBSD68).
        models: zoo model names; None = every colorize model, the default first.
        variants: also run each model as the rows of :data:`VARIANTS`: decoded as the
            posterior mean (prior 1, temperature 1: the least-squares chroma, what an L2
            regression estimates), as Zhang et al. decode (prior 0, temperature 0.38), both
            without chroma spread, without the chroma spread and the mirrored pass, and
            with bilinear instead of edge-aware chroma upsampling.
        limit: only the first N images.
        keep_outputs: if a dict is given, ``keep_outputs[method][name]`` receives each
            8-bit RGB output, and ``"original"`` the ground truth.
        reference_self: also run each model with the color original as its reference
            photo (``reference=``; the protocol of Zhang et al. 2017's global hints), rows
            ``restore MODEL reference = original``.

    Returns:
        One row per method (:func:`restore.bench.runner.run_methods`): ``method``,
        ``model``, ``psnr``, ``ssim``, ``colorfulness`` (mean), ``cf_ratio`` (its share of
        the originals' mean), ``seconds``, ``s_per_mp`` (None for the gray input),
        ``images``; then the row "original (ground truth)".

    Raises:
        FileNotFoundError: no images in ``data``.
        KeyError: an unknown model.
    """
    from restore import load_pipeline

    cases = colorize_cases(data, limit)
    methods = [_gray_method()]
    for m in resolve_models("colorize", models):
        pipe = load_pipeline("colorize", model=m, device=device)
        for suffix, options in (("", {}),) + (VARIANTS if variants else ()):
            methods.append(Method(f"restore {m}{suffix}", lambda c, pipe=pipe, options=options: pipe(c["gray"], **options),
                                  model=m))
        if reference_self:
            methods.append(Method(f"restore {m} reference = original",
                                  lambda c, pipe=pipe: pipe(c["gray"], reference=c["rgb"]), model=m))
    return _run_rows(methods, cases, progress, keep_outputs)


def add_hint_images(cases: list[dict], counts: Sequence[int], seed: int = 0) -> None:
    """Give every case ``case["hints"][n]``, for each ``n`` of ``counts``: an RGBA hint
    image of ``n`` 1-pixel ground-truth dots (:func:`restore.ops.hints.hint_image_from`),
    drawn with the generator seeded by ``(seed, case index, n)``."""
    for i, case in enumerate(cases):
        case["hints"] = {n: hint_image_from(case["rgb"], n, np.random.default_rng([seed, i, n])) for n in counts}


def hint_label(model: str, n: int) -> str:
    """The row label of ``model`` with ``n`` ground-truth hints."""
    return f"restore {model}, {n} hint{'s' if n != 1 else ''}"


def bench_colorize_hints(data: str | Path, *, counts: Sequence[int] = HINT_COUNTS, models: Iterable[str] | None = None,
                         device: str = "auto", limit: int | None = None, progress: Progress = None,
                         keep_outputs: dict | None = None) -> list[dict]:
    """Benchmark the colorize models that take hints, automatic and with ``counts`` random
    ground-truth hints per image, against the gray image, on one folder.

    Args:
        data: folder of color images (Kodak24, CBSD68).
        counts: hint counts (each > 0); the automatic row (no hint) comes first.
        models: zoo model names (those without hint inputs are left out); None = every
            colorize model with hint inputs.
        device, limit, progress, keep_outputs: as in :func:`bench_colorize`.

    Returns:
        Rows as :func:`bench_colorize`'s, each with ``hints`` (the count, 0 for the
        automatic row; None for the gray input), then "original (ground truth)".

    Raises:
        FileNotFoundError: no images in ``data``.
        KeyError: an unknown model.
        ValueError: a count < 1, or no model with hint inputs among ``models``.
    """
    from restore import load_pipeline
    from restore.zoo.registry import get_spec

    if any(n < 1 for n in counts):
        raise ValueError(f"hint counts must be >= 1, got {list(counts)}")
    names = [m for m in resolve_models("colorize", models) if get_spec(m).arch_kwargs.get("hints")]
    if not names:
        raise ValueError("no colorize model with hint inputs to benchmark")
    cases = colorize_cases(data, limit)
    add_hint_images(cases, counts)
    methods = [_gray_method()]
    hints_of = {GRAY_LABEL: None}
    for m in names:
        pipe = load_pipeline("colorize", model=m, device=device)
        methods.append(Method(f"restore {m} (automatic)", lambda c, pipe=pipe: pipe(c["gray"]), model=m))
        hints_of[methods[-1].label] = 0
        for n in counts:
            methods.append(Method(hint_label(m, n), lambda c, pipe=pipe, n=n: pipe(c["gray"], c["hints"][n]), model=m))
            hints_of[methods[-1].label] = n
    return _run_rows(methods, cases, progress, keep_outputs, hints=hints_of)


def format_table(rows: Sequence[dict], title: str | None = None) -> str:
    """Markdown table ``method | PSNR | SSIM | colorfulness | % of original | s/MP``
    (:data:`COLUMNS`) of benchmark rows, optionally preceded by ``title`` and a blank
    line. No trailing newline."""
    return runner_format_table(rows, COLUMNS, title)


def colorize_photos(folder: str | Path, *, model: str | None = None, device: str = "auto",
                    count: int = 12) -> list[tuple[np.ndarray, np.ndarray]]:
    """Colorize ``count`` photos of a folder without ground truth (historical photos),
    evenly spaced over the sorted folder, at the pipeline's defaults.

    Returns:
        ``(photo, colorized)`` pairs, H x W x 3 uint8 each.

    Raises:
        FileNotFoundError: no images in ``folder``.
        KeyError: an unknown model.
    """
    from restore import load_pipeline

    paths = sorted(iter_images(folder))
    if not paths:
        raise FileNotFoundError(f"no images in {folder}")
    idx = np.unique(np.linspace(0, len(paths) - 1, min(count, len(paths))).round().astype(int))
    pipe = load_pipeline("colorize", model=model, device=device)
    pairs = []
    for i in idx:
        img = read_image(paths[i])
        pairs.append((to_rgb8(img), to_rgb8(pipe(img))))
    return pairs


def reports(data: Sequence[str | Path], *, models: Iterable[str] | None = None, device: str = "auto",
            variants: bool = True, limit: int | None = None, picture: str | Path | None = None,
            picture_rows: int = 6, old_photos: str | Path | None = None, old_photos_picture: str | Path | None = None,
            old_photos_count: int = 12, detail_picture: str | Path | None = None, record: bool = False,
            hints: Sequence[int] = (), progress: Progress = None, reference_self: bool = False) -> Iterator[Report]:
    """``restore bench colorize``: one table per folder (:func:`bench_colorize`), yielded
    when done, then the pictures of historical photos.

    Args:
        data: folders of color images.
        models, device, variants, limit, progress, reference_self: as in :func:`bench_colorize`.
        picture: write :func:`restore.bench.pictures.colorize_grid` (gray | the first
            model | original) of the first ``picture_rows`` images of the first folder.
        old_photos: a folder of photos without ground truth; ``old_photos_count`` of them
            (:func:`colorize_photos`, the first of ``models``) go to ``old_photos_picture``
            (:func:`restore.bench.pictures.photos_grid`), and, with ``detail_picture``,
            their 1:1 crops (:func:`restore.bench.pictures.photo_details_grid`).
        record: store the models' figures in the manifest under ``"<folder> colorize"``
            (not for a ``limit`` run), and with ``hints`` under ``"<folder> colorize N hints"``.
        hints: hint counts; if any, a second table per folder
            (:func:`bench_colorize_hints`) for the models with hint inputs.

    Yields:
        One :class:`restore.bench.runner.Report` per folder, then one per folder for the
        hints, then one without text for the old-photos pictures.

    Raises:
        ValueError: ``old_photos`` without ``old_photos_picture`` or the reverse, or
            ``detail_picture`` without them.
    """
    if (old_photos is None) != (old_photos_picture is None):
        raise ValueError("old photos (--old-photos) and their picture (--old-photos-picture) go together")
    if detail_picture is not None and old_photos is None:
        raise ValueError("the detail picture (--detail-picture) needs old photos (--old-photos)")
    models = None if models is None else list(models)

    def run(folder: Path, outputs: dict | None) -> list[dict]:
        return bench_colorize(folder, models=models, device=device, variants=variants, limit=limit,
                              progress=progress, keep_outputs=outputs, reference_self=reference_self)

    def draw(outputs: dict, rows: list[dict]) -> np.ndarray:
        return pictures.colorize_grid(outputs, first_model_label(rows), sorted(outputs["original"])[:picture_rows],
                                      gray_label=GRAY_LABEL)

    yield from over_folders(
        data, run, text=lambda folder, rows: format_table(rows, title=f"{folder.name}, gray (L*) input, RGB; "
                                                                       "colorfulness of Hasler & Suesstrunk on the "
                                                                       "0-255 scale"),
        key=lambda folder, rows: f"{folder.name} colorize", picture=picture, draw=draw, record_figures=record,
        limit=limit)
    for folder in (Path(f) for f in data) if hints else ():
        rows = bench_colorize_hints(folder, counts=hints, models=models, device=device, limit=limit,
                                    progress=progress)
        report = Report(format_table(rows, title=f"{folder.name}, gray (L*) input and random ground-truth hints "
                                                 "(1-pixel dots colored as the original), RGB"), rows)
        for n in hints:
            report.recorded += record_rows([r for r in rows if r.get("hints") == n], f"{folder.name} colorize {n} hints",
                                           enabled=record, limit=limit)
        yield report
    if old_photos is not None:
        from restore.io import write_image
        pairs = colorize_photos(old_photos, model=models[0] if models else None, device=device,
                                count=old_photos_count)
        report = Report("")
        write_image(old_photos_picture, pictures.photos_grid(pairs))
        report.wrote.append(Path(old_photos_picture))
        if detail_picture is not None:
            write_image(detail_picture, pictures.photo_details_grid(pairs))
            report.wrote.append(Path(detail_picture))
        yield report
