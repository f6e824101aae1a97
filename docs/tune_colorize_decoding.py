"""Print the decoding grid of a colorize checkpoint on its held-out training images (never
the bench sets): PSNR and colorfulness (share of the originals') for each (prior,
temperature, saturation), and the Pareto front. This is how colorize-s's decoding
settings (``ColorizeSettings`` at its registration in restore/zoo/models.py) were chosen
(docs/models.md, colorize-s, "Decoding"). To run the pipeline with another point of the
grid, replace them in its spec: ``load_pipeline("colorize", dataclasses.replace(spec,
settings=dataclasses.replace(spec.settings, prior=..., temperature=..., saturation=...)))``,
or pass ``prior``, ``temperature`` and ``saturation`` to the call.

    python docs/tune_colorize_decoding.py runs/col-s.ckpt.safetensors
    python docs/tune_colorize_decoding.py runs/col-hints.ckpt.safetensors     # a model with hint inputs
    python docs/tune_colorize_decoding.py --full weights/colorize-hints-s.safetensors   # full-size images
    python docs/tune_colorize_decoding.py --spread colorize-hints-s   # chroma_spread and tta, full size
    python docs/tune_colorize_decoding.py --spread runs/col.safetensors 1.0,1.15 on   # a run's weights, some points

``--spread MODEL`` runs a zoo model's pipeline (or the default model's with the weights of a
``.safetensors`` file) with its decoding on the same held-out
images at full size for a grid of ``chroma_spread`` and ``tta`` (how the automatic mode's
were chosen).

``--full`` runs the bench's protocol (full-size images, render size 256, edge-aware chroma
upsampling) on the same held-out images, for a smaller grid.

A weights file (``weights/NAME.safetensors``) works as well as a checkpoint. For a model
with hint inputs the automatic mode (no hint) is what is tuned.
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


def load_network(path: str) -> ColorizationUNet:
    """The colorization network of a weights file or a training checkpoint (its model's
    tensors), with hint inputs if the file has them, in eval mode."""
    t = {k.removeprefix("net.model.").removeprefix("model."): v for k, v in load_file(path).items()
         if not k.startswith("opt")}
    net = ColorizationUNet(hints="hint_head.weight" in t)
    net.load_state_dict({k: v.float() for k, v in t.items()})
    return net.eval()


def held_out(full: bool = False) -> list:
    """The 32 images held out of training (seed 0, as the runs split them): resized to the
    render size (short side 256), or at their full size with ``full``."""
    imgs, names = load_folder(DATA, min_side=64)
    small, kept = color_images(imgs, 256)
    _, val, _ = split_train_val([imgs[i] for i in kept] if full else small, [names[i] for i in kept], 32, 0)
    return val


def main(ckpt: str) -> None:
    net = load_network(ckpt)
    clean = validation_set(held_out(), 256)
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


def main_full(weights: str) -> None:
    """The bench's protocol on the held-out training images at their full size: gray (L*)
    in, the pipeline's render size (256) and edge-aware upsampling, PSNR and colorfulness
    (share of the originals') for each decoding of a grid."""
    import numpy as np
    import torch.nn.functional as F

    from restore.bench.colorize import image_colorfulness, to_gray_lightness
    from restore.metrics import psnr
    from restore.pipelines.colorize import guided_upsample, render_shape

    net = load_network(weights)
    val = held_out(full=True)
    grid = list(itertools.product((0.25, 0.5, 0.75), (0.38, 0.5, 0.6), (1.0, 1.15, 1.3, 1.5)))
    sums = np.zeros((len(grid), 2))
    gray_psnr, cf_true = [], []
    with torch.no_grad():
        for rgb in val:
            g = to_gray_lightness(rgb)
            ref = rgb / 255.0
            gray_psnr.append(psnr(ref, np.repeat(g[..., None], 3, axis=2) / 255.0))
            cf_true.append(image_colorfulness(rgb))
            L = rgb_to_lab(torch.from_numpy(g).float()[None, None].expand(1, 3, -1, -1) / 255.0)[:, :1]
            size = render_shape(*L.shape[-2:], 256, 32)
            L_r = F.interpolate(L, size=size, mode="bilinear", align_corners=False, antialias=True)
            logits = net(L_r)
            L_low = F.interpolate(L_r, size=logits.shape[-2:], mode="bilinear", align_corners=False, antialias=True)
            for j, (prior, temp, sat) in enumerate(grid):
                ab = guided_upsample(net.decode(logits, temp, prior) * sat, L_low, L)
                out = (lab_to_rgb(torch.cat([L, ab], 1))[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5)
                out = out.astype(np.uint8)
                sums[j] += (psnr(ref, out / 255.0), image_colorfulness(out))
    p_gray, cf_mean = float(np.mean(gray_psnr)), float(np.mean(cf_true))
    print(f"{len(val)} held-out images at full size; gray {p_gray:.2f} dB")
    for (prior, temp, sat), (p, cf) in sorted(zip(grid, sums / len(val)), key=lambda r: -r[1][0]):
        print(f"prior {prior:4} T {temp:4} saturation {sat:4}: PSNR {p:.2f} (+{p - p_gray:.2f}) "
              f"colorfulness {100 * cf / cf_mean:.0f}%")


def main_spread(model: str, spreads: tuple = (1.0, 1.1, 1.15, 1.2, 1.25, 1.3), ttas: tuple = (False, True),
                saturations: tuple = (1.1, 1.15)) -> None:
    """The zoo model's pipeline, with its own decoding (prior, temperature), on the held-out
    training images at full size, gray (L*) in as the bench makes it: PSNR and colorfulness
    (share of the originals') for a grid of ``chroma_spread`` with and without the mirrored
    pass (``tta``), and, with the last ``tta``, a saturation factor instead of the spread
    (``saturations``). This is how the automatic mode's ``chroma_spread`` and ``tta`` were
    chosen: the most PSNR at 80 % or more of the originals' colorfulness (the 75 % aimed
    for and a margin)."""
    import numpy as np

    from restore import load_pipeline
    from restore.bench.colorize import image_colorfulness, to_gray_lightness
    from restore.metrics import psnr

    if model.endswith(".safetensors"):   # a run's weights, of the default model's architecture
        from restore.train.engine import load_init
        pipe = load_pipeline("colorize", device="cpu", precision="fp32")
        load_init(pipe.model, model)
        pipe.model.eval()
    else:
        pipe = load_pipeline("colorize", model=model, device="cpu", precision="fp32")
    val = held_out(full=True)
    grays = [to_gray_lightness(rgb) for rgb in val]
    p_gray = float(np.mean([psnr(rgb / 255.0, np.repeat(g[..., None], 3, axis=2) / 255.0)
                            for rgb, g in zip(val, grays)]))
    cf_mean = float(np.mean([image_colorfulness(rgb) for rgb in val]))
    d = pipe.spec.settings
    print(f"{model}: {len(val)} held-out images at full size, prior {d.prior}, T {d.temperature}; "
          f"gray {p_gray:.2f} dB")
    grid = [(tta, spread, 1.0) for tta, spread in itertools.product(ttas, spreads)]
    grid += [(ttas[-1], 1.0, sat) for sat in saturations]   # the saturation factor instead, for comparison
    for tta, spread, sat in grid:
        outs = [pipe(g, chroma_spread=spread, tta=tta, saturation=sat) for g in grays]
        p = float(np.mean([psnr(rgb / 255.0, out / 255.0) for rgb, out in zip(val, outs)]))
        cf = float(np.mean([image_colorfulness(out) for out in outs]))
        print(f"tta {tta!s:5} chroma_spread {spread:4} saturation {sat:4}: PSNR {p:.2f} (+{p - p_gray:.2f}) "
              f"colorfulness {100 * cf / cf_mean:.0f}%", flush=True)


if __name__ == "__main__":
    if "--full" in sys.argv[1:]:
        main_full([a for a in sys.argv[1:] if a != "--full"][0])
    elif "--spread" in sys.argv[1:]:
        args = [a for a in sys.argv[1:] if a != "--spread"]
        spreads = tuple(float(v) for v in args[1].split(",")) if len(args) > 1 else None
        ttas = tuple(v == "on" for v in args[2].split(",")) if len(args) > 2 else None
        main_spread(args[0], *([spreads] if spreads else []), *([ttas] if ttas else []))
    else:
        main(sys.argv[1])
