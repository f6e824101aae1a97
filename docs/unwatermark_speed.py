"""Print the unwatermark pipeline's seconds per megapixel on a large photo, with and
without test-time augmentation, as quoted in the unwatermark-s card (docs/models.md).

    python docs/unwatermark_speed.py [IMAGE] [WIDTHxHEIGHT] [SEEDS]

IMAGE (default: Kodak24's kodim05) is resized to WIDTHxHEIGHT (default 2000x1500, bicubic)
and marked SEEDS times (default 3) by ``synthesize_watermark`` with the held-out logos and
font, seeds 0, 1, ...; each marked photo then runs through the default pipeline on the CPU
(default tiles) once with ``tta=False`` and once with ``tta=True``, after one warm-up call
on a small crop. The benchmark images are at most 512 px, one tile; this shows the cost on
a photo that needs tiling.
"""

from __future__ import annotations

import sys
import time

import cv2
import numpy as np
import torch

from restore import load_pipeline
from restore.io import read_image, to_rgb8
from restore.ops.degrade import load_watermark_bank
from restore.ops.degrade import MASK_THRESHOLD, synthesize_watermark

LOGOS = ["../shared/data/train/logos", "../shared/data/train/watermarks-real"]


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/bench/denoise/Kodak24/kodim05.png"
    w, h = (int(v) for v in (sys.argv[2] if len(sys.argv) > 2 else "2000x1500").split("x"))
    seeds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    bank = load_watermark_bank(LOGOS, "val")
    photo = cv2.resize(to_rgb8(read_image(path)), (w, h), interpolation=cv2.INTER_CUBIC)
    pipe = load_pipeline("unwatermark", device="cpu")
    pipe(photo[:256, :256])
    mp = w * h / 1e6
    print(f"{path} at {w}x{h} ({mp:.2f} MP), torch {torch.__version__}, {torch.get_num_threads()} threads")
    for seed in range(seeds):
        marked, _, alpha = synthesize_watermark(photo, np.random.default_rng(seed), bank)
        marked = (np.clip(marked, 0, 1) * 255 + 0.5).astype(np.uint8)
        timings = []
        for tta in (False, True):
            t0 = time.perf_counter()
            pipe(marked, tta=tta)
            timings.append((time.perf_counter() - t0) / mp)
        print(f"seed {seed}: mark covers {(alpha > MASK_THRESHOLD).mean():.1%} of the photo; "
              f"{timings[0]:.2f} s/MP without tta, {timings[1]:.2f} s/MP with tta", flush=True)


if __name__ == "__main__":
    main()
