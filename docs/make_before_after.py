"""Make docs/before_after.png: crops of the example photos (real noise and JPEG, from
RNI15): the input (left), ``dae-s`` with ``sigma="auto"`` (middle) and the blind
``dae-real-s`` (right).

    python docs/make_before_after.py
"""

from pathlib import Path

import numpy as np

from restore import load_pipeline
from restore.io import read_image, write_image

ROOT = Path(__file__).resolve().parents[1]
CROPS = {"Dog.png": (60, 100, 220), "Frog.png": (80, 140, 220), "Audrey_Hepburn.jpg": (60, 250, 220)}
MODELS = ("dae-s", "dae-real-s")


def main() -> None:
    pipes = [load_pipeline("denoise", m) for m in MODELS]
    rows = []
    for name, (y, x, s) in CROPS.items():
        noisy = read_image(ROOT / "examples" / name)[..., :3]
        gap = np.full((s, 4, 3), 255, np.uint8)
        cells = [noisy[y:y + s, x:x + s]]
        for pipe in pipes:
            cells += [gap, pipe(noisy, sigma="auto")[y:y + s, x:x + s]]
        rows.append(np.concatenate(cells, 1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    write_image(ROOT / "docs" / "before_after.png", np.concatenate(rows[:-1], 0), overwrite=True)


if __name__ == "__main__":
    main()
