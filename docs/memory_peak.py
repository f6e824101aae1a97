"""Peak memory and time of each task's pipeline on a large synthetic photo, on the CPU.

Each run is a fresh Python process (``python docs/memory_peak.py --child ...``) that loads
the task's default model, loads the image (an H x W x 3 uint8 ``.npy``, as ``read_image``
returns it), makes one small warm-up call, then calls the pipeline once on the image and
reports its peak resident memory (``VmHWM`` of ``/proc/self/status``: the whole process,
Python, torch, the model and the image included; Linux only), its resident memory before
the call (``VmRSS``) and the seconds of the call. The image is photo-like (smooth shapes, edges, fine texture and a
semi-transparent text watermark), made with a fixed seed; inpainting gets a mask of a few
strokes, or with ``--hole SHARE`` one centred box of that share of the area.

Usage:
    nice -n 19 python docs/memory_peak.py --mp 6 --tasks denoise colorize
    nice -n 19 python docs/memory_peak.py --mp 50           # every task (upscale at --mp-upscale)
    nice -n 19 python docs/memory_peak.py --mp 12 --tasks inpaint --hole 0.1   # a large hole (center_mask)
Prints a markdown table: MP, task, peak RSS (GiB), RSS before the call (GiB), bytes per pixel the
call added at its peak, seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TASKS = ("denoise", "colorize", "unwatermark", "inpaint", "upscale")


def synthetic_photo(megapixels: float, seed: int = 0) -> np.ndarray:
    """A photo-like H x W x 3 uint8 image of about ``megapixels`` (3:2 aspect): smooth color
    fields, hard-edged shapes, fine texture and a semi-transparent text watermark."""
    import cv2

    rng = np.random.default_rng(seed)
    w = int(round(math.sqrt(megapixels * 1e6 * 1.5)))
    h = int(round(megapixels * 1e6 / w))
    low = rng.random((max(2, h // 64), max(2, w // 64), 3), dtype=np.float32)
    img = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    img = (np.clip(img, 0, 1) * 200 + 20).astype(np.uint8)
    for _ in range(max(4, int(megapixels * 4))):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(20, max(21, h // 8))),
                   c, -1, cv2.LINE_AA)
    noise = rng.integers(-8, 9, size=(h, w, 1), dtype=np.int16)
    img = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    mark = img.copy()
    scale = max(1.0, w / 1000)
    for k in range(3):
        cv2.putText(mark, "SAMPLE (c) restore", (w // 10, (k + 1) * h // 4), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), max(2, int(2 * scale)), cv2.LINE_AA)
    return cv2.addWeighted(img, 0.5, mark, 0.5, 0)


def synthetic_mask(h: int, w: int, seed: int = 1) -> np.ndarray:
    """An H x W uint8 mask (255 = fill) of a few thin strokes, about 0.5% of the image."""
    import cv2

    rng = np.random.default_rng(seed)
    m = np.zeros((h, w), np.uint8)
    for _ in range(6):
        p = [(int(rng.integers(0, w)), int(rng.integers(0, h))) for _ in range(2)]
        cv2.line(m, p[0], p[1], 255, max(4, min(h, w) // 300))
    return m


def _status(key: str) -> int:
    """A memory figure of this process from ``/proc/self/status``, in bytes."""
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def _child(task: str, image_path: str, mask_path: str | None) -> None:
    import torch

    import restore
    from restore import load_pipeline

    torch.set_num_threads(max(1, torch.get_num_threads()))
    pipe = load_pipeline(task, device="cpu")
    image = np.load(image_path)
    args = (np.load(mask_path),) if mask_path else ()
    pipe(image[:64, :64], *(a[:64, :64] for a in args))  # warm-up: lazy imports, allocator pools
    # ru_maxrss would carry the parent's peak over fork and exec; VmHWM is this process's own
    before = _status("VmHWM")
    base = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:  # resets VmHWM to the current RSS
        f.write("5")
    t = time.perf_counter()
    out = pipe(image, *args)
    seconds = time.perf_counter() - t
    call_peak = _status("VmHWM")
    print(json.dumps(dict(task=task, base=base, peak=max(before, call_peak), call_peak=call_peak, seconds=seconds,
                          out_shape=list(out.shape), pixels=int(image.shape[0] * image.shape[1]),
                          code=str(Path(restore.__file__).parent))))


def measure(task: str, image_path: Path, mask_path: Path | None) -> dict:
    """Run ``task`` on the saved image in a fresh process; its JSON report."""
    cmd = [sys.executable, __file__, "--child", task, str(image_path)] + ([str(mask_path)] if mask_path else [])
    r = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{task} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    from restore.ops.degrade import center_mask

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mp", type=float, default=6.0, help="image size in megapixels")
    ap.add_argument("--mp-upscale", type=float, default=None,
                    help="input size for upscale (its output is 16x larger); default: --mp / 16")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument("--hole", type=float, default=None,
                    help="inpaint: one centred box of this share of the area (e.g. 0.1) instead of the strokes")
    a = ap.parse_args()
    print("| MP | task | peak RSS (GiB) | before the call (GiB) | bytes/px added by the call | seconds |")
    print("|---:|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as d:
        for task in a.tasks:
            mp = (a.mp_upscale or a.mp / 16) if task == "upscale" else a.mp
            img = synthetic_photo(mp)
            ip = Path(d) / f"img_{mp}.npy"
            if not ip.exists():
                np.save(ip, img)
            mpath = None
            if task == "inpaint":
                mpath = Path(d) / f"mask_{mp}.npy"
                np.save(mpath, synthetic_mask(*img.shape[:2]) if a.hole is None
                        else (center_mask(*img.shape[:2], area=a.hole) * 255).astype(np.uint8))
            del img
            r = measure(task, ip, mpath)
            per_px = (r["call_peak"] - r["base"]) / r["pixels"]
            print(f"| {r['pixels'] / 1e6:.1f} | {task} | {r['peak'] / 2**30:.2f} | {r['base'] / 2**30:.2f} "
                  f"| {per_px:.0f} | {r['seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        main()
