"""Colorization: chroma bins, soft encoding and rebalancing, the network, edge-aware
upsampling, the pipeline (L* kept, gray/sepia/alpha/16-bit/PIL/tensor), the CLI, the
benchmark and a tiny training run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restore.bench.colorize import GRAY_LABEL, bench_colorize, format_table, to_gray_lightness
from restore.bench.pictures import colorize_grid, pair_grid
from restore.io import read_image, write_image
from restore.metrics import colorfulness
from restore.ops.color import ab_gamut_bins, lab_to_rgb, rgb_to_lab, rgb_to_lightness
from restore.pipelines.colorize import guided_upsample, render_shape
from restore.zoo.archs.unet import ColorizationUNet

from helpers import real_image
from test_cli import invoke, summary

BINS = ab_gamut_bins()


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(-10 * torch.log10(((a - b) ** 2).mean()))


@pytest.fixture(scope="module")
def pipe():
    from restore import load_pipeline
    return load_pipeline("colorize", device="cpu")


# --- bins, encoding, rebalancing -----------------------------------------------------------

def test_gamut_bins_cover_the_srgb_colors_of_real_images():
    assert 250 <= len(BINS) <= 320 and BINS.shape[1] == 2
    assert (BINS == 0).all(1).any()                                # neutral gray is a class
    lab = rgb_to_lab(torch.from_numpy(real_image(64, 64)).permute(2, 0, 1)[None].float() / 255)
    d = torch.cdist(lab[0, 1:].flatten(1).T, BINS)                 # every pixel's chroma is within a cell
    assert float(d.min(1).values.max()) <= 5 * 2 ** 0.5 + 1e-4


def test_colorization_unet_shapes_and_decode_temperature():
    net = ColorizationUNet(width=8, levels=3, bins=len(BINS))
    net.ab_bins.copy_(BINS)
    L = torch.rand(2, 1, 32, 48) * 100
    logits = net(L)
    assert logits.shape == (2, len(BINS), 16, 24) and net.multiple_of == 8
    pick = torch.randint(len(BINS), (2, 16, 24), generator=torch.Generator().manual_seed(0))
    one_hot = torch.nn.functional.one_hot(pick, len(BINS)).permute(0, 3, 1, 2).float()
    ab_mode = net.decode(10 * one_hot, temperature=0.1)            # a peaked distribution decodes to its bin
    assert torch.allclose(ab_mode, BINS[pick].permute(0, 3, 1, 2), atol=1e-3)
    ab_mean = net.decode(torch.zeros_like(one_hot), temperature=1.0)          # uniform: the bins' centroid
    assert torch.allclose(ab_mean, BINS.mean(0).view(1, 2, 1, 1).expand_as(ab_mean), atol=1e-4)
    with pytest.raises(ValueError):
        net.decode(logits, temperature=0)


def test_mean_of_features_before_the_tail_decodes_as_the_mean_of_log_probabilities():
    """The pipeline's mirrored pass averages the two views' features before the 1x1 tail;
    that must decode exactly as averaging their log-probabilities (the flip self-ensemble):
    the tail is linear, and a per-pixel constant cancels in the decoding's softmax, also
    with the prior and a reference's per-bin term."""
    from restore.ops.palette import reference_logits
    torch.manual_seed(0)
    net = ColorizationUNet(width=8, levels=3, bins=len(BINS)).eval()
    net.ab_bins.copy_(BINS)
    net.log_weights.copy_(torch.randn(len(BINS)))
    with torch.no_grad():
        net.tail.bias.copy_(torch.randn(len(BINS)))                 # a tail with a bias, as trained ones have
        L = torch.rand(1, 1, 32, 48) * 100
        assert torch.allclose(net.tail(net.bin_features(L)), net(L))
        f1, f2 = net.bin_features(L), net.bin_features(L.flip(-1)).flip(-1)
        via_features = net.tail((f1 + f2) / 2)
        via_log_probs = (torch.log_softmax(net(L), 1) + torch.log_softmax(net(L.flip(-1)).flip(-1), 1)) / 2
        for t, prior in ((0.6, 0.5), (1.0, 0.0), (0.38, 1.0)):
            assert torch.allclose(net.decode(via_features, t, prior), net.decode(via_log_probs, t, prior), atol=1e-4)

        class Ref:  # a reference palette: a per-bin term
            hist = torch.rand(len(BINS)) + 0.01
        a = net.decode(reference_logits(via_features, Ref, 0.75), 0.6, 0.5)
        assert torch.allclose(a, net.decode(reference_logits(via_log_probs, Ref, 0.75), 0.6, 0.5), atol=1e-4)


# --- edge-aware upsampling, metrics --------------------------------------------------------

def test_guided_upsampling_keeps_chroma_edges_where_bilinear_bleeds():
    L = torch.full((1, 1, 64, 64), 30.0)
    L[..., 29:] = 80.0                                             # an edge off the low-res grid
    ab = torch.zeros(1, 2, 64, 64)
    ab[:, 0, :, 29:] = 40.0                                        # the bright side is red
    ab_low = torch.nn.functional.interpolate(ab, size=(16, 16), mode="area")
    L_low = torch.nn.functional.interpolate(L, size=(16, 16), mode="area")
    bilinear = torch.nn.functional.interpolate(ab_low, size=(64, 64), mode="bilinear", align_corners=False)
    guided = guided_upsample(ab_low, L_low, L)
    err = lambda x: float((x - ab).abs().mean())                  # noqa: E731
    assert err(guided) < 0.25 * err(bilinear)


def test_colorfulness_of_known_images():
    assert float(colorfulness(torch.full((1, 3, 8, 8), 0.5))[0]) == 0.0
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 1.0                                                # rg = 255, yb = 127.5, no spread
    assert abs(float(colorfulness(red)[0]) - 0.3 * (255 ** 2 + 127.5 ** 2) ** 0.5) < 1e-6
    img = torch.from_numpy(real_image(64, 64)).permute(2, 0, 1)[None].float() / 255
    faded = 0.5 * img + 0.5 * img.mean(1, keepdim=True)
    assert colorfulness(faded) < colorfulness(img)


def test_lightness_matches_lab_and_render_shape():
    x = torch.rand(2, 3, 9, 7)
    assert torch.allclose(rgb_to_lightness(x), rgb_to_lab(x)[:, :1], atol=1e-4)
    assert render_shape(500, 500, 256, 32) == (256, 256)
    assert render_shape(321, 481, 256, 32) == (256, 384)
    assert render_shape(10, 2000, 256, 32) == (256, 51200)
    assert render_shape(3, 3, 8, 32) == (32, 32)


# --- the pipeline --------------------------------------------------------------------------

def test_pipeline_keeps_lightness_and_adds_color(pipe):
    rgb = real_image(128, 160, index=3)
    gray = to_gray_lightness(rgb)
    out = pipe(gray)
    assert out.shape == (128, 160, 3) and out.dtype == np.uint8
    t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255   # noqa: E731
    L_in = rgb_to_lightness(torch.from_numpy(gray)[None, None].float() / 255)
    assert float((rgb_to_lightness(t(out)) - L_in).abs().mean()) < 1.0    # the detail is the input's
    assert float(colorfulness(t(out))[0]) > 5.0
    assert np.array_equal(pipe(gray, saturation=0.0), np.repeat(gray[..., None], 3, axis=2))
    assert colorfulness(t(pipe(gray, saturation=2.0))) > colorfulness(t(out))


def test_pipeline_uses_only_the_lightness_of_color_and_sepia_input(pipe):
    rgb = real_image(96, 128, index=5)
    sepia = rgb.astype(np.float32).mean(2, keepdims=True) * np.array([1.0, 0.85, 0.65])
    sepia = sepia.clip(0, 255).astype(np.uint8)
    t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255   # noqa: E731
    L = rgb_to_lightness(t(sepia))
    same_l = (lab_to_rgb(torch.cat([L, torch.zeros(1, 2, 96, 128)], 1))[0, 0].numpy() * 255 + 0.5).astype(np.uint8)
    a, b = pipe(sepia).astype(int), pipe(same_l).astype(int)
    assert np.abs(a - b).mean() < 2.0                              # the sepia tint is discarded


def test_pipeline_gray_alpha_16bit_pil_and_tensor(pipe):
    from PIL import Image
    gray = to_gray_lightness(real_image(64, 96))
    ga = np.dstack([gray, np.linspace(0, 255, 64 * 96).reshape(64, 96).astype(np.uint8)])
    out = pipe(ga)
    assert out.shape == (64, 96, 4) and np.array_equal(out[..., 3], ga[..., 1])     # alpha kept
    g16 = gray.astype(np.uint16) * 257
    out16 = pipe(g16[..., None])
    assert out16.shape == (64, 96, 3) and out16.dtype == np.uint16
    assert np.abs(out16.astype(int) // 257 - pipe(gray).astype(int)).max() <= 2
    assert pipe(Image.fromarray(gray)).mode == "RGB" and pipe(Image.fromarray(ga, "LA")).mode == "RGBA"
    t = torch.from_numpy(gray)[None, None].float() / 255
    assert pipe(t).shape == (1, 3, 64, 96) and pipe(t[0]).shape == (3, 64, 96)
    with pytest.raises(ValueError):
        pipe(gray, temperature=0)
    with pytest.raises(ValueError):
        pipe(gray, render_size=8)
    with pytest.raises(ValueError):
        pipe(gray, prior=1.5)


def test_render_size_changes_only_the_chroma_resolution(pipe):
    gray = to_gray_lightness(real_image(192, 256, index=7))
    small, large = pipe(gray, render_size=64), pipe(gray, render_size=192)
    assert small.shape == large.shape == (192, 256, 3)
    assert not np.array_equal(small, large)


def test_pipeline_takes_its_decoding_from_the_spec(pipe):
    import dataclasses

    from restore.pipelines.colorize import ColorizePipeline
    gray = to_gray_lightness(real_image(64, 96, index=2))
    d = pipe.spec.settings
    assert pipe.resolve_options() == dict(render_size=d.render_size, saturation=d.saturation,
                                          temperature=None, prior=None, edge_aware=True,   # by hints or not
                                          reference=None, reference_strength=d.reference_strength,
                                          chroma_spread=d.chroma_spread, tta=d.tta)
    assert pipe.resolve_options(temperature=0.5, prior=0.25)["temperature"] == 0.5
    assert np.array_equal(pipe(gray), pipe(gray, render_size=d.render_size, saturation=d.saturation,
                                           temperature=d.temperature, prior=d.prior))
    vivid = dataclasses.replace(pipe.spec, settings=dataclasses.replace(d, render_size=128, temperature=0.3,
                                                                        saturation=1.4, prior=0.0))
    other = ColorizePipeline(pipe.model, vivid, pipe.device)
    out = other(gray)
    assert np.array_equal(out, pipe(gray, render_size=128, temperature=0.3, saturation=1.4, prior=0.0))
    assert not np.array_equal(out, pipe(gray))
    with pytest.raises(ValueError, match="saturation"):
        other(gray, saturation=-1)


def test_spread_chroma_keeps_the_mean_and_scales_the_spread():
    from restore.ops.color import spread_chroma
    ab = torch.randn(2, 2, 8, 12) * 20 + torch.tensor([15.0, 30.0]).view(1, 2, 1, 1)
    assert spread_chroma(ab, 1.0) is ab
    out = spread_chroma(ab, 1.5)
    assert torch.allclose(out.mean((2, 3)), ab.mean((2, 3)), atol=1e-4)           # the overall tint stays
    assert torch.allclose(out.std((2, 3)), 1.5 * ab.std((2, 3)), rtol=1e-4)
    assert torch.allclose(spread_chroma(ab, 0.0), ab.mean((2, 3), keepdim=True).expand_as(ab))
    with pytest.raises(ValueError):
        spread_chroma(ab, -0.5)
    with pytest.raises(ValueError):
        spread_chroma(ab[:, :1], 1.2)


def test_chroma_spread_moves_colors_apart_only_in_the_automatic_mode(pipe):
    rgb = real_image(96, 128, index=4)
    gray = to_gray_lightness(rgb)
    t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255   # noqa: E731
    flat, spread = pipe(gray, chroma_spread=1.0), pipe(gray, chroma_spread=1.5)
    lab_f, lab_s = rgb_to_lab(t(flat)), rgb_to_lab(t(spread))
    assert float(lab_s[:, 1:].std((2, 3)).sum()) > 1.2 * float(lab_f[:, 1:].std((2, 3)).sum())
    assert float((lab_s[:, 1:].mean((2, 3)) - lab_f[:, 1:].mean((2, 3))).abs().max()) < 3.0   # same tint
    assert float((lab_s[:, :1] - lab_f[:, :1]).abs().mean()) < 1.0                       # same lightness
    with pytest.raises(ValueError, match="chroma_spread"):
        pipe(gray, chroma_spread=-1)
    if pipe.takes_hints:   # with hints the colors are the user's: the spread is not applied
        hints = [(10, 10, (200, 40, 40))]
        assert np.array_equal(pipe(gray, hints, chroma_spread=1.0), pipe(gray, hints, chroma_spread=1.5))


def test_tta_averages_the_mirrored_view_and_keeps_the_lightness(pipe):
    gray = to_gray_lightness(real_image(96, 128, index=6))
    one, two = pipe(gray, tta=False), pipe(gray, tta=True)
    assert not np.array_equal(one, two)
    assert np.abs(one.astype(int) - two.astype(int)).mean() < 6.0     # the same colors, refined
    t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255   # noqa: E731
    assert float((rgb_to_lightness(t(two)) - rgb_to_lightness(t(one))).abs().mean()) < 1.0
    # the mirrored photo's colors are the photo's colors mirrored
    mirrored = pipe(np.ascontiguousarray(gray[:, ::-1]), tta=True)[:, ::-1]
    assert np.abs(mirrored.astype(int) - two.astype(int)).mean() < 0.5


# --- CLI, bench, training ------------------------------------------------------------------

def test_cli_colorize_folder_improves_psnr_and_reports_a_corrupt_file(tmp_path, cached_pipelines):
    src = tmp_path / "in"
    originals = {}
    for i in range(3):
        rgb = real_image(96, 128, index=30 + i)
        originals[f"img{i}"] = rgb
        write_image(src / f"img{i}.png", to_gray_lightness(rgb)[..., None])
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    code, text = invoke("colorize", src, tmp_path / "out", "--quiet")
    counts, tail = summary(text)
    assert code == 1 and counts == (3, 0, 1) and "broken.png" in tail
    gain = []
    for name, rgb in originals.items():
        out = read_image(tmp_path / "out" / f"{name}.png")
        assert out.shape == (96, 128, 3)
        gray = np.repeat(read_image(src / f"{name}.png"), 3, axis=2)
        mse = lambda a: float(((a.astype(float) - rgb) ** 2).mean())   # noqa: E731
        gain.append(10 * np.log10(mse(gray) / mse(out)))
    assert np.mean(gain) > 0                                       # closer to the color originals
    code, text = invoke("colorize", src, tmp_path / "o2", "--saturation", "-1")
    assert code == 2 and "--saturation" in text


def test_bench_colorize_small_run(tmp_path):
    data = tmp_path / "bench"
    for i in range(2):
        write_image(data / f"b{i}.png", real_image(128, 160, index=40 + i))
    keep: dict = {}
    rows = bench_colorize(data, device="cpu", keep_outputs=keep)
    by = {r["method"]: r for r in rows}
    gray, ours = by["gray input (L* only)"], by["restore colorize-s"]
    assert gray["cf_ratio"] < 0.01 and ours["cf_ratio"] > 0.2 and ours["s_per_mp"] > 0
    assert by["original (ground truth)"]["cf_ratio"] == 1.0
    assert "restore colorize-s (posterior mean: least squares, as an L2 regression)" in by
    table = format_table(rows, title="t")
    assert "| restore colorize-s |" in table and "| original (ground truth) | - |" in table
    grid = colorize_grid(keep, "restore colorize-s", ["b0", "b1"], gray_label=GRAY_LABEL, cell=64)
    assert grid.dtype == np.uint8 and grid.shape[1] >= 3 * 64
    pairs = pair_grid([(keep["original"]["b0"], keep["restore colorize-s"]["b0"])] * 4, ("a", "b"),
                      columns=3, cell=32)
    assert pairs.shape[0] > 2 * 32 and pairs.dtype == np.uint8
