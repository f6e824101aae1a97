"""The denoise pipeline: kinds, dtypes and channels are kept; PSNR goes up; errors are clear."""

import numpy as np
import pytest
import torch

from restore import load_pipeline
from restore.metrics import psnr
from restore.pipelines.denoise import DenoisePipeline, estimate_sigma

from helpers import real_image


@pytest.fixture(scope="module")
def pipe():
    return load_pipeline("denoise", "dae-s", device="cpu")


def noisy_pair(sigma=25.0, h=96, w=128, seed=0):
    clean = real_image(h, w).astype(np.float32) / 255
    noisy = clean + np.random.RandomState(seed).standard_normal(clean.shape).astype(np.float32) * sigma / 255
    return clean, noisy


def test_psnr_goes_up_color(pipe):
    clean, noisy = noisy_pair()
    out = pipe(noisy, sigma=25)
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    assert psnr(clean, out) > psnr(clean, np.clip(noisy, 0, 1)) + 5


def test_psnr_goes_up_gray_and_stays_gray(pipe):
    clean, noisy = noisy_pair()
    g_clean, g_noisy = clean.mean(2), noisy.mean(2) + 0  # H x W
    g_noisy = g_clean + np.random.RandomState(1).standard_normal(g_clean.shape).astype(np.float32) * 25 / 255
    out = pipe(g_noisy, sigma=25)
    assert out.shape == g_noisy.shape
    assert psnr(g_clean, out) > psnr(g_clean, np.clip(g_noisy, 0, 1)) + 4


def test_sigma_auto_estimates_and_denoises(pipe):
    clean, noisy = noisy_pair(sigma=15)
    est = estimate_sigma(torch.from_numpy(noisy).permute(2, 0, 1)[None])
    assert 10 < est < 20
    out = pipe(noisy, sigma="auto")
    assert psnr(clean, out) > psnr(clean, np.clip(noisy, 0, 1)) + 3


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_dtypes_and_alpha_kept(pipe, dtype):
    clean, noisy = noisy_pair(h=40, w=56)
    top = np.iinfo(dtype).max
    rgb = (np.clip(noisy, 0, 1) * top + 0.5).astype(dtype)
    alpha = (np.linspace(0, 1, 40 * 56).reshape(40, 56, 1) * top).astype(dtype)
    out = pipe(np.concatenate([rgb, alpha], 2), sigma=25)
    assert out.dtype == dtype and out.shape == (40, 56, 4)
    assert np.array_equal(out[..., 3:], alpha)


def test_pil_and_tensor_in_same_kind_out(pipe):
    from PIL import Image
    clean, noisy = noisy_pair(h=32, w=48)
    im = Image.fromarray((np.clip(noisy, 0, 1) * 255 + 0.5).astype(np.uint8))
    out = pipe(im, sigma=25)
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == (48, 32)
    t = torch.from_numpy(noisy).permute(2, 0, 1)[None].repeat(2, 1, 1, 1)
    y = pipe(t, sigma=25)
    assert isinstance(y, torch.Tensor) and y.shape == t.shape and y.dtype == torch.float32


def test_tiny_and_odd_sizes(pipe):
    for h, w in [(1, 1), (3, 17), (9, 8)]:
        x = np.random.RandomState(0).randint(0, 256, (h, w, 3)).astype(np.uint8)
        assert pipe(x, sigma=10).shape == (h, w, 3)


def test_errors_are_clear(pipe):
    x = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="outside"):
        pipe(x, sigma=80)
    with pytest.raises(ValueError, match="too small to estimate"):
        pipe(np.zeros((4, 4, 3), np.uint8), sigma="auto")
    with pytest.raises(ValueError, match="'auto'"):
        pipe(x, sigma="high")
    with pytest.raises(TypeError, match="dtype"):
        pipe(x.astype(np.int32), sigma=10)
    with pytest.raises(ValueError, match="shape"):
        pipe(np.zeros((4, 4, 5), np.uint8), sigma=10)
    with pytest.raises(KeyError, match="unknown task"):
        load_pipeline("sharpen")


def test_from_pretrained_is_the_same_as_load_pipeline():
    p = DenoisePipeline.from_pretrained(device="cpu", tile=64)
    assert p.spec.name == "dae-real-s" and p.tile == 64 and p.device.type == "cpu"


def test_sigma_range_is_the_models(pipe):
    import dataclasses
    x = np.zeros((16, 16, 3), np.uint8)
    assert pipe.spec.settings.sigma_range == (0.0, 75.0) and pipe.resolve_options(sigma=75) == {"sigma": 75.0}
    narrow = dataclasses.replace(pipe.spec, settings=dataclasses.replace(pipe.spec.settings, sigma_range=(0.0, 30.0)))
    other = DenoisePipeline(pipe.model, narrow, pipe.device)
    with pytest.raises(ValueError, match="sigma 40 is outside the model's range 0-30"):
        other(x, sigma=40)
    assert np.array_equal(other(x, sigma=30), pipe(x, sigma=30))
    noisy = np.clip(real_image(64, 64).astype(int) + np.random.default_rng(0).normal(0, 50, (64, 64, 3)), 0, 255)
    noisy = noisy.astype(np.uint8)
    assert np.array_equal(other(noisy), pipe(noisy, sigma=30))     # 'auto' estimates about 50, clipped to 30


@pytest.fixture(scope="module")
def blind_pipe():
    """dae-s's network and weights under a blind spec (as dae-real-s is registered)."""
    import dataclasses

    from restore.zoo import get_spec
    spec = get_spec("dae-s")
    spec = dataclasses.replace(spec, name="blind-test", settings=dataclasses.replace(spec.settings, blind=True))
    return load_pipeline("denoise", spec, device="cpu")


def test_blind_model_takes_no_sigma_and_runs_with_a_zero_noise_map(blind_pipe, monkeypatch):
    from restore.pipelines import denoise as denoise_module
    from restore.pipelines.base import OptionError
    with pytest.raises(OptionError, match="blind"):
        blind_pipe(np.zeros((16, 16, 3), np.float32), sigma=25)
    maps = []
    monkeypatch.setattr(denoise_module, "estimate_sigma", lambda *a, **k: pytest.fail("a blind model estimates nothing"))
    run = blind_pipe.run_model_streamed  # a numpy image runs tile by tile
    monkeypatch.setattr(blind_pipe, "run_model_streamed",
                        lambda src, smap, sink: maps.append(smap) or run(src, smap, sink=sink))
    clean, noisy = noisy_pair(sigma=10.0)
    out = blind_pipe(noisy)
    assert out.shape == noisy.shape and len(maps) == 1 and float(maps[0].abs().max()) == 0.0


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_estimate_sigma_flat_image_is_zero_without_warnings(value):
    import warnings

    from restore.pipelines.denoise import estimate_sigma
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # skimage's "mean of an empty slice" must not escape
        s = estimate_sigma(torch.full((1, 3, 40, 40), value))
    assert 0.0 <= s < 0.01  # NaN (the old result on a black image) fails this too
