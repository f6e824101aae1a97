"""Print, as markdown tables, what each inference step gains for each default model on this CPU.

    python docs/speed_steps.py [--repeats N] [--models dae-s,unwatermark-s,...] [--no-jit] [--no-pipeline]
                               [--fp32-modules 'head,enc.0;head']

Network alone: the model on one input of its tile size (dae-s and unwatermark-s 512x512,
srresnet-x4 and real-srgan-x4 192x192 in / 768x768 out, colorize-s and colorize-hints-s their
256x256 render), in seconds per
megapixel (of the output for the x4 upscaler), for each step:

- ``fp32 NCHW``: eager float32, contiguous tensors (PyTorch's default layout);
- ``fp32 channels-last``: weights and input in channels-last (NHWC), what oneDNN prefers;
- ``fp32 CL + jit.freeze``: the channels-last model traced and frozen (``torch.jit.freeze``);
- ``bf16 NCHW``: ``torch.autocast("cpu", torch.bfloat16)``, contiguous tensors;
- ``bf16 channels-last``: autocast and channels-last, what ``precision="auto"`` runs on a CPU
  with AMX or an AMD one with avx512_bf16 (:mod:`restore.zoo.accel`);
- ``bf16 CL, fp32 modules``: as above with the spec's ``fp32_modules`` kept in float32
  (unwatermark-s: its head conv), what ``precision="auto"`` runs for such a model;
  ``--fp32-modules`` adds a row per other set of float32 modules (a choice to check with
  ``docs/bf16_quality.py --fp32-modules`` first).

Whole pipeline: ``load_pipeline(task, precision=...)`` on Kodak24's kodim05 (its size is printed; for
the upscaler its 192x128 bicubic downscale, timed per output MP; for dae-real-s the photo saved
as JPEG quality 20), fp32 against bf16. For unwatermark-s the photo is resized to 1224x816
(1 MP, bicubic) and marked by ``synthesize_watermark`` with the held-out logos (seed 0: a
tiled mark over a fifth of the photo, so the mirrored pass runs on many boxes), and each step
is added to the one before: ``fp32, TTA box by box`` (the mirrored pass one box at a time, as
before), ``fp32, TTA boxes batched`` (boxes of one padded size in one network call, the same
numbers), ``bf16 (fp32 modules), batched`` (the default on a CPU with AMX or AMD's
avx512_bf16); the table after it gives where the time of one call of each precision goes.

Protocol: every variant is built and run once before timing; the variants are then timed
alternately, ``--repeats`` rounds (default 3), and the median is printed, so a load that
changes over the run (another job on the machine) hits all variants alike. The last column
of each table is the max absolute difference of the output from ``fp32 NCHW`` (network
alone: on the raw output; pipeline: on the 0-1 image).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from restore import load_pipeline
from restore.io import read_image, to_rgb8
from restore.pipelines.unwatermark import UnwatermarkPipeline, confident_components, tta_boxes
from restore.zoo.accel import cpu_features, keep_float32
from restore.zoo.registry import get_spec, load_model

KODIM05 = "../shared/data/bench/denoise/Kodak24/kodim05.png"
LOGOS = ["../shared/data/train/logos", "../shared/data/train/watermarks-real"]
#: model -> (input shape of the network alone, extra inputs)
NETWORKS = {
    "dae-s": ((1, 3, 512, 512), (torch.full((1, 1, 1, 1), 25 / 255),)),
    "dae-real-s": ((1, 3, 512, 512), (torch.zeros((1, 1, 1, 1)),)),
    "unwatermark-s": ((1, 3, 512, 512), ()),
    "srresnet-x4": ((1, 3, 192, 192), ()),
    "colorize-s": ((1, 1, 256, 256), ()),
    "real-srgan-x4": ((1, 3, 192, 192), ()),
    "colorize-hints-s": ((1, 1, 256, 256), ()),
}
TASKS = {"dae-s": "denoise", "dae-real-s": "denoise", "unwatermark-s": "unwatermark", "srresnet-x4": "upscale",
         "colorize-s": "colorize", "real-srgan-x4": "upscale", "colorize-hints-s": "colorize"}
#: The x4 upscalers (timed per output megapixel).
X4 = ("srresnet-x4", "real-srgan-x4")


def timed_rounds(fns: dict[str, Callable[[], torch.Tensor]], repeats: int
                 ) -> tuple[dict[str, list[float]], dict[str, torch.Tensor]]:
    """Each function's output (one warm-up call each, which also settles oneDNN's kernel
    choice), then ``repeats`` rounds in which every function is timed once, in turn:
    the seconds of each round per function."""
    outs = {k: f() for k, f in fns.items()}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return times, outs


def _timed(fns: dict[str, Callable[[], torch.Tensor]], repeats: int) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """Median seconds of each function (timed alternately) and its output."""
    times, outs = timed_rounds(fns, repeats)
    return {k: statistics.median(v) for k, v in times.items()}, outs


def _network_variants(name: str, use_jit: bool, alt_modules: tuple[tuple[str, ...], ...] = ()
                      ) -> dict[str, Callable[[], torch.Tensor]]:
    shape, extra = NETWORKS[name]
    net, _ = load_model(name, "cpu")  # channels-last on the CPU
    net_nchw = net.to(memory_format=torch.contiguous_format)
    net_cl, _ = load_model(name, "cpu")
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    x_cl = x.contiguous(memory_format=torch.channels_last)

    def run(model, t, bf16=False):
        def f():
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return model(t, *extra).float()
        return f

    variants = {"fp32 NCHW": run(net_nchw, x), "fp32 channels-last": run(net_cl, x_cl)}
    if use_jit:
        try:
            with torch.no_grad():
                frozen = torch.jit.freeze(torch.jit.trace(net_cl, (x_cl, *extra), check_trace=False))
            variants["fp32 CL + jit.freeze"] = run(frozen, x_cl)
        except Exception as e:  # noqa: BLE001 - report and go on
            print(f"<!-- {name}: jit.freeze failed: {type(e).__name__}: {str(e).splitlines()[0][:120]} -->")
    variants["bf16 NCHW"] = run(net_nchw, x, bf16=True)
    variants["bf16 channels-last"] = run(net_cl, x_cl, bf16=True)
    spec = get_spec(name)
    if spec.fp32_modules:
        net_mixed, _ = load_model(name, "cpu")
        variants["bf16 CL, fp32 modules"] = run(keep_float32(net_mixed, spec.fp32_modules), x_cl, bf16=True)
        for mods in alt_modules:
            net_alt, _ = load_model(name, "cpu")
            variants[f"bf16 CL, fp32 {','.join(mods)}"] = run(keep_float32(net_alt, mods), x_cl, bf16=True)
    return variants


def _pipeline_input(name: str) -> tuple[np.ndarray, dict, float]:
    """The photo, the call's options and the megapixels to divide by."""
    import cv2

    photo = to_rgb8(read_image(KODIM05))
    h, w = photo.shape[:2]
    if name == "dae-s":
        rng = np.random.default_rng(0)
        noisy = np.clip(photo + rng.normal(0, 25, photo.shape), 0, 255).astype(np.uint8)
        return noisy, {"sigma": 25}, h * w / 1e6
    if name == "dae-real-s":
        from restore.ops.degrade import jpeg_roundtrip
        return jpeg_roundtrip(photo, 20), {}, h * w / 1e6
    if name in X4:
        return cv2.resize(photo, (w // 4, h // 4), interpolation=cv2.INTER_CUBIC), {}, h * w / 1e6
    if name == "unwatermark-s":
        from restore.ops.degrade import load_watermark_bank, synthesize_watermark
        photo = cv2.resize(photo, (1224, 816), interpolation=cv2.INTER_CUBIC)
        h, w = photo.shape[:2]
        marked, _, _ = synthesize_watermark(photo, np.random.default_rng(0), load_watermark_bank(LOGOS, "val"))
        return (np.clip(marked, 0, 1) * 255 + 0.5).astype(np.uint8), {}, h * w / 1e6
    return photo, {}, h * w / 1e6


class _BoxByBox(UnwatermarkPipeline):
    """The unwatermark pipeline with its mirrored pass one box at a time (as before batching)."""

    def tta_average(self, x, pred, *, min_confidence="auto"):
        d = self.spec.settings
        min_confidence = self._min_confidence(min_confidence)
        pred, low = pred.clone(), d.mask_ramp[0]
        keep = confident_components(torch.sigmoid(pred[:, 3:4]), low, low if min_confidence is None else min_confidence)
        for i in range(x.shape[0]):
            for y0, y1, x0, x1 in tta_boxes(keep[i, 0].cpu().numpy(), d.tta_margin):
                if (y1 - y0) * (x1 - x0) > d.tta_max_area * x.shape[-2] * x.shape[-1]:
                    continue
                mirrored = self.run_model(x[i:i + 1, :, y0:y1, x0:x1].flip(-1)).flip(-1)
                pred[i:i + 1, :, y0:y1, x0:x1] = (pred[i:i + 1, :, y0:y1, x0:x1] + mirrored) / 2
        return pred


def _pipelines(name: str) -> dict[str, Callable]:
    """The whole-pipeline steps of a model."""
    if name != "unwatermark-s":
        return {f"pipeline {p}": load_pipeline(TASKS[name], name, device="cpu", precision=p) for p in ("fp32", "bf16")}
    return {"fp32, TTA box by box": _BoxByBox.from_pretrained(name, device="cpu", precision="fp32"),
            "fp32, TTA boxes batched": load_pipeline("unwatermark", name, device="cpu", precision="fp32"),
            "bf16 (fp32 modules), batched": load_pipeline("unwatermark", name, device="cpu", precision="bf16")}


def _profile(pipe, image: np.ndarray, mp: float) -> dict[str, float]:
    """Seconds per MP of the parts of one unwatermark call: the network's first pass, its
    mirrored pass, the mask post-processing (hysteresis, boxes), the Telea refinement, and
    the rest (conversions, composition). An 8-bit photo takes the pipeline's banded path
    (first pass streamed by ``run_model_streamed``, mirrored pass by ``_tta_in_place``,
    Telea by ``classical_inpaint``); a tensor the whole-image one (``run_model``,
    ``tta_average``, ``classical_fill``): both are timed."""
    import restore.pipelines.unwatermark as uw

    spent = {"first pass": 0.0, "mirrored pass (TTA)": 0.0, "mask post-processing": 0.0, "Telea refine": 0.0}
    names = ("confident_components", "tta_boxes", "classical_fill", "classical_inpaint")
    originals = {n: getattr(uw, n) for n in names}
    in_tta = [False]

    def timed(key, f):
        def g(*a, **k):
            t0 = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                spent[key] += time.perf_counter() - t0
        return g

    def in_mirrored_pass(f):
        def g(*a, **k):
            in_tta[0] = True
            try:
                return f(*a, **k)
            finally:
                in_tta[0] = False
        return g

    def network(f):
        def g(*a, **k):
            t0 = time.perf_counter()
            try:
                return f(*a, **k)
            finally:
                spent["mirrored pass (TTA)" if in_tta[0] else "first pass"] += time.perf_counter() - t0
        return g

    for n, key in zip(names, ("mask post-processing", "mask post-processing", "Telea refine", "Telea refine")):
        setattr(uw, n, timed(key, originals[n]))
    wrapped = {"run_model": network(pipe.run_model), "run_model_streamed": network(pipe.run_model_streamed),
               "tta_average": in_mirrored_pass(pipe.tta_average), "_tta_in_place": in_mirrored_pass(pipe._tta_in_place)}
    for n, f in wrapped.items():
        setattr(pipe, n, f)
    try:
        t0 = time.perf_counter()
        pipe(image)
        total = time.perf_counter() - t0
    finally:
        for n, f in originals.items():
            setattr(uw, n, f)
        for n in wrapped:
            delattr(pipe, n)
    spent["the rest (conversions, composition)"] = total - sum(spent.values())
    spent["whole call"] = total
    return {k: v / mp for k, v in spent.items()}


def _table(title: str, unit: str, medians: dict[str, float], diffs: dict[str, float], per: float) -> str:
    base = medians[next(iter(medians))]
    rows = [f"| {k} | {v / per:.2f} | {base / v:.2f}x | {diffs[k]:.1e} |" for k, v in medians.items()]
    return "\n".join([f"**{title}**", "", f"| step | {unit} | speed-up | max abs diff |", "|---|---:|---:|---:|",
                      *rows, ""])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default=",".join(NETWORKS))
    ap.add_argument("--no-jit", action="store_true", help="skip the jit.freeze step")
    ap.add_argument("--no-pipeline", action="store_true", help="only the network alone")
    ap.add_argument("--fp32-modules", default="",
                    help="for a model with fp32_modules, more network rows with other sets kept in float32 "
                         "(sets separated by ';', modules by ',': e.g. 'head,enc.0;head')")
    args = ap.parse_args()
    feats = ", ".join(sorted(cpu_features())) or "no native bf16"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU bf16 features: {feats}; "
          f"medians of {args.repeats} alternating rounds\n")
    alt = tuple(tuple(m for m in group.split(",") if m) for group in args.fp32_modules.split(";") if group)
    for name in args.models.split(","):
        shape, _ = NETWORKS[name]
        scale = 4 if name in X4 else 1
        per = shape[2] * shape[3] * scale * scale / 1e6
        medians, outs = _timed(_network_variants(name, not args.no_jit, alt), args.repeats)
        ref = outs["fp32 NCHW"]
        diffs = {k: (o - ref).abs().max().item() for k, o in outs.items()}
        unit = "s per output MP" if scale > 1 else "s/MP"
        print(_table(f"{name}, network alone ({shape[3]}x{shape[2]} in)", unit, medians, diffs, per))
        if args.no_pipeline:
            continue
        image, opts, mp = _pipeline_input(name)
        pipes = _pipelines(name)
        medians, outs = _timed({k: (lambda q=q: q(image, **opts)) for k, q in pipes.items()}, args.repeats)
        ref = outs[next(iter(outs))].astype(np.float64)
        diffs = {k: float(np.abs(o.astype(np.float64) - ref).max() / 255) for k, o in outs.items()}
        print(_table(f"{name}, whole pipeline ({image.shape[1]}x{image.shape[0]} in)", unit, medians, diffs, mp))
        if name == "unwatermark-s":
            parts = {k: _profile(pipes[k], image, mp) for k in list(pipes)[1:]}
            print(f"**{name}, where the time of one call goes (s/MP)**\n")
            print("| part | " + " | ".join(parts) + " |")
            print("|---|" + "---:|" * len(parts))
            for part in next(iter(parts.values())):
                print(f"| {part} | " + " | ".join(f"{p[part]:.2f}" for p in parts.values()) + " |")
            print()


if __name__ == "__main__":
    main()
