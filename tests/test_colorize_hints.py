"""Colorization with user color hints: the hint channels (from hint images and points),
ground-truth hints for training and the bench, the network's hint input, the pipeline
honoring hints, the CLI's --hints/--hint pairing and the hints bench table."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restore.bench.colorize import bench_colorize_hints, format_table, to_gray_lightness
from restore.io import read_image, write_image
from restore.ops.color import lab_to_rgb, rgb_to_lab
from restore.ops.hints import (hint_image_from, hints_from_rgba, optimize_hints, pool_hints, propagate_hints,
                                reveal_hints)
from restore.pipelines.colorize import render_hints
from restore.zoo.archs.unet import ColorizationUNet

from helpers import real_image
from test_cli import invoke, summary

RED = (200, 30, 30)
BLUE = (30, 60, 200)


def _ab(rgb: tuple[int, int, int]) -> torch.Tensor:
    return rgb_to_lab(torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1) / 255.0)[0, 1:, 0, 0]


def _lab(img: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(np.ascontiguousarray(img[..., :3])).permute(2, 0, 1)[None].float() / 255.0)[0]


@pytest.fixture(scope="module")
def pipe():
    from restore import load_pipeline
    return load_pipeline("colorize", model="colorize-hints-s", device="cpu")


# --- hint channels -------------------------------------------------------------------------

def test_hints_from_rgba_pools_only_the_hinted_pixels():
    rgba = torch.zeros(1, 4, 40, 60)
    rgba[0, :3, 4:6, 10:12] = torch.tensor(RED).view(3, 1, 1) / 255.0     # a 2x2 red dot
    rgba[0, 3, 4:6, 10:12] = 1.0
    rgba[0, :3, 30, 50] = torch.tensor(BLUE) / 255.0                     # a blue pixel, half transparent
    rgba[0, 3, 30, 50] = 0.6
    rgba[0, :3, 20, 20] = 1.0                                            # white but transparent: no hint
    rgba[0, 3, 20, 20] = 0.2
    h = hints_from_rgba(rgba, (20, 30))
    assert h.shape == (1, 3, 20, 30)
    assert sorted(map(tuple, torch.nonzero(h[0, 2]).tolist())) == [(2, 5), (15, 25)]
    assert torch.allclose(h[0, :2, 2, 5], _ab(RED), atol=1e-3)           # the dot's chroma, not diluted
    assert torch.allclose(h[0, :2, 15, 25], _ab(BLUE), atol=1e-3)
    assert float(h[0, :2].abs().sum()) == pytest.approx(float(h[0, :2, 2, 5].abs().sum() + h[0, :2, 15, 25].abs().sum()))
    assert not hints_from_rgba(torch.zeros(1, 4, 8, 8), (4, 4)).any()     # fully transparent: no hint
    with pytest.raises(ValueError, match="B, 4, H, W"):
        hints_from_rgba(torch.zeros(1, 3, 8, 8), (4, 4))


def test_render_hints_from_points_and_images_agree_and_bad_hints_are_named():
    size = (32, 48)
    points = [(10, 5, RED), (90, 60, BLUE)]
    from_points = render_hints(points, (64, 96), size)
    img = np.zeros((64, 96, 4), np.uint8)
    img[5, 10] = (*RED, 255)
    img[60, 90] = (*BLUE, 255)
    from_image = render_hints(img, (64, 96), size)
    assert torch.equal(from_points[:, 2], from_image[:, 2]) and int(from_points[:, 2].sum()) == 2
    assert torch.allclose(from_points, from_image, atol=0.2)             # 8-bit colors vs exact
    with pytest.raises(ValueError, match="transparency"):
        render_hints(img[..., :3], (64, 96), size)
    with pytest.raises(ValueError, match="inside"):
        render_hints([(96, 0, RED)], (64, 96), size)
    with pytest.raises(ValueError, match=r"\(x, y, \(r, g, b\)\)"):
        render_hints([(1, 2)], (64, 96), size)


def test_reveal_hints_patches_hold_the_true_mean_chroma():
    ab = torch.randn(3, 2, 24, 24) * 30
    rng = np.random.default_rng(0)
    h = reveal_hints(ab, [0, 1, 5], rng, sizes=(3, 3))
    assert not h[0].any()                                                 # 0 hints: the automatic mode
    assert int(h[1, 2].sum()) == 9                                        # one 3x3 patch
    ys, xs = torch.nonzero(h[1, 2], as_tuple=True)
    patch = ab[1, :, ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    assert torch.allclose(h[1, :2, ys[0], xs[0]], patch.mean(dim=(1, 2)), atol=1e-4)
    assert 9 < int(h[2, 2].sum()) <= 45
    with pytest.raises(ValueError, match="counts"):
        reveal_hints(ab, [1, 2], rng)


def test_hint_image_from_takes_the_originals_colors_and_is_seeded():
    rgb = real_image(50, 70, index=3)
    a = hint_image_from(rgb, 10, np.random.default_rng(7))
    b = hint_image_from(rgb, 10, np.random.default_rng(7))
    assert np.array_equal(a, b) and a.shape == (50, 70, 4) and a.dtype == np.uint8
    on = a[..., 3] == 255
    assert 1 <= on.sum() <= 10 and set(np.unique(a[..., 3])) <= {0, 255}
    assert np.array_equal(a[on][:, :3], rgb[on])                          # 1-pixel dots: the pixel's color
    assert not hint_image_from(rgb, 0, np.random.default_rng(0)).any()
    with pytest.raises(ValueError):
        hint_image_from(rgb[..., 0], 3, np.random.default_rng(0))


def test_propagation_spreads_corrections_within_regions_and_stops_at_edges():
    L = torch.full((1, 1, 64, 96), 40.0)
    L[..., 48:] = 80.0                                                    # a lightness edge at column 48
    ab = torch.zeros(1, 2, 64, 96)
    ab[:, 1] = 10.0                                                       # the prediction: a little yellow
    hints = torch.zeros(1, 3, 64, 96)
    hints[0, :, 30, 20] = torch.tensor([50.0, -20.0, 1.0])                # one hint left of the edge
    out = propagate_hints(ab, L, hints, spread=48, edge=4.0)
    assert torch.allclose(out[0, :, 30, 20], torch.tensor([50.0, -20.0]))  # the hinted pixel: exactly the hint
    within, across = out[0, 0, 62, 20], out[0, 0, 30, 52]                  # both 32 px from the hint
    assert 40 < within < 50                                               # the region takes the hint
    assert across < 0.5 * within                                          # much less across the edge
    assert out[0, 0, 30, 95] < 0.2 * 50 and out[0, 0, 30, 95] < across    # and fading beyond it
    assert torch.all(out[0, 0] >= 0) and torch.all(out[0, 0] <= 50)
    assert torch.equal(propagate_hints(ab, L, torch.zeros(1, 3, 64, 96)), ab)
    with pytest.raises(ValueError, match="shapes"):
        propagate_hints(ab, L[..., :10], hints)
    pooled = pool_hints(hints, (32, 48))
    assert pooled[0, 2].sum() == 1 and torch.allclose(pooled[0, :2, 15, 10], torch.tensor([50.0, -20.0]))


def _geodesic_brute_force(L: np.ndarray, members: np.ndarray, edge: float) -> np.ndarray:
    """Distances from a set of pixels over the 4-neighbour grid (step ``1 + edge * |dL*|``),
    by relaxing every edge until nothing changes (Bellman-Ford): the slow reference."""
    d = np.where(members, 0.0, np.inf)
    ch, cv = 1 + edge * np.abs(np.diff(L, axis=1)), 1 + edge * np.abs(np.diff(L, axis=0))
    while True:
        old = d.copy()
        d[:, 1:] = np.minimum(d[:, 1:], d[:, :-1] + ch)
        d[:, :-1] = np.minimum(d[:, :-1], d[:, 1:] + ch)
        d[1:] = np.minimum(d[1:], d[:-1] + cv)
        d[:-1] = np.minimum(d[:-1], d[1:] + cv)
        if np.array_equal(d, old):
            return d


def _propagate_reference(ab, L, hints, spread, edge, reach):
    """propagate_hints's formula, one brute-force search per hint group, nothing left out."""
    from scipy import ndimage
    ab, L, hints = ab[0].double().numpy(), L[0, 0].double().numpy(), hints[0].double().numpy()
    m = hints[2] > 0
    groups, count = ndimage.label(m)
    delta = hints[:2] - ab
    num, den = np.zeros_like(ab), np.full(L.shape, np.exp(-reach))
    for k in range(1, count + 1):
        wk = np.exp(-_geodesic_brute_force(L, groups == k, edge) / spread)
        num += wk * delta[:, groups == k].mean(axis=1)[:, None, None]
        den += wk
    r = num / den
    r[:, m] = delta[:, m]
    return torch.from_numpy(ab + r)[None].float()


@pytest.mark.parametrize("tol", [0.0, 1e-4])
def test_propagation_equals_a_brute_force_search_per_hint(tol):
    g = torch.Generator().manual_seed(0)
    L = torch.rand(1, 1, 13, 17, generator=g) * 100                     # rough: long geodesic distances
    L[..., 5:9, 3:12] = 50.0                                              # and a flat region
    ab = torch.randn(1, 2, 13, 17, generator=g) * 20
    hints = torch.zeros(1, 3, 13, 17)
    for y, x in [(1, 1), (6, 6), (6, 7), (7, 7), (11, 15), (2, 14)]:        # one 3-pixel group and 3 dots
        hints[0, :, y, x] = torch.tensor([*(torch.randn(2, generator=g) * 40).tolist(), 1.0])
    ref = _propagate_reference(ab, L, hints, spread=3.0, edge=0.5, reach=3.0)
    out = propagate_hints(ab, L, hints, spread=3.0, edge=0.5, reach=3.0, tol=tol, chunk=2)  # 2 calls per image
    # the search stops at spread * (reach + ln(1 / tol)) = 37 px here, inside this grid
    assert torch.allclose(out, ref, atol=1e-4 if tol == 0 else 0.05)
    assert torch.allclose(out[0, :2, hints[0, 2] > 0], hints[0, :2, hints[0, 2] > 0], atol=1e-4)  # hinted: the hint
    with pytest.raises(ValueError, match="tol"):
        propagate_hints(ab, L, hints, tol=1.0)


def test_optimized_propagation_spreads_within_regions_holds_at_edges_and_fades():
    L = torch.full((1, 1, 64, 96), 40.0)
    L[..., 48:] = 80.0                                                    # a lightness edge at column 48
    ab = torch.zeros(1, 2, 64, 96)
    ab[:, 1] = 10.0
    hints = torch.zeros(1, 3, 64, 96)
    hints[0, :, 30, 20] = torch.tensor([50.0, -20.0, 1.0])                # one hint left of the edge
    out = optimize_hints(ab, L, hints, sigma=3.0, decay=1e-3)
    assert torch.allclose(out[0, :, 30, 20], torch.tensor([50.0, -20.0]), atol=1e-4)  # the hinted pixel: the hint
    within, across = out[0, 0, 62, 20], out[0, 0, 30, 52]                  # both 32 px from the hint
    assert within > 5 and across < 0.01 * within                          # the edge holds it back
    assert out[0, 0, 30, 0] > out[0, 0, 30, 46] > 0                       # fading away from the hint
    assert torch.allclose(out[0, 1] - 10.0, out[0, 0] * -30.0 / 50.0, atol=1e-3)   # one correction (50, -30), scaled
    assert torch.all(out[0, 0] >= 0) and torch.all(out[0, 0] <= 50)
    near_zero = optimize_hints(ab, L, hints, sigma=3.0, decay=1e-7)        # (almost) no decay: the region
    assert float(near_zero[0, 0, :, :48].min()) > 45                       # takes the hint all over
    assert torch.equal(optimize_hints(ab, L, torch.zeros(1, 3, 64, 96)), ab)
    with pytest.raises(ValueError, match="shapes"):
        optimize_hints(ab, L[..., :10], hints)
    with pytest.raises(ValueError, match="decay"):
        optimize_hints(ab, L, hints, decay=0.0)


def test_optimized_propagation_equals_a_dense_solve_of_its_objective():
    """optimize_hints minimizes sum_ij w_ij (r_i - r_j)^2 + decay |r|^2 with r fixed at the
    hints: minimize it here by dense least squares, built edge by edge."""
    g = torch.Generator().manual_seed(1)
    h, w, sigma, decay = 7, 9, 10.0, 0.05
    L = torch.rand(1, 1, h, w, generator=g) * 60
    ab = torch.randn(1, 2, h, w, generator=g) * 20
    hints = torch.zeros(1, 3, h, w)
    for y, x in [(0, 0), (3, 4), (6, 8)]:
        hints[0, :, y, x] = torch.tensor([*(torch.randn(2, generator=g) * 40).tolist(), 1.0])
    Ln = L[0, 0].double().numpy()
    rows = []
    for y in range(h):
        for x in range(w):
            for y2, x2 in ((y, x + 1), (y + 1, x)):
                if y2 < h and x2 < w:
                    row = np.zeros(h * w)
                    wt = np.exp(-(Ln[y, x] - Ln[y2, x2]) ** 2 / (2 * sigma ** 2))
                    row[y * w + x], row[y2 * w + x2] = np.sqrt(wt), -np.sqrt(wt)
                    rows.append(row)
    M = np.concatenate([np.array(rows), np.sqrt(decay) * np.eye(h * w)])
    m = hints[0, 2].numpy().reshape(-1) > 0
    delta = (hints[0, :2] - ab[0]).double().numpy().reshape(2, -1)
    ref = np.zeros((2, h * w))
    for c in range(2):                                                   # min |M_free r_free + M_known d|^2
        ref[c, m] = delta[c, m]
        ref[c, ~m] = np.linalg.lstsq(M[:, ~m], -M[:, m] @ delta[c, m], rcond=None)[0]
    out = optimize_hints(ab, L, hints, sigma=sigma, decay=decay)
    assert torch.allclose(out - ab, torch.from_numpy(ref.reshape(1, 2, h, w)).float(), atol=1e-3)


def test_propagation_of_50_hints_on_a_1_megapixel_photo_is_fast(pipe):
    """50 separate hint dots on a 1 MP photo (1152 x 864): the whole pipeline call takes
    at most 2 s of CPU time (the bar is 2 s/MP); the propagation alone (the model's
    ``hint_method``) at most 0.5 s."""
    import time

    from restore.pipelines.colorize import ColorizePipeline

    rgb = np.asarray(torch.nn.functional.interpolate(
        torch.from_numpy(real_image(320, 480, index=5)).permute(2, 0, 1)[None].float(), size=(864, 1152),
        mode="bilinear", align_corners=False)[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8))
    gray = to_gray_lightness(rgb)
    hints = hint_image_from(rgb, 50, np.random.default_rng(0))
    spent = []
    original = ColorizePipeline._spread_hints

    def timed(*args, **kwargs):
        t = time.process_time()
        out = original(*args, **kwargs)
        spent.append(time.process_time() - t)
        return out

    pipe(gray, hints)                                                     # warm-up
    ColorizePipeline._spread_hints = timed
    try:
        t = time.process_time()
        out = pipe(gray, hints)
        total = time.process_time() - t
    finally:
        ColorizePipeline._spread_hints = original
    assert len(spent) == 1 and spent[0] < 0.5 and total < 2.0
    assert not np.array_equal(out, pipe(gray))                            # the hints were used


def test_network_with_hints_starts_as_the_automatic_one_when_grown_from_it():
    from restore.train.colorize import ColorizeRecipe
    auto = ColorizationUNet(width=8, levels=3, bins=20)
    with_hints = ColorizationUNet(width=8, levels=3, bins=20, hints=True)
    recipe = ColorizeRecipe.__new__(ColorizeRecipe)
    recipe.nets = {"model": with_hints}
    with_hints.load_state_dict(recipe.adapt_init(auto.state_dict()))
    L = torch.rand(2, 1, 16, 16) * 100
    hints = torch.zeros(2, 3, 16, 16)
    hints[:, :2, 3, 3], hints[:, 2, 3, 3] = 40.0, 1.0
    assert torch.allclose(with_hints(L), auto(L), atol=1e-5)
    assert torch.allclose(with_hints(L, hints), auto(L), atol=1e-5)       # zero weights on the new inputs
    with pytest.raises(ValueError, match="no hints"):
        auto(L, hints)


# --- the pipeline --------------------------------------------------------------------------

def test_pipeline_honors_hints_and_keeps_the_lightness(pipe):
    rgb = real_image(192, 256, index=12)
    gray = to_gray_lightness(rgb)
    auto = pipe(gray)
    H, W = gray.shape
    hint = np.zeros((H, W, 4), np.uint8)
    L_gray = _lab(np.repeat(gray[..., None], 3, axis=2))[0]
    spots = []
    for (y, x), ab in (((40, 60), (45.0, 30.0)), ((140, 190), (10.0, -35.0))):
        # a color the photo can take there: the pixel's own lightness with this chroma, in gamut
        lab = torch.tensor([float(L_gray[y - 3:y + 4, x - 3:x + 4].mean()), *ab]).view(1, 3, 1, 1)
        color = tuple(int(c) for c in (lab_to_rgb(lab)[0, :, 0, 0] * 255).round())
        assert float((_ab(color) - torch.tensor(ab)).norm()) < 3, (color, ab)   # not clipped by the gamut
        spots.append(((y, x), color))
        hint[y - 3:y + 4, x - 3:x + 4] = (*color, 255)                     # 7x7 dots
    out = pipe(gray, hint)
    lab_out, lab_auto = _lab(out), _lab(auto)
    for (y, x), color in spots:
        err = float((lab_out[1:, y, x] - _ab(color)).norm())
        before = float((lab_auto[1:, y, x] - _ab(color)).norm())
        assert err <= 10.0, (color, err, before)                          # within 10 a*b* units of the hint
        assert before > 20.0                                              # the automatic mode did not guess it
    L_in = _lab(np.repeat(gray[..., None], 3, axis=2))[0]
    dL = (lab_out[0] - L_in).abs()                                         # the lightness is the input's
    assert float(dL.mean()) < 0.2 and float(dL.quantile(0.99)) < 1.0        # (8-bit rounding, gamut)
    assert np.array_equal(pipe(gray, np.zeros((H, W, 4), np.uint8)), auto)   # no hint: automatic
    assert np.array_equal(pipe(gray, [(x, y, c) for (y, x), c in spots]).shape, out.shape)


def test_hints_for_a_model_without_hint_inputs_are_refused():
    from restore import load_pipeline
    plain = load_pipeline("colorize", model="colorize-s", device="cpu")
    with pytest.raises(ValueError, match="takes no color hints"):
        plain(np.zeros((32, 32), np.uint8), [(1, 1, RED)])


def test_hints_switch_the_default_decoding_to_the_models_hint_decoding(pipe):
    import dataclasses

    from restore.pipelines.colorize import ColorizePipeline
    rgb = real_image(96, 128, index=13)
    gray = to_gray_lightness(rgb)
    hint = hint_image_from(rgb, 10, np.random.default_rng(3))
    d = dataclasses.replace(pipe.spec.settings, temperature=0.5, prior=0.25, hint_temperature=0.9, hint_prior=1.0)
    other = ColorizePipeline(pipe.model, dataclasses.replace(pipe.spec, settings=d), pipe.device)
    with_hints = other(gray, hint)
    assert np.array_equal(with_hints, other(gray, hint, temperature=0.9, prior=1.0))
    assert not np.array_equal(with_hints, other(gray, hint, temperature=0.5, prior=0.25))
    assert np.array_equal(other(gray), other(gray, temperature=0.5, prior=0.25))     # no hints: the automatic one
    assert np.array_equal(other(gray, hint, prior=0.25), other(gray, hint, temperature=0.9, prior=0.25))
    unset = dataclasses.replace(d, hint_temperature=None, hint_prior=None)          # None: as without hints
    plain = ColorizePipeline(pipe.model, dataclasses.replace(pipe.spec, settings=unset), pipe.device)
    assert np.array_equal(plain(gray, hint), other(gray, hint, temperature=0.5, prior=0.25))


# --- CLI and bench -------------------------------------------------------------------------

def test_cli_hints_folder_pairs_by_stem_and_a_missing_hint_fails_that_file(tmp_path, cached_pipelines):
    src, hints = tmp_path / "in", tmp_path / "hints"
    for i in range(2):
        write_image(src / f"p{i}.png", to_gray_lightness(real_image(96, 128, index=40 + i))[..., None])
    dot = np.zeros((96, 128, 4), np.uint8)
    dot[40:56, 50:66] = (*RED, 255)
    write_image(hints / "p0.png", dot)                                    # p1 has no hint image
    code, text = invoke("colorize", src, tmp_path / "out", "--hints", hints, "--quiet")
    counts, tail = summary(text)
    assert code == 1 and counts == (1, 0, 1) and "p1.png" in tail and "no hint image" in tail
    out = read_image(tmp_path / "out" / "p0.png")
    assert float((_lab(out)[1:, 48, 58] - _ab(RED)).norm()) <= 10.0
    code, text = invoke("colorize", src, tmp_path / "o2", "--hint", hints / "p0.png", "--quiet")
    assert code == 0 and summary(text)[0] == (2, 0, 0)
    code, text = invoke("colorize", src, tmp_path / "o3", "--hints", hints, "--hint", hints / "p0.png")
    assert code == 2 and "not both" in text
    code, text = invoke("colorize", src, tmp_path / "o4", "--hint", hints / "p0.png", "--model", "colorize-s")
    assert code == 2 and "takes no color hints" in text


def test_bench_hints_table_gains_with_more_hints(tmp_path):
    data = tmp_path / "bench"
    for i in range(2):
        write_image(data / f"b{i}.png", real_image(128, 160, index=50 + i))
    rows = bench_colorize_hints(data, counts=(10, 50), device="cpu")
    by = {r["method"]: r for r in rows}
    gray, auto = by["gray input (L* only)"], by["restore colorize-hints-s (automatic)"]
    ten, fifty = by["restore colorize-hints-s, 10 hints"], by["restore colorize-hints-s, 50 hints"]
    assert (auto["hints"], ten["hints"], fifty["hints"]) == (0, 10, 50)
    assert fifty["psnr"] > auto["psnr"] and fifty["psnr"] > gray["psnr"] + 1.0
    table = format_table(rows)
    assert "| restore colorize-hints-s, 10 hints |" in table
    with pytest.raises(ValueError, match=">= 1"):
        bench_colorize_hints(data, counts=(0,), device="cpu")
    with pytest.raises(ValueError, match="hint inputs"):
        bench_colorize_hints(data, models=["colorize-s"], device="cpu")
