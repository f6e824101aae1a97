"""Print how the refinements of the opaque part of a watermark compare (``refine`` and
``opaque_alpha`` of :class:`restore.pipelines.unwatermark.UnwatermarkPipeline`: the
inpainting pipeline, OpenCV Telea, or none, above a predicted opacity), on held-out
*training* images (never the benchmark's), as used to choose the defaults (see the
unwatermark-s card in docs/models.md).

    python docs/compare_unwatermark_refine.py [MODEL] [SEEDS] [THRESHOLDS] [REFINES]

The images are the 16 that ``restore train unwatermark`` holds out for validation
(bsds400 + imagenet-samples, ``split_train_val`` with seed 0), 256x256 centre crops, each
marked SEEDS times (default 4) by the held-out logos and font: once with the training
distribution of opacities (0.2-1.0) and once at opacity 1.0 (opaque marks, where the
refinement has the most to do). THRESHOLDS is a comma-separated list of ``opaque_alpha``
values (default 0.5,0.7,0.9), REFINES one of the refinements (default telea,inpaint).
Prints, per set and setting, the mean PSNR over the crop, the mean fRMSE (0-255) inside
the true mask and the seconds per crop, and how many of the images the inpainting GAN
also held out of its training.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from restore import load_pipeline
from restore.bench.unwatermark import wm_scores
from restore.ops.degrade import load_watermark_bank
from restore.ops.degrade import is_held_out, synthesize_watermark
from restore.train.data import center_crops, load_folder, split_train_val

DATA = ["../shared/data/train/bsds400", "../shared/data/train/imagenet-samples"]
LOGOS = ["../shared/data/train/logos", "../shared/data/train/watermarks-real"]


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else None
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    thresholds = [float(t) for t in (sys.argv[3] if len(sys.argv) > 3 else "0.5,0.7,0.9").split(",")]
    refines = (sys.argv[4] if len(sys.argv) > 4 else "telea,inpaint").split(",")
    images, names = load_folder(DATA, min_side=256)
    _, val_images, val_names = split_train_val(images, names, 16, 0)
    print(f"{len(val_names)} images; held out of the inpainting GAN too: "
          f"{sum(is_held_out(n, 'image') for n in val_names)}")
    bank = load_watermark_bank(LOGOS, "val")
    crops = center_crops(val_images, 256)
    pipe = load_pipeline("unwatermark", model, device="cpu")
    for opacity in (None, 1.0):
        cases = []
        for s in range(seeds):
            for i, img in enumerate(val_images):
                clean = (crops[i].transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
                marked, _, alpha = synthesize_watermark(clean, np.random.default_rng([100 + s, i]), bank,
                                                        ref_side=min(img.shape[:2]), opacity=opacity)
                cases.append((clean, (np.clip(marked, 0, 1) * 255 + 0.5).astype(np.uint8), alpha))
        print(f"\n{len(cases)} crops, opacity {'0.2-1.0' if opacity is None else opacity}: input PSNR "
              f"{np.mean([wm_scores(c, m, a, None)['psnr'] for c, m, a in cases]):.2f} dB, "
              f"fRMSE {np.nanmean([wm_scores(c, m, a, None)['frmse'] for c, m, a in cases]):.2f}")
        settings = [("none", 1.0)] + [(r, t) for t in thresholds for r in refines]
        for refine, threshold in settings:
            t0, scores = time.time(), []
            for clean, marked, alpha in cases:
                scores.append(wm_scores(clean, pipe(marked, refine=refine, opaque_alpha=threshold), alpha, None))
            label = refine if refine == "none" else f"{refine} above alpha {threshold}"
            print(f"refine {label:26s} PSNR {np.mean([s['psnr'] for s in scores]):.2f} dB, fRMSE "
                  f"{np.nanmean([s['frmse'] for s in scores]):.2f}, {(time.time() - t0) / len(cases):.2f} s/crop",
                  flush=True)


if __name__ == "__main__":
    main()
