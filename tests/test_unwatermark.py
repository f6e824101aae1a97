"""Watermark removal: the synthesizer, the two-head network and its composition, the
pipeline (untouched pixels, gray, alpha, 16-bit, tiling, mask), the CLI, the benchmark and
a tiny training run."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from restore.bench.pictures import unwatermark_grid
from restore.bench.unwatermark import bench_unwatermark, format_table, make_test_set, wm_scores
from restore.io import read_image, write_image
from restore.ops.degrade import load_watermark_bank
from restore.metrics import mask_iou
from restore.ops.degrade import (MASK_THRESHOLD, WATERMARK_KINDS, is_held_out, logo_alpha,
                                 overlay_watermark, render_text_mark, synthesize_watermark, watermark_layer)
from restore.zoo.archs.unet import WatermarkUNet, compose, watermark_mask

from helpers import SHARED_DATA, real_image, require_data, require_fonts
from test_cli import invoke, summary

LOGOS = [SHARED_DATA / "train" / "logos", SHARED_DATA / "train" / "watermarks-real"]


@pytest.fixture(scope="module")
def val_bank():
    require_data(LOGOS[0])
    require_fonts()
    return load_watermark_bank(LOGOS, "val")


@pytest.fixture(scope="module")
def pipe():
    from restore import load_pipeline
    return load_pipeline("unwatermark", device="cpu")


def _marked(index: int, bank, size=(192, 256), seed: int = 0, **kw):
    clean = real_image(*size, index=index)
    marked, _, alpha = synthesize_watermark(clean, np.random.default_rng([seed, index]), bank, **kw)
    return (np.clip(marked, 0, 1) * 255 + 0.5).astype(np.uint8), clean, alpha


# --- synthesizer ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(WATERMARK_KINDS))
def test_watermark_layer_kinds_shapes_ranges_and_seed(tiny_bank, kind):
    a = watermark_layer(120, 160, np.random.default_rng(3), tiny_bank, kind=kind, opacity=0.5)
    b = watermark_layer(120, 160, np.random.default_rng(3), tiny_bank, kind=kind, opacity=0.5)
    color, alpha = a
    assert color.shape == (120, 160, 3) and alpha.shape == (120, 160)
    assert color.dtype == alpha.dtype == np.float32
    assert 0 <= color.min() and color.max() <= 1 and 0 <= alpha.min() and alpha.max() <= 0.5 + 1e-6
    assert (alpha > MASK_THRESHOLD).any()
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])      # same seed, same layer


def test_tiled_marks_cover_more_than_single_ones(tiny_bank):
    cover = {k: np.mean([(watermark_layer(200, 200, np.random.default_rng(i), tiny_bank, kind=k)[1] > 0.01).mean()
                         for i in range(6)]) for k in ("logo", "logo_tiled")}
    assert cover["logo_tiled"] > cover["logo"]


def test_overlay_is_alpha_blending_and_synthesize_returns_the_triplet(tiny_bank):
    x = torch.rand(1, 3, 8, 8)
    color, alpha = torch.rand(1, 3, 8, 8), torch.rand(1, 1, 8, 8)
    y = overlay_watermark(x, color, alpha)
    assert torch.allclose(y, (1 - alpha) * x + alpha * color)
    assert overlay_watermark(x[:, :1], color, alpha).shape == (1, 1, 8, 8)       # gray image, RGB mark
    with pytest.raises(ValueError, match="alpha has shape"):
        overlay_watermark(x, color, alpha[..., :4])
    clean = real_image(64, 64)
    marked, c, a = synthesize_watermark(clean, np.random.default_rng(0), tiny_bank, kind="text_tiled")
    assert marked.shape == c.shape == (64, 64, 3) and a.shape == (64, 64)
    assert np.allclose(c, clean / 255.0)
    untouched = a == 0
    assert np.array_equal(marked[untouched], c[untouched]) and not np.allclose(marked, c)


def test_render_text_mark_has_glyph_alpha_and_outline(tiny_bank):
    plain = render_text_mark(tiny_bank, "Sample", 0, 32, np.array([1, 1, 1], np.float32))
    outlined = render_text_mark(tiny_bank, "Sample", 0, 32, np.array([1, 1, 1], np.float32),
                                outline=np.zeros(3, np.float32))
    assert plain.shape[2] == 4 and plain[..., 3].max() > 0.9 and plain[..., 3].mean() < 0.6
    assert outlined[..., 3].sum() > plain[..., 3].sum()                  # the stroke adds coverage
    assert outlined[..., :3].min() < 0.1                                 # and is dark
    rotated = render_text_mark(tiny_bank, "Sample", 0, 32, np.ones(3, np.float32), angle=90)
    assert rotated.shape[0] > rotated.shape[1]


def test_logo_without_alpha_gets_its_background_keyed_out():
    logo = np.full((20, 20, 3), 255, np.uint8)
    logo[5:15, 5:15] = (0, 0, 255)
    rgba = logo_alpha(logo)
    assert rgba.shape == (20, 20, 4) and rgba[0, 0, 3] == 0 and rgba[10, 10, 3] == 1


def test_held_out_split_is_disjoint_and_complete():
    names = [p.stem for d in LOGOS if require_data(d) for p in d.glob("*.png")]
    held = [n for n in names if is_held_out(n, "logo")]
    assert 0.1 < len(held) / len(names) < 0.3
    assert is_held_out("DejaVuSansMono-Bold.ttf", "font") and not is_held_out("DejaVuSans.ttf", "font")
    with pytest.raises(ValueError):
        is_held_out("x", "photo")


def test_watermark_banks_split_logos_and_fonts(val_bank):
    train = load_watermark_bank(LOGOS, "train")
    assert not set(train.names) & set(val_bank.names)
    assert all(n.startswith("DejaVuSansMono") for n in val_bank.names if n.endswith(".ttf"))
    assert len(train.logos) > 3 * len(val_bank.logos) > 0
    with pytest.raises(FileNotFoundError, match="logo folder"):
        load_watermark_bank(SHARED_DATA / "nope", "val")
    with pytest.raises(ValueError, match="split"):
        load_watermark_bank(LOGOS, "test")


# --- network and composition ---------------------------------------------------------------

def test_composition_mask_is_zero_below_a_quarter_and_one_above_three_quarters():
    prob = torch.tensor([0.0, 0.2499, 0.5, 0.7501, 1.0])
    m = watermark_mask(prob.view(1, 1, 1, -1)).flatten()
    assert m[0] == 0 and m[1] == 0 and abs(m[2] - 0.5) < 1e-6 and m[3] == 1 and m[4] == 1


def test_composition_mask_follows_a_given_ramp_and_rejects_a_bad_one():
    prob = torch.tensor([0.39, 0.5, 0.61]).view(1, 1, 1, -1)
    m = watermark_mask(prob, (0.4, 0.6)).flatten()
    assert m[0] == 0 and abs(m[1] - 0.5) < 1e-6 and m[2] == 1
    for ramp in ((0.6, 0.4), (-0.1, 0.5), (0.5, 1.2)):
        with pytest.raises(ValueError, match="ramp"):
            watermark_mask(prob, ramp)


def test_mask_parts_without_a_confident_pixel_are_dropped(pipe):
    from restore.pipelines.unwatermark import confident_components
    prob = torch.zeros(1, 1, 32, 32)
    prob[..., 2:10, 2:10] = 0.6
    prob[..., 5, 5] = 0.999                    # a confident part
    prob[..., 20:30, 20:30] = 0.9              # a part that is never confident
    keep = confident_components(prob, 0.25, 0.995)
    assert keep.dtype == torch.bool and keep.shape == prob.shape
    assert keep[..., 2:10, 2:10].all() and not keep[..., 20:30, 20:30].any() and keep.sum() == 64
    with pytest.raises(ValueError, match="hysteresis"):
        confident_components(prob, 0.5, 0.4)
    # the pipeline drops the unconfident part: those pixels come back as they went in
    x = torch.rand(1, 3, 32, 32)
    logit = torch.logit(prob.clamp(1e-4, 1 - 1e-4))
    pred = torch.cat([torch.zeros(1, 3, 32, 32), logit, torch.full_like(logit, -5.0)], 1)   # restored: black
    y, mask = pipe.restore_from_prediction(x, pred)
    assert torch.equal(y[..., 20:30, 20:30], x[..., 20:30, 20:30]) and mask[..., 20:30, 20:30].eq(0).all()
    assert y[..., 2:10, 2:10].max() < 0.5 * x[..., 2:10, 2:10].max()
    y_all, mask_all = pipe.restore_from_prediction(x, pred, min_confidence=None)
    assert mask_all[..., 20:30, 20:30].eq(1).all() and y_all[..., 20:30, 20:30].eq(0).all()
    with pytest.raises(ValueError, match="min_confidence"):
        pipe(np.zeros((16, 16, 3), np.uint8), min_confidence=0.1)


def test_tta_boxes_grow_clip_and_merge():
    from restore.pipelines.unwatermark import tta_boxes
    keep = np.zeros((100, 120), bool)
    keep[10:20, 10:30] = True                      # grown by 5: rows 5-25, cols 5-35
    keep[2:4, 100:118] = True                      # clipped at the top and the right
    assert sorted(tta_boxes(keep, 5)) == [(0, 9, 95, 120), (5, 25, 5, 35)]
    keep[30:40, 40:50] = True                      # 10 px from the first part: merged at margin 6
    assert sorted(tta_boxes(keep, 6)) == [(0, 10, 94, 120), (4, 46, 4, 56)]
    assert tta_boxes(np.zeros((8, 8), bool), 4) == []
    with pytest.raises(ValueError, match="margin"):
        tta_boxes(keep, -1)
    with pytest.raises(ValueError, match="keep"):
        tta_boxes(keep[None], 1)


def test_predict_averages_the_mirrored_pass_inside_the_boxes_only(pipe, val_bank):
    from restore.pipelines.unwatermark import confident_components, tta_boxes
    d = pipe.spec.settings
    marked, _, _ = _marked(3, val_bank, size=(256, 384), kind="text", opacity=0.8)   # one mark, not tiled
    x = torch.from_numpy(marked).permute(2, 0, 1)[None].float() / 255
    once, twice = pipe.predict(x, tta=False), pipe.predict(x, tta=True)
    assert torch.equal(once, pipe.run_model(x)) and twice.shape == once.shape == (1, 5, 256, 384)
    keep = confident_components(torch.sigmoid(once[:, 3:4]), d.mask_ramp[0], d.min_confidence)[0, 0].numpy()
    inside = torch.zeros(256, 384, dtype=torch.bool)
    for y0, y1, x0, x1 in tta_boxes(keep, d.tta_margin):
        if (y1 - y0) * (x1 - x0) > d.tta_max_area * 256 * 384:
            continue                               # too large: left to the first pass
        inside[y0:y1, x0:x1] = True
        mirrored = pipe.run_model(x[..., y0:y1, x0:x1].flip(-1)).flip(-1)
        assert torch.allclose(twice[..., y0:y1, x0:x1], (once[..., y0:y1, x0:x1] + mirrored) / 2, atol=1e-5)
    assert inside.any() and not inside.all()       # the mark is found and boxed, the rest is not
    assert torch.equal(twice[..., ~inside], once[..., ~inside])
    # nothing detected: one pass, the same output
    calls = []
    clean = torch.full((1, 3, 64, 64), 0.5)
    run = pipe.run_model
    try:
        pipe.run_model = lambda t: calls.append(t.shape) or run(t)
        assert torch.equal(pipe.predict(clean), run(clean)) and len(calls) == 1
        # a mask over the whole image: its one box is too large for the second pass
        everywhere = torch.cat([clean, torch.full((1, 2, 64, 64), 10.0)], 1)
        pipe.run_model = lambda t: calls.append(t.shape) or everywhere[..., :t.shape[-2], :t.shape[-1]]
        assert torch.equal(pipe.predict(clean), everywhere) and len(calls) == 2
    finally:
        del pipe.run_model


def test_compose_keeps_every_pixel_the_mask_leaves():
    x, restored = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    mask = (torch.rand(2, 1, 16, 16) - 0.5).clamp(0, 1) * 2
    y = compose(x, restored, mask)
    keep = (mask == 0).expand_as(x)
    assert torch.equal(y[keep], x[keep])
    full = (mask == 1).expand_as(x)
    assert torch.allclose(y[full], restored[full])


def test_watermark_unet_heads_and_initial_state():
    net = WatermarkUNet(width=8, levels=3).eval()
    x = torch.rand(2, 3, 32, 24)
    with torch.no_grad():
        y = net(x)
    assert y.shape == (2, 5, 32, 24) and y.dtype == torch.float32
    assert net.multiple_of == 4
    assert (torch.sigmoid(y[:, 3:]) < 0.5).float().mean() > 0.9      # starts from "no watermark"


def test_mask_iou():
    a = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    b = a.clone()
    a[0, 0, :2], b[0, 0, 1:3] = True, True
    iou = mask_iou(a, b)
    assert abs(float(iou[0]) - 1 / 3) < 1e-6 and float(iou[1]) == 1.0      # both empty: 1


# --- pipeline with the shipped weights -----------------------------------------------------

def test_pipeline_removes_held_out_watermarks_and_leaves_the_rest(pipe, val_bank):
    # The shipped CPU preview model (see its card) is far from the targets; this
    # checks what it does reliably: it reduces the error inside the mark on most images,
    # and it never touches a pixel outside its mask. A no-op scores ratio 1 and 0 gains.
    improved, frmse_ratio = 0, []
    for i in range(8):
        marked, clean, alpha = _marked(i, val_bank)
        out, mask = pipe(marked, return_mask=True)
        assert out.shape == marked.shape and out.dtype == np.uint8 and mask.shape == marked.shape[:2]
        s_in, s_out = wm_scores(clean, marked, alpha, None), wm_scores(clean, out, alpha, mask > 127)
        improved += s_out["psnr"] > s_in["psnr"]
        frmse_ratio.append(s_out["frmse"] / s_in["frmse"])
        keep = mask == 0
        assert np.array_equal(out[keep], marked[keep])                    # untouched outside the mask
        assert keep.mean() > 0.3
    assert improved >= 5 and np.median(frmse_ratio) < 0.85


def test_pipeline_leaves_a_clean_image_mostly_alone(pipe):
    clean = real_image(128, 128, index=5)
    out, mask = pipe(clean, return_mask=True)
    assert (mask == 0).mean() > 0.95
    assert np.abs(out.astype(int) - clean).mean() < 1.0


def test_pipeline_gray_alpha_16bit_pil_and_tensor(pipe, val_bank):
    marked, _, _ = _marked(1, val_bank, size=(64, 96))
    gray = marked.mean(2).astype(np.uint8)
    assert pipe(gray).shape == (64, 96) and pipe(gray).dtype == np.uint8
    rgba = np.dstack([marked, np.full((64, 96), 77, np.uint8)])
    out = pipe(rgba)
    assert out.shape == (64, 96, 4) and (out[..., 3] == 77).all()
    deep = marked.astype(np.uint16) * 257
    out16, mask16 = pipe(deep, return_mask=True)
    assert out16.dtype == np.uint16 and mask16.dtype == np.uint16
    assert np.abs(out16 / 257.0 - pipe(marked)).max() <= 1.5
    from PIL import Image
    pil_out, pil_mask = pipe(Image.fromarray(marked), return_mask=True)
    assert pil_out.size == (96, 64) and pil_mask.mode == "L"
    t = torch.from_numpy(marked).permute(2, 0, 1).float() / 255
    t_out, t_mask = pipe(t, return_mask=True)
    assert t_out.shape == (3, 64, 96) and t_mask.shape == (1, 64, 96)
    with pytest.raises(ValueError, match="refine"):
        pipe(marked, refine="magic")
    with pytest.raises(ValueError, match="opaque_alpha"):
        pipe(marked, opaque_alpha=0)


def test_tiled_matches_untiled(val_bank):
    from restore import load_pipeline
    marked, _, _ = _marked(2, val_bank, size=(160, 224))
    whole = load_pipeline("unwatermark", device="cpu", tile=0)(marked, refine="none")
    tiled = load_pipeline("unwatermark", device="cpu", tile=96, overlap=32)(marked, refine="none")
    diff = np.abs(whole.astype(int) - tiled)
    assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 6


@pytest.mark.parametrize("refine", ["inpaint", "telea"])
def test_refine_fills_only_opaque_regions(pipe, val_bank, refine):
    marked, clean, alpha = _marked(3, val_bank, kind="logo", opacity=1.0)
    plain = pipe(marked, refine="none")
    refined, mask = pipe(marked, return_mask=True, refine=refine, opaque_alpha=0.3)
    changed = np.any(plain != refined, axis=2)
    assert changed.sum() > 50                           # an opaque logo: the refinement did fill something
    assert not (changed & (mask == 0)).any()


def test_inpaint_refine_uses_the_inpainting_pipeline(pipe):
    from restore.pipelines.unwatermark import inpaint_refine
    assert pipe.inpainter().spec.task == "inpaint" and pipe.inpainter() is pipe.inpainter()
    y = torch.rand(2, 3, 48, 64)
    region = torch.zeros(2, 1, 48, 64, dtype=torch.bool)
    region[1, :, 10:20, 20:40] = True
    out = inpaint_refine(y, region, pipe.inpainter())
    assert torch.equal(out[0], y[0]) and torch.equal(out[1][:, ~region[1, 0]], y[1][:, ~region[1, 0]])
    assert not torch.equal(out[1], y[1]) and out.dtype == y.dtype


# --- CLI, bench, training ------------------------------------------------------------------

def test_cli_unwatermark_folder_with_masks_and_a_corrupt_file(tmp_path, val_bank, cached_pipelines):
    src = tmp_path / "in"
    for i in range(3):
        write_image(src / f"img{i}.png", _marked(i, val_bank, size=(96, 128))[0])
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    code, text = invoke("unwatermark", src, tmp_path / "out", "--save-mask", "--quiet")
    counts, tail = summary(text)
    assert code == 1 and counts == (3, 0, 1) and "broken.jpg" in tail
    for i in range(3):
        out = read_image(tmp_path / "out" / f"img{i}.png")
        mask = read_image(tmp_path / "out" / f"img{i}_mask.png")
        assert out.shape == (96, 128, 3) and mask.shape == (96, 128, 1)
    assert sorted(p.name for p in src.iterdir()) == ["broken.jpg", "img0.png", "img1.png", "img2.png"]
    code, text = invoke("unwatermark", src, tmp_path / "o2", "--refine", "blur")
    assert code == 2 and "--refine" in text
    code, text = invoke("unwatermark", src, tmp_path / "o3", "--opaque-alpha", "1.5")
    assert code == 2 and "--opaque-alpha" in text


def test_bench_unwatermark_small_run(tmp_path, val_bank):
    data = tmp_path / "bench"
    for i in range(2):
        write_image(data / f"b{i}.png", real_image(128, 160, index=10 + i))
    keep: dict = {}
    rows = bench_unwatermark(data, logos=LOGOS, models=["unwatermark-s"], device="cpu", keep_outputs=keep)
    by = {r["method"]: r for r in rows}
    assert not any("JPEG partner" in m for m in by)          # that row is for JPEG-saved sets only
    assert list(by)[:2] == ["watermarked input", "true mask + Telea (OpenCV)"]
    ours = by["restore unwatermark-s"]
    assert ours["psnr"] > by["watermarked input"]["psnr"] and ours["frmse"] < by["watermarked input"]["frmse"]
    assert by["watermarked input"]["iou"] is None and 0 <= ours["iou"] <= 1
    again = make_test_set(data, LOGOS)
    assert np.array_equal(again[1]["marked"], keep["watermarked"]["b1"])     # seeded, deterministic
    table = format_table(rows, title="t")
    assert "| restore unwatermark-s |" in table and "1 (given)" in table
    assert {"restore unwatermark-s (inpaint refine)", "restore unwatermark-s (no refine)",
            "restore unwatermark-s (no tta)"} <= set(by)
    grid = unwatermark_grid(keep, "restore unwatermark-s", ["b0", "b1"], oracle_label="true mask + Telea (OpenCV)", cell=64)
    assert grid.dtype == np.uint8 and grid.shape[1] > 5 * 64


def test_bench_unwatermark_on_jpeg_saved_marks_adds_the_own_weights_row(tmp_path, val_bank, monkeypatch):
    # float32: in bf16 the two differ a little, by design (unwatermark-jpeg-s run alone keeps
    # one more block in float32 than unwatermark-s's network, which runs the partner's weights)
    monkeypatch.setenv("RESTORE_PRECISION", "fp32")
    data = tmp_path / "bench"
    write_image(data / "b0.png", real_image(128, 160, index=12))
    rows = bench_unwatermark(data, logos=LOGOS, models=["unwatermark-s", "unwatermark-jpeg-s"], device="cpu",
                             jpeg=90, baselines=("input",))
    methods = [r["method"] for r in rows]
    assert "restore unwatermark-s (own weights, no JPEG partner)" in methods
    assert not any(m.startswith("restore unwatermark-jpeg-s (own") for m in methods)   # it has no partner
    by = {r["method"]: r for r in rows}
    # on a JPEG-saved image unwatermark-s runs its partner's weights: the partner's own figures
    assert by["restore unwatermark-s"]["psnr"] == by["restore unwatermark-jpeg-s"]["psnr"]


def test_jpeg_roundtrip_keeps_shape_and_loses_more_at_lower_quality():
    from restore.ops.degrade import jpeg_roundtrip
    img = real_image(96, 128, index=3)
    out = {q: jpeg_roundtrip(img, q) for q in (30, 95)}
    assert all(o.shape == img.shape and o.dtype == np.uint8 for o in out.values())
    err = {q: np.abs(o.astype(float) - img).mean() for q, o in out.items()}
    assert 0 < err[95] < err[30]
    with pytest.raises(ValueError, match="quality"):
        jpeg_roundtrip(img, 0)
    with pytest.raises(ValueError, match="uint8"):
        jpeg_roundtrip(img.astype(np.float32), 80)


def test_jpeg_validation_case_and_jpeg_test_set(tiny_bank, tmp_path):
    from restore.train.unwatermark import jpeg_case, validation_set
    case = validation_set([real_image(200, 240, index=i) for i in range(2)], tiny_bank, size=160)
    saved = jpeg_case(case, 60)
    assert saved["marked"].shape == case["marked"].shape and saved["marked"].dtype == torch.float32
    assert torch.equal(saved["alpha"], case["alpha"]) and not torch.equal(saved["clean"], case["clean"])
    for i in range(2):
        write_image(tmp_path / f"b{i}.png", real_image(128, 160, index=10 + i))
    plain, saved = make_test_set(tmp_path, tiny_bank), make_test_set(tmp_path, tiny_bank, jpeg=70)
    for a, b in zip(plain, saved):
        assert np.array_equal(a["alpha"], b["alpha"]) and b["marked"].dtype == np.uint8
        assert not np.array_equal(a["clean"], b["clean"]) and wm_scores(a["clean"], b["clean"], a["alpha"], None)["psnr"] > 25
    with pytest.raises(ValueError, match="quality"):
        make_test_set(tmp_path, tiny_bank, jpeg=101)


def test_cli_rejects_jpeg_options_out_of_range(tmp_path):
    code, text = invoke("train", "unwatermark", "--data", tmp_path, "--logos", tmp_path, "--out",
                        tmp_path / "w.safetensors", "--jpeg", "1.5")
    assert code == 2 and "--jpeg" in text and not (tmp_path / "w.safetensors").exists()
    code, text = invoke("bench", "unwatermark", "--data", tmp_path, "--logos", tmp_path, "--jpeg", "0")
    assert code == 2 and "--jpeg" in text
    code, text = invoke("train", "unwatermark", "--data", tmp_path, "--logos", tmp_path, "--out",
                        tmp_path / "w.safetensors", "--hard-negatives", "1.5")
    assert code == 2 and "--hard-negatives" in text and not (tmp_path / "w.safetensors").exists()


def test_cli_unwatermark_no_tta_runs_the_network_once(tmp_path, val_bank, pipe, cached_pipelines):
    import restore
    marked = _marked(4, val_bank, size=(96, 128))[0]       # one tile, one mark
    write_image(tmp_path / "in" / "a.png", marked)
    # the pipeline the CLI gets (cached_pipelines hands it the same object), its forward calls counted
    cli_pipe = restore.load_pipeline("unwatermark", model=None, device="cpu", tile="auto", overlap=None,
                                     precision="auto")
    calls = []
    hook = cli_pipe.model.register_forward_hook(lambda module, args, out: calls.append(tuple(args[0].shape)))
    passes = {}
    try:
        for flag, tta in (("--no-tta", False), ("--tta", True)):
            calls.clear()
            code, _ = invoke("unwatermark", tmp_path / "in", tmp_path / flag, flag, "--device", "cpu", "--quiet")
            assert code == 0
            passes[flag] = list(calls)
            assert np.array_equal(read_image(tmp_path / flag / "a.png"), pipe(marked, tta=tta))
    finally:
        hook.remove()
    assert len(passes["--no-tta"]) == 1                                 # the whole image, once
    assert len(passes["--tta"]) >= 2 and passes["--tta"][0] == passes["--no-tta"][0]   # + the mirrored boxes
    assert all(h * w < 96 * 128 for _, _, h, w in passes["--tta"][1:])
    assert not np.array_equal(read_image(tmp_path / "--no-tta" / "a.png"), read_image(tmp_path / "--tta" / "a.png"))


def test_pipeline_takes_its_settings_from_the_spec(pipe):
    import dataclasses

    from restore.pipelines.unwatermark import UnwatermarkPipeline
    d = pipe.spec.settings
    assert pipe.resolve_options() == dict(return_mask=False, refine=d.refine, opaque_alpha=d.opaque_alpha,
                                          min_confidence=d.min_confidence, tta=True, jpeg=None)
    # a part of the mask whose most probable pixel is 0.9: dropped at the shipped 0.995 ...
    prob = torch.zeros(1, 1, 32, 32)
    prob[..., 20:30, 20:30] = 0.9
    logit = torch.logit(prob.clamp(1e-4, 1 - 1e-4))
    pred = torch.cat([torch.zeros(1, 3, 32, 32), logit, torch.full_like(logit, -5.0)], 1)
    x = torch.rand(1, 3, 32, 32)
    assert pipe.restore_from_prediction(x, pred)[1].eq(0).all()
    # ... kept by a model whose spec says 0.85, and by the call option
    lenient = dataclasses.replace(pipe.spec, settings=dataclasses.replace(d, min_confidence=0.85))
    other = UnwatermarkPipeline(pipe.model, lenient, pipe.device)
    assert other.resolve_options()["min_confidence"] == 0.85
    kept = other.restore_from_prediction(x, pred)[1]
    assert kept[..., 20:30, 20:30].eq(1).all()
    assert torch.equal(kept, pipe.restore_from_prediction(x, pred, min_confidence=0.85)[1])
    # the mask ramp too: a ramp above 0.9 leaves nothing; its low end bounds min_confidence
    high = UnwatermarkPipeline(pipe.model, dataclasses.replace(lenient, settings=dataclasses.replace(
        lenient.settings, mask_ramp=(0.92, 0.97), min_confidence=0.95)), pipe.device)
    assert high.restore_from_prediction(x, pred)[1].eq(0).all()
    with pytest.raises(ValueError, match="min_confidence must be in \\[0.92, 1\\]"):
        high.resolve_options(min_confidence=0.9)


def test_cli_unwatermark_rejects_a_min_confidence_below_the_mask_ramp(tmp_path):
    write_image(tmp_path / "in" / "a.png", real_image(32, 32))
    code, text = invoke("unwatermark", tmp_path / "in", tmp_path / "out", "--min-confidence", "0.1")
    assert code == 2 and "--min-confidence" in text and not (tmp_path / "out").exists()


# --- a mask given by hand ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def frog_marked():
    """examples/Frog.png, 128 x 128, with a white text mark across its upper half."""
    import cv2
    from pathlib import Path
    im = read_image(Path(__file__).resolve().parents[1] / "examples" / "Frog.png")[..., :3]
    s = min(im.shape[:2])
    im = cv2.resize(np.ascontiguousarray(im[:s, :s]), (128, 128), interpolation=cv2.INTER_AREA)
    cv2.putText(im, "(c) web", (8, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    return im


def test_given_mask_equal_to_the_predicted_one_reproduces_the_plain_call(pipe, frog_marked):
    from PIL import Image
    out, mask = pipe(frog_marked, return_mask=True)
    assert 0.01 < (mask > 0).mean() < 0.5, "the mark is found"
    for given in (mask, mask > 0, Image.fromarray(mask), mask[..., None], torch.from_numpy(mask)):
        assert np.array_equal(pipe(frog_marked, mask=given), out)
    # the mask comes back as given (soft edges included), float input too
    out2, mask2 = pipe(frog_marked, mask=mask, return_mask=True)
    assert np.array_equal(mask2, mask)
    f = frog_marked.astype(np.float32) / 255
    f_out, f_mask = pipe(f, return_mask=True)
    assert np.array_equal(pipe(f, mask=f_mask), f_out)


def test_given_mask_changes_exactly_its_region(pipe, frog_marked):
    _, predicted = pipe(frog_marked, return_mask=True)
    p = predicted > 0
    given = p.copy()
    given[:, 64:] = False                       # erase the right half of the mark ...
    given[96:112, 16:48] = True                 # ... add a box where the model sees no mark
    assert p[:, 64:].any() and not p[96:112, 16:48].any()
    plain = pipe(frog_marked, refine="none")
    out, used = pipe(frog_marked, mask=given, refine="none", return_mask=True)
    assert np.array_equal(used > 0, given)
    assert np.array_equal(out[~given], frog_marked[~given]), "outside the given mask: the input"
    assert np.array_equal(out[given & p], plain[given & p]), "where both masks agree: the plain result"
    erased = p & ~given
    assert not np.array_equal(plain[erased], frog_marked[erased]), "the plain call changed the erased part"
    # the added box is filled (Telea, the default refine); nothing outside the mask moves
    filled = pipe(frog_marked, mask=given)
    box = np.zeros_like(given)
    box[96:112, 16:48] = True
    assert np.abs(filled[box].astype(int) - frog_marked[box]).mean() > 1
    assert np.array_equal(filled[~given], frog_marked[~given])
    # an empty mask changes nothing
    assert np.array_equal(pipe(frog_marked, mask=np.zeros((128, 128), np.uint8)), frog_marked)


def test_given_mask_errors(pipe, frog_marked):
    with pytest.raises(ValueError, match="mask has shape \\(128, 100\\); the image is 128 x 128"):
        pipe(frog_marked, mask=np.ones((128, 100), bool))
    with pytest.raises(TypeError, match="unsupported mask type list"):
        pipe(frog_marked, mask=[[1]])


# --- JPEG-saved inputs: the JPEG partner's weights ----------------------------------------

# The tests that compare unwatermark-s running its partner's weights with unwatermark-jpeg-s
# bit for bit run both in float32: in bf16 they differ a little by design (unwatermark-jpeg-s
# run alone keeps one more block in float32 than unwatermark-s's network does).
@pytest.fixture(scope="module")
def jpeg_pipe():
    from restore import load_pipeline
    return load_pipeline("unwatermark", "unwatermark-jpeg-s", device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def pipe32():
    from restore import load_pipeline
    return load_pipeline("unwatermark", device="cpu", precision="fp32")


def test_jpeg_saved_inputs_run_the_jpeg_partner_and_the_others_the_own_weights(pipe32, jpeg_pipe, val_bank):
    pipe = pipe32
    from restore.ops.degrade import jpeg_roundtrip
    from restore.ops.jpeg_history import has_jpeg_history
    assert pipe.jpeg_partner == "unwatermark-jpeg-s" and jpeg_pipe.jpeg_partner is None
    marked, _, _ = _marked(4, val_bank)
    saved = jpeg_roundtrip(marked, 85)
    assert has_jpeg_history(saved) and not has_jpeg_history(marked)
    assert pipe.uses_jpeg_weights(saved) and not pipe.uses_jpeg_weights(marked)
    png_before = pipe(marked)
    out = pipe(saved)
    assert np.array_equal(out, jpeg_pipe(saved))                       # the partner's weights, bit for bit
    x = torch.from_numpy(saved).permute(2, 0, 1)[None].float() / 255
    with pipe._weights(True):
        partner = pipe.run_model(x)
    with pipe._weights(False):
        own = pipe.run_model(x)
    assert torch.equal(partner, jpeg_pipe.run_model(x)) and not torch.allclose(partner, own, atol=1e-3)
    assert np.array_equal(pipe(marked), png_before)                    # and the own weights come back
    assert np.array_equal(pipe(marked, jpeg=True), jpeg_pipe(marked))  # forced either way


def test_a_batch_of_both_kinds_runs_each_image_with_its_weights(pipe, val_bank):
    from restore.ops.degrade import jpeg_roundtrip
    marked, _, _ = _marked(5, val_bank, size=(128, 160))
    saved = jpeg_roundtrip(marked, 80)
    t = torch.from_numpy(np.stack([marked, saved])).permute(0, 3, 1, 2).float() / 255
    out, mask = pipe(t, return_mask=True)
    for i in range(2):
        one, one_mask = pipe(t[i:i + 1], return_mask=True)
        assert torch.equal(out[i:i + 1], one) and torch.equal(mask[i:i + 1], one_mask)
    assert torch.equal(pipe(t[1:2]), pipe(t[1:2], jpeg=True))


def test_jpeg_option_needs_a_partner(jpeg_pipe):
    from restore.pipelines.base import OptionError
    with pytest.raises(OptionError, match="JPEG"):
        jpeg_pipe.resolve_options(jpeg=True)
    assert jpeg_pipe.resolve_options(jpeg=False)["jpeg"] is False


def test_jpeg_inputs_take_the_partners_settings(pipe32, jpeg_pipe, val_bank, monkeypatch):
    pipe = pipe32
    import dataclasses

    from restore.ops.degrade import jpeg_roundtrip
    from restore.zoo import registry
    partner = registry.get_spec("unwatermark-jpeg-s")
    changed = dataclasses.replace(partner, settings=dataclasses.replace(partner.settings, min_confidence=0.3,
                                                                         opaque_alpha=0.9))
    real = registry.get_spec
    monkeypatch.setattr(registry, "get_spec", lambda name: changed if name == "unwatermark-jpeg-s" else real(name))
    saved = jpeg_roundtrip(_marked(3, val_bank)[0], 85)
    expected = jpeg_pipe(saved, min_confidence=0.3, opaque_alpha=0.9)
    assert not np.array_equal(expected, jpeg_pipe(saved))               # the settings matter on this image
    assert np.array_equal(pipe(saved), expected)
    assert pipe.settings is pipe.spec.settings                          # own settings again after the call
