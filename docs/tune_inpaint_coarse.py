"""Print how the coarse-to-fine settings of a windowed inpaint model trade hole PSNR for
time, on held-out *training* photos (never the benchmark's), as used to choose them
(``InpaintSettings`` at gan-photos-64's registration in restore/zoo/models.py).

    python docs/tune_inpaint_coarse.py MODEL MASK_KIND N FOLDER [EVERY] [NAME=VALUE,NAME=VALUE ...] ...

FOLDER holds the tuning images (the 76 photos held out of bsds400 + imagenet-samples,
``is_held_out(name, "image")``); the cases are every EVERY-th (default 1) of the first
N * EVERY, with the benchmark's masks (:func:`restore.bench.inpaint.make_test_set`). Each
argument after them is one setting: comma-separated ``name=value`` pairs of
:class:`restore.zoo.settings.InpaintSettings` replacing the model's (an empty string ``""``
runs the model's own; ``coarse_depth=1e9`` turns the coarse-to-fine path off). Each prints
the mean PSNR of the whole image, the PSNR and L1 (0-255) inside the hole and the seconds
per image; OpenCV Telea, Navier-Stokes and scikit-image biharmonic come first.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import numpy as np

from restore import load_pipeline
from restore.bench.inpaint import inpaint_scores, make_test_set
from restore.ops.blend import classical_inpaint
from restore.zoo import get_spec


def parse(setting: str) -> dict:
    """``"a=1,b=0.5"`` -> ``{"a": 1, "b": 0.5}`` (ints stay ints)."""
    out = {}
    for pair in filter(None, setting.split(",")):
        name, value = pair.split("=")
        out[name.strip()] = int(value) if value.strip().lstrip("-").isdigit() else float(value)
    return out


def main() -> None:
    model, kind, n, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    rest = sys.argv[5:]
    every = int(rest.pop(0)) if rest and rest[0].isdigit() else 1
    cases = make_test_set(folder, kind, limit=n * every)[::every]
    spec = get_spec(model)

    def evaluate(label: str, fn) -> None:
        t0, scores = time.time(), []
        for c in cases:
            scores.append(inpaint_scores(c["clean"], fn(c["masked"], c["mask"]), c["mask"]))
        mean = {k: float(np.mean([s[k] for s in scores])) for k in ("psnr", "hole_psnr", "hole_l1")}
        print(f"{label:60s} PSNR {mean['psnr']:.2f} hole {mean['hole_psnr']:.2f} dB L1 {mean['hole_l1']:.2f} "
              f"{(time.time() - t0) / len(cases):.2f} s/image", flush=True)

    for method in ("telea", "ns", "biharmonic"):
        evaluate(method, lambda x, m, method=method: classical_inpaint(x, m, method))
    for setting in rest:
        settings = dataclasses.replace(spec.settings, **parse(setting))
        pipe = load_pipeline("inpaint", dataclasses.replace(spec, settings=settings), device="cpu")
        evaluate(setting or "(the model's settings)", pipe)


if __name__ == "__main__":
    main()
