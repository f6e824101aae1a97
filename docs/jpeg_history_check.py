"""How :func:`restore.ops.jpeg_history.has_jpeg_history` sorts the unwatermark benchmark's
marked images, lossless and saved as JPEG, and photos of the training folders.

    python docs/jpeg_history_check.py [QUALITY ...]        # default: 95 90 75

For each bench folder (CBSD68, Kodak24), the marked images of ``restore bench unwatermark``
(``make_test_set``, seed 0), as PNG and saved at each quality, and for the training folders
(bsds400, imagenet-samples; first 40 files each) as read and re-saved at each quality: the
lowest and highest score and how many images are taken for JPEG (score above
``JPEG_HISTORY_THRESHOLD``). Prints a markdown table.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from restore.bench.unwatermark import make_test_set
from restore.io import iter_images, read_image
from restore.ops.degrade import jpeg_roundtrip
from restore.ops.jpeg_history import JPEG_HISTORY_THRESHOLD, jpeg_history_score

ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
LOGOS = [ROOT / "train" / "logos", ROOT / "train" / "watermarks-real"]


def row(label: str, scores: list[float]) -> str:
    s = np.array(scores)
    return (f"| {label} | {len(s)} | {s.min():.3f} | {s.max():.3f} | "
            f"{int((s > JPEG_HISTORY_THRESHOLD).sum())} |")


def main() -> None:
    qualities = [int(q) for q in sys.argv[1:]] or [95, 90, 75]
    print(f"threshold {JPEG_HISTORY_THRESHOLD}\n")
    print("| images | n | lowest score | highest score | taken for JPEG |")
    print("|---|---:|---:|---:|---:|")
    for name in ("CBSD68", "Kodak24"):
        folder = ROOT / "bench" / "denoise" / name
        for q in [None, *qualities]:
            cases = make_test_set(folder, LOGOS, seed=0, jpeg=q)
            label = f"{name} marked, " + ("PNG" if q is None else f"JPEG q{q}")
            print(row(label, [jpeg_history_score(c["marked"]) for c in cases]))
    for name in ("bsds400", "imagenet-samples"):
        files = sorted(iter_images(ROOT / "train" / name))[:40]
        images = [read_image(f)[..., :3] for f in files]
        print(row(f"train/{name} as read (JPEG files)", [jpeg_history_score(im) for im in images]))
        for q in qualities:
            print(row(f"train/{name} re-saved q{q}", [jpeg_history_score(jpeg_roundtrip(im, q)) for im in images]))


if __name__ == "__main__":
    main()
