"""Tests of the benchmark runner (timing protocol, rows, table formatter, per-folder driver),
record_bench, the denoise baselines, and every task's bench on two small real images."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest
from helpers import SHARED_DATA, real_image, require_data

import restore
from restore.bench.denoise import (bench_denoise, bench_denoise_real, bm3d_denoise, find_real_pairs,
                                   format_table, nlm_denoise)
from restore.bench.runner import Column, LazyCases, Method, first_model_label, format_table as runner_table
from restore.bench.runner import over_folders, run_methods
from restore.io import read_image, write_image
from restore.metrics import psnr

DATA = SHARED_DATA


def _synthetic(seed: int, size: int = 48, channels: int = 3) -> np.ndarray:
    """A smooth uint8 test image: gradients plus a few flat rectangles."""
    rng = np.random.RandomState(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.stack([0.2 + 0.6 * xx, 0.8 - 0.5 * yy, 0.3 + 0.4 * xx * yy], -1)[:, :, :channels]
    for _ in range(3):
        y, x = rng.randint(0, size - 12, 2)
        img[y:y + 12, x:x + 12] = rng.uniform(0.1, 0.9, channels)
    return (img * 255 + 0.5).astype(np.uint8)


@pytest.fixture
def folder(tmp_path):
    for i in range(2):
        write_image(tmp_path / f"img{i}.png", _synthetic(i))
    return tmp_path


@pytest.fixture
def real_folder(tmp_path):
    """Two 96 x 128 crops of CBSD68 images."""
    data = tmp_path / "real"
    for i in range(2):
        write_image(data / f"c{i}.png", real_image(96, 128, index=20 + i))
    return data


# --- the runner -----------------------------------------------------------------------------------

class _Sleeper:
    """A fake method: the first call (the warm-up) sleeps ``warmup`` s, every later call
    ``each`` s; records the case names it is called on."""

    def __init__(self, warmup: float, each: float):
        self.warmup, self.each, self.calls = warmup, each, []

    def __call__(self, case: dict) -> float:
        time.sleep(self.warmup if not self.calls else self.each)
        self.calls.append(case["name"])
        return case["value"]


def _cases(n: int = 3, mp: float = 0.5) -> list[dict]:
    return [dict(name=f"c{i}", mp=mp, value=float(i)) for i in range(n)]


def test_runner_times_only_the_timed_calls():
    fake = _Sleeper(warmup=0.5, each=0.05)
    (row,) = run_methods([Method("fake", fake, model="fake-s")], _cases(3, mp=0.5),
                         lambda case, out: {"err": abs(out - case["value"])})
    assert fake.calls == ["c0", "c0", "c1", "c2"]           # one warm-up call on the first case, then each case
    assert 0.15 <= row["seconds"] < 0.5                      # 3 x 0.05 s; the 0.5 s warm-up not counted
    assert row["s_per_mp"] == pytest.approx(row["seconds"] / 1.5)
    assert row["model"] == "fake-s" and row["images"] == 3 and row["err"] == 0.0


def test_runner_untimed_rows_and_lazy_cases():
    def slow_to_build(i: int) -> dict:                       # building a case takes 0.3 s, outside the timing
        time.sleep(0.3)
        return dict(name=f"c{i}", mp=1.0, value=float(i))

    calls = []
    methods = [Method("input", lambda c: calls.append(c["name"]) or c["value"], timed=False),
               Method("fast", lambda c: c["value"] + 1)]
    kept: dict = {}
    lines: list[str] = []
    rows = run_methods(methods, LazyCases(range(2), slow_to_build), lambda case, out: {"out": out}, keep_outputs=kept,
                       progress=lines.append)
    assert calls == ["c0", "c1"]                             # no warm-up for an untimed row
    assert rows[0]["seconds"] is None and rows[0]["s_per_mp"] is None and rows[0]["model"] is None
    assert rows[1]["seconds"] < 0.1 and rows[1]["out"] == pytest.approx(1.5)
    assert kept == {"input": {"c0": 0.0, "c1": 1.0}, "fast": {"c0": 1.0, "c1": 2.0}}
    assert len(lines) == 2 and lines[1].startswith("fast: out 1.5")


def test_runner_means_skip_nan_and_missing_figures():
    scores = iter([{"a": 1.0, "b": np.nan}, {"a": 3.0, "b": 2.0}])
    (row,) = run_methods([Method("m", lambda c: None, timed=False)], _cases(2), lambda case, out: next(scores))
    assert row["a"] == 2.0 and row["b"] == 2.0
    with pytest.raises(ValueError, match="no cases"):
        run_methods([Method("m", lambda c: None)], [], lambda case, out: {})


def test_format_table_prints_the_declared_columns():
    rows = [dict(method="input", psnr=20.1734, ssim=0.41234, s_per_mp=None, extra=1),
            dict(method="ours", psnr=float("inf"), ssim=0.9, s_per_mp=201.456, extra=2)]
    columns = (Column("PSNR (dB)", "psnr"), Column("SSIM", "ssim", ".4f"),
               Column("twice", "extra", lambda r: f"{2 * r['extra']}x"), Column("s/MP", "s_per_mp", ".3f"))
    lines = runner_table(rows, columns, title="Set, sigma 25").splitlines()
    assert lines[:2] == ["Set, sigma 25", ""]
    assert lines[2:] == ["| method | PSNR (dB) | SSIM | twice | s/MP |", "|---|---:|---:|---:|---:|",
                         "| input | 20.17 | 0.4123 | 2x | - |", "| ours | - | 0.9000 | 4x | 201.456 |"]
    assert runner_table(rows, columns[:1]).splitlines()[0] == "| method | PSNR (dB) |"


def test_first_model_label():
    rows = [dict(method="bicubic", model=None), dict(method="restore a (x)", model="a"), dict(method="b", model="b")]
    assert first_model_label(rows) == "restore a (x)"
    with pytest.raises(ValueError, match="zoo model"):
        first_model_label(rows[:1])


def test_over_folders_writes_the_first_folders_picture_and_records(tmp_path, monkeypatch):
    recorded = []
    monkeypatch.setattr("restore.zoo.manifest.record_bench",
                        lambda rows, key, limit=None: recorded.append((key, limit)) or ["m"])
    seen = []

    def run(folder, outputs):
        seen.append((folder.name, outputs is not None))
        if outputs is not None:
            outputs["x"] = np.zeros((4, 4, 3), np.uint8)
        return [dict(method="m", model="m")]

    reports = list(over_folders([tmp_path / "a", tmp_path / "b"], run, text=lambda f, rows: f"table {f.name}",
                                key=lambda f, rows: f"{f.name} k", picture=tmp_path / "p.png",
                                draw=lambda outputs, rows: outputs["x"], record_figures=True, limit=None))
    assert seen == [("a", True), ("b", False)]
    assert [r.text for r in reports] == ["table a", "table b"]
    assert reports[0].wrote == [tmp_path / "p.png"] and reports[1].wrote == []
    assert read_image(tmp_path / "p.png").shape == (4, 4, 3)
    assert recorded == [("a k", None), ("b k", None)] and reports[0].recorded == ["m"]


# --- record_bench ---------------------------------------------------------------------------------

def test_record_bench_reads_the_model_from_the_row(tmp_path, monkeypatch):
    from restore.zoo import manifest as zoo_manifest
    from restore.zoo.paths import MANIFEST

    (tmp_path / MANIFEST).write_text(json.dumps({"dae-s": {"file": "dae-s.safetensors"},
                                                          "srgan-x4": {"file": "srgan-x4.safetensors"}}))
    monkeypatch.setenv("RESTORE_WEIGHTS", str(tmp_path))
    rows = [dict(method="restore dae-s", model=None, psnr=20.0, ssim=0.5, s_per_mp=None, images=2),   # a baseline
            dict(method="any label (not parsed)", model="dae-s", psnr=30.123, ssim=0.87654, frmse=12.34567,
                 iou=None, s_per_mp=1.2345, images=2),
            dict(method="restore dae-s (variant)", model="dae-s", psnr=1.0, ssim=0.1, s_per_mp=9.0, images=2),
            dict(method="restore unknown", model="not-in-manifest", psnr=1.0, ssim=0.1, s_per_mp=1.0, images=2)]
    assert zoo_manifest.record_bench(rows, "CBSD68 sigma25", limit=3) == []       # partial runs are not recorded
    assert "bench" not in json.loads((tmp_path / MANIFEST).read_text())["dae-s"]
    assert zoo_manifest.record_bench(rows, "CBSD68 sigma25") == ["dae-s"]
    written = json.loads((tmp_path / MANIFEST).read_text())
    assert written["dae-s"]["bench"] == {"CBSD68 sigma25": dict(psnr=30.12, ssim=0.8765, frmse=12.346, s_per_mp=1.23,
                                                                images=2)}
    assert "bench" not in written["srgan-x4"]


# --- denoise baselines and protocol ---------------------------------------------------------------------

def test_nlm_raises_psnr_on_real_crop():
    clean = real_image(64, 64).astype(np.float64) / 255
    rng = np.random.RandomState(0)
    for img in (clean, clean.mean(axis=2, keepdims=True)):
        noisy = img + rng.standard_normal(img.shape) * 25 / 255
        out = nlm_denoise(noisy, 25)
        assert out.shape == img.shape and out.dtype == np.float32
        assert 0 <= out.min() and out.max() <= 1
        assert psnr(img, out) > psnr(img, np.clip(noisy, 0, 1)) + 2


def test_nlm_rejects_bad_input():
    with pytest.raises(ValueError):
        nlm_denoise(np.zeros((8, 8)), 25)
    with pytest.raises(ValueError):
        nlm_denoise(np.zeros((8, 8, 3), np.uint8), 25)
    with pytest.raises(ValueError):
        nlm_denoise(np.zeros((8, 8, 3)), -1)


def test_bm3d_missing_package_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "bm3d", None)  # makes `import bm3d` fail
    with pytest.raises(ImportError, match=r"pip install -e \.\[bench\]"):
        bm3d_denoise(np.zeros((8, 8, 3)), 25)


def test_bench_denoise_baseline_rows(folder):
    rows = bench_denoise(folder, sigma=25, models=[], baselines=("noisy", "nlm"))
    assert [r["method"] for r in rows] == ["noisy input", "OpenCV NLM"]
    noisy, nlm = rows
    assert all(r["images"] == 2 and r["model"] is None for r in rows)
    assert nlm["psnr"] > noisy["psnr"] and nlm["ssim"] > noisy["ssim"]
    assert noisy["s_per_mp"] is None and nlm["s_per_mp"] > 0


def test_bench_denoise_noise_protocol(folder):
    """Noise = np.random.seed(0), then randn image after image in sorted order, unclipped."""
    np.random.seed(0)
    expected = []
    for name in ("img0.png", "img1.png"):
        clean = read_image(folder / name) / 255.0
        noisy = clean + np.random.randn(*clean.shape) * 15 / 255
        expected.append(psnr(clean, np.clip(noisy, 0, 1)))
    (row,) = bench_denoise(folder, sigma=15, models=[], baselines=("noisy",))
    assert row["psnr"] == pytest.approx(np.mean(expected), abs=1e-9)
    (first,) = bench_denoise(folder, sigma=15, models=[], baselines=("noisy",), limit=1)
    assert first["images"] == 1 and first["psnr"] == pytest.approx(expected[0], abs=1e-9)


def test_bench_denoise_model_row_carries_the_model(folder, monkeypatch):
    loads, calls = [], []

    def fake_load_pipeline(task, model=None, device="auto"):
        loads.append((task, model, device))

        def pipe(image, sigma):
            assert image.dtype == np.float32 and image.shape[2] == 3 and sigma == 25.0
            assert image.min() < 0 or image.max() > 1  # the noisy input is not clipped
            calls.append(image.shape)
            return np.clip(image, 0, 1)
        return pipe

    monkeypatch.setattr(restore, "load_pipeline", fake_load_pipeline, raising=False)
    rows = bench_denoise(folder, sigma=25, models=["fake"], device="cpu", baselines=("noisy",))
    assert loads == [("denoise", "fake", "cpu")] and len(calls) == 3   # loaded once; a warm-up, then 2 images
    assert [(r["method"], r["model"]) for r in rows] == [("noisy input", None), ("restore fake", "fake")]
    assert rows[1]["psnr"] == pytest.approx(rows[0]["psnr"])


def test_bench_denoise_gray_and_errors(tmp_path):
    write_image(tmp_path / "g.png", _synthetic(3, channels=1))
    rows = bench_denoise(tmp_path, sigma=25, models=[], baselines=("noisy", "nlm"))
    assert rows[1]["psnr"] > rows[0]["psnr"]
    with pytest.raises(ValueError):
        bench_denoise(tmp_path, sigma=0, models=[], baselines=("noisy",))
    with pytest.raises(ValueError, match="unknown baseline"):
        bench_denoise(tmp_path, sigma=25, models=[], baselines=("wiener",))


def test_find_real_pairs(tmp_path):
    for name in ("b_7_real.JPG", "b_7_mean.JPG", "a_real.jpg", "a_mean.JPG", "notes.txt"):
        (tmp_path / name).touch()
    pairs = find_real_pairs(tmp_path)
    assert [(n.name, c.name) for n, c in pairs] == [("a_real.jpg", "a_mean.JPG"),
                                                    ("b_7_real.JPG", "b_7_mean.JPG")]
    (tmp_path / "c_real.JPG").touch()
    with pytest.raises(ValueError, match="without a partner: c"):
        find_real_pairs(tmp_path)


def test_bench_denoise_real(tmp_path):
    rng = np.random.RandomState(1)
    clean = _synthetic(5)
    noisy = np.clip(clean + rng.standard_normal(clean.shape) * 20, 0, 255).astype(np.uint8)
    write_image(tmp_path / "x_mean.png", clean)
    write_image(tmp_path / "x_real.png", noisy)
    rows = bench_denoise_real(tmp_path, models=[], baselines=("noisy", "nlm"))
    assert [r["method"] for r in rows] == ["noisy input", "OpenCV NLM"]
    assert rows[1]["psnr"] > rows[0]["psnr"]


def test_denoise_format_table():
    rows = [dict(method="noisy input", psnr=20.1734, ssim=0.41234, s_per_mp=None),
            dict(method="CBM3D", psnr=30.5, ssim=0.9, s_per_mp=201.456)]
    table = [ln for ln in format_table(rows, title="CBSD68, sigma 25").splitlines() if ln.startswith("|")]
    assert table == ["| method | PSNR (dB) | SSIM | s/MP |", "|---|---:|---:|---:|",
                     "| noisy input | 20.17 | 0.4123 | - |", "| CBM3D | 30.50 | 0.9000 | 201.46 |"]


# --- every task's bench on two small real images -----------------------------------------------------

def test_denoise_reports_with_the_cold_start_table(real_folder):
    from restore.bench.denoise import reports
    (report,) = reports(real_folder, sigmas=[25], files=True, models=["dae-s"], device="cpu", baselines=("noisy",))
    by = {r["method"]: r for r in report.rows}
    assert list(by) == ["noisy input", "restore dae-s"] and by["restore dae-s"]["model"] == "dae-s"
    assert by["restore dae-s"]["psnr"] > by["noisy input"]["psnr"] + 4 and by["restore dae-s"]["s_per_mp"] > 0
    warm, cold = report.text.split("\n\n", 2)[1], report.text.split("\n\n")[-1]
    assert "| restore dae-s |" in warm and "| restore dae-s (8-bit PNG, folder run, cold start) |" in cold
    assert report.recorded == [] and report.wrote == []


def test_upscale_reports_and_picture(tmp_path):
    from restore.bench.upscale import reports
    set5 = require_data(DATA / "bench" / "sr" / "Set5")
    (report,) = reports([set5], models=["srresnet-x4"], device="cpu", baselines=("bicubic",), limit=2,
                        picture=tmp_path / "sr.png")
    bicubic, ours = report.rows
    assert (bicubic["model"], ours["model"], ours["scale"]) == (None, "srresnet-x4", 4)
    assert ours["psnr"] > bicubic["psnr"] + 1 and ours["hf_ratio"] > bicubic["hf_ratio"]
    assert report.text.startswith("Set5, x4, given LR inputs") and "| HF ratio |" in report.text
    assert report.wrote == [tmp_path / "sr.png"] and read_image(tmp_path / "sr.png").shape[1] == 3 * 192 + 2 * 4


def test_unwatermark_bench_beats_the_input(real_folder):
    from restore.bench.unwatermark import bench_unwatermark
    logos = [require_data(DATA / "train" / "logos"), DATA / "train" / "watermarks-real"]
    rows = bench_unwatermark(real_folder, logos=[str(p) for p in logos], device="cpu")
    by = {r["method"]: r for r in rows}
    inp, telea, ours = by["watermarked input"], by["true mask + Telea (OpenCV)"], by["restore unwatermark-s"]
    assert inp["iou"] is None and inp["s_per_mp"] is None and telea["iou"] == 1.0
    assert ours["psnr"] > inp["psnr"] and ours["frmse"] < inp["frmse"] and 0 < ours["iou"] <= 1
    ran = [r["model"] for r in rows if r["method"].startswith("restore ")]
    assert set(ran) == {"unwatermark-s", "unwatermark-jpeg-s"} and ran[0] == "unwatermark-s"   # every model, default first
    assert 0 < ours["rmse"] < inp["rmse"]


def test_colorize_bench_adds_color(real_folder):
    from restore.bench.colorize import bench_colorize
    rows = bench_colorize(real_folder, device="cpu", variants=False)
    gray, ours, other, original = rows
    assert [r["model"] for r in rows] == [None, "colorize-hints-s", "colorize-s", None]   # the default first
    assert gray["cf_ratio"] < 0.01 < 0.2 < ours["cf_ratio"] and original["cf_ratio"] == 1.0
    assert ours["psnr"] > 10 and ours["s_per_mp"] > 0 and gray["s_per_mp"] is None


def test_inpaint_bench_beats_telea_in_the_hole(tmp_path):
    import cv2

    from restore.bench.inpaint import bench_inpaint
    from restore.ops.degrade import is_held_out
    faces = sorted(p for p in require_data(DATA / "train" / "faces").iterdir() if is_held_out(p.name, "image"))
    data = tmp_path / "faces"
    for k in range(2):
        write_image(data / f"f{k}.png", cv2.resize(read_image(faces[k]), (64, 64), interpolation=cv2.INTER_AREA))
    rows = bench_inpaint(data, mask_kind="center", models=["gan-faces-64"], device="cpu", baselines=("telea",),
                         inits=("encoder",))
    telea, ours = rows
    assert ours["model"] == "gan-faces-64" and ours["method"] == "restore gan-faces-64 (encoder z)"
    assert ours["hole_psnr"] > telea["hole_psnr"] and ours["s_per_image"] == pytest.approx(ours["seconds"] / 2)


def test_cli_bench_denoise_prints_the_table(folder):
    from test_cli import invoke
    code, text = invoke("bench", "denoise", "--data", folder, "--baseline", "noisy", "--baseline", "nlm",
                        "--model", "dae-s", "--device", "cpu", "--quiet")
    assert code == 0, text
    assert "| method | PSNR (dB) | SSIM | s/MP |" in text and "| restore dae-s |" in text
    code, text = invoke("bench", "denoise", "--data", folder, "--baseline", "wiener")
    assert code == 2 and "unknown baseline" in text


def test_jpeg_and_clean_cases(tmp_path):
    from restore.bench.denoise import clean_cases, jpeg_cases
    write_image(tmp_path / "a.png", real_image(64, 80))
    write_image(tmp_path / "g.png", real_image(64, 80)[:, :, 0])
    q10 = {c["name"]: c for c in jpeg_cases(tmp_path, quality=10)}
    q90 = {c["name"]: c for c in jpeg_cases(tmp_path, quality=90)}
    for name in ("a.png", "g.png"):
        assert q10[name]["noisy"].shape == q10[name]["clean"].shape
        err10 = np.abs(q10[name]["noisy"] - q10[name]["clean"]).mean()
        err90 = np.abs(q90[name]["noisy"] - q90[name]["clean"]).mean()
        assert err10 > 2 * err90 > 0
    for case in clean_cases(tmp_path):
        assert case["noisy"] is case["clean"]
    with pytest.raises(ValueError, match="quality"):
        jpeg_cases(tmp_path, quality=0)


def test_bench_denoise_jpeg_and_clean_rows(tmp_path):
    from restore.bench.denoise import bench_denoise_clean, bench_denoise_jpeg, jpeg_cases
    write_image(tmp_path / "a.png", real_image(64, 64))
    rows = bench_denoise_jpeg(tmp_path, quality=20, models=["dae-s"], device="cpu")
    assert [r["method"] for r in rows] == ["JPEG input", "restore dae-s (sigma auto)"]
    case = jpeg_cases(tmp_path, quality=20)[0]
    assert rows[0]["psnr"] == pytest.approx(psnr(case["clean"], case["noisy"]), abs=1e-6)
    clean = bench_denoise_clean(tmp_path, models=["dae-s"], device="cpu")
    assert [r["method"] for r in clean] == ["restore dae-s (sigma auto)"] and 25 < clean[0]["psnr"] < 100
