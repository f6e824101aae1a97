"""Write the benchmark figures of each model card from ``weights/manifest.json``.

Each card ``docs/models/NAME.md`` holds, between the two marker lines below, a table of the
figures that ``restore bench ... --record`` stored for NAME in the manifest, and the
commands that printed them. This script rewrites that block, so the cards never hold
retyped or re-rounded figures:

    python docs/models/figures.py           # rewrite the blocks
    python docs/models/figures.py --check   # exit 1 if a card is out of date (tests run this)

After re-running a benchmark with ``--record``, run this script; after adding a benchmark
(a new manifest key), add its command to ``COMMANDS``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CARDS = REPO / "docs" / "models"
BEGIN = "<!-- figures: written by docs/models/figures.py from weights/manifest.json -->"
END = "<!-- figures: end -->"

_UP = ("restore bench upscale --data ../shared/data/bench/sr/Set5 --data ../shared/data/bench/sr/Set14 "
       "--device cpu --picture docs/sr_comparison.png --record")

_UP_REAL_STRENGTH = ("restore bench upscale --realistic --data ../shared/data/bench/denoise/Kodak24 --data "
                     "../shared/data/bench/denoise/CBSD68 --strength 0 --strength 0.5 --strength 1 --device cpu --record")
_UP_X2 = ("restore bench upscale --data ../shared/data/bench/sr/Set5 --data ../shared/data/bench/sr/Set14 --scale 2 "
          "--device cpu --record")
_UP_REAL_X2 = ("restore bench upscale --realistic --scale 2 --data ../shared/data/bench/denoise/Kodak24 --data "
               "../shared/data/bench/denoise/CBSD68 --device cpu --record")
_X4 = [(_UP, ["Set5 x4", "Set14 x4"]), (_UP_REAL_STRENGTH, ["Kodak24 realistic x4", "CBSD68 realistic x4"])]
_X2 = [(_UP_X2, ["Set5 x2", "Set14 x2"]), (_UP_REAL_X2, ["Kodak24 realistic x2", "CBSD68 realistic x2"])]

_D = "../shared/data/bench/denoise"
_COL = ("restore bench colorize --data ../shared/data/bench/denoise/Kodak24 --data "
        "../shared/data/bench/denoise/CBSD68 --hints 1 --hints 10 --hints 50 --device cpu --picture "
        "docs/colorize_grid.jpg --old-photos ../shared/data/bench/old-photos --old-photos-picture "
        "docs/colorize_old_photos.jpg --detail-picture docs/colorize_detail.jpg --record")
#: The denoise benchmarks: every denoise model is a row of each (the blind one with sigma auto).
_DENOISE: list[tuple[str, list[str]]] = [
    ("restore bench denoise --data ../shared/data/bench/denoise/CBSD68 --sigma 15 --sigma 25 --sigma 50 "
     "--baseline noisy --baseline nlm --files --record",
     ["CBSD68 sigma15", "CBSD68 sigma25", "CBSD68 sigma50"]),
    ("restore bench denoise --data ../shared/data/bench/denoise/Kodak24 --sigma 15 --sigma 25 --sigma 50 "
     "--baseline noisy --baseline nlm --record",
     ["Kodak24 sigma15", "Kodak24 sigma25", "Kodak24 sigma50"]),
    ("restore bench denoise --data ../shared/data/bench/denoise/BSD68 --sigma 25 --baseline noisy "
     "--baseline nlm --record",
     ["BSD68 sigma25"]),
    ("restore bench denoise --data ../shared/data/bench/real-noise/polyu --real --baseline noisy "
     "--baseline nlm --record",
     ["polyu real"]),
    (f"restore bench denoise --data {_D}/CBSD68 --jpeg 10 --jpeg 20 --jpeg 30 --jpeg 40 --record",
     ["CBSD68 jpeg10", "CBSD68 jpeg20", "CBSD68 jpeg30", "CBSD68 jpeg40"]),
    (f"restore bench denoise --data {_D}/Kodak24 --jpeg 10 --jpeg 20 --jpeg 30 --jpeg 40 --record",
     ["Kodak24 jpeg10", "Kodak24 jpeg20", "Kodak24 jpeg30", "Kodak24 jpeg40"]),
    (f"restore bench denoise --data {_D}/Kodak24 --clean --record", ["Kodak24 clean"]),
]

_UNWM = ("restore bench unwatermark --data ../shared/data/bench/denoise/CBSD68 --data ../shared/data/bench/denoise/Kodak24 "
         "--logos ../shared/data/train/logos --logos ../shared/data/train/watermarks-real --model unwatermark-s --device cpu")
_UNWM_Q90 = _UNWM + " --jpeg 90 --picture docs/unwatermark_grid_jpeg90.jpg --record"
_UNWM_Q75 = _UNWM + " --jpeg 75 --record"

_COL_HINTS = ("restore bench colorize --data ../shared/data/bench/denoise/Kodak24 --data ../shared/data/bench/denoise/CBSD68 "
              "--model colorize-hints-s --no-variants --hints 1 --hints 10 --hints 50 --device cpu --record")

#: Per model: (the command as run, the manifest keys its run recorded), as in docs/benchmarks.md.
COMMANDS: dict[str, list[tuple[str, list[str]]]] = {
    "dae-s": _DENOISE,
    "dae-real-s": _DENOISE,
    "srresnet-x4": _X4, "srgan-x4": _X4, "real-srresnet-x4": _X4, "real-srgan-x4": _X4,
    "srresnet-x2": _X2, "real-srresnet-x2": _X2,
    "unwatermark-s": [
        ("restore bench unwatermark --data ../shared/data/bench/denoise/CBSD68 --data "
         "../shared/data/bench/denoise/Kodak24 --logos ../shared/data/train/logos --logos "
         "../shared/data/train/watermarks-real --device cpu --picture docs/unwatermark_grid.jpg --record",
         ["CBSD68 watermarks", "Kodak24 watermarks"]),
        (_UNWM_Q90, ["CBSD68 watermarks JPEG q90", "Kodak24 watermarks JPEG q90"]),
        (_UNWM_Q75, ["CBSD68 watermarks JPEG q75", "Kodak24 watermarks JPEG q75"]),
    ],
    "unwatermark-jpeg-s": [
        ("restore bench unwatermark --data ../shared/data/bench/denoise/CBSD68 --data "
         "../shared/data/bench/denoise/Kodak24 --logos ../shared/data/train/logos --logos "
         "../shared/data/train/watermarks-real --model unwatermark-jpeg-s --device cpu --record",
         ["CBSD68 watermarks", "Kodak24 watermarks"]),
    ],
    "colorize-s": [(_COL, ["Kodak24 colorize", "CBSD68 colorize"])],
    "colorize-hints-s": [(_COL_HINTS, ["Kodak24 colorize", "CBSD68 colorize"]
                          + [f"{d} colorize {n} hints" for d in ("Kodak24", "CBSD68") for n in (1, 10, 50)])],
    "gan-faces-64": [
        ("restore bench inpaint --data ../shared/data/train/faces --held-out --size 64 --limit 100 "
         "--mask-kind center --model gan-faces-64 --device cpu --picture docs/inpaint_faces_grid.png --record",
         ["faces center (first 100)"]),
    ],
    "gan-photos-64": [
        ("restore bench inpaint --data ../shared/data/bench/denoise/CBSD68 --mask-kind strokes "
         "--model gan-photos-64 --device cpu --picture docs/inpaint_strokes_grid.png --picture-rows 4 --record",
         ["CBSD68 strokes"]),
        ("restore bench inpaint --data ../shared/data/bench/denoise/CBSD68 --mask-kind boxes "
         "--model gan-photos-64 --device cpu --picture docs/inpaint_boxes_grid.png --picture-rows 4 --record",
         ["CBSD68 boxes"]),
        ("restore bench inpaint --data ../shared/data/bench/denoise/Kodak24 --mask-kind boxes "
         "--model gan-photos-64 --device cpu --record",
         ["Kodak24 boxes"]),
    ],
}

#: Manifest figure -> (column title, decimals); the decimals are those ``record_bench`` rounds to.
COLUMNS = {
    "psnr": ("PSNR (dB)", 2), "ssim": ("SSIM", 4),
    "hf_ratio": ("HF ratio", 3), "blockiness": ("blockiness", 3), "rmse": ("RMSE", 3), "frmse": ("fRMSE", 3), "iou": ("mask IoU", 3),
    "colorfulness": ("colorfulness", 3), "cf_ratio": ("share of the originals' colorfulness", 3),
    "hole_psnr": ("hole PSNR (dB)", 3), "hole_l1": ("hole L1 (0-255)", 3),
    "s_per_mp": ("s/MP", 2), "images": ("images", 0),
}


def figures_block(name: str, manifest: dict) -> str:
    """The markdown between the markers for model ``name``.

    Raises:
        KeyError: a recorded benchmark with no command in ``COMMANDS``, or the reverse.
    """
    bench = manifest[name].get("bench", {})
    listed = [key for _, keys in COMMANDS[name] for key in keys]
    if sorted(listed) != sorted(bench):
        raise KeyError(f"{name}: manifest benchmarks {sorted(bench)} != COMMANDS {sorted(listed)}")
    cols = [c for c in COLUMNS if any(c in bench[k] for k in listed)]
    lines = ["| benchmark | " + " | ".join(COLUMNS[c][0] for c in cols) + " | command |",
             "|---|" + "---:|" * len(cols) + "---|"]
    for i, (_, keys) in enumerate(COMMANDS[name], 1):
        for key in keys:
            cells = [f"{bench[key][c]:.{COLUMNS[c][1]}f}" if c in bench[key] else "-" for c in cols]
            lines.append(f"| {key} | " + " | ".join(cells) + f" | [{i}] |")
    lines.append("")
    for i, (command, _) in enumerate(COMMANDS[name], 1):
        lines.append(f"[{i}] `{command}`  ")
    return "\n".join([BEGIN, *lines, END])


def update(check: bool = False) -> list[str]:
    """Rewrite (or with ``check`` only compare) every card's block; returns the cards that
    differed. Raises ValueError for a card without the two markers."""
    manifest = json.loads((REPO / "weights" / "manifest.json").read_text())
    stale = []
    for name in sorted(COMMANDS):
        path = CARDS / f"{name}.md"
        text = path.read_text()
        if text.count(BEGIN) != 1 or text.count(END) != 1:
            raise ValueError(f"{path}: needs one '{BEGIN}' and one '{END}' line")
        head, rest = text.split(BEGIN)
        new = head + figures_block(name, manifest) + rest.split(END, 1)[1]
        if new != text:
            stale.append(str(path.relative_to(REPO)))
            if not check:
                path.write_text(new)
    return stale


if __name__ == "__main__":
    check = "--check" in sys.argv[1:]
    stale = update(check=check)
    for path in stale:
        print(("out of date: " if check else "updated: ") + path)
    sys.exit(1 if check and stale else 0)
