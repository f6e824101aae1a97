"""Time ``restore inpaint`` (the default model) on a 1 MP photo with one box of 10 % of the
area, the README's figure for large holes.

    python docs/inpaint_large_hole_speed.py [IMAGE] [--repeats N]

IMAGE (default: the first Kodak24 image, ``../shared/data/bench/denoise/Kodak24``) is
resized to 1224 x 816 (1.0 MP, area interpolation); the box has the image's aspect and 10 %
of its area, centred. The pipeline is loaded and run once on a small image before timing
(the benchmark's protocol); prints the wall-clock and process CPU seconds of each call and
the number of latent searches and windows.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from restore import load_pipeline
from restore.io import read_image, to_rgb8
from restore.ops.degrade import center_mask
from restore.pipelines import inpaint as inpaint_mod

KODAK = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "bench" / "denoise" / "Kodak24"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("image", nargs="?", default=None)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    path = Path(args.image) if args.image else sorted(KODAK.glob("*.png"))[0]
    img = cv2.resize(to_rgb8(read_image(path)), (1224, 816), interpolation=cv2.INTER_AREA)
    mask = center_mask(816, 1224, area=0.10) > 0
    pipe = load_pipeline("inpaint", device="cpu")
    pipe(img[:96, :96], mask[360:456, 562:658])  # warm-up
    searches = []
    real = inpaint_mod.latent_search

    def counted(*a, **k):
        searches.append(a[1].shape[0])
        return real(*a, **k)

    inpaint_mod.latent_search = counted
    for _ in range(args.repeats):
        searches.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        out = pipe(img, mask)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert np.array_equal(out[~mask], img[~mask])
        print(f"{path.name} at 1224x816 ({img.shape[0] * img.shape[1] / 1e6:.2f} MP), box of {mask.mean():.1%} of the "
              f"area: {wall:.1f} s wall, {cpu:.1f} s CPU; {len(searches)} searches over {sum(searches)} windows",
              flush=True)


if __name__ == "__main__":
    main()
