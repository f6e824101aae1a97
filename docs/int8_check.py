"""Print whether int8 inference (ONNX Runtime static quantization) keeps dae-real-s's figures.

    python docs/int8_check.py [--calibration 40] [--limit 8]

The network of dae-real-s is exported as the ONNX backend exports it
(:func:`restore.zoo.onnx_backend.export_onnx`), then quantized with ONNX Runtime's
``quantize_static`` (QDQ format, int8 weights per output channel, uint8 activations),
calibrated on ``--calibration`` held-in training photos (``imagenet-samples``, 192x192,
nine in ten through the REAL_PHOTO degradation model, as dae-real-s was trained), with each
calibration method (min-max, and the 99.999th percentile), once for the whole network and
once with its last convolution and the residual subtraction kept in float32. Each variant
runs on the first ``--limit`` CBSD68 images saved as JPEG quality 20 and the first
``--limit`` / 2 Kodak24 images as they are (the output against its input, as ``restore bench
denoise --clean``), padded as the pipeline pads them, and is compared with the float32
PyTorch pipeline on the same images (the gate of ``ModelSpec.supports_bf16``: every figure
within 0.05 dB). The network's time on one 512x512 input (median of 5, after a warm-up) is
printed for the float32 ONNX file and each int8 one.

Needs the ``onnx`` extra (``pip install -e ".[onnx]"``). Never run on bench images for
tuning: this is a check, nothing is chosen from it.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from restore import load_pipeline
from restore.io import read_image, to_rgb8
from restore.metrics import psnr
from restore.ops.degrade import jpeg_roundtrip
from restore.ops.degrade.realistic import REAL_PHOTO, degrade, resize
from restore.zoo.onnx_backend import export_onnx, require_onnxruntime
from restore.zoo.registry import load_model

DATA = "../shared/data"


def _calibration(n: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    feeds = []
    for f in sorted(glob.glob(f"{DATA}/train/imagenet-samples/*"))[: n * 10: 10]:
        im = resize(to_rgb8(read_image(f)).astype(np.float32) / 255, (192, 192), "area")
        d = degrade(im, rng, REAL_PHOTO) if rng.random() < 0.9 else im
        feeds.append({"image": d.transpose(2, 0, 1)[None].astype(np.float32),
                      "extra0": np.zeros((1, 1, 1, 1), np.float32)})
    return feeds


@contextlib.contextmanager
def _working_folder(path: Path):
    """Run the block with ``path`` as the working folder (``contextlib.chdir`` from Python 3.11)."""
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _runner(session):
    def run(img8: np.ndarray) -> np.ndarray:
        x = img8.astype(np.float32) / 255
        h, w = x.shape[:2]
        hp, wp = -(-h // 8) * 8, -(-w // 8) * 8
        xp = np.pad(x, ((0, hp - h), (0, wp - w), (0, 0)), mode="reflect").transpose(2, 0, 1)[None]
        y = session.run(None, {"image": np.ascontiguousarray(xp), "extra0": np.zeros((1, 1, 1, 1), np.float32)})[0]
        return (np.clip(y[0].transpose(1, 2, 0)[:h, :w], 0, 1) * 255 + 0.5).astype(np.uint8)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibration", type=int, default=40)
    ap.add_argument("--limit", type=int, default=8)
    args = ap.parse_args()
    ort = require_onnxruntime()
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self, feeds):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    feeds = _calibration(args.calibration)
    model, spec = load_model("dae-real-s", "cpu")
    tmp = Path(tempfile.mkdtemp())
    export_onnx(model, tmp / "fp32.onnx", 3, (torch.zeros(1, 1, 1, 1),), spec.multiple_of)
    # ONNX Runtime's tools leave temporary files in the working folder: run them in tmp
    with _working_folder(tmp):
        quant_pre_process(str(tmp / "fp32.onnx"), str(tmp / "pre.onnx"), skip_symbolic_shape=True)
    import onnx
    nodes = onnx.load(str(tmp / "pre.onnx")).graph.node
    last_conv = [n.name for n in nodes if n.op_type == "Conv"][-1]
    last_sub = [n.name for n in nodes if n.op_type == "Sub"][-1]
    so = ort.SessionOptions()
    so.intra_op_num_threads = torch.get_num_threads()
    cpu = ["CPUExecutionProvider"]
    sessions = {"onnxruntime fp32": ort.InferenceSession(str(tmp / "fp32.onnx"), so, providers=cpu)}
    for method, cm in (("min-max", CalibrationMethod.MinMax), ("percentile", CalibrationMethod.Percentile)):
        for label, exclude in (("all int8", []), ("last conv + subtraction fp32", [last_conv, last_sub])):
            out = tmp / f"{method}-{len(exclude)}.onnx"
            with _working_folder(tmp), contextlib.redirect_stdout(io.StringIO()):   # its progress lines too
                quantize_static(str(tmp / "pre.onnx"), str(out), Reader(feeds), quant_format=QuantFormat.QDQ,
                                per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                calibrate_method=cm, nodes_to_exclude=exclude,
                                extra_options={"CalibPercentile": 99.999} if method == "percentile" else {})
            sessions[f"int8 {method}, {label}"] = ort.InferenceSession(str(out), so, providers=cpu)
    shutil.rmtree(tmp, ignore_errors=True)   # the sessions hold their models
    ref = load_pipeline("denoise", "dae-real-s", device="cpu", precision="fp32")
    jpeg = [(jpeg_roundtrip(c, 20), c) for c in (to_rgb8(read_image(f)) for f in
                                                 sorted(glob.glob(f"{DATA}/bench/denoise/CBSD68/*"))[:args.limit])]
    clean = [(c, c) for c in (to_rgb8(read_image(f)) for f in
                              sorted(glob.glob(f"{DATA}/bench/denoise/Kodak24/*"))[:max(1, args.limit // 2)])]
    x = np.random.default_rng(0).random((1, 3, 512, 512), dtype=np.float32)
    feed = {"image": x, "extra0": np.zeros((1, 1, 1, 1), np.float32)}

    def mean_psnr(fn, cases):
        return float(np.mean([psnr(c / 255.0, fn(d) / 255.0) for d, c in cases]))

    base = {"jpeg": mean_psnr(ref, jpeg), "clean": mean_psnr(ref, clean)}
    print(f"torch {torch.__version__}, onnxruntime {ort.__version__}, {so.intra_op_num_threads} threads; "
          f"calibration: {len(feeds)} training crops\n")
    print(f"| variant | network s/MP (512x512) | CBSD68 JPEG q20 (first {args.limit}), change (dB) | "
          f"Kodak24 clean (first {len(clean)}), change (dB) |")
    print("|---|---:|---:|---:|")
    print(f"| PyTorch float32 pipeline (reference) | - | {base['jpeg']:.3f} | {base['clean']:.3f} |")
    for name, sess in sessions.items():
        sess.run(None, feed)
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            sess.run(None, feed)
            ts.append(time.perf_counter() - t0)
        run = _runner(sess)
        dj, dc = mean_psnr(run, jpeg) - base["jpeg"], mean_psnr(run, clean) - base["clean"]
        print(f"| {name} | {np.median(ts) / 0.262144:.2f} | {dj:+.3f} | {dc:+.3f} |", flush=True)


if __name__ == "__main__":
    main()
