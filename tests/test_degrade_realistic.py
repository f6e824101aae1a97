"""The real-world degradation model: kernels, noise, JPEG, camera noise, the two orders."""

from __future__ import annotations

import math

import numpy as np
import pytest

from restore.ops.degrade import (BSRGAN_X4, MILD, REAL_PHOTO, REALESRGAN_X2, REALESRGAN_X4, CameraParams,
                                 DegradationConfig, DegradationStage, KernelRange, add_gaussian_noise,
                                 add_poisson_noise, apply_kernel, camera_noise, degrade, gaussian_kernel,
                                 plateau_kernel, random_jpeg, random_kernel, sinc_kernel)
from restore.ops.degrade.realistic import to_8bit

NOTHING = DegradationStage(blur_prob=0.0, resize_prob=0.0, noise_prob=0.0, jpeg_prob=0.0)


def smooth_image(h: int = 64, w: int = 64, seed: int = 0, texture: float = 0.02) -> np.ndarray:
    """A smooth color image with some texture, float32 in [0.1, 0.9]."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(seed)
    base = np.stack([0.5 + 0.3 * np.sin(xx / 9 + c) * np.cos(yy / 13 - c) for c in range(3)], -1)
    return np.clip(base + texture * rng.standard_normal((h, w, 3)), 0.1, 0.9).astype(np.float32)


@pytest.mark.parametrize("kernel", [gaussian_kernel(21, 2.0), gaussian_kernel(15, 3.0, 1.0, 0.7, beta=0.6),
                                    plateau_kernel(13, 1.5, 0.8, 1.0, beta=1.5), sinc_kernel(11, math.pi / 3)])
def test_kernels_sum_to_one_and_are_centred(kernel):
    assert kernel.dtype == np.float32 and kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
    # point-symmetric about the centre, so a blur does not shift the image
    np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-7)


def test_gaussian_kernel_is_oriented_by_theta():
    k0 = gaussian_kernel(21, 4.0, 1.0, 0.0)
    k90 = gaussian_kernel(21, 4.0, 1.0, math.pi / 2)
    r = np.arange(21) - 10
    spread_x = lambda k: float((k.sum(0) * r ** 2).sum())  # noqa: E731
    assert spread_x(k0) > 5 * spread_x(k90)
    np.testing.assert_allclose(k0, k90.T, atol=1e-6)


def test_only_sinc_kernels_have_negative_lobes():
    assert (sinc_kernel(13, math.pi / 4) < 0).any()
    rng = np.random.default_rng(0)
    for _ in range(30):
        k = random_kernel(rng, KernelRange(sinc_prob=0.0))
        assert (k >= 0).all()


@pytest.mark.parametrize("bad", [lambda: gaussian_kernel(4, 1.0), lambda: gaussian_kernel(5, 0.0),
                                 lambda: sinc_kernel(7, 4.0), lambda: KernelRange(kinds=("box",), weights=(1.0,)),
                                 lambda: DegradationStage(jpeg_quality=(0, 50)), lambda: DegradationStage(prob=1.5),
                                 lambda: DegradationConfig(stages=(), order="random"),
                                 lambda: DegradationConfig(stages=(), scale=0)])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        bad()


def test_zero_strength_is_the_identity():
    img = to_8bit(smooth_image())
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(add_gaussian_noise(img, rng, 0.0), img)
    delta = np.zeros((5, 5), np.float32)
    delta[2, 2] = 1
    np.testing.assert_allclose(apply_kernel(img, delta), img, atol=1e-6)
    nothing = DegradationConfig(stages=(NOTHING,), final_sinc_prob=0.0, final_jpeg_prob=0.0)
    np.testing.assert_array_equal(degrade(img, rng, nothing), img)
    identity = REAL_PHOTO.replace(identity_prob=1.0)
    np.testing.assert_array_equal(degrade(img, rng, identity), img)


def _blockiness(x: np.ndarray) -> float:
    """Mean jump across 8-pixel block borders over the mean jump inside blocks."""
    d = np.abs(np.diff(x.mean(-1), axis=1))
    at_border = d[:, 7::8].mean()
    inside = np.delete(d, np.s_[7::8], axis=1).mean()
    return float(at_border / inside)


def test_jpeg_stage_makes_8x8_blocks():
    img = smooth_image(128, 128)
    jpeg = random_jpeg(img, np.random.default_rng(0), (10, 10))
    assert _blockiness(img) < 1.2
    assert _blockiness(jpeg) > 1.5
    assert np.abs(random_jpeg(img, np.random.default_rng(0), (95, 95)) - img).mean() < np.abs(jpeg - img).mean()


def test_poisson_noise_grows_with_the_signal():
    rng = np.random.default_rng(0)
    dark = np.full((128, 128, 3), 0.05, np.float32)
    bright = np.full((128, 128, 3), 0.8, np.float32)
    assert add_poisson_noise(bright, rng, 2.0).std() > 2 * add_poisson_noise(dark, rng, 2.0).std()


def test_gray_noise_is_the_same_in_every_channel():
    rng = np.random.default_rng(0)
    flat = np.full((32, 32, 3), 0.5, np.float32)
    for noisy in (add_gaussian_noise(flat, rng, 20.0, gray=True), add_poisson_noise(flat, rng, 2.0, gray=True)):
        np.testing.assert_allclose(noisy[..., 0], noisy[..., 1], atol=1e-6)
        assert noisy.std() > 0.01
    color = add_gaussian_noise(flat, rng, 20.0)
    assert np.abs(color[..., 0] - color[..., 1]).mean() > 0.01


def test_camera_noise_without_noise_is_near_the_input_and_grows_with_the_shot_factor():
    img = smooth_image(texture=0.0)
    rng = np.random.default_rng(0)
    clean = camera_noise(img, rng, CameraParams(2.0, 1.7, 0.0, 0.0))
    assert np.abs(clean - img).mean() < 0.01
    errs = [np.sqrt(((camera_noise(img, rng, CameraParams(2.0, 1.7, s, 1e-6)) - img) ** 2).mean())
            for s in (1e-4, 1e-3, 1e-2)]
    assert errs[0] < errs[1] < errs[2]
    # correlated between neighbours (demosaicing), unlike white noise
    noise = camera_noise(img, rng, CameraParams(2.0, 1.7, 1e-2, 1e-5)) - clean
    n = noise[..., 1]
    corr = np.corrcoef(n[:, :-1].ravel(), n[:, 1:].ravel())[0, 1]
    assert corr > 0.2


def test_same_seed_same_result_other_seed_other_result():
    img = smooth_image()
    a = degrade(img, np.random.default_rng(7), REALESRGAN_X2)
    b = degrade(img, np.random.default_rng(7), REALESRGAN_X2)
    c = degrade(img, np.random.default_rng(8), REALESRGAN_X2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("config, scale", [(REAL_PHOTO, 1), (MILD, 1), (REALESRGAN_X2, 2), (REALESRGAN_X4, 4),
                                           (BSRGAN_X4, 4)])
def test_presets_give_8bit_images_of_the_target_size(config, scale):
    img = smooth_image(96, 64)
    for seed in range(5):
        out = degrade(img, np.random.default_rng(seed), config)
        assert out.shape == (96 // scale, 64 // scale, 3) and out.dtype == np.float32
        assert out.min() >= 0 and out.max() <= 1
        np.testing.assert_allclose(out * 255, np.round(out * 255), atol=1e-3)


def test_real_photo_degrades_most_images_and_leaves_some_clean():
    img = smooth_image()
    errs = [np.abs(degrade(img, np.random.default_rng(s), REAL_PHOTO) - to_8bit(img)).mean() for s in range(40)]
    clean = sum(e == 0 for e in errs)
    assert 1 <= clean <= 12
    assert np.median(errs) > 0.005


def test_scale_must_divide_the_sides():
    with pytest.raises(ValueError, match="multiples"):
        degrade(smooth_image(30, 32), np.random.default_rng(0), REALESRGAN_X4)
    with pytest.raises(ValueError, match="H x W x 3"):
        degrade(np.zeros((32, 32), np.float32), np.random.default_rng(0), REAL_PHOTO)


def test_bsrgan_order_shuffles_the_steps():
    """With every step on, the shuffled order gives other results than the fixed one from the
    same draws of each step's randomness."""
    img = smooth_image(64, 64)
    fixed = [degrade(img, np.random.default_rng(s), REALESRGAN_X4) for s in range(4)]
    shuffled = [degrade(img, np.random.default_rng(s), BSRGAN_X4) for s in range(4)]
    assert any(not np.array_equal(f, s) for f, s in zip(fixed, shuffled))
