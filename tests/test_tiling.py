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


def _reference_tiled(model_fn, x, tile, overlap, scale, m):
    """The whole-image accumulation tiling did before it worked in bands: one float buffer
    of the output's size, tiles added in the same order, divided once."""
    from restore.ops.tiling import _ramp, _tiles
    xp, (h, w) = pad_to_multiple(x, m)
    hp, wp = xp.shape[-2:]
    tile = max(m, tile // m * m)
    overlap = min(-(-overlap // m) * m, tile // 2 // m * m)
    th, ys = _tiles(hp, tile, overlap, m)
    tw, xs = _tiles(wp, tile, overlap, m)
    out = torch.zeros(1, x.shape[1], hp * scale, wp * scale)
    weight = torch.zeros(1, 1, hp * scale, wp * scale)
    for y0 in ys:
        for x0 in xs:
            y = model_fn(xp[..., y0:y0 + th, x0:x0 + tw])
            wt = (_ramp(th * scale, overlap * scale, y0 > 0, y0 + th < hp, None, torch.float32)[:, None]
                  * _ramp(tw * scale, overlap * scale, x0 > 0, x0 + tw < wp, None, torch.float32)[None, :])
            sy, sx = slice(y0 * scale, (y0 + th) * scale), slice(x0 * scale, (x0 + tw) * scale)
            out[..., sy, sx] += y * wt
            weight[..., sy, sx] += wt
    return (out / weight.clamp_min(1e-8))[..., :h * scale, :w * scale]


@pytest.mark.parametrize("dtype,channels,scale", [("uint8", 3, 1), ("uint16", 3, 2), ("uint8", 1, 1),
                                                   ("float32", 3, 1)])
def test_array_source_with_sink_equals_whole_float_image_exactly(dtype, channels, scale):
    """A numpy image read tile by tile, the output handed on in bands, gives exactly (bit for
    bit) the whole-image float computation: same tile inputs, same sums in the same order."""
    import numpy as np

    from restore.ops import tiling
    from restore.ops.tiling import ArraySource, to_float

    rng = np.random.default_rng(0)
    h, w = 2 * tiling.FLUSH_ROWS + 37, 203  # several bands and flushes, padding on both axes
    info = np.iinfo(dtype).max if dtype != "float32" else 1.0
    a = (rng.random((h, w, channels)) * info).astype(dtype)
    conv = torch.nn.Conv2d(3, 3, 5, padding=2).eval()
    fn = lambda t: torch.nn.functional.interpolate(conv(t), scale_factor=scale, mode="nearest")
    x = to_float(a).permute(2, 0, 1)[None].expand(-1, 3, -1, -1)
    rows: list[tuple[int, torch.Tensor]] = []
    with torch.inference_mode():
        want = _reference_tiled(fn, x, 64, 16, scale, 8)
        run_tiled(fn, ArraySource(a, 3), tile=64, overlap=16, scale=scale, multiple_of=8,
                  sink=lambda r0, block: rows.append((r0, block.clone())))
        whole = run_tiled(fn, x, tile=64, overlap=16, scale=scale, multiple_of=8)
    assert [r0 for r0, _ in rows] == sorted(r0 for r0, _ in rows) and rows[0][0] == 0
    got = torch.cat([b for _, b in rows], -2)
    assert got.shape == want.shape == (1, 3, h * scale, w * scale)
    assert torch.equal(got, want) and torch.equal(whole, want)
