"""Watermark-removal benchmark: zoo models against the watermarked input and a
true-mask Telea inpainting, on a deterministic synthetic test set, in one run.

Protocol: every image of the folder (sorted by name, image ``i``) gets one watermark drawn
by :func:`restore.ops.degrade.synthesize_watermark` with ``numpy.random.default_rng([seed,
i])`` from the *held-out* logos and font only (``load_watermark_bank(..., "val")``), and is
rounded to 8 bit as a file would be. Figures on RGB: PSNR and SSIM (data range 1), RMSE on
the 0-255 scale over the image and inside the true watermark mask (fRMSE, the
``RMSE_w`` of the watermark-removal papers; alpha > ``MASK_THRESHOLD``), mask IoU of the
predicted mask, and seconds per megapixel. Images without a mask pixel are left out of
the fRMSE mean. Nothing here prints; progress goes to an optional callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from restore.io import iter_images, read_image, to_rgb8
from restore.ops.degrade import load_watermark_bank
from restore.bench.pictures import labelled_grid
from restore.metrics import mask_iou, psnr, ssim
from restore.ops.degrade import MASK_THRESHOLD, WatermarkBank, jpeg_roundtrip, synthesize_watermark
from restore.ops.blend import classical_inpaint

#: Baselines: the watermarked input itself, and OpenCV Telea inpainting of the true mask.
BASELINES = ("input", "telea")
_LABELS = {"input": "watermarked input", "telea": "true mask + Telea (OpenCV)"}
#: Telea's neighbourhood radius in pixels (OpenCV's documented example value).
TELEA_RADIUS = 3

Progress = Callable[[str], None] | None


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
        One dict per image: ``name``, ``clean`` and ``marked`` (H x W x 3 uint8) and
        ``alpha`` (H x W float32 in [0, 1]).

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
        cases.append(dict(name=path.stem, clean=clean, alpha=alpha, marked=marked))
    return cases


def wm_scores(clean8: np.ndarray, out8: np.ndarray, alpha: np.ndarray, pred_mask: np.ndarray | None) -> dict:
    """PSNR, SSIM, RMSE and fRMSE (0-255 scale) of an 8-bit result against the clean
    image, and the IoU of ``pred_mask`` (H x W bool, or None) with the true mask."""
    c, o = clean8.astype(np.float64) / 255, out8.astype(np.float64) / 255
    true = alpha > MASK_THRESHOLD
    sq = ((c - o) * 255) ** 2
    scores = dict(psnr=psnr(c, o), ssim=ssim(c, o), rmse=float(np.sqrt(sq.mean())),
                  frmse=float(np.sqrt(sq[true].mean())) if true.any() else float("nan"))
    if pred_mask is not None:
        t = lambda m: torch.from_numpy(np.ascontiguousarray(m))[None, None]  # noqa: E731
        scores["iou"] = float(mask_iou(t(pred_mask), t(true))[0])
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
            runs four times: with the default Telea refinement of opaque regions, with
            the inpainting pipeline's refinement, without refinement (all three with the
            pipeline's test-time augmentation), and with Telea without it (``tta=False``).
        baselines: subset of :data:`BASELINES`.
        seed: seed of the test set.
        limit: only the first N images.
        jpeg: save the watermarked images (and the clean references) as JPEG at this
            quality, as :func:`make_test_set` does.
        keep_outputs: if a dict is given, ``keep_outputs[method][name]`` receives each
            8-bit output and ``keep_outputs[method + " mask"][name]`` the predicted
            mask; ``"watermarked"``, ``"clean"`` and ``"true mask"`` hold the inputs.

    Returns:
        One row per method: ``method``, ``psnr``, ``ssim``, ``rmse``, ``frmse``,
        ``iou`` (None for the input; 1.0 for the true mask), ``s_per_mp``, ``images``.

    Raises:
        FileNotFoundError: no images, logos or fonts.
        ValueError: an unknown baseline or a JPEG quality outside 1-100.
        KeyError: an unknown model.
    """
    from restore import load_pipeline
    from restore.zoo.registry import default_model, list_models

    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise ValueError(f"unknown baseline(s) {sorted(unknown)}; choose from {BASELINES}")
    cases = make_test_set(data, logos, seed=seed, limit=limit, jpeg=jpeg)
    names = (sorted(list_models("unwatermark"), key=lambda m: (m != default_model("unwatermark"), m))
             if models is None else list(models))
    methods: list[tuple[str, Callable[[dict], tuple[np.ndarray, np.ndarray | None]]]] = []
    if "input" in baselines:
        methods.append((_LABELS["input"], lambda case: (case["marked"], None)))
    if "telea" in baselines:
        methods.append((_LABELS["telea"], _telea))
    for m in names:
        pipe = load_pipeline("unwatermark", model=m, device=device)
        for refine, tta, suffix in (("telea", True, ""), ("inpaint", True, " (inpaint refine)"),
                                    ("none", True, " (no refine)"), ("telea", False, " (no tta)")):
            def run(case: dict, pipe=pipe, refine=refine, tta=tta) -> tuple[np.ndarray, np.ndarray]:
                out, mask = pipe(case["marked"], return_mask=True, refine=refine, tta=tta)
                return out, mask > 127
            methods.append((f"restore {m}{suffix}", run))
    if keep_outputs is not None:
        for case in cases:
            keep_outputs.setdefault("watermarked", {})[case["name"]] = case["marked"]
            keep_outputs.setdefault("clean", {})[case["name"]] = case["clean"]
            keep_outputs.setdefault("true mask", {})[case["name"]] = case["alpha"] > MASK_THRESHOLD
    rows = []
    for label, fn in methods:
        scores, seconds, mpix = [], 0.0, 0.0
        for case in cases:
            t0 = time.perf_counter()
            out, mask = fn(case)
            seconds += time.perf_counter() - t0
            mpix += out.shape[0] * out.shape[1] / 1e6
            s = wm_scores(case["clean"], out, case["alpha"], mask)
            if label == _LABELS["telea"]:
                s["iou"] = 1.0
            scores.append(s)
            if keep_outputs is not None:
                keep_outputs.setdefault(label, {})[case["name"]] = out
                if mask is not None:
                    keep_outputs.setdefault(label + " mask", {})[case["name"]] = mask
        mean = lambda k: float(np.nanmean([s[k] for s in scores]))  # noqa: E731
        row = dict(method=label, images=len(cases), s_per_mp=seconds / mpix if label.startswith("restore") or
                   label == _LABELS["telea"] else 0.0, psnr=mean("psnr"), ssim=mean("ssim"), rmse=mean("rmse"),
                   frmse=mean("frmse"), iou=mean("iou") if "iou" in scores[0] else None)
        rows.append(row)
        if progress:
            progress(f"{label}: PSNR {row['psnr']:.2f} dB, SSIM {row['ssim']:.4f}, RMSE {row['rmse']:.2f}, "
                     f"fRMSE {row['frmse']:.2f}, IoU {row['iou'] if row['iou'] is None else round(row['iou'], 3)}, "
                     f"{row['s_per_mp']:.2f} s/MP")
    return rows


def format_table(rows: Sequence[dict], title: str | None = None) -> str:
    """Markdown table ``method | PSNR | SSIM | RMSE | fRMSE | mask IoU | s/MP`` of benchmark
    rows, optionally preceded by ``title`` and a blank line. No trailing newline."""
    lines = [title, ""] if title else []
    lines += ["| method | PSNR (dB) | SSIM | RMSE | fRMSE | mask IoU | s/MP |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        iou = "-" if r["iou"] is None else ("1 (given)" if r["method"] == _LABELS["telea"] else f"{r['iou']:.3f}")
        lines.append(f"| {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['rmse']:.2f} | {r['frmse']:.2f} | "
                     f"{iou} | {r['s_per_mp']:.3f} |")
    return "\n".join(lines)


def picture_grid(outputs: dict, model_label: str, names: Sequence[str], cell: int = 256) -> np.ndarray:
    """A grid with one row per image in ``names`` and the columns watermarked | predicted
    mask | ``model_label``'s output | true mask + Telea | clean, each fitted into a
    ``cell`` x ``cell`` box (aspect ratio kept), with a label strip. ``outputs`` is :func:`bench_unwatermark`'s
    ``keep_outputs``. Returns H x W x 3 uint8."""
    columns = [("watermarked", "watermarked"), (model_label + " mask", "predicted mask"),
               (model_label, model_label.removeprefix("restore ")), (_LABELS["telea"], "true mask + Telea"),
               ("clean", "clean")]
    return labelled_grid([label for _, label in columns],
                         [[outputs[key][name] for key, _ in columns] for name in names], cell)
