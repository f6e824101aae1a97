"""Inpainting benchmark: the GAN latent search (from random z and from the encoder's z)
against OpenCV Telea and Navier-Stokes and scikit-image biharmonic, in one run.

Protocol: the images of the folder, sorted by name (with ``held_out`` only those that
:func:`restore.ops.degrade.is_held_out` keeps out of training; with ``size`` each resized
to ``size`` x ``size`` with area interpolation, as the face model was trained), image ``i``
with the mask :func:`restore.ops.degrade.make_mask` draws from
``numpy.random.default_rng([seed, i])``. Figures on RGB in [0, 1]: PSNR and SSIM of the
whole image, PSNR and L1 (0-255 scale) inside the hole, and seconds per image and per
input megapixel (timing protocol of :mod:`restore.bench.runner`).

The convergence check (:func:`convergence`) runs the latent search itself from both
starts on the same cases and reports the loss the random restarts reach and the step at
which the encoder start first reaches it. Nothing here prints; progress goes to an
optional callback.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from restore.bench import pictures
from restore.bench.runner import Column, Method, Progress, Report, first_model_label, over_folders, run_methods
from restore.bench.runner import format_table as runner_format_table
from restore.io import iter_images, read_image, to_rgb8
from restore.metrics import hole_l1, hole_psnr, psnr, ssim, to_batch
from restore.ops.degrade import is_held_out, make_mask

#: Classical baselines.
BASELINES = ("telea", "ns", "biharmonic")
_LABELS = {"telea": "OpenCV Telea", "ns": "OpenCV Navier-Stokes", "biharmonic": "scikit-image biharmonic"}
MASK_KINDS = ("center", "boxes", "strokes")

#: The figure columns of an inpainting table.
COLUMNS = (Column("PSNR (dB)", "psnr"), Column("SSIM", "ssim", ".4f"), Column("hole PSNR (dB)", "hole_psnr"),
           Column("hole L1 (0-255)", "hole_l1"), Column("s/image", "s_per_image"), Column("s/MP", "s_per_mp"))


def make_test_set(data: str | Path, mask_kind: str, *, seed: int = 0, size: int | None = None,
                  held_out: bool = False, limit: int | None = None) -> list[dict]:
    """The deterministic test cases of a folder (see the module doc).

    Returns:
        A list of dicts: ``name``, ``clean`` (H x W x 3 uint8 RGB), ``mask`` (H x W bool,
        True = hole), ``masked`` (:func:`masked_view`: what a method is given) and ``mp``
        (megapixels).

    Raises:
        FileNotFoundError: no (held-out) images in ``data``.
        ValueError: unknown ``mask_kind``.
    """
    if mask_kind not in MASK_KINDS:
        raise ValueError(f"mask kind must be one of {MASK_KINDS}, got {mask_kind!r}")
    paths = sorted(iter_images(data, recursive=True))
    if held_out:
        paths = [p for p in paths if is_held_out(p.name, "image")]
    if limit:
        paths = paths[:limit]
    if not paths:
        raise FileNotFoundError(f"no {'held-out ' if held_out else ''}images in {data}")
    cases = []
    for i, p in enumerate(paths):
        clean = to_rgb8(read_image(p))
        if size:
            clean = cv2.resize(clean, (size, size), interpolation=cv2.INTER_AREA)
        mask = make_mask(mask_kind, clean.shape[0], clean.shape[1], np.random.default_rng([seed, i])) > 0
        cases.append(dict(name=p.name, clean=clean, mask=mask, masked=masked_view(clean, mask),
                          mp=clean.shape[0] * clean.shape[1] / 1e6))
    return cases


def inpaint_scores(clean8: np.ndarray, out8: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """PSNR / SSIM of the whole image, PSNR and L1 (0-255 scale) inside the hole (H x W
    mask, nonzero = hole), by :mod:`restore.metrics`."""
    c, o = clean8 / 255.0, out8 / 255.0
    tc, to, hole = to_batch(c), to_batch(o), to_batch(mask).bool()
    return dict(psnr=psnr(c, o), ssim=ssim(c, o), hole_psnr=float(hole_psnr(tc, to, hole)[0]),
                hole_l1=float(hole_l1(tc, to, hole)[0]))


def masked_view(clean8: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The input as a user sees it: the hole painted white."""
    out = clean8.copy()
    out[mask.astype(bool)] = 255
    return out


def bench_inpaint(data: str | Path, *, mask_kind: str, models: Iterable[str] | None = None, device: str = "auto",
                  baselines: Sequence[str] = BASELINES, inits: Sequence[str] = ("encoder", "random"), seed: int = 0,
                  size: int | None = None, held_out: bool = False, limit: int | None = None,
                  progress: Progress = None, keep_outputs: dict | None = None) -> list[dict]:
    """Benchmark zoo inpainting models (each from random z and from the encoder's z, at
    the pipeline's default settings) and the classical baselines on one folder. Every
    method is given the image with the hole painted white (``case["masked"]``) and the
    mask, never the hole's pixels.

    Args:
        data: folder of clean images.
        mask_kind: ``center`` (25% of the area), ``boxes`` or ``strokes`` (5%).
        models: zoo model names; None = the default inpaint model.
        baselines: subset of :data:`BASELINES`.
        inits: latent-search starts to run, of ``random`` and ``encoder``; the first is
            the model's row recorded in the manifest.
        seed: seed of the masks (and of the latent search).
        size, held_out, limit: see :func:`make_test_set`.
        keep_outputs: if a dict is given, ``keep_outputs[method][name]`` receives each
            8-bit output; ``"masked"`` and ``"clean"`` hold the inputs.

    Returns:
        One row per method (:func:`restore.bench.runner.run_methods`): ``method``,
        ``model``, ``psnr``, ``ssim``, ``hole_psnr``, ``hole_l1``, ``seconds``,
        ``s_per_image``, ``s_per_mp``, ``images``.

    Raises:
        FileNotFoundError, ValueError, KeyError: as :func:`make_test_set`, unknown
        baselines or inits, unknown models.
    """
    from restore import load_pipeline
    from restore.ops.blend import classical_inpaint
    from restore.zoo.registry import default_model

    unknown = set(baselines) - set(BASELINES)
    if unknown:
        raise ValueError(f"unknown baseline(s) {sorted(unknown)}; choose from {BASELINES}")
    if set(inits) - {"random", "encoder"}:
        raise ValueError(f"inits must be random and/or encoder, got {list(inits)}")
    cases = make_test_set(data, mask_kind, seed=seed, size=size, held_out=held_out, limit=limit)
    names = [default_model("inpaint")] if models is None else list(models)
    methods = [Method(_LABELS[b], lambda case, b=b: classical_inpaint(case["masked"], case["mask"], b))
               for b in baselines]
    for m in names:
        pipe = load_pipeline("inpaint", model=m, device=device)
        for init in inits:
            methods.append(Method(f"restore {m} ({init} z)", lambda case, pipe=pipe, init=init: pipe(
                case["masked"], case["mask"], init=init, seed=seed), model=m))
    if keep_outputs is not None:
        for case in cases:
            keep_outputs.setdefault("masked", {})[case["name"]] = case["masked"]
            keep_outputs.setdefault("clean", {})[case["name"]] = case["clean"]
    rows = run_methods(methods, cases, lambda case, out: inpaint_scores(case["clean"], out, case["mask"]),
                       progress=progress, keep_outputs=keep_outputs)
    return [dict(row, s_per_image=row["seconds"] / row["images"]) for row in rows]


def convergence(model: str, data: str | Path, *, mask_kind: str, seed: int = 0, size: int | None = None,
                held_out: bool = False, limit: int | None = None, steps: int | None = None,
                restarts: int | None = None, max_cases: int = 16, device: str = "auto") -> dict:
    """How many latent-search steps each start needs: the random restarts run ``steps``
    steps (default: 5 times the model's default), and the encoder start runs the same
    steps from its latent; both with ``restarts`` latents per case (default: the
    model's). Cases are the model's windows of the first ``max_cases`` test cases with a
    hole there: the whole image resized to the model's side for whole-image models, the
    center window for windowed ones.

    Returns:
        ``random_loss`` (mean best loss after ``steps``), ``encoder_start_loss`` (at step 0),
        ``encoder_loss`` (after ``steps``), ``encoder_steps_to_random`` (first step where
        the encoder start's mean best loss is at or below ``random_loss``; None if never),
        ``steps``, ``restarts``, ``cases``, and the two loss curves.
    """
    import torch.nn.functional as F

    from restore import load_pipeline
    from restore.pipelines.inpaint import latent_search

    pipe = load_pipeline("inpaint", model=model, device=device)
    net, s = pipe.model, pipe.model.size
    d = pipe.spec.settings
    steps = 5 * d.steps if steps is None else steps
    restarts = d.restarts if restarts is None else restarts
    ys, ms = [], []
    for case in make_test_set(data, mask_kind, seed=seed, size=size, held_out=held_out, limit=limit):
        x = torch.from_numpy(case["clean"]).permute(2, 0, 1)[None].float() / 255
        m = torch.from_numpy(case["mask"].astype(np.float32))[None, None]
        if pipe.spec.tiling:
            h, w = x.shape[2:]
            y0, x0 = max(0, (h - s) // 2), max(0, (w - s) // 2)
            x, m = x[:, :, y0:y0 + s, x0:x0 + s], m[:, :, y0:y0 + s, x0:x0 + s]
            if x.shape[2:] != (s, s) or not m.any():
                continue
        else:
            x = F.interpolate(x, size=(s, s), mode="area")
            m = (F.interpolate(m, size=(s, s), mode="area") > 0.01).float()
        ys.append(x * (1 - m))
        ms.append(m)
        if len(ys) == max_cases:
            break
    if not ys:
        raise ValueError("no case has a hole in the model's window")
    y, m = torch.cat(ys).to(pipe.device), torch.cat(ms).to(pipe.device)
    common = dict(steps=steps, restarts=restarts, lambda_prior=d.lambda_prior, lr=d.lr, restart_noise=d.restart_noise,
                  seed=seed)
    _, _, rand_curve = latent_search(net, y, m, init="random", **common)
    _, _, enc_curve = latent_search(net, y, m, init="encoder", **common)
    target = float(rand_curve[-1])
    reached = torch.nonzero(enc_curve <= target)
    return dict(random_loss=target, encoder_start_loss=float(enc_curve[0]), encoder_loss=float(enc_curve[-1]),
                encoder_steps_to_random=int(reached[0]) if len(reached) else None, steps=steps, restarts=restarts,
                cases=int(y.shape[0]), random_curve=rand_curve.tolist(), encoder_curve=enc_curve.tolist())


def format_convergence(c: dict) -> str:
    """One markdown paragraph on :func:`convergence`'s result."""
    k = c["encoder_steps_to_random"]
    if k is None:
        reach = f"does not reach it in {c['steps']} steps (its loss after {c['steps']}: {c['encoder_loss']:.4f})"
    elif k == 0:
        reach = (f"starts below it: loss {c['encoder_start_loss']:.4f} at step 0, {c['encoder_loss']:.4f} after "
                 f"{c['steps']} steps (at least {c['steps']}x fewer steps)")
    else:
        reach = (f"reaches it at step {k} ({c['steps'] / k:.1f}x fewer steps; {c['encoder_loss']:.4f} after "
                 f"{c['steps']})")
    return (f"Latent-search loss, mean over {c['cases']} cases, {c['restarts']} latent(s) per case: random z "
            f"reaches {c['random_loss']:.4f} after {c['steps']} steps; the encoder's z {reach}.")


def format_table(rows: Sequence[dict], title: str | None = None) -> str:
    """Markdown table ``method | PSNR | SSIM | hole PSNR | hole L1 | s/image | s/MP``
    (:data:`COLUMNS`) of benchmark rows, optionally preceded by ``title`` and a blank line.
    No trailing newline."""
    return runner_format_table(rows, COLUMNS, title)


def reports(data: Sequence[str | Path], *, mask_kind: str = "center", models: Iterable[str] | None = None,
            device: str = "auto", baselines: Sequence[str] = BASELINES, inits: Sequence[str] = ("encoder", "random"),
            seed: int = 0, size: int | None = None, held_out: bool = False, limit: int | None = None,
            with_convergence: bool = True, picture: str | Path | None = None, picture_rows: int = 6,
            record: bool = False, progress: Progress = None) -> Iterator[Report]:
    """``restore bench inpaint``: one table per folder (:func:`bench_inpaint`), with the
    :func:`convergence` paragraph of the first model under it, yielded when done.

    Args:
        data: folders of clean images.
        mask_kind, models, device, baselines, inits, seed, size, held_out, limit, progress:
            as in :func:`bench_inpaint`.
        with_convergence: add the latent-search convergence paragraph (first model).
        picture: write :func:`restore.bench.pictures.inpaint_grid` (masked | Telea |
            biharmonic | the first model row | original) of the first ``picture_rows``
            images of the first folder there.
        record: store the models' figures in the manifest under ``"<folder> <mask kind>"``,
            with ``" (first N)"`` appended for a ``limit`` run (which is recorded too: the
            face set is a subset by design).

    Yields:
        One :class:`restore.bench.runner.Report` per folder.

    Raises:
        ValueError: a picture without the telea and biharmonic baselines; as
            :func:`bench_inpaint`.
    """
    if picture is not None and not {"telea", "biharmonic"} <= set(baselines):
        raise ValueError("the picture needs the telea and biharmonic baselines")
    opts = dict(mask_kind=mask_kind, seed=seed, size=size, held_out=held_out, limit=limit)
    models = None if models is None else list(models)

    def run(folder: Path, outputs: dict | None) -> list[dict]:
        return bench_inpaint(folder, models=models, device=device, baselines=baselines, inits=inits,
                             progress=progress, keep_outputs=outputs, **opts)

    def text(folder: Path, rows: list[dict]) -> str:
        what = f"{folder.name}{' (held-out images)' if held_out else ''}{f' at {size}x{size}' if size else ''}"
        table = format_table(rows, title=f"{what}, {mask_kind} masks (seed {seed}); RGB, hole L1 on the 0-255 scale")
        if not with_convergence:
            return table
        from restore.zoo.registry import default_model
        conv = convergence(models[0] if models else default_model("inpaint"), folder, device=device, **opts)
        return table + "\n\n" + format_convergence(conv)

    def draw(outputs: dict, rows: list[dict]) -> np.ndarray:
        return pictures.inpaint_grid(outputs, first_model_label(rows), sorted(outputs["clean"])[:picture_rows],
                                     telea_label=_LABELS["telea"], biharmonic_label=_LABELS["biharmonic"])

    yield from over_folders(data, run, text=text,
                            key=lambda folder, rows: f"{folder.name} {mask_kind}" + (f" (first {limit})" if limit else ""),
                            picture=picture, draw=draw, record_figures=record, limit=None)
