"""Color conversions: Lab against scikit-image, round trips, gray and errors."""

import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from restore.ops.color import lab_to_rgb, rgb_to_gray, rgb_to_lab

from helpers import real_image


def test_rgb_to_lab_matches_scikit_image_on_a_real_image():
    img = real_image(48, 64)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].double() / 255
    ours = rgb_to_lab(x)[0].permute(1, 2, 0).numpy()
    ref = rgb2lab(img.astype(np.float64) / 255)
    assert np.abs(ours - ref).max() < 1e-3


def test_lab_round_trip_and_gray_has_no_chroma():
    x = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    assert torch.allclose(lab_to_rgb(rgb_to_lab(x)), x, atol=1e-5)
    gray = rgb_to_gray(x).expand(-1, 3, -1, -1)
    lab = rgb_to_lab(gray)
    assert lab[:, 1:].abs().max() < 0.01 and 0 <= lab[:, 0].min() and lab[:, 0].max() <= 100


def test_lab_is_differentiable_and_checks_shapes():
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    rgb_to_lab(x).sum().backward()
    assert torch.isfinite(x.grad).all()
    with pytest.raises(ValueError, match="expected"):
        rgb_to_lab(torch.rand(1, 1, 8, 8))
