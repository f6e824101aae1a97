"""Colorization guided by a reference photo's palette: the histogram prior and the chroma
match (restore.ops.palette), the pipeline's ``reference`` (palette followed, lightness
kept, with hints, bad references refused), ``restore colorize --reference`` on a folder and
the web app's colorize job."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restore.bench.colorize import to_gray_lightness
from restore.io import read_image, write_image
from restore.ops.color import ab_gamut_bins, rgb_to_lab, rgb_to_lightness
from restore.ops.palette import (ColorReference, ab_histogram, color_reference, match_chroma, reference_logits,
                                 training_log_prior)
from restore.pipelines.base import OptionError

from helpers import real_image
from test_cli import invoke, summary

BINS = ab_gamut_bins()


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a[..., :3])).permute(2, 0, 1)[None].float() / 255


def _mean_ab(a: np.ndarray) -> np.ndarray:
    return rgb_to_lab(_t(a))[0, 1:].mean((1, 2)).numpy()


def _tinted(rgb: tuple[int, int, int], seed: int = 0, size: int = 48) -> np.ndarray:
    """A photo-like reference: a real image's texture in one tint (mean ``rgb``)."""
    g = real_image(size, size, index=10 + seed).astype(np.float32).mean(2, keepdims=True) / 128.0
    return (g * np.array(rgb, np.float32)).clip(0, 255).astype(np.uint8)


@pytest.fixture(scope="module", params=["colorize-hints-s", "colorize-s"])
def pipe(request):
    from restore import load_pipeline
    return load_pipeline("colorize", model=request.param, device="cpu")


# --- the palette -----------------------------------------------------------------------------

def test_histogram_is_a_smoothed_distribution_peaking_at_the_reference_color():
    ab = torch.tensor([[30.0, 20.0]]).repeat(50, 1)
    h = ab_histogram(ab, BINS)
    assert h.shape == (len(BINS),) and abs(float(h.sum()) - 1) < 1e-5 and bool((h > 0).all())
    assert torch.allclose(BINS[h.argmax()], torch.tensor([30.0, 20.0]))
    sharp = ab_histogram(ab, BINS, sigma=0, floor=0)
    assert float(sharp.max()) == 1.0 and float(h.max()) < 1.0       # smoothing spreads it
    with pytest.raises(ValueError):
        ab_histogram(ab[:0], BINS)


def test_training_prior_is_recovered_from_the_rebalancing_weights():
    from restore.train.colorize import rebalancing_weights
    images = [real_image(64, 64, index=i) for i in range(3)]
    w, p = rebalancing_weights(images, BINS)
    assert torch.allclose(training_log_prior(w.log()).exp(), p.clamp_min(1e-8), rtol=1e-3, atol=1e-7)


def test_reference_logits_and_chroma_match():
    ref = color_reference(_t(_tinted((200, 90, 80))), BINS)
    assert float(ref.mean[0]) > 15                                  # reddish: a* > 0
    logits = torch.randn(1, len(BINS), 4, 5)
    assert torch.equal(reference_logits(logits, ref, 0.0), logits)
    shifted = reference_logits(logits, ref, 1.0).softmax(1)
    mean_a = lambda p: float(torch.einsum("bqhw,q->bhw", p, BINS[:, 0]).mean())   # noqa: E731
    assert mean_a(shifted) > mean_a(logits.softmax(1)) + 5
    flat = torch.zeros(1, len(BINS), 1, 1)                            # a flat posterior becomes the histogram
    assert torch.allclose(reference_logits(flat, ref, 1.0).softmax(1)[0, :, 0, 0], ref.hist, atol=1e-6)
    log_p = torch.randn(len(BINS))                                   # divided out: the ratio hist / prior
    assert torch.allclose(reference_logits(flat, ref, 1.0, log_p).softmax(1)[0, :, 0, 0],
                          (ref.hist / log_p.exp()) / (ref.hist / log_p.exp()).sum(), atol=1e-6)
    ab = torch.randn(1, 2, 16, 16) * 10
    matched = match_chroma(ab, ref, 1.0)
    assert torch.allclose(matched.mean((2, 3))[0], ref.mean, atol=1e-3)
    assert torch.allclose(matched.std((2, 3), unbiased=False)[0], ref.std, atol=1e-3)
    assert torch.equal(match_chroma(ab, ref, 0.0), ab)
    half = match_chroma(ab, ref, 0.5)
    assert torch.allclose(half, (ab + matched) / 2, atol=1e-5)


# --- the pipeline ------------------------------------------------------------------------------

def test_reference_moves_the_palette_and_keeps_the_lightness(pipe):
    gray = to_gray_lightness(real_image(96, 128, index=3))
    auto = pipe(gray)
    red, blue = pipe(gray, reference=_tinted((190, 110, 100))), pipe(gray, reference=_tinted((100, 130, 190)))
    a_auto, a_red, a_blue = _mean_ab(auto), _mean_ab(red), _mean_ab(blue)
    assert a_red[0] > a_auto[0] + 5 and a_red[0] > a_blue[0] + 5      # a reddish reference raises a*
    assert a_blue[1] < a_auto[1] - 5 and a_blue[1] < a_red[1] - 5     # a bluish one lowers b*
    L_in = rgb_to_lightness(torch.from_numpy(gray)[None, None].float() / 255)
    for out in (red, blue):
        assert out.shape == (96, 128, 3) and out.dtype == np.uint8
        assert float((rgb_to_lightness(_t(out)) - L_in).abs().mean()) < 1.0   # the input's lightness
    # strength 0 keeps the network's distribution: only the partial mean/std match moves it
    weak = _mean_ab(pipe(gray, reference=_tinted((190, 110, 100)), reference_strength=0.0))
    assert a_auto[0] < weak[0] < a_red[0]


def test_reference_kinds_are_read_once_and_agree(pipe, tmp_path):
    from PIL import Image
    gray = to_gray_lightness(real_image(64, 80, index=4))
    ref = _tinted((120, 170, 90))
    write_image(tmp_path / "ref.png", ref)
    opts = pipe.resolve_options(reference=str(tmp_path / "ref.png"))
    assert isinstance(opts["reference"], ColorReference)
    assert opts["reference_strength"] == pipe.spec.settings.reference_strength
    out = pipe(gray, reference=ref)
    assert np.array_equal(out, pipe(gray, **opts))                   # the summary, as the CLI passes it
    assert np.array_equal(out, pipe(gray, reference=tmp_path / "ref.png"))
    assert np.array_equal(out, pipe(gray, reference=Image.fromarray(ref)))
    rgba = np.dstack([ref, np.full(ref.shape[:2], 255, np.uint8)])
    rgba[:, :24, :3] = (255, 0, 255)
    rgba[:, :24, 3] = 0                                               # transparent magenta is left out
    assert np.abs(pipe(gray, reference=rgba).astype(int) - pipe(gray, reference=ref[:, 24:]).astype(int)).max() <= 1
    t = torch.from_numpy(gray)[None, None].float() / 255              # tensors and batches too
    assert pipe(t, reference=torch.from_numpy(ref).permute(2, 0, 1).float() / 255).shape == (1, 3, 64, 80)


def test_bad_references_are_clear_errors(pipe, tmp_path):
    gray = to_gray_lightness(real_image(32, 32))
    (tmp_path / "not.png").write_bytes(b"not an image")
    cases = [(tmp_path / "missing.png", "reference cannot be read"),
             (str(tmp_path / "not.png"), "reference cannot be read"),
             (np.full((8, 8, 3), 128, np.uint8), "reference is gray"),
             (np.full((8, 8), 128, np.uint8), "reference is a gray photo"),
             (np.zeros((8, 8, 4), np.uint8), "reference is fully transparent"),
             (42, "reference must be an image"),
             (np.zeros((0, 8, 3), np.uint8), "reference is not an image"),
             (torch.rand(2, 3, 8, 8), "reference must be one photo")]
    for ref, msg in cases:
        with pytest.raises(OptionError, match=f"^{msg}"):
            pipe(gray, reference=ref)
    with pytest.raises(OptionError, match="^reference_strength must be >= 0"):
        pipe(gray, reference=_tinted((190, 110, 100)), reference_strength=-1)


def test_reference_with_hints_hints_win_where_given():
    from restore import load_pipeline
    pipe = load_pipeline("colorize", model="colorize-hints-s", device="cpu")
    gray = to_gray_lightness(real_image(96, 128, index=6))
    hint = np.zeros((96, 128, 4), np.uint8)
    hint[40:56, 50:70] = (40, 90, 200, 255)                            # blue
    red = _tinted((190, 110, 100))
    both, only_ref = pipe(gray, hint, reference=red), pipe(gray, reference=red)
    lab = lambda a: rgb_to_lab(_t(a))[0]   # noqa: E731
    patch = (slice(44, 52), slice(54, 66))
    assert float(lab(both)[2][patch].mean()) < float(lab(only_ref)[2][patch].mean()) - 10   # bluer at the hint
    far = (slice(0, 16), slice(0, 16))
    assert float(lab(both)[1][far].mean()) > float(lab(pipe(gray, hint)[:, :])[1][far].mean())  # reddish elsewhere


# --- CLI and web -------------------------------------------------------------------------------

def test_cli_reference_on_a_folder(tmp_path, cached_pipelines):
    src = tmp_path / "in"
    for i in range(2):
        write_image(src / f"img{i}.png", to_gray_lightness(real_image(64, 80, index=20 + i))[..., None])
    write_image(tmp_path / "red.png", _tinted((190, 110, 100)))
    code, text = invoke("colorize", src, tmp_path / "auto", "--quiet")
    assert code == 0
    code, text = invoke("colorize", src, tmp_path / "ref", "--reference", tmp_path / "red.png", "--quiet")
    assert code == 0 and summary(text)[0] == (2, 0, 0)
    for i in range(2):
        auto, ref = read_image(tmp_path / "auto" / f"img{i}.png"), read_image(tmp_path / "ref" / f"img{i}.png")
        assert _mean_ab(ref)[0] > _mean_ab(auto)[0] + 5
    (tmp_path / "bad.png").write_bytes(b"junk")
    code, text = invoke("colorize", src, tmp_path / "bad", "--reference", tmp_path / "bad.png")
    assert code == 2 and "--reference cannot be read" in text and not (tmp_path / "bad").exists()
    code, text = invoke("colorize", src, tmp_path / "bad", "--reference", tmp_path / "red.png",
                        "--reference-strength", "-1")
    assert code == 2 and "--reference-strength must be >= 0" in text
    code, text = invoke("colorize", src, tmp_path / "bad", "--reference", src)
    assert code == 2                                                   # a folder is not a reference


def test_web_colorize_job_takes_a_reference(tmp_path):
    import restore
    from restore.web.jobs import JobError, Models, Workspace, run_uploads
    photo = tmp_path / "old.png"
    write_image(photo, to_gray_lightness(real_image(48, 64, index=8)))
    red = _tinted((190, 110, 100))
    models, ws = Models("cpu"), Workspace(tmp_path / "out")
    done, errors = run_uploads(models, ws, "colorize", [photo], "colorize-s", reference=red)
    assert not errors
    expected = restore.load_pipeline("colorize", model="colorize-s", device="cpu")(read_image(photo), reference=red)
    assert np.array_equal(read_image(done[0][1]), expected)
    done, errors = run_uploads(models, ws, "colorize", [photo], "colorize-s", reference=np.full((8, 8, 3), 90, np.uint8))
    assert not done and "reference is gray" in errors[0]
    with pytest.raises(JobError):
        run_uploads(models, ws, "colorize", [], "colorize-s", reference=red)


def test_bench_reference_self_row(tmp_path):
    from restore.bench.colorize import bench_colorize
    for i in range(2):
        write_image(tmp_path / f"b{i}.png", real_image(96, 128, index=50 + i))
    rows = bench_colorize(tmp_path, models=["colorize-s"], device="cpu", variants=False, reference_self=True)
    by = {r["method"]: r for r in rows}
    assert by["restore colorize-s reference = original"]["psnr"] > by["restore colorize-s"]["psnr"] + 0.5
    assert by["restore colorize-s reference = original"]["model"] == "colorize-s"


def test_web_colorize_tab_passes_its_reference_input(tmp_path):
    """The Colorize tab's handler, called as Gradio calls it: the optional reference photo
    reaches the pipeline (same result as the pipeline with it), and leaving it empty runs
    the automatic colorization."""
    pytest.importorskip("gradio")
    import restore
    from restore.web.app import build_app
    write_image(tmp_path / "g.png", to_gray_lightness(real_image(48, 64, index=9)))
    write_image(tmp_path / "r.png", _tinted((190, 110, 100)))
    demo = build_app(device="cpu")
    go = next(f for f in demo.fns.values() if f.name == "c_go")
    assert [getattr(c, "elem_id", None) for c in go.inputs][-1] == "colorize-reference"
    run = lambda ref: read_image(go.fn([str(tmp_path / "g.png")], None, 1.0, 1.2, 256, ref,   # noqa: E731
                                       progress=lambda *a, **k: None)[1][0])
    pipe = restore.load_pipeline("colorize", device="cpu")
    gray, ref = read_image(tmp_path / "g.png"), read_image(tmp_path / "r.png")
    assert np.array_equal(run(str(tmp_path / "r.png")), pipe(gray, saturation=1.0, render_size=256, reference=ref))
    assert np.array_equal(run(None), pipe(gray, saturation=1.0, render_size=256, chroma_spread=1.2))
    assert not np.array_equal(run(None), pipe(gray, saturation=1.0, render_size=256, chroma_spread=1.0))
