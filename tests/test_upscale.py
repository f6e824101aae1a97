"""Super-resolution: networks, degradation, metric, pipeline (shapes, gray, alpha, 16-bit,
tiling, outscale), the CLI on Set5, the benchmark and the training loop (tiny runs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from restore.bench.upscale import bench_upscale, find_sr_pairs, format_table, sr_scores
from restore.io import read_image, write_image
from restore.metrics import high_frequency_ratio
from restore.ops.degrade import bicubic_down
from restore.zoo.archs.srresnet import SRGANDiscriminator, SRResNet

from helpers import SHARED_DATA, real_image, real_image_tensor, require_data
from test_cli import invoke, summary

SET5 = SHARED_DATA / "bench" / "sr" / "Set5"


@pytest.fixture(scope="module")
def pipe():
    from restore import load_pipeline
    return load_pipeline("upscale", "srresnet-x4", device="cpu")


def _set5_pair(index: int = 0) -> tuple[np.ndarray, np.ndarray]:
    _, hr, lr = find_sr_pairs(require_data(SET5))[index]
    return read_image(hr), read_image(lr)


# --- networks -----------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [2, 3, 4])
def test_srresnet_output_shape(scale):
    net = SRResNet(width=8, blocks=1, scale=scale).eval()
    with torch.no_grad():
        y = net(torch.rand(2, 3, 7, 5))
    assert y.shape == (2, 3, 7 * scale, 5 * scale) and y.dtype == torch.float32


def test_srresnet_rejects_other_scales():
    with pytest.raises(ValueError, match="scale"):
        SRResNet(scale=8)


def test_bicubic_skip_starts_close_to_bicubic():
    torch.manual_seed(0)
    net = SRResNet(width=8, blocks=2, scale=4, bicubic_skip=True, edge_kernel=3).eval()
    x = real_image_tensor(24, 32)
    with torch.no_grad():
        y = net(x)
    bic = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
    assert (y - bic).abs().mean() < 0.02


def test_discriminator_takes_any_patch_size_and_gives_features():
    d = SRGANDiscriminator(width=8).eval()
    for side in (32, 96, 50):
        logits, feats = d(torch.rand(3, 3, side, side), features=True)
        assert logits.shape == (3, 1) and len(feats) == 8
    assert feats[-1].shape[1] == 64  # 8 * width


# --- degradation and metric ---------------------------------------------------------------

def test_bicubic_down_reproduces_the_set5_low_resolution_inputs():
    hr, lr = _set5_pair(0)
    x = torch.from_numpy(hr).permute(2, 0, 1)[None].float() / 255
    y = (bicubic_down(x, 4).clamp(0, 1) * 255).round()[0].permute(1, 2, 0).numpy()
    rmse = np.sqrt(((y - lr.astype(np.float64)) ** 2).mean())
    assert y.shape == lr.shape and rmse < 1.0  # gray levels; MATLAB's border padding differs


def test_bicubic_down_checks_sizes():
    with pytest.raises(ValueError, match="multiples"):
        bicubic_down(torch.rand(1, 3, 10, 12), 4)


def test_high_frequency_ratio_ranks_blur_below_the_original():
    x = real_image_tensor(96, 96)
    blurred = F.interpolate(F.interpolate(x, scale_factor=0.25, mode="area"), scale_factor=4, mode="bicubic")
    assert torch.allclose(high_frequency_ratio(x, x), torch.ones(1))
    r = float(high_frequency_ratio(blurred.clamp(0, 1), x))
    assert 0 < r < 0.3
    noisy = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    assert float(high_frequency_ratio(noisy, x)) > 1.0


# --- pipeline -----------------------------------------------------------------------------

def test_pipeline_beats_bicubic_on_a_set5_image(pipe):
    hr, lr = _set5_pair(2)  # 256 x 256 butterfly... whichever is third, small
    sr = pipe(lr)
    assert sr.shape == hr.shape and sr.dtype == np.uint8
    import cv2
    bic = cv2.resize(lr, (lr.shape[1] * 4, lr.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
    assert sr_scores(hr, sr, 4)["psnr"] > sr_scores(hr, bic, 4)["psnr"] + 0.5


def test_gray_in_gray_out(pipe):
    gray = real_image(20, 24)[..., 1]
    out = pipe(gray)
    assert out.shape == (80, 96) and out.dtype == np.uint8
    out3 = pipe(real_image(20, 24)[..., 1:2])
    assert out3.shape == (80, 96, 1)


def test_alpha_is_upscaled_separately(pipe):
    rgb = real_image(16, 20)
    alpha = np.zeros((16, 20, 1), np.uint8)
    alpha[:, 10:] = 255
    out = pipe(np.concatenate([rgb, alpha], 2))
    assert out.shape == (64, 80, 4)
    a = out[..., 3].astype(int)
    assert (a[:, :36] == 0).all() and (a[:, 44:] == 255).all()  # bicubic edge stays at the edge
    # The color channels do not depend on alpha.
    assert np.array_equal(out[..., :3], pipe(rgb))


def test_uint16_and_float_stay_their_dtype(pipe):
    rgb = real_image(12, 12)
    out16 = pipe(rgb.astype(np.uint16) * 257)
    assert out16.dtype == np.uint16 and out16.shape == (48, 48, 3)
    outf = pipe(rgb.astype(np.float32) / 255)
    assert outf.dtype == np.float32 and 0 <= outf.min() and outf.max() <= 1
    assert np.abs(outf * 255 - out16 / 257).max() < 1.0


def test_outscale_resizes_the_model_output(pipe):
    rgb = real_image(20, 30)
    assert pipe(rgb, outscale=2).shape == (40, 60, 3)
    assert pipe(rgb, outscale=3.5).shape == (70, 105, 3)
    with pytest.raises(ValueError, match="outscale"):
        pipe(rgb, outscale=0)


def test_tiled_matches_untiled_within_1e3():
    from restore import load_pipeline
    x = real_image_tensor(96, 112)
    # fp32: bf16 (precision="auto" on a CPU with AMX) rounds differently in each tile
    whole = load_pipeline("upscale", "srresnet-x4", device="cpu", tile=0, precision="fp32")(x)
    tiled_pipe = load_pipeline("upscale", "srresnet-x4", device="cpu", tile=48, overlap=32, precision="fp32")
    tiled = tiled_pipe(x)
    assert tiled.shape == whole.shape == (1, 3, 384, 448)
    assert (tiled - whole).abs().max() < 1e-3


def test_both_zoo_models_sharpen_over_bicubic():
    from restore import load_pipeline
    hr, lr = _set5_pair(2)
    import cv2
    bic = cv2.resize(lr, (lr.shape[1] * 4, lr.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
    hf_bic = sr_scores(hr, bic, 4)["hf_ratio"]
    hf = {m: sr_scores(hr, load_pipeline("upscale", m, device="cpu")(lr), 4)["hf_ratio"]
          for m in ("srresnet-x4", "srgan-x4")}
    assert hf_bic < hf["srresnet-x4"] < hf["srgan-x4"]


# --- CLI ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def set5_lr(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("set5_lr")
    for _, _, lr in find_sr_pairs(require_data(SET5)):
        shutil.copy(lr, folder / lr.name)
    return folder


@pytest.mark.usefixtures("cached_pipelines")
def test_cli_upscales_set5_better_than_bicubic(set5_lr, tmp_path):
    import cv2
    # the model for clean bicubic-downsampled inputs (the default is for real photos)
    code, text = invoke("upscale", set5_lr, tmp_path / "out", "--model", "srresnet-x4", "--quiet")
    assert code == 0, text
    assert summary(text)[0] == (5, 0, 0)
    gains = []
    for name, hr_path, lr_path in find_sr_pairs(SET5):
        hr, lr = read_image(hr_path), read_image(lr_path)
        out = read_image(tmp_path / "out" / lr_path.name)
        assert out.shape == hr.shape and out.dtype == np.uint8
        bic = cv2.resize(lr, (lr.shape[1] * 4, lr.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
        gains.append(sr_scores(hr, out, 4)["psnr"] - sr_scores(hr, bic, 4)["psnr"])
    assert min(gains) > 0 and np.mean(gains) > 1.0


@pytest.mark.usefixtures("cached_pipelines")
def test_cli_scale_2_picks_the_x2_model_for_the_defaults_inputs_and_it_beats_bicubic(tmp_path):
    import cv2

    from restore.ops.degrade import bicubic_down_8bit as bicubic_lr
    from restore.zoo.registry import default_model, get_spec, model_for_scale
    assert get_spec(default_model("upscale")).settings.inputs == get_spec(model_for_scale("upscale", 2)).settings.inputs
    _, hr_path, _ = find_sr_pairs(require_data(SET5))[2]
    hr = read_image(hr_path)
    hr = hr[: hr.shape[0] // 2 * 2, : hr.shape[1] // 2 * 2]
    src = tmp_path / "in"
    write_image(src / "lr.png", bicubic_lr(hr, 2))
    code, text = invoke("upscale", src, tmp_path / "out", "--scale", "2", "--model", "srresnet-x2", "--quiet")
    assert code == 0, text
    out = read_image(tmp_path / "out" / "lr.png")
    assert out.shape == hr.shape
    lr = bicubic_lr(hr, 2)
    bic = cv2.resize(lr, (lr.shape[1] * 2, lr.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
    assert sr_scores(hr, out, 2)["psnr"] > sr_scores(hr, bic, 2)["psnr"] + 1.0
    code, text = invoke("upscale", src, tmp_path / "out2", "--scale", "2", "--model", "srresnet-x4", "--quiet")
    assert code == 2 and "x4" in text


@pytest.mark.usefixtures("cached_pipelines")
def test_cli_outscale_gray_alpha_and_a_corrupt_file(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "gray.png", real_image(16, 20)[..., :1])
    write_image(src / "rgba.png", np.dstack([real_image(16, 20), np.full((16, 20), 128, np.uint8)]))
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, text = invoke("upscale", src, tmp_path / "out", "--outscale", "2", "--model", "srgan-x4", "--quiet")
    assert code == 1
    counts, tail = summary(text)
    assert counts == (2, 0, 1) and "broken.png" in tail
    assert read_image(tmp_path / "out" / "gray.png").shape == (32, 40, 1)
    rgba = read_image(tmp_path / "out" / "rgba.png")
    assert rgba.shape == (32, 40, 4) and np.abs(rgba[..., 3].astype(int) - 128).max() <= 1


@pytest.mark.usefixtures("cached_pipelines")
def test_cli_usage_errors(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "a.png", real_image(8, 8))
    code, text = invoke("upscale", src, tmp_path / "out", "--scale", "3")
    assert code == 2 and "scale 3" in text
    code, text = invoke("upscale", src, tmp_path / "out", "--scale", "2", "--model", "srgan-x4")
    assert code == 2
    code, text = invoke("upscale", src, tmp_path / "out", "--outscale", "-1")
    assert code == 2 and "--outscale must be > 0" in text and not (tmp_path / "out").exists()


# --- benchmark ----------------------------------------------------------------------------

def test_bench_upscale_rows_and_table():
    kept: dict = {}
    rows = bench_upscale(require_data(SET5), models=["srresnet-x4"], device="cpu", limit=2, keep_outputs=kept)
    methods = [r["method"] for r in rows]
    assert methods == ["bicubic (OpenCV)", "lanczos (OpenCV)", "restore srresnet-x4"]
    by = {r["method"]: r for r in rows}
    assert by["restore srresnet-x4"]["psnr"] > by["bicubic (OpenCV)"]["psnr"]
    assert by["restore srresnet-x4"]["hf_ratio"] > by["bicubic (OpenCV)"]["hf_ratio"]
    assert all(r["images"] == 2 and r["s_per_mp"] > 0 for r in rows)
    table = format_table(rows, title="Set5")
    assert table.count("\n") == 6 and "| restore srresnet-x4 |" in table
    from restore.bench.pictures import upscale_grid
    pic = upscale_grid(kept, ["HR"] + methods, [(n, 0, 0, 32) for n in kept["HR"]], cell=64)
    assert pic.dtype == np.uint8 and pic.shape[1] == 4 * 64 + 3 * 4


def test_bench_cli_prints_the_table_and_writes_the_picture(tmp_path):
    code, text = invoke("bench", "upscale", "--data", require_data(SET5), "--limit", "1", "--model", "srresnet-x4",
                        "--baseline", "bicubic", "--picture", tmp_path / "cmp.png", "--device", "cpu", "--quiet")
    assert code == 0, text
    assert "| method | PSNR-Y (dB) | SSIM-Y | HF ratio | s/MP |" in text
    assert read_image(tmp_path / "cmp.png").shape[2] == 3


@pytest.mark.slow
def test_a_1000x800_image_upscales_x4_with_tiling():
    import resource

    from restore import load_pipeline
    rgb = np.ascontiguousarray(np.tile(real_image(200, 250), (4, 4, 1)))
    assert rgb.shape == (800, 1000, 3)
    out = load_pipeline("upscale", "srresnet-x4", device="cpu")(rgb)
    assert out.shape == (3200, 4000, 3)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    assert peak_gib < 8


def test_detail_crop_finds_the_textured_region():
    from restore.bench.pictures import detail_crop
    img = np.full((160, 200, 3), 120, np.uint8)
    rng = np.random.default_rng(0)
    img[64:128, 112:176] = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    y, x, side = detail_crop(img, side=64, stride=16)
    assert (y, x, side) == (64, 112, 64)
