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
