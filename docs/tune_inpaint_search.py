"""Print how the latent-search settings of an inpaint model trade hole PSNR for time, on
held-out *training* images (never the benchmark's), as used to choose the models' search
settings (``InpaintSettings`` at their registration in restore/zoo/models.py; see the
gan-*-64 card in docs/models.md).

    python docs/tune_inpaint_search.py MODEL MASK_KIND N FOLDER [STEPS,RESTARTS,LAMBDA,LR,NOISE ...]

FOLDER holds the tuning images: for the face model the last 64 of the 485 faces held out
of training (the benchmark takes the first 100), resized to 64x64; for the photo model the
76 photos held out of bsds400 + imagenet-samples. Each setting prints the mean PSNR of
the whole image, the PSNR inside the hole and the seconds per image; OpenCV Telea and
scikit-image biharmonic come first. Each setting runs the model with its spec's settings
replaced (``dataclasses.replace``), the way a model with other settings would be registered.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import numpy as np

from restore import load_pipeline
from restore.bench.inpaint import inpaint_scores, make_test_set, masked_view
from restore.ops.blend import classical_inpaint
from restore.zoo import get_spec


def main() -> None:
    model, kind, n, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    cases = make_test_set(folder, kind, size=64 if kind == "center" else None, limit=n)
    spec = get_spec(model)

    def evaluate(label: str, fn) -> None:
        t0, scores = time.time(), []
        for c in cases:
            out = fn(masked_view(c["clean"], c["mask"]), c["mask"])
            scores.append(inpaint_scores(c["clean"], out, c["mask"]))
        print(f"{label:42s} PSNR {np.mean([s['psnr'] for s in scores]):.2f} hole "
              f"{np.mean([s['hole_psnr'] for s in scores]):.2f} dB {(time.time() - t0) / len(cases):.2f} s/image",
              flush=True)

    evaluate("telea", lambda x, m: classical_inpaint(x, m, "telea"))
    evaluate("biharmonic", lambda x, m: classical_inpaint(x, m, "biharmonic"))
    for setting in sys.argv[5:]:
        steps, restarts, lam, lr, noise = setting.split(",")
        settings = dataclasses.replace(spec.settings, steps=int(steps), restarts=int(restarts), lambda_prior=float(lam),
                                       lr=float(lr), restart_noise=float(noise))
        pipe = load_pipeline("inpaint", dataclasses.replace(spec, settings=settings), device="cpu")
        evaluate(f"steps {steps} restarts {restarts} lambda {lam} lr {lr} noise {noise}", pipe)


if __name__ == "__main__":
    main()
