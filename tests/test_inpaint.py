"""Inpainting: masks, Poisson blending, the GAN/encoder archs, the latent search, the
pipeline (untouched pixels, gray, alpha, 16-bit, seed, masks of every kind), the CLI
(mask folders, one mask, missing masks, classical methods, --save-raw), the benchmark
and a tiny training run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from restore.bench.inpaint import (bench_inpaint, convergence, format_convergence, format_table, inpaint_scores,
                                   make_test_set)
from restore.bench.pictures import inpaint_grid
from restore.io import read_image, write_image
from restore.ops.blend import classical_fill, classical_inpaint, poisson_blend
from restore.ops.degrade import box_mask, center_mask, is_held_out, make_mask, stroke_mask
from restore.pipelines.inpaint import importance_weights, latent_search, mask_tensor, window_starts
from restore.zoo.archs.dcgan import Discriminator, Encoder, Generator, LatentInpainter, sample_latent, to_sphere

from helpers import SHARED_DATA, real_image, require_data
from test_cli import failed_names, invoke, summary

FACES = SHARED_DATA / "train" / "faces"


@pytest.fixture(scope="module")
def faces_pipe():
    from restore import load_pipeline
    return load_pipeline("inpaint", "gan-faces-64", device="cpu")


@pytest.fixture(scope="module")
def photos_pipe():
    from restore import load_pipeline
    return load_pipeline("inpaint", "gan-photos-64", device="cpu")


def _held_out_face(k: int = 0) -> np.ndarray:
    import cv2
    names = sorted(p for p in require_data(FACES).iterdir() if is_held_out(p.name, "image"))
    return cv2.resize(read_image(names[k]), (64, 64), interpolation=cv2.INTER_AREA)


def _hole_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    return inpaint_scores(a, b, mask)["hole_psnr"]


# --- masks --------------------------------------------------------------------------------------

def test_held_out_images_are_about_one_in_sixteen_by_name():
    names = [f"img{i}.jpg" for i in range(4000)]
    share = sum(is_held_out(n, "image") for n in names) / len(names)
    assert 0.04 < share < 0.09


def test_held_out_split_is_fixed_by_the_file_name():
    # the split of the shipped GAN's training (UTKFace file names): a split that moved
    # (another hash, a per-process seed) would put benchmark faces into training
    held = ["10_0_0_20170110215927291.jpg.chip.jpg", "10_0_0_20170110220548521.jpg.chip.jpg", "img60.jpg",
            "img67.jpg", "img140.jpg"]
    kept = ["100_1_0_20170110183726390.jpg.chip.jpg", "100_1_2_20170105174847679.jpg.chip.jpg", "img0.jpg",
            "img59.jpg", "img68.jpg"]
    assert all(is_held_out(n, "image") for n in held)
    assert not any(is_held_out(n, "image") for n in kept)
    assert [n for n in (f"img{i}.jpg" for i in range(100)) if is_held_out(n, "image")] == \
        [f"img{i}.jpg" for i in (*range(60, 68), *range(80, 88))]


def test_masks_cover_what_they_promise():
    rng = np.random.default_rng(0)
    c = center_mask(64, 96)
    assert c.dtype == np.float32 and abs(c.mean() - 0.25) < 0.01 and c[32, 48] == 1 and c[0, 0] == 0
    s = stroke_mask(321, 481, rng)
    assert 0.05 <= s.mean() < 0.08 and set(np.unique(s)) == {0.0, 1.0}
    b = box_mask(64, 64, rng)
    assert 0 < b.mean() < 1
    a, again = make_mask("strokes", 100, 120, np.random.default_rng(3)), make_mask("strokes", 100, 120,
                                                                                     np.random.default_rng(3))
    assert np.array_equal(a, again)
    with pytest.raises(ValueError, match="mask kind"):
        make_mask("circles", 10, 10, rng)


def test_mask_tensor_reads_every_kind_and_resizes_with_nearest_neighbour():
    m = np.zeros((20, 30), np.uint8)
    m[5:10, 5:15] = 255
    t = mask_tensor(m, 20, 30)
    assert t.shape == (1, 1, 20, 30) and t.sum() == 50 and set(t.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(mask_tensor(m > 0, 20, 30), t)
    assert torch.equal(mask_tensor(Image.fromarray(m), 20, 30), t)
    assert torch.equal(mask_tensor(np.repeat(m[..., None], 3, 2), 20, 30), t)  # color mask
    assert torch.equal(mask_tensor(torch.from_numpy(m / 255.0), 20, 30), t)
    big = mask_tensor(m, 40, 60)                                                  # nearest: still binary
    assert big.shape == (1, 1, 40, 60) and big.sum() == 200
    with pytest.raises(TypeError):
        mask_tensor([[1, 0]], 1, 2)


def test_one_mask_reader_with_each_tasks_rule():
    """read_mask is inpainting's and unwatermark's reader; only the threshold (and what
    each accepts) differs: above half is a hole, nonzero is a mark."""
    from restore.pipelines.base import read_mask
    from restore.pipelines.inpaint import mask_array
    from restore.pipelines.unwatermark import given_mask
    soft = np.array([[0, 1, 100, 128, 255]], np.uint8)                 # a soft mask, as unwatermark returns
    assert read_mask(soft, 1, 5, threshold=None)[0, 0].tolist() == [[False, True, True, True, True]]
    assert read_mask(soft, 1, 5, threshold=0.5)[0, 0].tolist() == [[False, False, False, True, True]]
    assert torch.equal(given_mask(soft, 1, 1, 5), read_mask(soft, 1, 5, threshold=None))
    assert np.array_equal(mask_array(soft, 1, 5), read_mask(soft, 1, 5, threshold=0.5)[0, 0].numpy())
    assert read_mask(np.array([[0, 1, 1]], np.uint8), 1, 3, threshold=0.5)[0, 0].tolist() == [[False, True, True]]
    f = np.array([[-0.2, 0.0, 0.3, 0.7]], np.float32)
    assert read_mask(f, 1, 4, threshold=None)[0, 0].tolist() == [[True, False, True, True]]
    assert read_mask(f, 1, 4, threshold=0.5)[0, 0].tolist() == [[False, False, False, True]]
    rgb = np.zeros((2, 3, 3), np.uint16)
    rgb[1, 2, 1] = 40000
    assert read_mask(rgb, 2, 3, threshold=0.5, color=True)[0, 0].sum() == 1
    with pytest.raises(ValueError, match="mask has shape"):
        read_mask(rgb, 2, 3, threshold=None)                            # color only where asked for
    with pytest.raises(ValueError, match="the image is 6 x 4"):
        read_mask(soft, 4, 6, threshold=None)                            # another size: only resized where asked
    assert read_mask(soft, 2, 10, threshold=None, resize=True).sum() == 16
    with pytest.raises(ValueError, match="batch of 2"):
        read_mask(torch.ones(3, 1, 1, 5), 1, 5, threshold=None, batch=2)


# --- Poisson blending ---------------------------------------------------------------------------

def test_poisson_blend_keeps_known_pixels_and_source_gradients():
    t = torch.rand(2, 3, 40, 50)
    m = torch.zeros(2, 1, 40, 50)
    m[:, :, 10:30, 15:35] = 1
    m[1, :, 0:5, 0:50] = 1                                       # a hole touching the image border
    out = poisson_blend(t + 0.3, t, m)                          # same gradients, other level
    assert out.dtype == torch.float32 and out.shape == t.shape
    assert torch.equal(out[m.expand_as(t) == 0], t[m.expand_as(t) == 0])
    assert (out - t).abs().max() < 1e-3                          # the offset is gone: seamless


def test_poisson_blend_interpolates_smoothly_where_the_source_is_flat():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    t = torch.stack([0.2 + 0.5 * xx, 0.3 * yy, 0.5 + 0.0 * xx])[None]
    m = torch.zeros(1, 1, 32, 32)
    m[..., 8:24, 8:24] = 1
    out = poisson_blend(torch.zeros_like(t), t, m)              # harmonic fill of a linear ramp is the ramp
    assert (out - t).abs().max() < 1e-3
    pasted = torch.where(m > 0, torch.zeros_like(t), t)
    assert (pasted - t).abs().max() > 0.3
    with pytest.raises(ValueError, match="poisson_blend"):
        poisson_blend(t, t[:, :, :16], m)


def test_large_holes_are_blended_by_multigrid_with_the_factorisations_result(monkeypatch):
    """Above DIRECT_SOLVE_MAX hole pixels the Poisson system is solved by multigrid-
    preconditioned conjugate gradients (memory linear in the hole): the same fill as the
    factorisation, border-touching and interior parts alike."""
    from restore.ops import blend
    g = torch.Generator().manual_seed(0)
    t = torch.rand(1, 3, 90, 110, generator=g)
    src = torch.rand(1, 3, 90, 110, generator=g).cumsum(2) / 90          # smooth gradients to keep
    m = torch.zeros(1, 1, 90, 110)
    m[..., 20:70, 30:95] = 1
    m[..., 0:12, 0:20] = 1                                               # touches the image border
    exact = poisson_blend(src, t, m)
    monkeypatch.setattr(blend, "DIRECT_SOLVE_MAX", 100)
    calls = []
    solve = blend._multigrid_solve
    monkeypatch.setattr(blend, "_multigrid_solve", lambda *a: calls.append(1) or solve(*a))
    multigrid = poisson_blend(src, t, m)
    assert calls and (multigrid - exact).abs().max() < 1e-5
    assert torch.equal(multigrid[m.expand_as(t) == 0], t[m.expand_as(t) == 0])


# --- archs and latent search --------------------------------------------------------------------

def test_dcgan_shapes_ranges_and_sphere():
    g, d, e = Generator(16, 8, 16), Discriminator(8, 16), Encoder(16, 8, 16)
    z = sample_latent(3, 16, torch.Generator().manual_seed(0))
    assert torch.allclose(z.norm(dim=1), torch.full((3,), 4.0))
    x = g(z)
    assert x.shape == (3, 3, 16, 16) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert d(x).shape == (3,)
    m = torch.zeros(3, 1, 16, 16)
    m[..., 4:12, 4:12] = 1
    ze = e(x, m)
    assert ze.shape == (3, 16) and torch.allclose(ze.norm(dim=1), torch.full((3,), 4.0), atol=1e-4)
    x2 = x.clone()
    x2[..., 4:12, 4:12] = torch.rand(3, 3, 8, 8)
    assert torch.allclose(e(x2, m), ze, atol=1e-5)               # E never sees the missing pixels
    assert torch.allclose(to_sphere(ze * 3), ze, atol=1e-4)
    with pytest.raises(ValueError, match="size"):
        Generator(16, 8, 48)


def test_importance_weights_are_zero_in_the_hole_and_highest_at_its_border():
    m = torch.zeros(1, 1, 32, 32)
    m[..., 12:20, 12:20] = 1
    w = importance_weights(m)
    assert (w[m > 0] == 0).all()
    assert w[0, 0, 11, 15] > w[0, 0, 2, 2] > 0


def test_latent_search_lowers_the_loss_and_is_seeded():
    torch.manual_seed(0)
    net = LatentInpainter(latent=16, width=8, d_width=8, e_width=8, size=16).eval()
    y = net.generator(sample_latent(2, 16, torch.Generator().manual_seed(5))).detach()  # reachable targets
    m = torch.zeros(2, 1, 16, 16)
    m[..., 4:12, 4:12] = 1
    search = dict(lambda_prior=0.003, lr=0.1, restart_noise=0.25)
    for init in ("random", "encoder"):
        fill, loss, curve = latent_search(net, y, m, steps=30, restarts=3, init=init, seed=1, **search)
        assert fill.shape == (2, 3, 16, 16) and loss.shape == (2,) and curve.shape == (31,)
        assert curve[-1] < 0.8 * curve[0]
        fill2, _, _ = latent_search(net, y, m, steps=30, restarts=3, init=init, seed=1, **search)
        assert torch.equal(fill, fill2)
    with pytest.raises(ValueError, match="init"):
        latent_search(net, y, m, steps=1, restarts=1, init="zero", **search)
    with pytest.raises(ValueError, match="latent_search needs"):
        latent_search(net, y[:, :, :8], m, steps=1, restarts=1, **search)


def test_window_starts_cover_the_image():
    for n in (10, 64, 65, 200, 817):
        starts = window_starts(n, 64, 16)
        assert starts[0] == 0 and (starts[-1] + 64 >= n)
        assert all(b - a <= 48 for a, b in zip(starts, starts[1:]))


# --- the pipeline with the shipped weights -----------------------------------------------------

def test_face_pipeline_fills_the_hole_and_leaves_the_rest(faces_pipe):
    face = _held_out_face(0)
    m = center_mask(64, 64)
    given = face.copy()
    given[m > 0] = 255
    out, raw = faces_pipe(given, m, steps=20, return_raw=True)
    assert out.shape == face.shape and out.dtype == np.uint8
    assert np.array_equal(out[m == 0], face[m == 0])
    assert raw.shape == face.shape and not np.array_equal(raw[m == 0], face[m == 0])   # G(z*) itself
    assert _hole_psnr(face, out, m) > _hole_psnr(face, given, m) + 5
    again = faces_pipe(given, m, steps=20)
    assert np.array_equal(out, again)                            # same seed, same output
    telea = faces_pipe(given, m, method="telea")
    assert np.array_equal(telea[m == 0], face[m == 0]) and not np.array_equal(telea, out)


def test_face_pipeline_keeps_kind_gray_alpha_16bit_and_size(faces_pipe):
    face = _held_out_face(1)
    m = center_mask(64, 64)
    gray = face.mean(2).astype(np.uint8)
    g = faces_pipe(gray, m, steps=2)
    assert g.shape == (64, 64) and g.dtype == np.uint8
    rgba = np.concatenate([face, np.full((64, 64, 1), 77, np.uint8)], 2)
    a = faces_pipe(rgba, m, steps=2)
    assert a.shape == (64, 64, 4) and (a[..., 3] == 77).all()
    deep = face.astype(np.uint16) * 257
    d = faces_pipe(deep, m, steps=2)
    assert d.dtype == np.uint16 and np.array_equal(d[m == 0], deep[m == 0])
    import cv2
    big = cv2.resize(face, (150, 130))                          # any size: resized to 64 and back
    mb = center_mask(130, 150)
    o = faces_pipe(Image.fromarray(big), Image.fromarray((mb * 255).astype(np.uint8)), steps=2)
    assert isinstance(o, Image.Image) and o.size == (150, 130)
    assert np.array_equal(np.array(o)[mb == 0], big[mb == 0])
    assert np.array_equal(faces_pipe(face, np.zeros((64, 64))), face)   # nothing to fill


def test_windowed_pipeline_on_a_photo_with_strokes(photos_pipe):
    img = real_image(150, 200, index=3)
    m = stroke_mask(150, 200, np.random.default_rng(0))
    given = img.copy()
    given[m > 0] = 0
    out = photos_pipe(given, m, steps=3)
    assert out.shape == img.shape and np.array_equal(out[m == 0], img[m == 0])
    assert _hole_psnr(img, out, m) > _hole_psnr(img, given, m) + 5
    small = photos_pipe(img[:40, :50], m[:40, :50], steps=1)   # smaller than a window
    assert small.shape == (40, 50, 3)


def test_classical_methods_fill_only_the_hole():
    img = real_image(64, 80, index=5)
    m = center_mask(64, 80) > 0
    for method in ("telea", "ns", "biharmonic"):
        out = classical_inpaint(img, m, method)
        assert out.dtype == np.uint8 and np.array_equal(out[~m], img[~m])
        assert _hole_psnr(img, out, m) > 12
    with pytest.raises(ValueError):
        classical_inpaint(img, m, "magic")


def test_opencv_fills_on_the_holes_box_are_the_whole_images_fill():
    """classical_inpaint runs Telea / Navier-Stokes on the hole's box only: the same pixels as
    OpenCV on the whole image, for holes in the middle, at the borders and in several parts."""
    import cv2

    rng = np.random.default_rng(3)
    for trial in range(40):
        h, w = (int(v) for v in rng.integers(24, 90, 2))
        img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (5, 5), 2)
        m = np.zeros((h, w), bool)
        for _ in range(int(rng.integers(1, 4))):
            y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
            m[y:y + int(rng.integers(1, 12)), x:x + int(rng.integers(1, 12))] = True
        radius = int(rng.choice([1, 3, 5]))
        for method, flag in (("telea", cv2.INPAINT_TELEA), ("ns", cv2.INPAINT_NS)):
            whole = cv2.inpaint(img, m.astype(np.uint8), radius, flag)
            assert np.array_equal(classical_inpaint(img, m, method, radius), whole), (trial, method, radius)
    img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert np.array_equal(classical_inpaint(img, np.zeros((16, 16), bool), "telea"), img)


def test_classical_fill_on_tensors_is_the_8bit_fill_inside_the_region_only():
    img = real_image(48, 64, index=3)
    m = center_mask(48, 64) > 0
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    xs = torch.cat([x, x.flip(-1)])
    region = torch.zeros(2, 1, 48, 64, dtype=torch.bool)
    region[0, 0] = torch.from_numpy(m)
    out = classical_fill(xs, region, "ns")
    expected = torch.from_numpy(classical_inpaint(img, m, "ns")).permute(2, 0, 1).float() / 255
    hole = torch.from_numpy(m)
    assert torch.equal(out[0][:, hole], expected[:, hole]) and torch.equal(out[0][:, ~hole], x[0][:, ~hole])
    assert torch.equal(out[1], xs[1])                      # no region: unchanged
    with pytest.raises(ValueError, match="method"):
        classical_fill(x, region[:1], "magic")


def test_pipeline_takes_its_search_settings_from_the_spec(faces_pipe):
    from restore.pipelines.inpaint import InpaintPipeline
    face, m = _held_out_face(2), center_mask(64, 64)
    d = faces_pipe.spec.settings
    assert faces_pipe.resolve_options()["steps"] == d.steps and faces_pipe.resolve_options()["restarts"] == d.restarts
    short = dataclasses.replace(faces_pipe.spec, settings=dataclasses.replace(d, steps=3, restarts=2))
    other = InpaintPipeline(faces_pipe.model, short, faces_pipe.device)
    assert other.resolve_options()["steps"] == 3 and other.resolve_options()["restarts"] == 2
    assert np.array_equal(other(face, m), faces_pipe(face, m, steps=3, restarts=2))
    # the learning rate has no call option: only the spec sets it
    fast = dataclasses.replace(short, settings=dataclasses.replace(short.settings, lr=0.5))
    assert not np.array_equal(InpaintPipeline(faces_pipe.model, fast, faces_pipe.device)(face, m), other(face, m))
    for bad in (dict(steps=-1), dict(restarts=0), dict(lambda_prior=-0.1), dict(init="zero")):
        with pytest.raises(ValueError, match=next(iter(bad))):
            faces_pipe(face, m, **bad)


def test_windows_overlap_is_the_models(photos_pipe):
    from restore.pipelines.inpaint import InpaintPipeline
    assert photos_pipe.overlap == photos_pipe.spec.overlap == 16
    wider = InpaintPipeline(photos_pipe.model, dataclasses.replace(photos_pipe.spec, overlap=32), photos_pipe.device)
    assert wider.overlap == 32
    assert InpaintPipeline(photos_pipe.model, photos_pipe.spec, photos_pipe.device, overlap=8).overlap == 8


def test_pair_finder_pairs_by_relative_path_then_by_stem(tmp_path):
    from restore.pipelines.batch import pair_finder
    src, masks = tmp_path / "in", tmp_path / "masks"
    (src / "sub").mkdir(parents=True)
    level = lambda v: np.full((8, 8), v, np.uint8)   # noqa: E731
    write_image(masks / "x.png", level(0))
    write_image(masks / "y.png", level(100))
    write_image(masks / "sub" / "y.bmp", level(200))       # any image format
    write_image(masks / "other" / "z.png", level(50))
    find = pair_finder(src, masks)
    assert find(src / "x.png").max() == 0
    assert find(src / "y.png").max() == 100                # the same relative folder first ...
    assert find(src / "sub" / "y.png").max() == 200
    assert find(src / "deep" / "z.jpg").max() == 50        # ... then any folder, by stem
    with pytest.raises(FileNotFoundError, match="no mask for w.png"):
        find(src / "w.png")
    one = pair_finder(src / "x.png", masks / "y.png")      # one file for every input
    assert one(src / "x.png").max() == one(src / "anything.png").max() == 100
    (src / "masks").mkdir()
    with pytest.raises(ValueError, match="inside the input folder"):
        pair_finder(src, src / "masks")
    (tmp_path / "notes.txt").write_text("no image")
    with pytest.raises(ValueError, match="not an image file"):
        pair_finder(src, tmp_path / "notes.txt")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="cannot read"):
        pair_finder(src, tmp_path / "broken.png")
    with pytest.raises(FileNotFoundError):
        pair_finder(src, tmp_path / "nowhere")


# --- CLI ----------------------------------------------------------------------------------------

def test_cli_inpaint_mask_folder_missing_mask_and_corrupt_file(tmp_path, cached_pipelines):
    src, masks = tmp_path / "in", tmp_path / "masks"
    m = (center_mask(64, 64) * 255).astype(np.uint8)
    faces = [_held_out_face(k) for k in range(3)]
    for k, f in enumerate(faces):
        write_image(src / f"face{k}.png", f)
    write_image(masks / "face0.png", m)
    write_image(masks / "face1.jpg", np.repeat(m[..., None], 3, 2))          # any format, color
    write_image(masks / "face2.png", m[::2, ::2])                             # other size: nearest
    write_image(src / "nomask.png", faces[0])
    (src / "broken.png").write_bytes(b"not a png")
    code, text = invoke("inpaint", src, tmp_path / "out", "--masks", masks, "--model", "gan-faces-64",
                        "--steps", "5", "--save-raw", "--quiet")
    counts, tail = summary(text)
    assert code == 1 and counts == (3, 0, 2) and failed_names(tail) == {"nomask.png", "broken.png"}
    assert "no mask" in tail
    for k, f in enumerate(faces):
        out = read_image(tmp_path / "out" / f"face{k}.png")
        raw = read_image(tmp_path / "out" / f"face{k}_raw.png")
        assert out.shape == raw.shape == (64, 64, 3)
        assert np.array_equal(out[m == 0], f[m == 0])


def test_cli_inpaint_one_mask_classical_method_seed_and_usage_errors(tmp_path, cached_pipelines):
    src = tmp_path / "in"
    write_image(src / "a.png", _held_out_face(0))
    mask = tmp_path / "m.png"
    write_image(mask, (center_mask(64, 64) * 255).astype(np.uint8))
    args = ("--mask", mask, "--model", "gan-faces-64", "--steps", "5", "--quiet")
    assert invoke("inpaint", src, tmp_path / "o1", *args)[0] == 0
    assert invoke("inpaint", src, tmp_path / "o2", *args)[0] == 0
    assert np.array_equal(read_image(tmp_path / "o1" / "a.png"), read_image(tmp_path / "o2" / "a.png"))
    assert invoke("inpaint", src, tmp_path / "o3", *args, "--seed", "7", "--init", "random")[0] == 0
    assert not np.array_equal(read_image(tmp_path / "o1" / "a.png"), read_image(tmp_path / "o3" / "a.png"))
    assert invoke("inpaint", src, tmp_path / "o4", "--mask", mask, "--method", "ns", "--quiet")[0] == 0
    code, text = invoke("inpaint", src, tmp_path / "o5", "--mask", mask, "--method", "magic")
    assert code == 2 and "--method" in text
    code, text = invoke("inpaint", src, tmp_path / "o6")
    assert code == 2 and "--masks" in text
    code, text = invoke("inpaint", src, tmp_path / "o7", "--mask", mask, "--masks", tmp_path)
    assert code == 2


# --- bench and training ------------------------------------------------------------------------

def test_bench_inpaint_small_run(tmp_path):
    data = tmp_path / "faces"
    for k in range(2):
        write_image(data / f"f{k}.png", _held_out_face(k))
    keep: dict = {}
    rows = bench_inpaint(data, mask_kind="center", models=["gan-faces-64"], device="cpu", keep_outputs=keep)
    by = {r["method"]: r for r in rows}
    assert list(by) == ["OpenCV Telea", "OpenCV Navier-Stokes", "scikit-image biharmonic",
                        "restore gan-faces-64 (encoder z)", "restore gan-faces-64 (random z)"]
    for r in rows:
        assert r["images"] == 2 and r["hole_psnr"] > 10 and r["s_per_image"] > 0
    assert np.array_equal(keep["masked"]["f0.png"][center_mask(64, 64) > 0], np.full((1024, 3), 255, np.uint8))
    assert "| restore gan-faces-64 (encoder z) |" in format_table(rows, title="t")
    grid = inpaint_grid(keep, "restore gan-faces-64 (encoder z)", ["f0.png", "f1.png"], telea_label="OpenCV Telea",
                        biharmonic_label="scikit-image biharmonic", cell=64)
    assert grid.dtype == np.uint8 and grid.shape[1] > 5 * 64
    again = make_test_set(data, "strokes", seed=1)
    assert np.array_equal(again[1]["mask"], make_test_set(data, "strokes", seed=1)[1]["mask"])
    c = convergence("gan-faces-64", data, mask_kind="center", steps=20, restarts=2, device="cpu")
    assert c["cases"] == 2 and len(c["random_curve"]) == 21 and "random z reaches" in format_convergence(c)
