"""Fast tests of restore.bench.denoise (BM3D itself is too slow to run here)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import restore
from restore.bench.denoise import (bench_denoise, bench_denoise_real, bm3d_denoise,
                                   find_real_pairs, format_table, nlm_denoise)
from restore.io import read_image, write_image
from restore.metrics import psnr

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
KEYS = {"method", "psnr", "ssim", "s_per_mp", "images"}


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


def test_nlm_raises_psnr_on_real_crop():
    path = DATA / "bench" / "denoise" / "CBSD68"
    if not path.is_dir():
        pytest.skip(f"benchmark data not found at {path} (see ../shared/data/README.md)")
    clean = read_image(sorted(path.glob("*.png"))[0])[100:164, 100:164].astype(np.float64) / 255
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


def test_bench_denoise_rows(folder):
    lines = []
    rows = bench_denoise(folder, sigma=25, models=[], baselines=("noisy", "nlm"),
                         progress=lines.append)
    assert [r["method"] for r in rows] == ["noisy input", "OpenCV NLM"]
    assert all(set(r) == KEYS and r["images"] == 2 for r in rows)
    noisy, nlm = rows
    assert nlm["psnr"] > noisy["psnr"] and nlm["ssim"] > noisy["ssim"]
    assert noisy["s_per_mp"] == 0 and nlm["s_per_mp"] > 0
    assert len(lines) == 2


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


def test_bench_denoise_model_row(folder, monkeypatch):
    calls = []

    def fake_load_pipeline(task, model=None, device="auto"):
        calls.append((task, model, device))

        def pipe(image, sigma):
            assert image.dtype == np.float32 and image.shape[2] == 3 and sigma == 25.0
            assert image.min() < 0 or image.max() > 1  # the noisy input is not clipped
            return np.clip(image, 0, 1)
        return pipe

    monkeypatch.setattr(restore, "load_pipeline", fake_load_pipeline, raising=False)
    rows = bench_denoise(folder, sigma=25, models=["fake"], device="cpu", baselines=("noisy",))
    assert calls == [("denoise", "fake", "cpu")]  # loaded once per run
    assert [r["method"] for r in rows] == ["noisy input", "restore fake"]
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


def test_format_table():
    rows = [dict(method="noisy input", psnr=20.1734, ssim=0.41234, s_per_mp=0.0, images=2),
            dict(method="CBM3D", psnr=30.5, ssim=0.9, s_per_mp=201.456, images=2)]
    text = format_table(rows, title="CBSD68, sigma 25")
    lines = text.splitlines()
    assert lines[0] == "CBSD68, sigma 25"
    table = [ln for ln in lines if ln.startswith("|")]
    assert table[0] == "| method | PSNR (dB) | SSIM | s/MP |"
    assert len(table) == 2 + len(rows)
    assert table[2] == "| noisy input | 20.17 | 0.4123 | 0.00 |"
    assert table[3] == "| CBM3D | 30.50 | 0.9000 | 201.46 |"
    assert format_table(rows).splitlines()[0].startswith("| method")


def test_bench_denoise_files_real_model(tmp_path):
    """The user's path (8-bit PNG files, folder run) with the shipped default model."""
    from helpers import real_image

    from restore.bench.denoise import bench_denoise_files
    for i in range(2):
        write_image(tmp_path / f"c{i}.png", real_image(48, 64, index=i))
    rows = bench_denoise_files(tmp_path, sigma=25, models=["dae-s"], device="cpu")
    assert [r["method"] for r in rows] == ["noisy input (8-bit PNG)", "restore dae-s (8-bit PNG, folder run)"]
    assert rows[1]["psnr"] > rows[0]["psnr"] + 4 and rows[1]["s_per_mp"] > 0
    assert all(r["images"] == 2 for r in rows)
