"""Print, as markdown tables, how ONNX Runtime (and torch.compile) compare with the PyTorch
path the pipelines run, for the CPU networks of dae-real-s and unwatermark-s.

    python docs/onnx_speed.py [--repeats N] [--models dae-real-s,unwatermark-s] [--threads 2]
                              [--no-compile] [--jit] [--pipeline]

Needs ``pip install 'restore[onnx]'`` (onnx, onnxruntime, onnxscript). The exported files go
to the cache folder of the backend (``RESTORE_CACHE_DIR``, else ``~/.cache/restore``).

Each model's network is run on one input of its tile size (``spec.tile``: dae-real-s 768x768,
unwatermark-s 512x512), a held-out training photo (ImageNet samples, bicubic-resized to the
tile; for unwatermark-s marked by ``synthesize_watermark`` with the held-out logos), in
seconds per megapixel, for each variant:

- ``torch fp32 channels-last``: eager float32 in channels-last, what ``Pipeline._model_fn``
  runs on a CPU without AMX (the baseline);
- ``onnxruntime fp32``: what ``backend="onnx"`` runs (:mod:`restore.zoo.onnx_backend`): the
  network exported by ``torch.onnx.export(dynamo=True)`` with dynamic batch, height and width,
  run by ONNX Runtime's CPUExecutionProvider (``intra_op_num_threads`` = ``--threads``,
  ``ORT_ENABLE_ALL`` graph optimizations), numpy in and out (the conversions are timed too);
- ``torch.compile``: the channels-last model through ``torch.compile`` (inductor), fixed shape;
- ``fp32 CL + jit.freeze`` (with ``--jit``): the channels-last model traced and frozen.

Protocol: every variant is built and run once before timing; the variants are then timed
alternately, ``--repeats`` rounds (default 5), so a load that changes over the run (another
job on the machine) hits all variants alike. ``s/MP`` is the median over the rounds;
``speed-up`` is the median over the rounds of the baseline's time divided by the variant's
time in the same round. ``max abs diff`` is against the baseline: on the output image
(clamped to [0, 1]), and for unwatermark-s also on its two logit channels (mask, opacity).

With ``--pipeline``, each model's pipeline is also timed whole, ``backend="torch"`` (fp32)
against ``backend="onnx"``, on the same photo at 1224x816 (1 MP), uint8 in and out, default
tiling (unwatermark-s with its mirrored pass); the last column is on the 0-1 image.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from restore.io import read_image, to_rgb8
from restore import load_pipeline
from restore.zoo.onnx_backend import OnnxNetwork
from restore.zoo.registry import get_spec, load_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed_steps import timed_rounds  # noqa: E402  (the same alternating timing loop)

PHOTO = "../shared/data/train/imagenet-samples"
LOGOS = ["../shared/data/train/logos", "../shared/data/train/watermarks-real"]
#: model -> extra inputs after the image
EXTRA = {"dae-real-s": (torch.zeros((1, 1, 1, 1)),), "unwatermark-s": ()}


def _photo(name: str, height: int, width: int) -> torch.Tensor:
    """A held-out training photo resized to ``width`` x ``height``, (1, 3, height, width) in [0, 1]."""
    import cv2

    path = sorted(Path(PHOTO).glob("*.JPEG"))[7]
    photo = cv2.resize(to_rgb8(read_image(path)), (width, height), interpolation=cv2.INTER_CUBIC)
    if name == "unwatermark-s":
        from restore.ops.degrade import load_watermark_bank, synthesize_watermark
        marked, _, _ = synthesize_watermark(photo, np.random.default_rng(0), load_watermark_bank(LOGOS, "val"))
        photo = (np.clip(marked, 0, 1) * 255 + 0.5).astype(np.uint8)
    return torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255


def _variants(name: str, x: torch.Tensor, threads: int, compile_: bool, jit: bool) -> dict[str, Callable[[], torch.Tensor]]:
    extra = EXTRA[name]
    spec = get_spec(name)
    net, _ = load_model(name, "cpu")  # channels-last on the CPU
    x_cl = x.contiguous(memory_format=torch.channels_last)

    def run(model):
        def f():
            with torch.inference_mode():
                return model(x_cl, *extra).float()
        return f

    variants = {"torch fp32 channels-last": run(net)}
    t0 = time.perf_counter()
    net_export, _ = load_model(name, "cpu")
    onnx_net = OnnxNetwork(net_export, spec, threads=threads)
    onnx_net.session(x.shape[1], extra)  # exported here (or found in the cache)
    path = onnx_net.path(x.shape[1], len(extra))
    print(f"<!-- {name}: export and session {time.perf_counter() - t0:.0f} s, {path.stat().st_size / 1e6:.1f} MB -->")
    variants["onnxruntime fp32"] = lambda: onnx_net(x, *extra)
    if compile_:
        t0 = time.perf_counter()
        try:
            net_c, _ = load_model(name, "cpu")
            compiled = torch.compile(net_c, dynamic=False)
            run(compiled)()
            variants["torch.compile (inductor)"] = run(compiled)
            print(f"<!-- {name}: torch.compile {time.perf_counter() - t0:.0f} s -->")
        except Exception as e:  # noqa: BLE001 - report and go on
            print(f"<!-- {name}: torch.compile failed: {type(e).__name__}: {str(e).splitlines()[0][:120]} -->")
    if jit:
        net_j, _ = load_model(name, "cpu")
        with torch.no_grad():
            frozen = torch.jit.freeze(torch.jit.trace(net_j, (x_cl, *extra), check_trace=False))
        variants["fp32 CL + jit.freeze"] = run(frozen)
    return variants


def _timed(fns: dict[str, Callable[[], torch.Tensor]], repeats: int
           ) -> tuple[dict[str, float], dict[str, float], dict[str, torch.Tensor]]:
    """Median seconds of each function (timed alternately, :func:`speed_steps.timed_rounds`),
    the median paired speed-up over the first, and each output."""
    times, outs = timed_rounds(fns, repeats)
    base = next(iter(times.values()))
    ratios = {k: statistics.median(b / t for b, t in zip(base, v)) for k, v in times.items()}
    return {k: statistics.median(v) for k, v in times.items()}, ratios, outs


def _pipeline_table(name: str, repeats: int) -> None:
    """Time ``load_pipeline(task, name, backend=...)`` on the photo at 1224x816 (1 MP)."""
    task = {"dae-real-s": "denoise", "unwatermark-s": "unwatermark"}[name]
    img = (_photo(name, 816, 1224)[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    fns = {b: (lambda p: lambda: torch.from_numpy(p(img).astype(np.float32) / 255))(
        load_pipeline(task, name, device="cpu", precision="fp32", backend=b)) for b in ("torch", "onnx")}
    secs, ratios, outs = _timed(fns, repeats)
    mp = img.shape[0] * img.shape[1] / 1e6
    print(f"**{name}, whole pipeline ({img.shape[1]}x{img.shape[0]} in, uint8)**\n")
    print("| backend | s/MP | speed-up | max abs diff |\n|---|---:|---:|---:|")
    for k in fns:
        print(f"| {k} | {secs[k] / mp:.2f} | {ratios[k]:.2f}x | {(outs[k] - outs['torch']).abs().max().item():.1e} |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--models", default="dae-real-s,unwatermark-s")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--jit", action="store_true")
    ap.add_argument("--pipeline", action="store_true", help="also time the whole pipeline, torch against onnx")
    args = ap.parse_args()
    import onnxruntime as ort

    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, {args.threads} threads; "
          f"medians of {args.repeats} alternating rounds\n")
    for name in args.models.split(","):
        spec = get_spec(name)
        x = _photo(name, spec.tile, spec.tile)
        fns = _variants(name, x, args.threads, not args.no_compile, args.jit)
        secs, ratios, outs = _timed(fns, args.repeats)
        mp = x.shape[-2] * x.shape[-1] / 1e6
        ref = outs["torch fp32 channels-last"]
        logits = ref.shape[1] > 3
        print(f"**{name}, network alone ({x.shape[-1]}x{x.shape[-2]} in)**\n")
        print("| variant | s/MP | speed-up | max abs diff, image |" + (" max abs diff, logits |" if logits else ""))
        print("|---|---:|---:|---:|" + ("---:|" if logits else ""))
        for k in fns:
            d_img = (outs[k][:, :3].clamp(0, 1) - ref[:, :3].clamp(0, 1)).abs().max().item()
            row = f"| {k} | {secs[k] / mp:.2f} | {ratios[k]:.2f}x | {d_img:.1e} |"
            if logits:
                row += f" {(outs[k][:, 3:] - ref[:, 3:]).abs().max().item():.1e} |"
            print(row)
        print()
        if args.pipeline:
            _pipeline_table(name, args.repeats)


if __name__ == "__main__":
    main()
