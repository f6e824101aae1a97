"""Print an unwatermark model's scores image by image, for a range of mask ramps, as
used for the failure analysis and the mask-threshold check in the unwatermark-s card
(docs/models.md).

    python docs/unwatermark_per_image.py [MODEL] [DATA] [RAMPS] [CONFIDENCES] [JPEG] [TTA]

MODEL is a zoo name (default: the default model) or a training run's ``.safetensors``
(or its ``.ckpt.safetensors`` checkpoint) of the default model's architecture. DATA is
a folder of clean images, marked exactly as ``restore bench unwatermark`` marks it
(``make_test_set``, seed 0, held-out logos and font), or ``heldout`` (the default): the
16 images ``restore train unwatermark`` holds out for validation (bsds400 +
imagenet-samples, ``split_train_val`` with seed 0) at zoom 1 and 1.6 (bicubic), whole and
marked the same way, so that choices can be made without the benchmark's images. RAMPS
is a comma-separated list of ``LOW-HIGH`` mask-probability ramps (default: the model's
``spec.settings.mask_ramp``, 0.25-0.75): the soft mask is ``clamp((p - LOW) / (HIGH -
LOW), 0, 1)``. CONFIDENCES is a comma-separated list of the pipeline's ``min_confidence``
(a connected part of the mask is kept only if one of its pixels is more probable than
that; ``none`` keeps every part), default: the model's ``spec.settings.min_confidence``.
JPEG, a quality 1-100, saves the marked images (and the clean references) as JPEG, as
``restore bench unwatermark --jpeg`` does (``-`` for none). TTA, ``on`` (the default) or
``off``, is the pipeline's test-time augmentation (``UnwatermarkPipeline.tta_average``;
its boxes come from the model's ramp's low end and the confidence of the setting). The rest is the pipeline's own
``restore_from_prediction`` with the model's settings (Telea refinement above opacity 0.3).
Prints per image, ramp and confidence the PSNR of the output and of the watermarked
input and the mask IoU, then the means per setting (with the defaults, the bench's
figures for the default pipeline).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

from restore import load_pipeline
from restore.bench.unwatermark import make_test_set, wm_scores
from restore.train.checkpoint import load_checkpoint
from restore.train.data import load_folder, split_train_val
from restore.train.engine import load_init

DATA = ["../shared/data/train/bsds400", "../shared/data/train/imagenet-samples"]
LOGOS = ["../shared/data/train/logos", "../shared/data/train/watermarks-real"]


def heldout_folder(out: Path) -> Path:
    """Write the 16 held-out training images at zoom 1 and 1.6 as PNG into ``out``."""
    images, names = load_folder(DATA, min_side=256)
    _, val, val_names = split_train_val(images, names, 16, 0)
    for img, name in zip(val, val_names):
        for zoom in (1.0, 1.6):
            im = img if zoom == 1.0 else cv2.resize(img, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
            cv2.imwrite(str(out / f"{Path(name).stem}_z{zoom}.png"), cv2.cvtColor(im, cv2.COLOR_RGB2BGR))
    return out


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else None
    data = sys.argv[2] if len(sys.argv) > 2 else "heldout"
    jpeg = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] != "-" else None
    tta = (sys.argv[6] if len(sys.argv) > 6 else "on") == "on"
    if model and model.endswith(".safetensors"):  # a training run's weights, before they are published
        pipe = load_pipeline("unwatermark", device="cpu")
        if model.endswith(".ckpt.safetensors"):   # --resume's checkpoint: the optimizer state is dropped
            load_checkpoint(Path(model), pipe.model, torch.optim.Adam(pipe.model.parameters()))
        else:
            load_init(pipe.model, model)
        pipe.model.eval()
    else:
        pipe = load_pipeline("unwatermark", model=model, device="cpu")
    ramp_arg = sys.argv[3] if len(sys.argv) > 3 else "-".join(map(str, pipe.spec.settings.mask_ramp))
    ramps = [tuple(float(v) for v in r.split("-")) for r in ramp_arg.split(",")]
    conf_arg = sys.argv[4] if len(sys.argv) > 4 else str(pipe.spec.settings.min_confidence)
    confidences = [None if c == "none" else float(c) for c in conf_arg.split(",")]
    settings = [(r, c) for r in ramps for c in confidences]
    with tempfile.TemporaryDirectory() as tmp:
        folder = heldout_folder(Path(tmp)) if data == "heldout" else data
        cases = make_test_set(folder, LOGOS, jpeg=jpeg)
    scores: dict[tuple, list[dict]] = {s: [] for s in settings}
    for case in cases:
        x = torch.from_numpy(case["marked"]).permute(2, 0, 1)[None].float() / 255
        first = pipe.run_model(x)  # once per image; the mirrored pass depends on the confidence
        preds = {c: pipe.tta_average(x, first, min_confidence=c) if tta else first for c in confidences}
        before = wm_scores(case["clean"], case["marked"], case["alpha"], None)["psnr"]
        line = [case["name"]]
        for (low, high), conf in settings:
            y, mask = pipe.restore_from_prediction(x, preds[conf], ramp=(low, high), min_confidence=conf)
            out = (y[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
            s = wm_scores(case["clean"], out, case["alpha"], (mask > 0.5)[0, 0].numpy())
            scores[((low, high), conf)].append(s)
            line.append(f"{low}-{high}/{conf}: {s['psnr']:.2f} dB (input {before:.2f}) IoU {s['iou']:.3f}")
        print(" | ".join(line), flush=True)
    for ((low, high), conf), rows in scores.items():
        mean = {k: float(np.nanmean([r[k] for r in rows])) for k in ("psnr", "frmse", "iou")}
        print(f"ramp {low}-{high}, min confidence {conf}: PSNR {mean['psnr']:.2f} dB, fRMSE {mean['frmse']:.2f}, "
              f"IoU {mean['iou']:.3f} ({len(rows)} images)")


if __name__ == "__main__":
    main()
