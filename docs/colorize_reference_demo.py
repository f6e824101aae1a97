"""Draw docs/colorize_reference.jpg: held-out training images (never the bench sets) made gray
and colorized by the default model automatically and with a reference photo of another
scene (``restore colorize --reference``). Columns: gray input | automatic | reference |
with the reference | original.

    python docs/colorize_reference_demo.py
"""
import sys

import numpy as np
import torch
from PIL import Image
from tune_colorize_decoding import held_out   # docs/, beside this script

from restore import load_pipeline
from restore.bench.colorize import to_gray_lightness

PAIRS = ((0, 1), (2, 3), (4, 5), (6, 7))       # (photo, reference) indices among the held-out images
HEIGHT = 180


def _fit(a: np.ndarray) -> np.ndarray:
    im = Image.fromarray(a)
    return np.array(im.resize((round(im.width * HEIGHT / im.height), HEIGHT), Image.LANCZOS))


def main(out: str = "docs/colorize_reference.jpg") -> None:
    torch.set_num_threads(1)
    pipe = load_pipeline("colorize", device="cpu")
    val = held_out(full=True)
    rows = []
    for i, j in PAIRS:
        rgb, ref = val[i][..., :3], val[j][..., :3]
        gray = to_gray_lightness(rgb)
        cells = [np.repeat(gray[..., None], 3, 2), pipe(gray), ref, pipe(gray, reference=ref), rgb]
        rows.append(np.concatenate([np.pad(_fit(c), ((0, 0), (0, 4), (0, 0)), constant_values=255) for c in cells], 1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    Image.fromarray(np.concatenate(rows, 0)).save(out, quality=88)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
