"""Images per minute of a denoise folder job with the local engine and the ray engine.

    python docs/engines_speed.py [--data ../shared/data/bench/denoise/Kodak24] [--scale 0.5]
                                 [--workers 1 2] [--overhead-files 200]

Copies the folder's images (resized by ``--scale``, noise sigma 25 added, PNG) to a
temporary folder, then denoises it (dae-s, sigma 25) with each engine into a fresh output
folder and prints a markdown table. ``wall``: the whole run as a user sees it (the ray
runs include starting the workers and loading their models, not starting Ray itself);
``steady``: the rate between the first and the last file done, what a long job tends to.
The last row runs a process that does nothing on tiny images through the ray engine: the
files per minute Ray's own bookkeeping (one task per file) allows on this machine. Needs
``pip install 'restore[ray]'``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from restore.engines import PipelineJob, run_folder
from restore.io import iter_images, read_image, write_image


class Timed:
    """A process factory that appends the time each file is done to ``log`` (one line per file)."""

    def __init__(self, make, log: str) -> None:
        self.make, self.log = make, log

    def __call__(self):
        process = self.make()

        def timed(image, path):
            out = process(image, path)
            with open(self.log, "a") as f:
                f.write(f"{time.time()}\n")
            return out

        return timed


def nothing():
    """The do-nothing process (the overhead row)."""
    return lambda image, path: image


def prepare(data: Path, scale: float, folder: Path) -> tuple[int, float]:
    """Noisy copies of the images; returns their count and mean megapixels."""
    import cv2
    rng = np.random.default_rng(0)
    mps = []
    for p in sorted(iter_images(data)):
        img = read_image(p)[..., :3]
        if scale != 1:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        noisy = np.clip(img + rng.normal(0, 25, img.shape), 0, 255).astype(np.uint8)
        write_image(folder / p.with_suffix(".png").name, noisy)
        mps.append(img.shape[0] * img.shape[1] / 1e6)
    return len(mps), float(np.mean(mps))


def measure(make, src: Path, out: Path, log: Path, **engine) -> tuple[float, float, int]:
    """(wall seconds, steady images per minute, files written) of one run."""
    shutil.rmtree(out, ignore_errors=True)
    log.unlink(missing_ok=True)
    t0 = time.time()
    result = run_folder(Timed(make, str(log)), src, out, progress=False, **engine)
    wall = time.time() - t0
    assert not result.failed, result.summary()
    done = sorted(float(t) for t in log.read_text().split())
    steady = 60 * (len(done) - 1) / (done[-1] - done[0]) if len(done) > 1 and done[-1] > done[0] else float("nan")
    return wall, steady, len(result.written)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/bench/denoise/Kodak24")
    ap.add_argument("--scale", type=float, default=0.5)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--overhead-files", type=int, default=200)
    args = ap.parse_args()
    import ray
    import torch

    tmp = Path(tempfile.mkdtemp(prefix="engines_speed_"))
    try:
        n, mp = prepare(args.data, args.scale, tmp / "in")
        job = PipelineJob("denoise", load=dict(model="dae-s", device="cpu"), options=dict(sigma=25.0))
        rows = []
        wall, steady, k = measure(job, tmp / "in", tmp / "out", tmp / "log")
        rows.append((f"local ({torch.get_num_threads()} torch threads)", k, wall, steady))
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="WARNING")
        for w in args.workers:
            wall, steady, k = measure(job, tmp / "in", tmp / "out", tmp / "log", engine="ray", workers=w)
            rows.append((f"ray, {w} worker{'s' if w > 1 else ''} (1 core each)", k, wall, steady))
        tiny = tmp / "tiny"
        for i in range(args.overhead_files):
            write_image(tiny / f"{i:05d}.png", np.full((8, 8, 3), i % 256, np.uint8))
        w = max(args.workers)
        wall, steady, k = measure(nothing, tiny, tmp / "out", tmp / "log", engine="ray", workers=w)
        rows.append((f"ray overhead: 8x8 PNGs, no model, {w} workers", k, wall, steady))
        ray.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"denoise dae-s sigma 25, {n} images of {args.data.name} at {mp:.3f} MP (scale {args.scale}); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}, torch {torch.__version__}, ray {ray.__version__}\n")
    print("| engine | files | wall s | images/min (wall) | images/min (steady) |")
    print("|---|---:|---:|---:|---:|")
    for name, k, wall, steady in rows:
        print(f"| {name} | {k} | {wall:.1f} | {60 * k / wall:.1f} | {steady:.1f} |")


if __name__ == "__main__":
    main()
