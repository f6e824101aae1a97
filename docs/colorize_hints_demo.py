"""Old photos colorized automatically and with a few hand-placed color hints.

The hints are the committed hint images ``docs/colorize_hints/NAME.png`` (RGBA, the photo's
size, transparent except a few dots), made by this script from the points below (position as
a share of the photo's width and height, color as sRGB) when they are missing; edit a point
and delete the PNG to remake it. The colors are guesses a person restoring the photo could
make (a dress, a brick wall, grass), not known truths. The picture is drawn with the same
calls as ``restore colorize --hints docs/colorize_hints``:

    python docs/colorize_hints_demo.py            # writes docs/colorize_hints.jpg

Columns: photo | automatic | the hints (dots over the gray photo) | with the hints.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from restore import load_pipeline
from restore.bench.pictures import labelled_grid
from restore.io import read_image, to_rgb8, write_image

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO.parent / "shared" / "data" / "bench" / "old-photos"
HINTS = REPO / "docs" / "colorize_hints"
OUT = REPO / "docs" / "colorize_hints.jpg"

DRESS_RED, DRESS_BLUE, DRESS_PINK = (170, 35, 45), (60, 100, 175), (215, 140, 165)
WOOD, BRICK, GRASS, LEAVES, WALL = (140, 95, 60), (150, 70, 50), (95, 145, 60), (60, 105, 50), (205, 185, 150)

#: Per photo: (x share, y share, sRGB color) of each hint dot.
POINTS: dict[str, list[tuple[float, float, tuple[int, int, int]]]] = {
    "1925Girl.jpg": [(0.47, 0.52, DRESS_RED), (0.38, 0.60, DRESS_RED), (0.68, 0.54, DRESS_RED),
                     (0.84, 0.25, WOOD), (0.19, 0.23, WOOD)],
    "CatWash1931.jpg": [(0.24, 0.82, DRESS_BLUE), (0.23, 0.60, DRESS_BLUE), (0.50, 0.08, BRICK), (0.80, 0.20, BRICK),
                        (0.88, 0.93, GRASS), (0.10, 0.93, GRASS), (0.05, 0.40, LEAVES)],
    "1920sDancing.jpg": [(0.45, 0.60, DRESS_PINK), (0.38, 0.75, DRESS_PINK), (0.10, 0.40, WALL)],
}


def hint_image(shape: tuple[int, int], points: list) -> np.ndarray:
    """An RGBA hint image of ``shape`` (H, W) with a filled dot per point (radius 1 % of
    the short side, at least 2 px)."""
    h, w = shape
    out = np.zeros((h, w, 4), np.uint8)
    r = max(2, round(0.01 * min(h, w)))
    for fx, fy, rgb in points:
        cv2.circle(out, (round(fx * (w - 1)), round(fy * (h - 1))), r, (*rgb, 255), -1, lineType=cv2.LINE_8)
    return out


def overlay(gray_rgb: np.ndarray, hints: np.ndarray) -> np.ndarray:
    """The hint dots drawn over the photo, each with a white ring so it shows on any tone."""
    out = gray_rgb.copy()
    on = hints[..., 3] > 127
    ring = cv2.dilate(on.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~on
    out[ring] = 255
    out[on] = hints[on][:, :3]
    return out


def main() -> None:
    pipe = load_pipeline("colorize", device="cpu")
    rows = []
    HINTS.mkdir(parents=True, exist_ok=True)
    for name, points in POINTS.items():
        photo = read_image(PHOTOS / name)
        path = HINTS / (Path(name).stem + ".png")
        if not path.exists():
            write_image(path, hint_image(photo.shape[:2], points))
        hints = read_image(path)
        gray = to_rgb8(photo)
        rows.append([gray, to_rgb8(pipe(photo)), overlay(gray, hints), to_rgb8(pipe(photo, hints))])
    write_image(OUT, labelled_grid(["photo", "automatic", "hints", "with the hints"], rows, cell=320))
    print(f"wrote {OUT} and the hint images in {HINTS}")


if __name__ == "__main__":
    main()
