"""Print the decoding grid of a colorize checkpoint on its held-out training images (never
the bench sets): PSNR and colorfulness (share of the originals') for each (prior,
temperature, saturation), and the Pareto front. This is how colorize-s's decoding
settings (``ColorizeSettings`` at its registration in restore/zoo/models.py) were chosen
(docs/models.md, colorize-s, "Decoding"). To run the pipeline with another point of the
grid, replace them in its spec: ``load_pipeline("colorize", dataclasses.replace(spec,
settings=dataclasses.replace(spec.settings, prior=..., temperature=..., saturation=...)))``,
or pass ``prior``, ``temperature`` and ``saturation`` to the call.

    python docs/tune_colorize_decoding.py runs/col-s.ckpt.safetensors
"""
import itertools
import sys

import torch
from safetensors.torch import load_file

from restore.metrics import batch_psnr, colorfulness
from restore.ops.color import lab_to_rgb, rgb_to_lab
from restore.train.colorize import color_images, merge_chroma, validation_set
from restore.train.data import load_folder, split_train_val
from restore.zoo.archs.unet import ColorizationUNet

DATA = ["../shared/data/train/bsds400", "../shared/data/train/imagenet-samples"]   # as trained, same split


def main(ckpt: str) -> None:
    t = load_file(ckpt)
    net = ColorizationUNet()
    net.load_state_dict({k.removeprefix("model."): v for k, v in t.items() if not k.startswith("opt.")})
    net.eval()
    imgs, names = load_folder(DATA, min_side=64)
    imgs, kept = color_images(imgs, 256)
    _, val, _ = split_train_val(imgs, [names[i] for i in kept], 32, 0)
    clean = validation_set(val, 256)
    with torch.no_grad():
        lab = rgb_to_lab(clean)
        L = lab[:, :1]
        gray = lab_to_rgb(torch.cat([L, torch.zeros_like(lab[:, 1:])], 1))
        cf_true, p_gray = float(colorfulness(clean).mean()), float(batch_psnr(clean, gray).mean())
        logits = torch.cat([net(L[i:i + 8]) for i in range(0, len(L), 8)])
        res = []
        for prior, temp, sat in itertools.product((0, 0.1, 0.25, 0.5, 0.75, 1), (0.1, 0.2, 0.38, 0.6, 1.0),
                                                  (1.0, 1.25, 1.5, 1.75, 2.0)):
            rgb = merge_chroma(L, net.decode(logits, temp, prior) * sat)
            res.append((float(batch_psnr(clean, rgb).mean()), float(colorfulness(rgb).mean()) / cf_true,
                        prior, temp, sat))
    print(f"gray {p_gray:.2f} dB; Pareto front (no other point has both more PSNR and more colorfulness):")
    for p, cf, prior, temp, sat in sorted(res, reverse=True):
        if not any(p2 > p and c2 > cf for p2, c2, *_ in res):
            print(f"prior {prior:4} T {temp:4} saturation {sat:4}: PSNR {p:.2f} (+{p - p_gray:.2f}) "
                  f"colorfulness {100 * cf:.0f}%")


if __name__ == "__main__":
    main(sys.argv[1])
