"""Tiling: tiled output equals the whole-image output; padding; odd sizes."""

import pytest
import torch

from restore.ops.tiling import pad_to_multiple, run_tiled
from restore.zoo import load_model

from helpers import real_image_tensor


def test_pad_to_multiple_reflect_and_tiny():
    x = torch.arange(1 * 1 * 5 * 7, dtype=torch.float32).view(1, 1, 5, 7)
    y, hw = pad_to_multiple(x, 8)
    assert y.shape == (1, 1, 8, 8) and hw == (5, 7)
    assert torch.equal(y[..., :5, :7], x)
    one = torch.rand(1, 3, 1, 1)
    y1, _ = pad_to_multiple(one, 8)
    assert y1.shape == (1, 3, 8, 8) and torch.allclose(y1, one.expand(1, 3, 8, 8))


def test_tiles_cover_and_scale():
    """A position-dependent identity: any tiling error shows."""
    x = torch.rand(1, 3, 70, 101)
    up = lambda t: torch.nn.functional.interpolate(t, scale_factor=2, mode="nearest")
    y = run_tiled(up, x, tile=32, overlap=8, scale=2, multiple_of=4)
    assert y.shape == (1, 3, 140, 202)
    assert torch.allclose(y, up(x), atol=1e-6)


def test_tiled_equals_untiled_with_real_model():
    net, spec = load_model("dae-s", device="cpu")
    x = real_image_tensor(150, 198)  # odd sizes: padding on both axes
    x = x + torch.randn(x.shape, generator=torch.Generator().manual_seed(0)) * 25 / 255
    smap = torch.full((1, 1, 1, 1), 25 / 255)
    fn = lambda t: net(t, smap)
    with torch.inference_mode():
        whole = run_tiled(fn, x, tile=None, multiple_of=spec.multiple_of)
        tiled = run_tiled(fn, x, tile=128, overlap=64, multiple_of=spec.multiple_of)
    assert whole.shape == tiled.shape == x.shape
    err = (whole - tiled).abs().max().item()
    assert err < 1e-3, f"tiled differs from untiled by {err}"


def test_oom_retry_halves_tile():
    calls = []

    def fn(t):
        calls.append(t.shape[-1])
        if t.shape[-1] > 32:
            raise torch.cuda.OutOfMemoryError("fake")
        return t

    x = torch.rand(1, 1, 64, 64)
    y = run_tiled(fn, x, tile=64, overlap=8, multiple_of=1, min_tile=16)
    assert calls[0] == 64 and max(calls[1:]) <= 32
    assert torch.allclose(y, x)


def test_tiles_are_spread_evenly_and_no_longer_than_needed():
    from restore.ops.tiling import _tiles
    for n, tile, overlap, m in ((2000, 768, 64, 8), (1504, 512, 64, 8), (104, 32, 8, 4), (64, 32, 8, 1), (768, 768, 64, 8)):
        length, starts = _tiles(n, tile, overlap, m)
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert starts[0] == 0 and starts[-1] + length == n and length <= tile            # cover, within the limit
        assert all(length - g >= overlap for g in gaps) and length % m == 0 and all(s % m == 0 for s in starts)
        assert len(starts) == max(1, -(-(n - overlap) // (tile - overlap)))               # the fewest tiles
        assert not gaps or max(gaps) - min(gaps) <= m                                      # evenly spread
    assert _tiles(2000, 768, 64, 8) == (712, [0, 640, 1288])


def test_rejects_non_4d():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        run_tiled(lambda t: t, torch.rand(3, 8, 8))
