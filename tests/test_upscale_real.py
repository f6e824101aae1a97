"""Real-world super-resolution around the models: realistic LR inputs for
``restore train upscale --degradation``, the realistic upscale bench, and ``--strength``
(network interpolation between a PSNR model and its GAN fine-tune)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from restore.io import write_image
from restore.ops.degrade import BSRGAN_X4, REALESRGAN_X2, REALESRGAN_X4, sr_preset
from restore.zoo import get_spec, load_model
from restore.zoo.registry import sha256_file

from helpers import real_image

QUIET = dict(device="cpu", log=lambda s: None)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Three real photos of 256 px and more (the validation crop), one held out with n_val=1."""
    d = tmp_path_factory.mktemp("photos")
    for i in range(3):
        write_image(d / f"p{i}.png", real_image(256, 256 + 24 * i, index=20 + i))
    return d


# --- training inputs ------------------------------------------------------------------------

def test_sr_preset_picks_the_model_scale_and_refuses_missing_pairs():
    assert sr_preset("realesrgan", 4) is REALESRGAN_X4 and sr_preset("realesrgan", 2) is REALESRGAN_X2
    assert sr_preset("bsrgan", 4) is BSRGAN_X4
    with pytest.raises(ValueError, match="bsrgan .*x2"):
        sr_preset("bsrgan", 2)


def test_realistic_batches_are_seeded_per_step_and_degrade_the_hr_crop():
    from restore.train.upscale import degraded_crops
    images = [real_image(128, 160, index=k) for k in (3, 4)]
    a = degraded_crops(images, 3, 12, 4, REALESRGAN_X4, np.random.default_rng([0, 5]))
    b = degraded_crops(images, 3, 12, 4, REALESRGAN_X4, np.random.default_rng([0, 5]))
    c = degraded_crops(images, 3, 12, 4, BSRGAN_X4, np.random.default_rng([0, 6]))
    assert a[0].shape == (3, 3, 48, 48) and a[1].shape == (3, 3, 12, 12) and a[1].dtype == torch.float32
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[1], c[1])
    assert torch.equal(a[1], (a[1] * 255).round() / 255)                    # 8-bit levels, as a file
    # the LR is a degraded version of its HR crop: closer to its own crop's downsampling than to another's
    down = torch.nn.functional.avg_pool2d(a[0], 4)
    err = (down[:, None] - a[1][None]).abs().mean((2, 3, 4))
    assert torch.equal(err.argmin(0), torch.arange(3))


@pytest.mark.parametrize("degradation", ["realesrgan", "bsrgan"])
def test_tiny_realistic_run_loads_into_the_spec_and_validates_on_a_fixed_set(degradation, photos, tmp_path):
    from restore.train.upscale import train_upscale
    out = tmp_path / "real.safetensors"
    side = train_upscale(data=photos, out=out, steps=2, val_every=2, batch=2, patch=8, n_val=1,
                         degradation=degradation, **QUIET)
    assert side["degradation"] == degradation and side["degradation_model"].startswith(degradation)
    assert len(side["validation"]["images"]) == 1
    assert 10 < side["validation"]["psnr_y"] < 40
    spec = dataclasses.replace(get_spec("srresnet-x4"), weights=str(out.resolve()), sha256=sha256_file(out))
    load_model(spec, device="cpu")


def test_realistic_validation_set_is_fixed_and_bicubic_batches_are_todays(photos):
    from restore.train.data import load_folder
    from restore.train.upscale import degraded_val, make_pairs, random_pair_crops, UpscaleConfig, UpscaleRecipe
    crops = [im[:64, :64] for im in load_folder(photos, min_side=64)[0]]
    h1, l1 = degraded_val(crops, REALESRGAN_X4, seed=0)
    h2, l2 = degraded_val(crops, REALESRGAN_X4, seed=0)
    assert torch.equal(l1, l2) and l1.shape == (3, 3, 16, 16) and not torch.equal(l1, degraded_val(crops, REALESRGAN_X4, 1)[1])
    # bicubic: the batch of a step is exactly the pair sampler's, as before --degradation existed
    config = UpscaleConfig(data=(str(photos),), out="unused.safetensors", batch=2, patch=8, n_val=1, device="cpu")
    config.check()
    recipe = UpscaleRecipe(config, get_spec("srresnet-x4"), torch.device("cpu"), lambda s: None)
    recipe.load_data()
    recipe.start(0)
    got = recipe.batch(1)
    images, names = load_folder(photos, min_side=96)
    pairs = make_pairs([im for im, n in zip(images, names) if f"{photos.name}/{n}" not in recipe.val_names], 4)
    assert len(pairs) == 2
    want = random_pair_crops(pairs, 2, 8, 4, np.random.default_rng(0))
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


def test_unknown_degradation_is_refused(photos, tmp_path):
    from restore.train.upscale import train_upscale
    with pytest.raises(ValueError, match="degradation must be one of"):
        train_upscale(data=photos, out=tmp_path / "x.safetensors", degradation="jpeg", **QUIET)


# --- the realistic bench ----------------------------------------------------------------------

def test_blockiness_rises_with_jpeg_compression_and_survives_upscaling():
    import cv2
    from restore.metrics import blockiness
    from restore.ops.degrade import jpeg_roundtrip
    img = real_image(128, 128, index=3)
    scores = [blockiness(jpeg_roundtrip(img, q)) for q in (95, 40, 10)]
    assert abs(blockiness(img) - 1) < 0.1 and scores[0] < scores[1] < scores[2] and scores[2] > 1.5
    big = cv2.resize(jpeg_roundtrip(img, 10), (512, 512), interpolation=cv2.INTER_CUBIC)
    assert blockiness(big, 4) > 1.5 and abs(blockiness(cv2.resize(img, (512, 512)), 4) - 1) < 0.1
    assert np.isnan(blockiness(img[:8, :8]))


def test_realistic_cases_are_reproducible_and_cached(tmp_path):
    from restore.bench.upscale import realistic_cases
    data = tmp_path / "Photos"
    for i in range(2):
        write_image(data / f"im{i}.png", real_image(66, 90, index=i))
    a = realistic_cases(data, 4)
    b = realistic_cases(data, 4, cache=tmp_path / "cache")
    c = realistic_cases(data, 4, cache=tmp_path / "cache")            # read back from the files
    assert [x["lr"].shape for x in a] == [(16, 22, 3)] * 2 and a[0]["hr"].shape == (64, 88, 3)
    for x, y, z in zip(a, b, c):
        assert np.array_equal(x["lr"], y["lr"]) and np.array_equal(x["lr"], z["lr"])
    assert len(list((tmp_path / "cache").glob("Photos_realistic_x4_seed0_*/*.png"))) == 2
    assert not np.array_equal(a[0]["lr"], realistic_cases(data, 4, seed=1)[0]["lr"])
    assert realistic_cases(data, 2)[0]["lr"].shape == (33, 45, 3)
    # a file's LR does not depend on which other files are in the folder
    assert np.array_equal(realistic_cases(data, 4, limit=1)[0]["lr"], a[0]["lr"])


def test_realistic_bench_rows_and_table(tmp_path):
    from restore.bench.upscale import bench_upscale, format_table
    data = tmp_path / "Photos"
    for i in range(2):
        write_image(data / f"im{i}.png", real_image(48, 48, index=i))
    rows = bench_upscale(data, models=["srresnet-x4"], device="cpu", realistic=True, scale=4)
    assert [r["method"] for r in rows] == ["bicubic (OpenCV)", "lanczos (OpenCV)", "restore srresnet-x4"]
    assert all(r["blockiness"] > 0.5 and r["images"] == 2 and r["scale"] == 4 for r in rows)
    table = format_table(rows)
    assert "| blockiness |" in table.splitlines()[0] and len(table.splitlines()) == 5
    with pytest.raises(ValueError, match="x4"):
        bench_upscale(data, models=["srresnet-x4"], device="cpu", realistic=True, scale=2)


# --- strength -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pipes():
    from restore.pipelines.upscale import UpscalePipeline
    return {m: UpscalePipeline.from_pretrained(m, device="cpu", precision="fp32") for m in ("srresnet-x4", "srgan-x4")}


def _bicubic_lr(hr: np.ndarray) -> np.ndarray:
    from restore.ops.degrade import bicubic_down_8bit
    return bicubic_down_8bit(hr, 4)


def test_strength_ends_are_the_two_models_bit_exact_and_psnr_falls_with_strength(pipes):
    from restore.metrics import psnr
    gan, psnr_model = pipes["srgan-x4"], pipes["srresnet-x4"]
    scores = []
    for index in (0, 1):          # the mean of two images: on one image 0.25-0.5 can be ~0.01 dB above 0
        hr = real_image(128, 128, index=index)
        lr = _bicubic_lr(hr)
        default, ref_gan, ref_psnr = gan(lr), gan(lr, strength=1.0), psnr_model(lr)
        outs = {s: gan(lr, strength=s) for s in (0.0, 0.5, 1.0)}
        assert np.array_equal(outs[0.0], ref_psnr) and np.array_equal(outs[1.0], ref_gan)
        assert np.array_equal(default, ref_gan) and np.array_equal(gan(lr), ref_gan)  # the default after others
        assert not np.array_equal(outs[0.5], outs[0.0]) and not np.array_equal(outs[0.5], outs[1.0])
        scores.append([psnr(hr / 255, outs[s] / 255, crop_border=4, y_channel=True) for s in (0.0, 0.5, 1.0)])
    mean = np.mean(scores, axis=0)
    assert mean[0] > mean[1] > mean[2], scores


def test_strength_is_checked_and_refused_without_a_partner(pipes):
    from restore.pipelines.base import OptionError
    img = real_image(16, 16)
    with pytest.raises(OptionError, match="srresnet-x4 has no PSNR partner.*srgan-x4"):
        pipes["srresnet-x4"](img, strength=0.5)
    assert pipes["srresnet-x4"].resolve_options(strength=0)["strength"] == 0.0
    with pytest.raises(OptionError, match=r"\[0, 1\]"):
        pipes["srgan-x4"](img, strength=1.5)
    assert pipes["srgan-x4"].resolve_options()["strength"] == 1.0


def test_interpolation_is_linear_in_the_weights():
    from restore.pipelines.upscale import interpolate_state
    a, b = {"w": torch.zeros(3), "n": torch.tensor(1)}, {"w": torch.ones(3) * 2, "n": torch.tensor(7)}
    mid = interpolate_state(a, b, 0.25)
    assert torch.allclose(mid["w"], torch.full((3,), 0.5)) and mid["n"] == 7
    assert interpolate_state(a, b, 0)["w"] is a["w"] and interpolate_state(a, b, 1)["w"] is b["w"]
    with pytest.raises(ValueError, match="architecture"):
        interpolate_state(a, {"w": torch.ones(4), "n": torch.tensor(1)}, 0.5)


def test_cli_upscale_strength(tmp_path):
    from typer.testing import CliRunner
    import cli
    write_image(tmp_path / "in" / "a.png", real_image(24, 24, index=2))
    run = lambda *a: CliRunner().invoke(cli.app, [str(x) for x in a])  # noqa: E731
    ok = run("upscale", tmp_path / "in", tmp_path / "out", "--model", "srgan-x4", "--strength", "0.5", "--quiet",
             "--device", "cpu")
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "out" / "a.png").exists()
    bad = run("upscale", tmp_path / "in", tmp_path / "out2", "--model", "srresnet-x4", "--strength", "0.5", "--quiet",
              "--device", "cpu")
    assert bad.exit_code == 2 and "PSNR partner" in bad.output and not (tmp_path / "out2" / "a.png").exists()


def test_web_models_pass_the_strength_to_the_pipeline(pipes):
    from restore.web.jobs import Models
    img = real_image(16, 16, index=4)
    models = Models(device="cpu")
    models._pipes[("upscale", "srgan-x4")] = pipes["srgan-x4"]      # the fp32 pipeline, loaded once
    assert np.array_equal(models.run("upscale", "srgan-x4", img, strength=0.5), pipes["srgan-x4"](img, strength=0.5))


# --- x2 from x4, the bench's other scales and strength rows ---------------------------------------

def test_an_x2_run_starts_from_x4_weights_keeping_every_tensor_it_shares(photos, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from restore.train.upscale import train_upscale
    from restore.zoo import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    x4 = get_spec("srresnet-x4")
    spec = dataclasses.replace(x4, name="test-sr-x2", scale=2, arch_kwargs=dict(x4.arch_kwargs, scale=2))
    registry.register_model(lambda: spec)
    logs = []
    out = tmp_path / "x2.safetensors"
    train_upscale(model="test-sr-x2", data=photos, out=out, steps=1, val_every=1, batch=2, patch=8, n_val=1,
                  init=x4.weights_path, lr=1e-12, device="cpu", log=logs.append)
    old, new = load_file(str(x4.weights_path)), load_file(str(out))
    shared = [k for k in new if k in old and old[k].shape == new[k].shape]
    assert "head.0.weight" in shared and "upsample.0.weight" in shared and "tail.weight" in shared
    assert not any(k.startswith("upsample.3") for k in new)             # x2 has one sub-pixel stage
    assert all(torch.allclose(old[k], new[k], atol=1e-6) for k in shared)  # lr ~ 0: the init itself
    assert any("init of another scale" in line for line in logs)


def test_bench_pairs_at_another_scale_make_the_lr_from_hr(tmp_path):
    from restore.bench.upscale import bench_upscale, format_table, sr_cases
    from restore.ops.degrade import bicubic_down, quantize_8bit
    data = tmp_path / "Pairs"
    hr = real_image(64, 96, index=3)
    write_image(data / "a_HR.png", hr)
    write_image(data / "a_LR.png", real_image(16, 24, index=4))   # the given x4 input: ignored at x2
    (case,) = sr_cases(data, scale=2)
    x = torch.from_numpy(hr).permute(2, 0, 1)[None].float() / 255
    want = (quantize_8bit(bicubic_down(x, 2))[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert case["scale"] == 2 and case["made"] and np.array_equal(case["lr"], want)
    (given,) = sr_cases(data)
    assert given["scale"] == 4 and not given["made"] and given["lr"].shape == (16, 24, 3)
    rows = bench_upscale(data, models=[], device="cpu", scale=2)
    assert [r["method"] for r in rows] == ["bicubic (OpenCV)", "lanczos (OpenCV)"]
    assert rows[0]["psnr"] > 25 and rows[0]["lr_from_hr"]
    with pytest.raises(ValueError, match="x4"):
        bench_upscale(data, models=["srresnet-x4"], device="cpu", scale=2)
    assert format_table(rows).count("\n") == 3


def test_bench_strength_rows_only_the_default_one_is_the_models(tmp_path, monkeypatch):
    from restore.bench.upscale import bench_upscale
    # float32 for both: srgan-x4 stays float32 under "auto" while srresnet-x4 may run bf16
    # (a CPU with AMX or AMD's avx512_bf16), which would round the same weights differently
    monkeypatch.setenv("RESTORE_PRECISION", "fp32")
    data = tmp_path / "Photos"
    write_image(data / "im0.png", real_image(64, 64, index=5))
    rows = bench_upscale(data, models=["srgan-x4", "srresnet-x4"], device="cpu", realistic=True,
                         strengths=[1, 0, 0.5], baselines=("bicubic",))
    assert [r["method"] for r in rows] == ["bicubic (OpenCV)", "restore srgan-x4 strength 0",
                                           "restore srgan-x4 strength 0.5", "restore srgan-x4 strength 1",
                                           "restore srresnet-x4"]
    assert [r["model"] for r in rows] == [None, None, None, "srgan-x4", "srresnet-x4"]
    # strength 0 is the PSNR partner's weights: the same output as srresnet-x4
    assert rows[1]["psnr"] == pytest.approx(rows[4]["psnr"], abs=1e-6)
    assert rows[1]["psnr"] != pytest.approx(rows[3]["psnr"], abs=1e-3)


def test_model_for_scale_prefers_the_defaults_kind_of_input(monkeypatch):
    from restore.zoo import registry
    from restore.zoo.settings import UpscaleSettings

    x4 = get_spec("srresnet-x4")
    made = {name: dataclasses.replace(x4, name=name, scale=2, arch_kwargs=dict(x4.arch_kwargs, scale=2),
                                      settings=UpscaleSettings(None, 0.0, inputs=kind))
            for name, kind in (("a-bicubic-x2", "bicubic"), ("b-real-x2", "real"))}
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    for spec in made.values():
        registry.register_model(lambda spec=spec: spec)
    default = registry.default_model("upscale")
    bicubic_default = dataclasses.replace(get_spec(default), settings=UpscaleSettings(None, 0.0, inputs="bicubic"))
    monkeypatch.setitem(registry._REGISTRY, default, lambda: bicubic_default)
    assert registry.model_for_scale("upscale", 2) == "a-bicubic-x2"
    real_default = dataclasses.replace(bicubic_default, settings=UpscaleSettings(None, 0.0, inputs="real"))
    monkeypatch.setitem(registry._REGISTRY, default, lambda: real_default)
    assert registry.model_for_scale("upscale", 2) == "b-real-x2"
    with pytest.raises(ValueError, match="inputs"):
        UpscaleSettings(None, 0.0, inputs="jpeg")


def test_ema_weights_are_validated_and_written(photos, tmp_path):
    from safetensors.torch import load_file

    from restore.train.upscale import train_upscale
    init = get_spec("srresnet-x4").weights_path
    start = load_file(str(init))
    common = dict(data=photos, steps=3, val_every=3, batch=2, patch=8, n_val=1, init=init, lr=1e-3, **QUIET)
    train_upscale(out=tmp_path / "raw.safetensors", **common)
    raw = load_file(str(tmp_path / "raw.safetensors"))
    train_upscale(out=tmp_path / "ema.safetensors", ema=0.5, **common)
    ema = load_file(str(tmp_path / "ema.safetensors"))
    moved = lambda a: sum(float((a[k] - start[k]).abs().sum()) for k in start)  # noqa: E731
    # the average of 0.5 decay trails the raw weights: it moved, but less than they did
    assert 0 < moved(ema) < moved(raw)
    side = train_upscale(out=tmp_path / "still.safetensors", ema=0.99999, **common)
    still = load_file(str(tmp_path / "still.safetensors"))
    assert moved(still) < 1e-3 * moved(raw)
    # the written network is the one validated: its PSNR is the init's, to the noise of 1e-5 of a step
    assert side["validation"]["psnr_y"] == pytest.approx(
        train_upscale(out=tmp_path / "zero.safetensors", **dict(common, steps=1, val_every=1, lr=1e-12))
        ["validation"]["psnr_y"], abs=1e-3)


def test_the_real_photo_models_beat_the_bicubic_ones_on_realistic_inputs():
    """On realistically degraded photos (blur, noise, JPEG) the models trained for them give a
    higher PSNR-Y and a fainter JPEG grid than the models trained on bicubic inputs."""
    from helpers import SHARED_DATA, require_data

    from restore import load_pipeline
    from restore.bench.upscale import realistic_cases, sr_scores
    from restore.metrics import blockiness
    cases = realistic_cases(require_data(SHARED_DATA / "bench" / "denoise" / "Kodak24"), 4, limit=2)
    for real, bicubic in (("real-srresnet-x4", "srresnet-x4"),):
        scores = {}
        for m in (real, bicubic):
            pipe = load_pipeline("upscale", m, device="cpu")
            outs = [pipe(c["lr"]) for c in cases]
            scores[m] = (np.mean([sr_scores(c["hr"], o, 4)["psnr"] for c, o in zip(cases, outs)]),
                         np.mean([blockiness(o, 4) for o in outs]))
        assert scores[real][0] > scores[bicubic][0] + 0.2
        assert scores[real][1] < scores[bicubic][1]


def test_the_default_strength_of_a_partnered_model_is_its_settings_not_its_own_weights(pipes):
    from restore.pipelines.upscale import UpscalePipeline
    pipe = UpscalePipeline.from_pretrained("real-srgan-x4", device="cpu", precision="fp32")
    assert pipe.settings.default_strength == 0.5
    img = real_image(24, 24, index=9)
    half, own, zero = pipe(img), pipe(img, strength=1.0), pipe(img, strength=0.0)
    assert np.array_equal(pipe(img, strength=0.5), half)
    assert not np.array_equal(half, own) and not np.array_equal(half, zero)
    psnr_model = UpscalePipeline.from_pretrained("real-srresnet-x4", device="cpu", precision="fp32")
    assert np.array_equal(zero, psnr_model(img))
