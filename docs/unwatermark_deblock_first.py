"""Does removing the JPEG artefacts first help unwatermark-s's own weights find marks saved as JPEG?

    python docs/unwatermark_deblock_first.py QUALITY

The 16 held-out training images at zoom 1 and 1.6 (``unwatermark_per_image.heldout_folder``),
marked as ``restore bench unwatermark`` marks them and saved as JPEG at QUALITY, go through
unwatermark-s with its own weights (``jpeg=False``) as they are ("raw") and after the default
denoising model (dae-real-s, which removes JPEG blocking: "deblocked"). Prints the mean PSNR
against the clean image saved the same way, and the mean mask IoU.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from unwatermark_per_image import LOGOS, heldout_folder  # noqa: E402

from restore import load_pipeline  # noqa: E402
from restore.bench.unwatermark import make_test_set, wm_scores  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    quality = int(sys.argv[1])
    folder = heldout_folder(Path(tempfile.mkdtemp()))
    cases = make_test_set(folder, LOGOS, seed=0, jpeg=quality)
    unwatermark = load_pipeline("unwatermark", "unwatermark-s", device="cpu")
    denoise = load_pipeline("denoise", device="cpu")
    scores: dict[str, list[tuple[float, float]]] = {"raw": [], "deblocked": []}
    for case in cases:
        for kind in scores:
            x = case["marked"] if kind == "raw" else denoise(case["marked"])
            out, mask = unwatermark(x, return_mask=True, jpeg=False)
            s = wm_scores(case["clean"], out, case["alpha"], mask > 127)
            scores[kind].append((s["psnr"], s["iou"]))
    for kind, v in scores.items():
        psnr, iou = np.array(v).mean(0)
        print(f"{kind}: PSNR {psnr:.2f} dB, IoU {iou:.3f} ({len(v)} images, JPEG quality {quality})")


if __name__ == "__main__":
    main()
