"""Print, as markdown tables, a model's bench figures in float32 and in bf16 on the CPU, on
subsets of its bench sets: the check behind ``ModelSpec.supports_bf16`` (bf16 is turned on
for a model only where every row moves by at most 0.05 dB, and for a watermark model its
mask IoU by at most 0.01).

    python docs/bf16_quality.py [--models dae-real-s,unwatermark-s] [--limit N] [--fp32-modules head,enc.0]

dae-real-s (denoise): CBSD68 saved as JPEG at quality 10 and 20 (first ``--limit`` images,
default 16), PolyU real noise (first ``--limit`` pairs) and clean Kodak24 (first 8, the
output against its input), as ``restore bench denoise --jpeg / --real / --clean`` builds
them (:mod:`restore.bench.denoise`). unwatermark-s: CBSD68 and Kodak24 (first ``--limit``
and 8 images) with the held-out synthetic marks, PNG and saved as JPEG quality 90, as
``restore bench unwatermark`` builds them (:mod:`restore.bench.unwatermark`), default
pipeline settings (Telea refinement, TTA). Both precisions run the same pipeline code:
``load_pipeline(task, model, device="cpu", precision=...)``, the model's ``fp32_modules`` kept in
float32 under bf16 (``--fp32-modules`` tries other ones: ``""`` for none). No timing here
(docs/speed_steps.py times).
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from restore import load_pipeline
from restore.zoo.registry import get_spec

DATA = "../shared/data/bench"
LOGOS = ["../shared/data/train/logos", "../shared/data/train/watermarks-real"]
PRECISIONS = ("fp32", "bf16")


def _denoise_rows(model, limit: int) -> list[tuple[str, dict[str, dict[str, float]]]]:
    from restore.bench.denoise import _score, clean_cases, jpeg_cases, real_cases

    sets = [(f"CBSD68 JPEG q{q} (first {limit})", jpeg_cases(f"{DATA}/denoise/CBSD68", quality=q, limit=limit))
            for q in (10, 20)]
    sets.append((f"PolyU real noise (first {limit})", real_cases(f"{DATA}/real-noise/polyu", limit=limit)))
    sets.append(("Kodak24 clean, output vs input (first 8)", clean_cases(f"{DATA}/denoise/Kodak24", limit=8)))
    pipes = {p: load_pipeline("denoise", model, device="cpu", precision=p) for p in PRECISIONS}
    rows = []
    for title, cases in sets:
        scores: dict[str, list[dict]] = {p: [] for p in PRECISIONS}
        for case in cases:
            noisy = case["noisy"].astype(np.float32)
            for p, pipe in pipes.items():
                scores[p].append(_score(case, pipe(noisy, sigma="auto")))
        rows.append((title, {p: {k: float(np.mean([s[k] for s in v])) for k in ("psnr", "ssim")}
                             for p, v in scores.items()}))
        print(f"<!-- done: {title} -->", flush=True)
    return rows


def _unwatermark_rows(model, limit: int) -> list[tuple[str, dict[str, dict[str, float]]]]:
    from restore.bench.unwatermark import make_test_set, wm_scores
    from restore.ops.degrade import load_watermark_bank

    bank = load_watermark_bank(LOGOS, "val")
    pipes = {p: load_pipeline("unwatermark", model, device="cpu", precision=p) for p in PRECISIONS}
    rows = []
    for folder, n in (("CBSD68", limit), ("Kodak24", 8)):
        for jpeg in (None, 90):
            title = f"{folder} watermarks{'' if jpeg is None else f' JPEG q{jpeg}'} (first {n})"
            cases = make_test_set(f"{DATA}/denoise/{folder}", bank, limit=n, jpeg=jpeg)
            scores: dict[str, list[dict]] = {p: [] for p in PRECISIONS}
            for case in cases:
                for p, pipe in pipes.items():
                    out, mask = pipe(case["marked"], return_mask=True)
                    scores[p].append(wm_scores(case["clean"], out, case["alpha"], mask > 127))
            rows.append((title, {p: {k: float(np.mean([s[k] for s in v])) for k in ("psnr", "iou")}
                                 for p, v in scores.items()}))
            print(f"<!-- done: {title} -->", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="dae-real-s,unwatermark-s")
    ap.add_argument("--limit", type=int, default=16)
    ap.add_argument("--fp32-modules", default=None,
                    help="comma-separated submodules kept in float32 under bf16, instead of the spec's")
    args = ap.parse_args()
    for name in args.models.split(","):
        spec = get_spec(name)
        if args.fp32_modules is not None:
            spec = dataclasses.replace(spec, fp32_modules=tuple(m for m in args.fp32_modules.split(",") if m))
        model = spec
        print(f"<!-- {name}: fp32_modules {spec.fp32_modules} -->", flush=True)
        if spec.task == "denoise":
            rows, second = _denoise_rows(model, args.limit), ("SSIM", "ssim", ".4f")
        elif spec.task == "unwatermark":
            rows, second = _unwatermark_rows(model, args.limit), ("mask IoU", "iou", ".3f")
        else:
            raise SystemExit(f"{name}: only denoise and unwatermark models are checked here")
        label, key, fmt = second
        print(f"\n**{name}: float32 against bf16 (CPU)**\n")
        print(f"| set | PSNR fp32 | PSNR bf16 | change (dB) | {label} fp32 | {label} bf16 | change |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for title, r in rows:
            a, b = r["fp32"], r["bf16"]
            print(f"| {title} | {a['psnr']:.3f} | {b['psnr']:.3f} | {b['psnr'] - a['psnr']:+.3f} | "
                  f"{a[key]:{fmt}} | {b[key]:{fmt}} | {b[key] - a[key]:+{fmt}} |")
        print(flush=True)


if __name__ == "__main__":
    main()
