"""Print how the decoding and the hint propagation of a colorize model with hint inputs score
on its 32 held-out training images (never the bench sets), with the bench's protocol:
full-size images made gray (their L*), random ground-truth hints drawn as the bench draws
them (1-pixel dots colored as the original, :func:`restore.ops.hints.hint_image_from`; here
two draws per image, seeds other than the bench's), the render size 256 and edge-aware
chroma upsampling; PSNR on RGB (8-bit outputs) against the originals, mean over the
draws. This is how ``hint_prior``, ``hint_method``, ``hint_sigma`` and ``hint_decay`` of
colorize-hints-s (``ColorizeSettings`` at its registration in restore/zoo/models.py) were
chosen (docs/models/colorize-hints-s.md, "Hints").

    python docs/tune_colorize_hints.py weights/colorize-hints-s.safetensors

It prints, for 10 hints: the network alone; the decodings (temperature, prior) with the
chosen propagation; the geodesic propagation (``propagate_hints``) for a grid of
(spread, edge); the optimization (``optimize_hints``) for a grid of (sigma, decay); and
the chosen setting and the former one (geodesic, spread 96, edge 8, the automatic
decoding) also with 50 hints. The network runs once per image and draw (its logits are
kept); the rest is what the pipeline does after it.
"""
import dataclasses
import itertools
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from tune_colorize_decoding import held_out   # docs/, beside this script

from restore import load_pipeline
from restore.bench.colorize import to_gray_lightness
from restore.metrics import psnr
from restore.ops.color import lab_to_rgb, rgb_to_lab
from restore.ops.hints import hint_image_from, pool_hints
from restore.pipelines.colorize import ColorizePipeline, guided_upsample, render_hints, render_shape
from restore.zoo.accel import autocast

COUNTS = (10, 50)
SEEDS = (1, 2)               # hint draws per image (the bench uses seed 0)
CHOSEN = dict(temperature=0.6, prior=1.0, hint_method="optimize", hint_sigma=2.0, hint_decay=1e-5)
FORMER = dict(temperature=0.6, prior=0.5, hint_method="geodesic", hint_spread=96.0, hint_edge=8.0)


def cases(pipe: ColorizePipeline) -> list[dict]:
    """Per held-out image, count and draw: the original, L* at full and render size, the
    hint channels at the network's grid and the network's logits with the hints."""
    out = []
    for i, rgb in enumerate(held_out(full=True)):
        gray = to_gray_lightness(rgb)
        L = rgb_to_lab(torch.from_numpy(gray).float()[None, None].expand(1, 3, -1, -1) / 255.0)[:, :1]
        size = render_shape(*L.shape[-2:], pipe.spec.settings.render_size, pipe.spec.multiple_of)
        L_r = F.interpolate(L, size=size, mode="bilinear", align_corners=False, antialias=size[0] < L.shape[-2])
        for n, seed in itertools.product(COUNTS, SEEDS):
            hints = render_hints(hint_image_from(rgb, n, np.random.default_rng([seed, i, n])), tuple(L.shape[-2:]), size)
            with torch.inference_mode(), autocast(pipe.precision):
                logits = pipe.model(L_r.to(pipe.dtype), hints.to(pipe.dtype)).float()
            L_low = F.interpolate(L_r, size=logits.shape[-2:], mode="bilinear", align_corners=False, antialias=True)
            out.append(dict(n=n, rgb=rgb, L=L, L_low=L_low, logits=logits,
                            hints=pool_hints(hints, tuple(logits.shape[-2:]))))
    return out


def score(pipe: ColorizePipeline, data: list[dict], n: int, *, temperature: float, prior: float,
          propagate: bool = True, **settings) -> tuple[float, float]:
    """Mean PSNR (dB) of the cases with ``n`` hints colorized with this decoding and these
    hint settings (``ColorizeSettings`` fields), and the CPU seconds per image spent."""
    spec = dataclasses.replace(pipe.spec, settings=dataclasses.replace(pipe.spec.settings, **settings))
    p = ColorizePipeline(pipe.model, spec, pipe.device)
    ps, t0 = [], time.process_time()
    with torch.inference_mode():
        for c in (c for c in data if c["n"] == n):
            ab = p.model.decode(c["logits"], temperature, prior)
            if propagate:
                ab = p._spread_hints(ab, c["L_low"], c["hints"])
            ab = guided_upsample(ab, c["L_low"], c["L"])
            out = lab_to_rgb(torch.cat([c["L"], ab], 1))[0].permute(1, 2, 0).clamp(0, 1).numpy()
            ps.append(psnr(c["rgb"] / 255.0, (out * 255 + 0.5).astype(np.uint8) / 255.0))
    return float(np.mean(ps)), (time.process_time() - t0) / len(ps)


def main(weights: str) -> None:
    pipe = load_pipeline("colorize", model="colorize-hints-s", device="cpu")
    if weights:
        from tune_colorize_decoding import load_network
        pipe.model.load_state_dict(load_network(weights).state_dict())
    data = cases(pipe)
    ten = [c for c in data if c["n"] == 10]
    p_gray = float(np.mean([psnr(c["rgb"] / 255.0, np.repeat(to_gray_lightness(c["rgb"])[..., None], 3, axis=2) / 255.0)
                            for c in ten]))
    print(f"{len(ten) // len(SEEDS)} held-out images at full size, {len(SEEDS)} draws of hints each; gray {p_gray:.2f} dB")

    def row(label: str, n: int = 10, **kw) -> None:
        p, t = score(pipe, data, n, **kw)
        print(f"{n} hints, {label}: {p:.2f} dB (+{p - p_gray:.2f} over gray), {t:.2f} s per image", flush=True)

    chosen = {k: v for k, v in CHOSEN.items() if k.startswith("hint_")}
    row("network alone (T 0.6, prior 0.5)", temperature=0.6, prior=0.5, propagate=False)
    for temperature, prior in itertools.product((0.38, 0.6, 1.0), (0.5, 1.0)):
        row(f"optimize, T {temperature} prior {prior}", temperature=temperature, prior=prior, **chosen)
    for spread, edge in itertools.product((48, 96, 192), (2.0, 4.0, 8.0)):
        row(f"geodesic spread {spread} edge {edge}, T 0.6 prior 1", temperature=0.6, prior=1.0,
            hint_method="geodesic", hint_spread=float(spread), hint_edge=edge)
    for sigma, decay in itertools.product((1.5, 2.0, 3.0, 5.0), (1e-6, 1e-5, 1e-4)):
        row(f"optimize sigma {sigma} decay {decay:g}, T 0.6 prior 1", temperature=0.6, prior=1.0,
            hint_method="optimize", hint_sigma=sigma, hint_decay=decay)
    for n in COUNTS:
        row("former: geodesic spread 96 edge 8, T 0.6 prior 0.5", n, **FORMER)
        row("chosen: " + ", ".join(f"{k} {v}" for k, v in CHOSEN.items()), n, **CHOSEN)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
