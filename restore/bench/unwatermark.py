"""Watermark-removal benchmark: zoo models against the watermarked input and a
true-mask Telea inpainting, on a deterministic synthetic test set, in one run.

Protocol: every image of the folder (sorted by name, image ``i``) gets one watermark drawn
by :func:`restore.ops.degrade.synthesize_watermark` with ``numpy.random.default_rng([seed,
i])`` from the *held-out* logos and font only (``load_watermark_bank(..., "val")``), and is
rounded to 8 bit as a file would be. Figures on RGB: PSNR and SSIM (data range 1), RMSE on
the 0-255 scale over the image and inside the true watermark mask (fRMSE, the
``RMSE_w`` of the watermark-removal papers; alpha > ``MASK_THRESHOLD``), mask IoU of the
predicted mask, and seconds per input megapixel (timing protocol of
:mod:`restore.bench.runner`). Images without a mask pixel are left out of the fRMSE mean.
Nothing here prints; progress goes to an optional callback.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from restore.bench import pictures
from restore.bench.runner import (Column, Method, Progress, Report, first_model_label, over_folders, resolve_models,
                                  run_methods)
from restore.bench.runner import format_table as runner_format_table
from restore.io import iter_images, read_image, to_rgb8
from restore.metrics import frmse, mask_iou, psnr, rmse, ssim, to_batch
from restore.ops.degrade import (MASK_THRESHOLD, WatermarkBank, jpeg_roundtrip, load_watermark_bank,
                                 synthesize_watermark)
from restore.ops.blend import classical_inpaint

#: Baselines: the watermarked input itself, and OpenCV Telea inpainting of the true mask.
BASELINES = ("input", "telea")
_LABELS = {"input": "watermarked input", "telea": "true mask + Telea (OpenCV)"}
#: Telea's neighbourhood radius in pixels (OpenCV's documented example value).
TELEA_RADIUS = 3
#: The model's rows: (suffix of the label, pipeline call options); the default settings first.
VARIANTS = (("", dict(refine="telea", tta=True)), (" (inpaint refine)", dict(refine="inpaint", tta=True)),
            (" (no refine)", dict(refine="none", tta=True)), (" (no tta)", dict(refine="telea", tta=False)))
#: The extra row, on JPEG-saved test sets, of a model with a JPEG partner: its own weights on every image.
OWN_WEIGHTS = (" (own weights, no JPEG partner)", dict(refine="telea", tta=True, jpeg=False))


def _iou_cell(row: dict) -> str:
    if row.get("iou") is None:
        return "-"
    return "1 (given)" if row["method"] == _LABELS["telea"] else f"{row['iou']:.3f}"


#: The figure columns of a watermark-removal table.
COLUMNS = (Column("PSNR (dB)", "psnr"), Column("SSIM", "ssim", ".4f"), Column("RMSE", "rmse"),
           Column("fRMSE", "frmse"), Column("mask IoU", "iou", _iou_cell), Column("s/MP", "s_per_mp", ".3f"))


def make_test_set(data: str | Path, logos: str | Path | list | WatermarkBank, *, seed: int = 0,
                  limit: int | None = None, jpeg: int | None = None) -> list[dict]:
    """The deterministic watermarked test set of a folder.

    Args:
        data: folder of clean images.
        logos: logo folder(s), whose held-out logos (and the held-out font) are used, or
            a bank already loaded with ``load_watermark_bank(..., "val")``.
        seed: seed of the marks.
        limit: only the first N images.
        jpeg: if given, the watermarked image is saved as JPEG at this quality (1-100)
            after the mark is drawn, as a photo on the web is, and the clean reference
            is saved at the same quality, so that the scores measure the mark and not
            the compression (:func:`restore.ops.degrade.jpeg_roundtrip`).

    Returns:
        One dict per image: ``name``, ``clean`` and ``marked`` (H x W x 3 uint8),
        ``alpha`` (H x W float32 in [0, 1]) and ``mp`` (megapixels).

    Raises:
        FileNotFoundError: if ``data`` holds no image, or no held-out logo/font is found.
        ValueError: for a JPEG quality outside 1-100.
    """
    if jpeg is not None and not 1 <= jpeg <= 100:
        raise ValueError(f"JPEG quality must be in 1-100, got {jpeg}")
    paths = sorted(iter_images(data))[:limit] if limit else sorted(iter_images(data))
    if not paths:
        raise FileNotFoundError(f"no images in {data}")
    bank = logos if isinstance(logos, WatermarkBank) else load_watermark_bank(logos, "val")
    cases = []
    for i, path in enumerate(paths):
        clean = to_rgb8(read_image(path))
        marked, _, alpha = synthesize_watermark(clean, np.random.default_rng([seed, i]), bank)
        marked = (np.clip(marked, 0, 1) * 255 + 0.5).astype(np.uint8)
        if jpeg is not None:
            clean, marked = jpeg_roundtrip(clean, jpeg), jpeg_roundtrip(marked, jpeg)
        cases.append(dict(name=path.stem, clean=clean, alpha=alpha, marked=marked,
                          mp=clean.shape[0] * clean.shape[1] / 1e6))
    return cases


def wm_scores(clean8: np.ndarray, out8: np.ndarray, alpha: np.ndarray, pred_mask: np.ndarray | None) -> dict:
    """PSNR, SSIM, RMSE and fRMSE (0-255 scale, NaN without a mask pixel) of an 8-bit
    result against the clean image, and the IoU of ``pred_mask`` (H x W bool, or None:
    no ``iou`` key) with the true mask (alpha > ``MASK_THRESHOLD``), by
    :mod:`restore.metrics`."""
    c, o = clean8 / 255.0, out8 / 255.0
    true = alpha > MASK_THRESHOLD
    tc, to, tm = to_batch(c), to_batch(o), to_batch(true).bool()
    scores = dict(psnr=psnr(c, o), ssim=ssim(c, o), rmse=float(rmse(tc, to)[0]), frmse=float(frmse(tc, to, tm)[0]))
    if pred_mask is not None:
        scores["iou"] = float(mask_iou(to_batch(pred_mask).bool(), tm)[0])
    return scores


def _telea(case: dict) -> tuple[np.ndarray, np.ndarray]:
    true = case["alpha"] > MASK_THRESHOLD
    return classical_inpaint(case["marked"], true, "telea", TELEA_RADIUS), true


def bench_unwatermark(data: str | Path, *, logos: str | Path | list | WatermarkBank, models: Iterable[str] | None = None,
                      device: str = "auto", baselines: Sequence[str] = BASELINES, seed: int = 0,
                      limit: int | None = None, jpeg: int | None = None, progress: Progress = None,
                      keep_outputs: dict | None = None) -> list[dict]:
    """Benchmark zoo watermark-removal models and the baselines on one folder.

    Args:
        data: folder of clean images (CBSD68, Kodak24).
        logos: logo folder(s), or a loaded held-out bank: only the held-out logos (and
            font) make the test marks (:func:`make_test_set`).
        models: zoo model names; None = every unwatermark model, the default first. Each
            runs as the rows of :data:`VARIANTS`: with the default Telea refinement of
            opaque regions, with the inpainting pipeline's refinement, without refinement
            (all three with the pipeline's test-time augmentation), and with Telea without
            it (``tta=False``). With ``jpeg``, a model with a JPEG partner (unwatermark-s)
            also runs with its own weights on every image (:data:`OWN_WEIGHTS`).
        baselines: subset of :data:`BASELINES`.
        seed: seed of the test set.
        limit: only the first N images.
        jpeg: save the watermarked images (and the clean references) as JPEG at this
            quality, as :func:`make_test_set` does.
        keep_outputs: if a dict is given, ``keep_outputs[method][name]`` receives each
            8-bit output and ``keep_outputs[method + " mask"][name]`` the predicted
            mask; ``"watermarked"``, ``"clean"`` and ``"true mask"`` hold the inputs.

    Returns:
        One row per method (:func:`restore.bench.runner.run_methods`): ``method``,
        ``model``, ``psnr``, ``ssim``, ``rmse``, ``frmse``, ``iou`` (None for the input;
        1.0 for the true mask), ``seconds``, ``s_per_mp`` (None for the input), ``images``.

    Raises:
        FileNotFoundError: no images, logos or fonts.
        ValueError: an unknown baseline or a JPEG quality outside 1-100.
        KeyError: an unknown model.
    """
    from restore import load_pipeline

    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise ValueError(f"unknown baseline(s) {sorted(unknown)}; choose from {BASELINES}")
    cases = make_test_set(data, logos, seed=seed, limit=limit, jpeg=jpeg)
    methods = []
    if "input" in baselines:
        methods.append(Method(_LABELS["input"], lambda case: (case["marked"], None), timed=False))
    if "telea" in baselines:
        methods.append(Method(_LABELS["telea"], _telea))
    for m in resolve_models("unwatermark", models):
        pipe = load_pipeline("unwatermark", model=m, device=device)
        variants = VARIANTS + ((OWN_WEIGHTS,) if jpeg is not None and pipe.jpeg_partner else ())
        for suffix, options in variants:
            def run(case: dict, pipe=pipe, options=options) -> tuple[np.ndarray, np.ndarray]:
                out, mask = pipe(case["marked"], return_mask=True, **options)
                return out, mask > 127
            methods.append(Method(f"restore {m}{suffix}", run, model=m))
    kept: dict | None = None if keep_outputs is None else {}
    rows = run_methods(methods, cases, lambda case, res: wm_scores(case["clean"], res[0], case["alpha"], res[1]),
                       progress=progress, keep_outputs=kept)
    if keep_outputs is not None:
        for case in cases:
            keep_outputs.setdefault("watermarked", {})[case["name"]] = case["marked"]
            keep_outputs.setdefault("clean", {})[case["name"]] = case["clean"]
            keep_outputs.setdefault("true mask", {})[case["name"]] = case["alpha"] > MASK_THRESHOLD
        for label, outs in kept.items():
            for name, (out, mask) in outs.items():
                keep_outputs.setdefault(label, {})[name] = out
                if mask is not None:
                    keep_outputs.setdefault(label + " mask", {})[name] = mask
    return [dict(row, iou=row.get("iou")) for row in rows]


def format_table(rows: Sequence[dict], title: str | None = None) -> str:
    """Markdown table ``method | PSNR | SSIM | RMSE | fRMSE | mask IoU | s/MP`` (:data:`COLUMNS`)
    of benchmark rows, optionally preceded by ``title`` and a blank line. No trailing newline."""
    return runner_format_table(rows, COLUMNS, title)


def reports(data: Sequence[str | Path], *, logos: str | Path | list | WatermarkBank,
            models: Iterable[str] | None = None, device: str = "auto", baselines: Sequence[str] = BASELINES,
            seed: int = 0, jpeg: int | None = None, limit: int | None = None, picture: str | Path | None = None,
            picture_rows: int = 6, record: bool = False, progress: Progress = None) -> Iterator[Report]:
    """``restore bench unwatermark``: one table per folder (:func:`bench_unwatermark`),
    yielded when done; the held-out watermark bank is loaded once for all folders.

    Args:
        data: folders of clean images.
        logos, models, device, baselines, seed, jpeg, limit, progress: as in
            :func:`bench_unwatermark`.
        picture: write :func:`restore.bench.pictures.unwatermark_grid` of the first model's
            default row, the true-mask Telea row as the oracle column, on the first
            ``picture_rows`` images of the first folder there.
        record: store the models' figures in the manifest under ``"<folder> watermarks"``
            (``" JPEG q<Q>"`` appended with ``jpeg``; not for a ``limit`` run).

    Yields:
        One :class:`restore.bench.runner.Report` per folder.

    Raises:
        ValueError: a picture without the telea baseline; as :func:`bench_unwatermark`.
        FileNotFoundError: no held-out logo or font.
    """
    if picture is not None and "telea" not in baselines:
        raise ValueError("the picture needs the telea baseline")
    bank = logos if isinstance(logos, WatermarkBank) else load_watermark_bank(
        [str(d) for d in logos] if isinstance(logos, (list, tuple)) else logos, "val")
    saved = "" if jpeg is None else f", saved as JPEG quality {jpeg} (clean reference too)"
    key_jpeg = "" if jpeg is None else f" JPEG q{jpeg}"

    def run(folder: Path, outputs: dict | None) -> list[dict]:
        return bench_unwatermark(folder, logos=bank, models=models, device=device, baselines=baselines, seed=seed,
                                 limit=limit, jpeg=jpeg, progress=progress, keep_outputs=outputs)

    def text(folder: Path, rows: list[dict]) -> str:
        return format_table(rows, title=f"{folder.name}, synthetic watermarks (held-out logos and font, seed {seed})"
                                        f"{saved}; RGB, RMSE on the 0-255 scale")

    yield from over_folders(
        data, run, text=text, key=lambda folder, rows: f"{folder.name} watermarks{key_jpeg}", picture=picture,
        draw=lambda outputs, rows: pictures.unwatermark_grid(outputs, first_model_label(rows),
                                                             sorted(outputs["clean"])[:picture_rows],
                                                             oracle_label=_LABELS["telea"]),
        record_figures=record, limit=limit)
