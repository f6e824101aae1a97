"""Coarse-to-fine fill of large holes (restore/pipelines/inpaint_pyramid.py): which parts of
a hole take it, the pyramid's levels, the guided latent search, a box in a smooth image
filled after its surroundings, and the bound on the work."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from restore.ops.degrade import stroke_mask
from restore.pipelines import inpaint as inpaint_mod
from restore.pipelines.inpaint_pyramid import pyramid_levels, split_hole


@pytest.fixture(scope="module")
def photos_pipe():
    from restore import load_pipeline
    return load_pipeline("inpaint", "gan-photos-64", device="cpu")


def _box(h: int, w: int, y0: int, x0: int, bh: int, bw: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y0 + bh, x0:x0 + bw] = True
    return m


def _gradient(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    rgb = np.stack([0.2 + 0.6 * xx, 0.3 + 0.5 * yy, 0.8 - 0.5 * xx], -1)
    return (rgb * 255 + 0.5).astype(np.uint8)


def test_split_hole_sends_deep_parts_coarse_to_fine_and_strokes_window_by_window(photos_pipe):
    depth = photos_pipe.spec.settings.coarse_depth
    strokes = stroke_mask(321, 481, np.random.default_rng(0)) > 0
    thin, large = split_hole(strokes, depth)
    assert large == [] and np.array_equal(thin, strokes)
    box = _box(321, 481, 100, 150, 80, 120)          # an object-sized box: depth 40 px
    thin, large = split_hole(strokes | box, depth)
    assert len(large) == 1 and large[0][140, 210] and not large[0][0, 0]
    assert np.array_equal(thin | large[0], strokes | box) and not (thin & large[0]).any()
    # the depth, not the extent, decides: a long bar thinner than 2 * depth stays thin
    bar = _box(200, 400, 90, 10, int(2 * depth) - 2, 380)
    assert split_hole(bar, depth)[1] == []
    assert len(split_hole(_box(200, 400, 50, 10, int(2 * depth) + 8, 380), depth)[1]) == 1
    thin, large = split_hole(np.zeros((5, 5), bool), depth)
    assert large == [] and not thin.any()


def test_pyramid_levels_fit_the_hole_in_the_window_with_context_and_are_capped():
    assert pyramid_levels(30, 30, 64, 16, 4) == 0          # 30 px fits in 64 - 2 * 16
    assert pyramid_levels(100, 60, 64, 16, 4) == 2         # 100 / 4 = 25 <= 32
    assert pyramid_levels(1000, 300, 64, 16, 4) == 4       # would need 5: capped
    assert pyramid_levels(1000, 300, 64, 16, 1) == 1


def test_the_guide_pulls_the_search_toward_it(photos_pipe):
    net = photos_pipe.model
    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 3, 64, 64, generator=g) * 0.2 + 0.4
    m = torch.zeros(2, 1, 64, 64)
    m[:, :, 16:48, 16:48] = 1
    guide = torch.zeros(2, 3, 64, 64)
    guide[:, 0] = 0.9                                       # a red hole, unlike its gray context
    common = dict(steps=8, restarts=1, lambda_prior=0.0, lr=0.05, restart_noise=0.0)
    free = inpaint_mod.latent_search(net, y, m, **common)[0]
    pulled = inpaint_mod.latent_search(net, y, m, **common, guide=guide, guide_weight=10.0)[0]
    err = lambda f: float(((f - guide).abs() * m).sum() / m.sum())   # noqa: E731
    assert err(pulled) < err(free) - 0.02


def test_coarse_path_is_taken_for_a_box_and_not_for_strokes(photos_pipe, monkeypatch):
    calls = []
    real = inpaint_mod.fill_coarse_to_fine
    monkeypatch.setattr(inpaint_mod, "fill_coarse_to_fine", lambda *a, **k: calls.append(1) or real(*a, **k))
    img = _gradient(96, 128)
    strokes = stroke_mask(96, 128, np.random.default_rng(1)) > 0
    photos_pipe(img, strokes, steps=1)
    assert calls == []
    box = _box(96, 128, 20, 30, 50, 60)
    out = photos_pipe(img, box | strokes, steps=1)
    assert calls == [1] and np.array_equal(out[~(box | strokes)], img[~(box | strokes)])


def test_a_box_in_a_smooth_image_follows_its_surroundings(photos_pipe):
    """The window-by-window fill of a hole that windows cannot see across gives a grid of
    unrelated fills; coarse to fine follows the gradient around it."""
    img = _gradient(192, 192)
    box = _box(192, 192, 48, 48, 96, 96)                    # depth 48 px: no window sees across
    given = img.copy()
    given[box] = 255
    settings = photos_pipe.spec.settings
    old = inpaint_mod.InpaintPipeline(photos_pipe.model, dataclasses.replace(
        photos_pipe.spec, settings=dataclasses.replace(settings, coarse_depth=1e9)), photos_pipe.device)
    c2f_raw = photos_pipe(given, box, steps=3, return_raw=True)[1]
    old_raw = old(given, box, steps=3, return_raw=True)[1]

    def hole_error(out: np.ndarray) -> float:
        return float(np.abs(out.astype(float) - img)[box].mean())

    def block_mean_spread(out: np.ndarray) -> float:
        """Standard deviation over the hole's 16 x 16 blocks of their mean error."""
        d = (out.astype(float) - img)[48:144, 48:144].reshape(6, 16, 6, 16, 3).mean((1, 3))
        return float(d.std((0, 1)).mean())

    assert hole_error(c2f_raw) < hole_error(old_raw)
    assert block_mean_spread(c2f_raw) < block_mean_spread(old_raw)


def test_the_work_is_bounded_by_levels_and_rounds(photos_pipe, monkeypatch):
    import time
    searches = []
    real = inpaint_mod.latent_search
    monkeypatch.setattr(inpaint_mod, "latent_search", lambda *a, **k: searches.append(a[1].shape[0]) or real(*a, **k))
    img = _gradient(256, 256)
    box = _box(256, 256, 20, 20, 216, 216)                  # 71 % of the area
    t0 = time.process_time()        # CPU time: the bound holds on a busy machine too (1 thread here)
    out = photos_pipe(img, box, steps=1)
    seconds = time.process_time() - t0
    d = photos_pipe.spec.settings
    levels = pyramid_levels(216, 216, 64, d.coarse_context, d.max_levels) + 1
    assert len(searches) <= levels * d.rounds
    assert searches[0] == 1                                 # the coarsest level: one window sees it all
    assert out.shape == img.shape and seconds < 30


def test_poisson_blend_inside_gradients_only_drops_the_sources_offset():
    from restore.ops.blend import poisson_blend
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 40), indexing="ij")
    target = torch.stack([0.2 + 0.5 * xx, 0.3 + 0.4 * yy, 0.5 + 0 * xx])[None]
    hole = torch.zeros(1, 1, 32, 40)
    hole[:, :, 8:24, 10:30] = 1
    source = torch.where(hole > 0, target + 0.3, target)        # right gradients inside, a drifted colour
    kept = poisson_blend(source, target, hole)                  # Pérez et al.: the step at the border stays
    free = poisson_blend(source, target, hole, across_border=False)
    inside = hole[0, 0] > 0
    assert (kept - target)[0][:, inside].mean() > 0.2
    err = (free - target)[0][:, inside].abs()
    assert err.mean() < 0.005 and err.max() < 0.03          # only the ramp's step across the border is lost


def test_a_box_in_a_large_photo_is_filled_on_a_crop_with_the_whole_image_numbers(photos_pipe, monkeypatch):
    """An 8-bit photo whose hole has a large part is filled on a float crop around the
    hole (memory grows with the hole, not the photo), with the numbers of the whole-image
    tensor path; only the hole's pixels change, 16-bit and alpha included."""
    rng = np.random.default_rng(3)
    img = np.clip(_gradient(720, 820).astype(int) + rng.integers(-12, 13, (720, 820, 3)), 0, 255).astype(np.uint8)
    box = _box(720, 820, 300, 350, 40, 50)
    shapes = []
    real = photos_pipe._gan
    monkeypatch.setattr(photos_pipe, "_gan", lambda x, *a: shapes.append(tuple(x.shape[2:])) or real(x, *a))
    out = photos_pipe(img, box, steps=2)
    s = photos_pipe.spec.settings
    m = s.coarse_context * 2 ** s.max_levels + photos_pipe.model.size
    assert shapes[0] == (min(720, 340 + m) - max(0, 300 - m), min(820, 400 + m) - max(0, 350 - m))
    assert shapes[0][0] * shapes[0][1] < 0.8 * 720 * 820                 # a crop, not the photo
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    whole = photos_pipe(x, torch.from_numpy(box)[None, None].float(), steps=2)
    assert shapes[1] == (720, 820)
    whole8 = (whole[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(out, whole8)
    assert np.array_equal(out[~box], img[~box]) and not np.array_equal(out[box], img[box])
    rgba16 = np.dstack([img.astype(np.uint16) * 257, np.full((720, 820), 40000, np.uint16)])
    out16 = photos_pipe(rgba16, box, steps=2)
    assert out16.dtype == np.uint16 and np.array_equal(out16[..., 3], rgba16[..., 3])
    assert np.array_equal(out16[~box], rgba16[~box])
    assert np.abs(out16[..., :3].astype(int) // 257 - out.astype(int)).max() <= 1
