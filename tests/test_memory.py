"""Peak memory of the denoise, colorize, unwatermark and inpaint calls on a large photo stays
within a budget that grows slowly with the image (the image held in its file dtype, float
made a tile or a band of rows at a time, never several full-size float copies).

Each call runs in a fresh process, so that what other tests allocated does not count; the
child reads its resident memory before the call and the peak during it (``VmRSS`` and
``VmHWM`` of ``/proc/self/status``, the peak reset before the call through
``/proc/self/clear_refs``). The pipelines are the real ones (conversion, tiling, blending,
thresholding, refinement, output); denoise's and unwatermark's networks are swapped for
per-pixel stand-ins, so the test takes seconds and the network's own working set on a tile
(hundreds of MiB for the shipped models, the same at every image size; docs/memory_peak.py
measures it) does not hide what grows with the image. Colorize keeps its network (it runs
on a small render of the image at any size) and inpaint its generator (it runs on the
windows around the hole only). Holding the image as float32 costs 12 bytes per pixel per
copy; the code before these budgets held several such copies (over 50 bytes per pixel over
the baseline for every task), which fails here.
"""

import json
import subprocess
import sys

import pytest

#: The test image: 12 MP (4243 x 2829), uint8 RGB.
HEIGHT, WIDTH = 2829, 4243
MIB = 2**20
#: The budget over the baseline per task: (bytes per pixel, fixed allowance). Input and
#: output uint8 are 6 bytes per pixel of it.
#: - denoise: one band of tiles (768 rows at the default tile) as float32.
#: - colorize: L* as float32 (4 bytes per pixel); a band of about 1 MP of float temporaries.
#: - unwatermark: the network's float32 prediction (5 channels, 20 bytes per pixel), the kept
#:   parts and the refined region (bool), and the hysteresis's probability, labels and masks
#:   (about 10 bytes per pixel while it runs); a band of temporaries.
#: - inpaint: the hole (bool); the windows around it.
#: - inpaint-box: one box of 1 % of the area, filled coarse to fine on a float crop around it
#:   (about 1 MP here: the box and 320 px on each side): about 32 bytes per pixel of the
#:   photo; with the whole photo as float (the path before the crop) about 95, which fails.
BUDGETS = {"denoise": (12, 96 * MIB), "colorize": (14, 160 * MIB), "unwatermark": (44, 192 * MIB),
           "inpaint": (10, 128 * MIB), "inpaint-box": (10, 768 * MIB)}

CHILD = r"""
import json, sys, time
import numpy as np
import torch
import restore
from restore import load_pipeline
task, h, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

class DenoiseStandIn(torch.nn.Module):  # per pixel, no working set of its own
    def forward(self, x, *extra):
        return x * 0.5 + 0.25

class WatermarkStandIn(torch.nn.Module):  # restored image, mask and opacity logits: bright pixels are the mark
    def forward(self, x, *extra):
        logit = (x[:, :1] - 0.5) * 40
        return torch.cat([x * 0.5, logit, logit], 1)

rng = np.random.default_rng(0)
img = rng.integers(0, 120, (h, w, 3), dtype=np.uint8)
args = ()
pipe = load_pipeline(task.split("-")[0], device="cpu")
if task == "denoise":
    pipe.model = DenoiseStandIn()
elif task == "unwatermark":
    pipe.model = WatermarkStandIn()
    for k in range(6):  # a few bright marks: six parts of the mask, refined by Telea
        y0, x0 = (k + 1) * h // 8, (k + 1) * w // 8
        img[y0:y0 + h // 40, x0:x0 + w // 12] = 230
elif task == "inpaint":
    hole = np.zeros((h, w), np.uint8)
    for k in range(4):  # four small holes
        y0, x0 = (k + 1) * h // 6, (k + 1) * w // 6
        hole[y0:y0 + 24, x0:x0 + 40] = 255
    args = (hole,)
elif task == "inpaint-box":  # one large box: the coarse-to-fine path
    hole = np.zeros((h, w), np.uint8)
    hole[h // 2 - h // 20:h // 2 + h // 20, w // 2 - w // 20:w // 2 + w // 20] = 255
    args = (hole,)
warm = [a[:256, :384].copy() for a in args]
for a in warm:  # a hole inside the warm-up crop, so that the generator's search is warmed up too
    a[100:124, 100:140] = 255
pipe(img[:256, :384], *warm)  # warm-up: lazy imports and allocator pools are not the image's cost
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
base = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:  # resets the peak (VmHWM) to the current RSS
    f.write("5")
t = time.perf_counter()
out = pipe(img, *args)
seconds = time.perf_counter() - t
peak = status("VmHWM")
assert out.shape == img.shape and out.dtype == img.dtype
print(json.dumps(dict(base=base, peak=peak, seconds=seconds, code=restore.__file__)))
"""


def peak_over_baseline(task: str, height: int = HEIGHT, width: int = WIDTH) -> dict:
    """Run ``task`` on a ``height`` x ``width`` uint8 RGB image in a fresh process; its report."""
    r = subprocess.run([sys.executable, "-c", CHILD, task, str(height), str(width)], capture_output=True,
                       text=True, timeout=900, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status (Linux)")
@pytest.mark.parametrize("task", list(BUDGETS))
def test_peak_memory_within_budget(task):
    m = peak_over_baseline(task)
    used, pixels = m["peak"] - m["base"], HEIGHT * WIDTH
    per_pixel, fixed = BUDGETS[task]
    budget = per_pixel * pixels + fixed
    print(f"{task}: {used / 2**20:.0f} MiB over the baseline ({used / pixels:.1f} bytes/pixel), {m['seconds']:.1f} s")
    assert used <= budget, (f"{task} on {pixels / 1e6:.0f} MP used {used / 2**20:.0f} MiB over the baseline "
                            f"({used / pixels:.0f} bytes/pixel), budget {budget / 2**20:.0f} MiB ({m['code']})")


def _tensor_path(pipe, img, *args, **kw):
    """``pipe`` on ``img`` given as a float tensor (the path that holds the image as float),
    rounded to ``img``'s dtype as the numpy path rounds."""
    import torch

    from restore.ops.tiling import to_float
    from restore.pipelines.base import to_dtype

    out = pipe(to_float(img).permute(2, 0, 1), *args, **kw)
    return to_dtype(out.permute(1, 2, 0).numpy(), img.dtype) if isinstance(out, torch.Tensor) else out


@pytest.mark.parametrize("task", ["colorize", "unwatermark", "inpaint"])
def test_banded_paths_give_the_tensor_paths_numbers(task):
    """The bounded-memory paths of numpy images (bands, streamed tiles, windows around the
    hole) give the numbers of the tensor path, which holds the whole image as float."""
    import numpy as np

    from helpers import real_image
    from restore import load_pipeline

    img = real_image(200, 300)
    pipe = load_pipeline(task, device="cpu")
    args = ()
    if task == "inpaint":
        hole = np.zeros(img.shape[:2], np.uint8)
        hole[40:70, 30:90] = 255
        hole[150:153, :] = 255  # a line across, to the border
        args = (hole,)
    elif task == "unwatermark":
        img = img.copy()
        img[60:90, 40:260] = (0.4 * img[60:90, 40:260] + 0.6 * 255).astype(np.uint8)  # a light bar, a mark
    new, ref = pipe(img, *args), _tensor_path(pipe, img, *args)
    assert new.shape == ref.shape and new.dtype == ref.dtype
    assert np.abs(new.astype(int) - ref.astype(int)).max() <= 1
    assert (new != ref).mean() < 1e-3
