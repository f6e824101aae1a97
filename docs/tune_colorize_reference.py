"""Print how a reference photo's palette (``restore colorize --reference``) guides a colorize
model on its held-out training images (never the bench sets), for each setting of a grid.

Protocol of the global histogram hint of Zhang, Zhu, Isola et al. (SIGGRAPH 2017): the
reference is the original color image itself (its a*b* histogram, mean and std), the gray
(L*) image is colorized with it, and PSNR (RGB, against the original) and colorfulness
(share of the originals') are compared with the automatic result. Settings: ``strength``
(exponent of the histogram prior on the network's per-pixel bin distribution), ``divide``
(also divide out the training set's color frequencies, so the reference's replace them
instead of multiplying them) and ``match`` (amount of the Reinhard et al. 2001 move of the
decoded a*b* to the reference's mean and std).

A second table uses a reference of a different scene (the next held-out image): PSNR
against the image's own original (how far it strays), the distance of the output's mean
a*b* to the reference's and the overlap (Bhattacharyya coefficient) of the output's bin
histogram with the reference's, automatic against guided: the palette should move toward
the reference without wrecking the picture.

    python docs/tune_colorize_reference.py weights/colorize-hints-s.safetensors
    python docs/tune_colorize_reference.py weights/colorize-s.safetensors

The rule: the most PSNR with the original as reference, at no less than the automatic
colorfulness. The settings chosen are each model's ``reference_strength`` and
``reference_match`` (``ColorizeSettings`` at its registration in restore/zoo/models.py;
docs/models/colorize-s.md, "Reference photo").
"""
import itertools
import sys

import torch
from tune_colorize_decoding import held_out, load_network   # docs/, beside this script

from restore.metrics import batch_psnr, colorfulness
from restore.ops.color import lab_to_rgb, rgb_to_lab
from restore.ops.palette import ab_histogram, color_reference, match_chroma, reference_logits, training_log_prior
from restore.train.colorize import merge_chroma, validation_set

DECODING = (0.6, 0.5)             # temperature, prior: the models' defaults
# (divide, strength, match) of the grid with the original as reference
SELF_GRID = ([(False, 0.0, m) for m in (0.5, 1.0)]
             + list(itertools.product([False], (0.5, 1.0, 2.0), (0.0, 0.5, 1.0)))
             + list(itertools.product([True], (0.5, 0.75, 1.0, 1.25, 1.5), (0.0, 0.25, 0.5, 0.75, 1.0))))
# ... and with another scene's photo as reference
OTHER_GRID = [(False, 1.0, 0.5), (True, 0.5, 0.5), (True, 0.75, 0.25), (True, 1.0, 0.0), (True, 1.0, 0.5),
              (True, 1.0, 1.0), (True, 1.5, 0.5)]


def decode(net, logits, refs, strength, divide, match, log_p):
    ab = []
    for i in range(len(logits)):
        z = reference_logits(logits[i:i + 1], refs[i], strength, log_p if divide else None)
        ab.append(match_chroma(net.decode(z, *DECODING), refs[i], match))
    return torch.cat(ab)


def bin_hist(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    return ab_histogram(ab.permute(1, 2, 0).reshape(-1, 2), bins, sigma=0, floor=0)


def main(weights: str) -> None:
    torch.set_num_threads(1)
    net = load_network(weights)
    bins = net.ab_bins.float()
    log_p = training_log_prior(net.log_weights)
    clean = validation_set(held_out(), 256)
    n = len(clean)
    with torch.no_grad():
        lab = rgb_to_lab(clean)
        L = lab[:, :1]
        gray = lab_to_rgb(torch.cat([L, torch.zeros_like(lab[:, 1:])], 1))
        cf_true, p_gray = colorfulness(clean).mean().item(), batch_psnr(clean, gray).mean().item()
        logits = torch.cat([net(L[i:i + 8]) for i in range(0, n, 8)])
        own = [color_reference(clean[i:i + 1], bins) for i in range(n)]
        other = [own[(i + 1) % n] for i in range(n)]

        def score(ab):
            rgb = merge_chroma(L, ab)
            return batch_psnr(clean, rgb).mean().item(), colorfulness(rgb).mean().item() / cf_true

        auto = decode(net, logits, own, 0.0, False, 0.0, log_p)
        p_auto, cf_auto = score(auto)
        print(f"{n} held-out crops 256 x 256; gray {p_gray:.2f} dB; automatic {p_auto:.2f} dB "
              f"(+{p_auto - p_gray:.2f}), colorfulness {100 * cf_auto:.0f}%")
        print("reference = the original itself:")
        for divide, strength, match in SELF_GRID:
            p, cf = score(decode(net, logits, own, strength, divide, match, log_p))
            print(f"  strength {strength:3} divide {divide!s:5} match {match:3}: PSNR {p:.2f} "
                  f"({p - p_auto:+.2f} over automatic) colorfulness {100 * cf:.0f}%")

        def palette(ab):
            """Mean distance of the outputs' mean a*b* to their reference's, mean overlap of
            their bin histograms with the reference's."""
            d, bc = [], []
            for i in range(n):
                d.append((ab[i].mean((1, 2)) - other[i].mean).norm().item())
                h_out = bin_hist(ab[i], bins)
                h_ref = ab_histogram(rgb_to_lab(clean[(i + 1) % n:(i + 1) % n + 1])[0, 1:].flatten(1).T, bins,
                                     sigma=0, floor=0)
                bc.append((h_out * h_ref).sqrt().sum().item())
            return sum(d) / n, sum(bc) / n

        d0, bc0 = palette(auto)
        print(f"reference = another scene (the next held-out image): automatic PSNR {p_auto:.2f}, "
              f"mean a*b* {d0:.1f} from the reference's, histogram overlap {bc0:.2f}")
        for divide, strength, match in OTHER_GRID:
            ab = decode(net, logits, other, strength, divide, match, log_p)
            p, cf = score(ab)
            d, bc = palette(ab)
            print(f"  strength {strength:3} divide {divide!s:5} match {match:3}: PSNR {p:.2f} "
                  f"({p - p_auto:+.2f}) colorfulness {100 * cf:.0f}%, mean a*b* {d:.1f} from the "
                  f"reference's, overlap {bc:.2f}")


if __name__ == "__main__":
    main(sys.argv[1])
