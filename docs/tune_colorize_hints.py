"""Print how the hint propagation settings of a colorize model with hint inputs score on its
held-out training images (never the bench sets): PSNR with 10 and 50 random ground-truth
hints (1-pixel dots, as the bench gives them) for each (spread, edge) of a grid, and
without propagation (the network alone). This is how ``hint_spread`` and ``hint_edge`` of
colorize-hints-s (``ColorizeSettings`` at its registration in restore/zoo/models.py) were
chosen (docs/models/colorize-hints-s.md, "Hints").

    python docs/tune_colorize_hints.py weights/colorize-hints-s.safetensors
"""
import itertools
import sys

import numpy as np
import torch
import torch.nn.functional as F
from tune_colorize_decoding import held_out, load_network   # docs/, beside this script

from restore.metrics import batch_psnr
from restore.ops.color import lab_to_rgb, rgb_to_lab
from restore.ops.hints import pool_hints, propagate_hints, reveal_hints
from restore.train.colorize import validation_set

DECODING = (0.6, 0.5)        # temperature, prior: the model's defaults
COUNTS = (10, 50)


def main(weights: str) -> None:
    net = load_network(weights)
    clean = validation_set(held_out(), 256)
    with torch.no_grad():
        lab = rgb_to_lab(clean)
        L = lab[:, :1]
        gray = lab_to_rgb(torch.cat([L, torch.zeros_like(lab[:, 1:])], 1))
        p_gray = float(batch_psnr(clean, gray).mean())
        print(f"gray {p_gray:.2f} dB ({len(clean)} held-out crops of 256 x 256)")

        def score(ab: torch.Tensor) -> float:
            ab = F.interpolate(ab, size=L.shape[-2:], mode="bilinear", align_corners=False)
            return float(batch_psnr(clean, lab_to_rgb(torch.cat([L, ab], 1)).clamp(0, 1)).mean())

        L_low = F.interpolate(L, scale_factor=0.5, mode="bilinear", align_corners=False, antialias=True)
        auto = net.decode(torch.cat([net(L[i:i + 8]) for i in range(0, len(L), 8)]), *DECODING)
        print(f"automatic: {score(auto):.2f} dB (+{score(auto) - p_gray:.2f})")
        for n in COUNTS:
            hints = reveal_hints(lab[:, 1:], [n] * len(L), np.random.default_rng(n), sizes=(1, 1))
            logits = torch.cat([net(L[i:i + 8], hints[i:i + 8] if net.hints else None) for i in range(0, len(L), 8)])
            ab = net.decode(logits, *DECODING)
            low = pool_hints(hints, tuple(ab.shape[-2:]))
            print(f"{n} hints, network alone: {score(ab):.2f} dB (+{score(ab) - p_gray:.2f})")
            for spread, edge in itertools.product((12, 24, 48, 96), (1.0, 4.0, 8.0)):
                p = score(propagate_hints(ab, L_low, low, spread=spread, edge=edge))
                print(f"{n} hints, spread {spread:2} edge {edge:4}: {p:.2f} dB (+{p - p_gray:.2f})")


if __name__ == "__main__":
    main(sys.argv[1])
