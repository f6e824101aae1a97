"""Print the CPU time of colorize-hints-s calls with hints, the current settings against the
former ones (geodesic chrominance blending, spread 96, edge 8, the automatic decoding) and
the automatic mode, interleaved on the same photos (so that a loaded machine slows them
alike): two training photos enlarged to 1 MP (1152 x 864) and one at its own size
(481 x 321), 10 and 50 random ground-truth hints, median of 5 calls, one thread.

    python docs/time_colorize_hints.py
"""
import dataclasses
import time

import numpy as np
import torch
import torch.nn.functional as F

from restore import load_pipeline
from restore.bench.colorize import to_gray_lightness
from restore.ops.hints import hint_image_from
from restore.pipelines.colorize import ColorizePipeline
from restore.train.data import load_folder


def main() -> None:
    torch.set_num_threads(1)
    pipe = load_pipeline("colorize", model="colorize-hints-s", device="cpu")
    former = ColorizePipeline(pipe.model, dataclasses.replace(pipe.spec, settings=dataclasses.replace(
        pipe.spec.settings, hint_method="geodesic", hint_spread=96.0, hint_edge=8.0, hint_prior=None)), pipe.device)
    imgs, _ = load_folder(["../shared/data/train/bsds400"], min_side=64, limit=2)
    for k, img in enumerate([imgs[0], imgs[0], imgs[1]]):
        rgb = img if k == 1 else np.asarray(F.interpolate(
            torch.from_numpy(img).permute(2, 0, 1)[None].float(), size=(864, 1152), mode="bilinear",
            align_corners=False)[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8))
        gray = to_gray_lightness(rgb)
        for n in (10, 50):
            hint = hint_image_from(rgb, n, np.random.default_rng(n))
            calls = {"current": lambda: pipe(gray, hint), "former": lambda: former(gray, hint),
                     "automatic": lambda: pipe(gray)}
            for f in calls.values():
                f()                                                      # warm-up
            spent = {name: [] for name in calls}
            for _ in range(5):
                for name, f in calls.items():
                    t = time.process_time()
                    f()
                    spent[name].append(time.process_time() - t)
            mp = rgb.shape[0] * rgb.shape[1] / 1e6
            print(f"photo {k}, {rgb.shape[1]} x {rgb.shape[0]}, {n} hints: " + ", ".join(
                f"{name} {np.median(v):.3f} s ({np.median(v) / mp:.2f} s/MP)" for name, v in spent.items()), flush=True)


if __name__ == "__main__":
    main()
