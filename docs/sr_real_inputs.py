"""Upscaling real low-resolution inputs: 1:1 crops of the x4 outputs, side by side.

There is no ground truth for these inputs; the picture is for looking. Rows:

- two historical photos (``old-photos``: scans of prints, grain and JPEG),
- two photos with real camera noise (``real-noise/RNI15``),
- two of the README's example photos made small as a web page would: halved with area
  interpolation and saved as JPEG at quality 50.

Columns: the input crop (enlarged with nearest neighbour, so its pixels stay visible) |
bicubic | srresnet-x4 (trained on bicubic inputs) | the real-photo model at strength 0 and
at strength 1 (``--strength``: its PSNR weights, then its adversarial weights). Each crop
is the input's most detailed 64 px window (:func:`restore.bench.pictures.detail_crop`);
the models see it with 16 px of context on every side, as the tiled pipeline would.

    python docs/sr_real_inputs.py                 # writes docs/sr_real_inputs.jpg
    python docs/sr_real_inputs.py --model NAME    # another model with a strength control
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from restore import load_pipeline
from restore.bench.pictures import detail_crop, labelled_grid
from restore.io import read_image, to_rgb8, write_image

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "bench"
OUT = REPO / "docs" / "sr_real_inputs.jpg"
#: (label, path, made small as a web JPEG)
INPUTS = [("old photo", DATA / "old-photos" / "1907Cowboys.jpg", False),
          ("old photo", DATA / "old-photos" / "1896NewsBoyGirl.jpg", False),
          ("RNI15", DATA / "real-noise" / "RNI15" / "Dog.png", False),
          ("RNI15", DATA / "real-noise" / "RNI15" / "Flowers.png", False),
          ("web JPEG q50", REPO / "examples" / "Frog.png", True),
          ("web JPEG q50", REPO / "examples" / "Audrey_Hepburn.jpg", True)]
SIDE, MARGIN, SCALE = 64, 16, 4


def web_jpeg(img: np.ndarray, quality: int = 50) -> np.ndarray:
    """Halve an H x W x 3 uint8 image with area interpolation and round-trip it through
    JPEG at ``quality`` (OpenCV's encoder, 4:2:0)."""
    small = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def crops(img: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The most detailed ``SIDE`` px window of ``img`` with ``MARGIN`` px of context (less
    at the borders): ``(region, (top, left, bottom, right))``, the last the margins to
    cut from the region's x4 output."""
    y, x, side = detail_crop(img, SIDE, 8)
    y0, x0 = max(0, y - MARGIN), max(0, x - MARGIN)
    y1, x1 = min(img.shape[0], y + side + MARGIN), min(img.shape[1], x + side + MARGIN)
    return img[y0:y1, x0:x1], (y - y0, x - x0, y1 - y - side, x1 - x - side)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="real-srgan-x4", help="real-photo model with a strength control")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    bicubic_model = load_pipeline("upscale", "srresnet-x4", device=args.device)
    real = load_pipeline("upscale", args.model, device=args.device)
    columns = ["input (nearest)", "bicubic", "srresnet-x4", f"{args.model} strength 0", f"{args.model} strength 1"]
    rows = []
    for label, path, small in INPUTS:
        img = to_rgb8(read_image(path))
        if small:
            img = web_jpeg(img)
        region, (t, left, b, r) = crops(img)

        def cut(out: np.ndarray) -> np.ndarray:
            return out[t * SCALE:out.shape[0] - b * SCALE, left * SCALE:out.shape[1] - r * SCALE]

        up = lambda interp: cv2.resize(region, (region.shape[1] * SCALE, region.shape[0] * SCALE),  # noqa: E731
                                       interpolation=interp)
        rows.append([cut(up(cv2.INTER_NEAREST)), cut(up(cv2.INTER_CUBIC)), cut(bicubic_model(region)),
                     cut(real(region, strength=0.0)), cut(real(region, strength=1.0))])
        print(f"{label}: {path.name}")
    grid = labelled_grid(columns, rows, SIDE * SCALE, font_scale=0.55)
    write_image(args.out, grid, quality=90)
    print(f"wrote {args.out} ({grid.shape[1]}x{grid.shape[0]})")


if __name__ == "__main__":
    main()
