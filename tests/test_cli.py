"""The ``restore`` CLI end to end (typer's CliRunner, real dae-s weights on CPU, tiny images):
bad inputs, alpha/gray/16-bit/EXIF outputs, exit codes and flags, and that denoising real
images raises PSNR."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import cli
from restore.io import read_image, write_image
from restore.metrics import psnr

from helpers import BROKEN_WEIGHTS, EXIF_ORIENTATION, break_weights, jpeg_bytes

pytestmark = pytest.mark.usefixtures("cached_pipelines")


SUMMARY = re.compile(r"^(\d+) written, (\d+) skipped, (\d+) failed$", re.M)


# --- helpers ----------------------------------------------------------------------------

def _runner() -> tuple[CliRunner, bool]:
    """A CliRunner with stderr apart where this click allows it (click < 8.2 mixes by
    default; click >= 8.2 has no ``mix_stderr`` and gives ``output`` = both, interleaved)."""
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return CliRunner(mix_stderr=False), True
    return CliRunner(), False


def invoke(*args) -> tuple[int, str]:
    """Run ``restore ARGS``; returns the exit code and everything printed (stdout + stderr)."""
    runner, separate = _runner()
    result = runner.invoke(cli.app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash, not an exit code: show the traceback
    text = result.output + (result.stderr if separate else "")
    return result.exit_code, text


def summary(text: str) -> tuple[tuple[int, int, int], str]:
    """The end-of-run summary: (written, skipped, failed) and the text from it on."""
    matches = list(SUMMARY.finditer(text))
    assert matches, f"no summary line in the output:\n{text}"
    m = matches[-1]
    return (int(m[1]), int(m[2]), int(m[3])), text[m.start():]


def failed_names(summary_text: str) -> set[str]:
    """Names of the files the summary lists as failed."""
    return {Path(m[1]).name for m in re.finditer(r"^\s+failed: (.+?): ", summary_text, re.M)}


def smooth(h: int, w: int, c: int = 3, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """Smooth gradients plus mild noise: something worth denoising, tiny and fast."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx / max(w - 1, 1), yy / max(h - 1, 1), (xx + yy) / max(h + w - 2, 1)], -1)[..., :c]
    img = np.clip(0.15 + 0.7 * base + rng.normal(0, 0.05, base.shape), 0, 1)
    top = np.iinfo(dtype).max
    return (img * top + 0.5).astype(dtype)


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative posix path -> bytes)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --- the bad-input folder ---------------------------------------------------------------

GOOD = {"tiny.png", "rgba.png", "deep.png", "gray.jpg", "rotated.jpg"}
BAD = {"empty.png", "text.png", "truncated.jpg"}


@pytest.fixture
def bad_folder(tmp_path) -> dict:
    """The folder from the issue: corrupt files, edge-case images, and OS junk."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "empty.png").write_bytes(b"")
    (d / "text.png").write_text("not an image, just text\n")
    whole = jpeg_bytes(smooth(48, 64, seed=1))
    (d / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    write_image(d / "tiny.png", np.array([[[120, 60, 200]]], np.uint8))
    rgba = np.dstack([smooth(48, 64, seed=2), np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))])
    write_image(d / "rgba.png", rgba)
    deep = smooth(48, 64, dtype=np.uint16, seed=3)
    write_image(d / "deep.png", deep)
    gray = smooth(48, 64, c=1, seed=4)
    (d / "gray.jpg").write_bytes(jpeg_bytes(gray))
    rot = np.full((40, 60, 3), 40, np.uint8)  # stored 40 high x 60 wide ...
    rot[:12, :18] = 230                        # ... with a bright top-left corner
    (d / "rotated.jpg").write_bytes(jpeg_bytes(rot, orientation=6))  # shown rotated 90 CW
    (d / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0junk")
    (d / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    return {"dir": d, "rgba": rgba, "deep": deep, "gray": gray}


def check_good_outputs(out: Path, inputs: dict, expected: set[str]) -> None:
    assert set(listing(out)) == expected  # nothing for the bad files, the junk, or temp files
    if "tiny.png" in expected:
        assert read_image(out / "tiny.png").shape == (1, 1, 3)

    rgba = read_image(out / "rgba.png")
    assert rgba.shape == (48, 64, 4) and rgba.dtype == np.uint8
    np.testing.assert_array_equal(rgba[..., 3], inputs["rgba"][..., 3])

    deep = read_image(out / "deep.png")
    assert deep.shape == (48, 64, 3) and deep.dtype == np.uint16
    assert (deep % 257 != 0).any(), "16-bit output holds only 8-bit values"

    gray = read_image(out / "gray.jpg")
    assert gray.shape == (48, 64, 1) and gray.dtype == np.uint8
    with Image.open(out / "gray.jpg") as im:
        assert im.mode == "L"

    with Image.open(out / "rotated.jpg") as im:
        assert im.size == (40, 60)  # (width, height): the pixels themselves are upright
        assert im.getexif().get(EXIF_ORIENTATION, 1) == 1  # no rotation left for a viewer
    rot = read_image(out / "rotated.jpg").astype(float)
    assert rot.shape == (60, 40, 3)
    corner = rot[:18, -12:].mean()  # stored top-left -> displayed top-right
    rest = np.concatenate([rot[18:].ravel(), rot[:18, :-12].ravel()]).mean()
    assert corner > rest + 100, (corner, rest)


def test_bad_input_folder_sigma_25(bad_folder, tmp_path):
    out = tmp_path / "out"
    code, text = invoke("denoise", bad_folder["dir"], out, "--sigma", "25")
    assert code == 1, text
    (written, skipped, failed), tail = summary(text)
    assert (written, skipped, failed) == (5, 0, 3), tail
    assert failed_names(tail) == BAD
    for name in BAD:
        assert name in tail
    check_good_outputs(out, bad_folder, GOOD)
    # the reasons say what is wrong
    assert re.search(r"empty\.png: .*empty", tail)
    assert re.search(r"truncated\.jpg: .*truncated", tail, re.I)


def test_bad_input_folder_sigma_auto(bad_folder, tmp_path):
    out = tmp_path / "out"
    code, text = invoke("denoise", bad_folder["dir"], out, "--model", "dae-s")  # --sigma auto is the default
    assert code == 1, text
    (written, skipped, failed), tail = summary(text)
    assert (written, skipped, failed) == (4, 0, 4), tail
    assert failed_names(tail) == BAD | {"tiny.png"}
    assert re.search(r"tiny\.png: .*too small to estimate the noise level", tail)
    check_good_outputs(out, bad_folder, GOOD - {"tiny.png"})


def test_bad_input_folder_blind_default(bad_folder, tmp_path):
    """The default model is blind: it estimates nothing, so a tiny image is no error for it."""
    out = tmp_path / "out"
    code, text = invoke("denoise", bad_folder["dir"], out)
    assert code == 1, text
    (written, skipped, failed), tail = summary(text)
    assert (written, skipped, failed) == (5, 0, 3), tail
    assert failed_names(tail) == BAD
    check_good_outputs(out, bad_folder, GOOD)


# --- real images: the metric goes up ----------------------------------------------------

CROP, SIGMA = 96, 25


@pytest.fixture(scope="module")
def noisy_crops(cbsd68, tmp_path_factory) -> dict:
    """3 CBSD68 images, centre-cropped to 96x96, AWGN sigma 25 (numpy seed 0), saved as 8-bit PNG."""
    root = tmp_path_factory.mktemp("crops")
    noisy_dir = root / "noisy"
    rng = np.random.RandomState(0)
    clean = {}
    for path in sorted(cbsd68.glob("*.png"))[:3]:
        img = read_image(path)
        h, w = img.shape[:2]
        y, x = (h - CROP) // 2, (w - CROP) // 2
        crop = img[y:y + CROP, x:x + CROP]
        noisy = np.clip(np.round(crop + rng.standard_normal(crop.shape) * SIGMA), 0, 255).astype(np.uint8)
        write_image(noisy_dir / path.name, noisy)
        clean[path.name] = crop
    return {"root": root, "noisy": noisy_dir, "clean": clean}


def mean_psnr(folder: Path, clean: dict) -> float:
    return float(np.mean([psnr(c / 255.0, read_image(folder / name) / 255.0) for name, c in clean.items()]))


def test_denoise_real_images_raises_psnr(noisy_crops, tmp_path):
    out = tmp_path / "out"
    code, text = invoke("denoise", noisy_crops["noisy"], out, "--sigma", str(SIGMA), "--quiet")
    assert code == 0, text
    before = mean_psnr(noisy_crops["noisy"], noisy_crops["clean"])
    after = mean_psnr(out, noisy_crops["clean"])
    assert after > before + 3, f"mean PSNR {before:.2f} dB noisy -> {after:.2f} dB denoised (sigma {SIGMA})"


def test_denoise_real_images_sigma_auto_raises_psnr(noisy_crops, tmp_path):
    out = tmp_path / "out"
    code, text = invoke("denoise", noisy_crops["noisy"], out, "--quiet")
    assert code == 0, text
    before = mean_psnr(noisy_crops["noisy"], noisy_crops["clean"])
    after = mean_psnr(out, noisy_crops["clean"])
    assert after > before, f"mean PSNR {before:.2f} dB noisy -> {after:.2f} dB denoised (sigma auto)"


# --- exit codes and flags ---------------------------------------------------------------

@pytest.fixture
def small(tmp_path) -> Path:
    """Two 16x16 images in tmp/in."""
    d = tmp_path / "in"
    write_image(d / "a.png", smooth(16, 16, seed=5))
    write_image(d / "b.png", smooth(16, 16, seed=6))
    return d


def denoise(*args) -> tuple[int, str]:
    return invoke("denoise", *args, "--sigma", "25", "--quiet")


@pytest.fixture
def existing(tmp_path) -> tuple[Path, bytes]:
    """OUT/a.png already there, with other content."""
    out = tmp_path / "out"
    write_image(out / "a.png", np.zeros((5, 7, 3), np.uint8))
    return out, (out / "a.png").read_bytes()


def test_existing_output_without_flags_fails(small, existing):
    out, before = existing
    code, text = denoise(small, out)
    assert code == 1
    counts, tail = summary(text)
    assert counts == (1, 0, 1)
    assert failed_names(tail) == {"a.png"} and "exists" in tail
    assert (out / "a.png").read_bytes() == before
    assert read_image(out / "b.png").shape == (16, 16, 3)


def test_skip_existing(small, existing):
    out, before = existing
    code, text = denoise(small, out, "--skip-existing")
    assert code == 0, text
    assert summary(text)[0] == (1, 1, 0)
    assert (out / "a.png").read_bytes() == before
    assert (out / "b.png").is_file()


def test_overwrite(small, existing):
    out, before = existing
    code, text = denoise(small, out, "--overwrite")
    assert code == 0, text
    assert summary(text)[0] == (2, 0, 0)
    assert (out / "a.png").read_bytes() != before
    assert read_image(out / "a.png").shape == (16, 16, 3)
    assert set(listing(out)) == {"a.png", "b.png"}


def test_skip_existing_with_overwrite_is_usage_error(small, tmp_path):
    out = tmp_path / "out"
    code, text = denoise(small, out, "--skip-existing", "--overwrite")
    assert code == 2
    assert "--skip-existing" in text and "--overwrite" in text
    assert not out.exists() or not listing(out)


@pytest.mark.parametrize("sigma", ["100", "abc", "-5", "75.1"])
def test_bad_sigma_is_usage_error(small, tmp_path, sigma):
    out = tmp_path / "out"
    code, text = invoke("denoise", small, out, "--sigma", sigma, "--quiet")
    assert code == 2, text
    assert "--sigma" in text          # the pipeline's check, named as the flag
    assert not out.exists()


@pytest.mark.parametrize("flags", [[], ["--overwrite"], ["--skip-existing"], ["--format", "jpg"]])
def test_output_folder_is_input_folder_is_usage_error(small, flags):
    before = listing(small)
    code, text = denoise(small, small, *flags)
    assert code == 2, text
    assert "is the input folder" in re.sub(r"[\s│]+", " ", text)
    assert listing(small) == before  # no input replaced, nothing added


def test_single_file_output_beside_it_is_usage_error(small):
    before = listing(small)
    code, text = denoise(small / "a.png", small)
    assert code == 2, text
    assert listing(small) == before


def test_single_non_image_file_is_usage_error(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    code, text = denoise(notes, tmp_path / "out")
    assert code == 2
    assert "not an image file" in re.sub(r"[\s│]+", " ", text)


def _tree(root: Path) -> None:
    for i, rel in enumerate(["top.png", "a/y.png", "a/b/x.png"]):
        write_image(root / rel, smooth(16, 16, seed=10 + i))


def test_recursive_mirrors_tree(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    _tree(src)
    code, text = denoise(src, out, "--recursive")
    assert code == 0, text
    assert set(listing(out)) == {"top.png", "a/y.png", "a/b/x.png"}
    assert read_image(out / "a" / "b" / "x.png").shape == (16, 16, 3)


def test_without_recursive_nested_files_are_not_processed(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    _tree(src)
    code, text = denoise(src, out)
    assert code == 0, text
    assert set(listing(out)) == {"top.png"}


def test_recursive_output_inside_input(tmp_path):
    """OUT inside IN with --recursive: the outputs of a previous run are not inputs."""
    src = tmp_path / "in"
    _tree(src)
    out = src / "restored"
    assert denoise(src, out, "--recursive")[0] == 0
    code, text = denoise(src, out, "--recursive", "--skip-existing")
    assert code == 0, text
    assert summary(text)[0] == (0, 3, 0)
    assert set(listing(out)) == {"top.png", "a/y.png", "a/b/x.png"}


def test_format_jpg(small, tmp_path):
    out = tmp_path / "out"
    code, text = denoise(small, out, "--format", "jpg")
    assert code == 0, text
    assert set(listing(out)) == {"a.jpg", "b.jpg"}
    for name in ("a.jpg", "b.jpg"):
        assert (out / name).read_bytes()[:2] == b"\xff\xd8"
        assert read_image(out / name).shape == (16, 16, 3)


def test_format_jpg_with_alpha_writes_png_and_skip_existing_skips_it(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    rgba = np.dstack([smooth(16, 16, seed=7), np.full((16, 16), 77, np.uint8)])
    write_image(src / "a.png", rgba)
    write_image(src / "b.png", smooth(16, 16, seed=8))
    code, text = denoise(src, out, "--format", "jpg")
    assert code == 0, text
    assert set(listing(out)) == {"a.png", "b.jpg"}  # alpha kept: png instead of jpg
    assert read_image(out / "a.png")[..., 3].min() == 77
    before = listing(out)
    # a second run with --skip-existing must skip both, not fail on a.png
    code, text = denoise(src, out, "--format", "jpg", "--skip-existing")
    assert code == 0, text
    assert summary(text)[0] == (0, 2, 0)
    assert listing(out) == before
    # without a flag, the existing a.png is an error, not silently replaced
    code, text = denoise(src, out, "--format", "jpg")
    assert code == 1
    assert listing(out) == before


def test_single_file_input(small, tmp_path):
    out = tmp_path / "out"
    code, text = denoise(small / "b.png", out)
    assert code == 0, text
    assert set(listing(out)) == {"b.png"}
    assert read_image(out / "b.png").shape == (16, 16, 3)


def test_nonexistent_input_is_usage_error(tmp_path):
    code, text = denoise(tmp_path / "nope", tmp_path / "out")
    assert code == 2
    assert "does not exist" in re.sub(r"[\s│]+", " ", text)  # rich may wrap the message in a box
    assert not (tmp_path / "out").exists()


def test_models_lists_dae_s():
    code, text = invoke("models")
    assert code == 0, text
    assert "dae-s" in text
    assert "denoise" in text


# --- pixel limit and warnings -------------------------------------------------------------

def test_decompression_bomb_is_refused_by_name_with_exit_1(tmp_path):
    import time
    from helpers import bomb_png
    src = tmp_path / "in"
    src.mkdir()
    (src / "bomb.png").write_bytes(bomb_png(20000, 20000))
    start = time.perf_counter()
    code, text = invoke("denoise", src, tmp_path / "out", "--sigma", "25", "--quiet")
    assert time.perf_counter() - start < 5.0  # the model is cached: this is the refusal
    assert code == 1, text
    (written, skipped, failed), tail = summary(text)
    assert (written, skipped, failed) == (0, 0, 1)
    assert "bomb.png: 20000x20000 = 400.0 MP is over the limit of 100 MP" in tail
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("task", ["denoise", "upscale", "unwatermark", "colorize", "inpaint"])
def test_max_pixels_option_on_every_task(task):
    code, text = invoke(task, "--help")
    assert code == 0 and "--max-pixels" in text


def test_max_pixels_option_refuses_and_zero_removes_the_limit(tmp_path):
    src = tmp_path / "in"
    write_image(src / "a.png", np.full((24, 32, 3), 120, np.uint8))
    code, text = invoke("denoise", src, tmp_path / "out", "--sigma", "25", "--quiet", "--max-pixels", "700")
    assert code == 1 and "a.png: 32x24 = 768 pixels is over the limit of 700 pixels" in text
    code, text = invoke("denoise", src, tmp_path / "out", "--sigma", "25", "--quiet", "--max-pixels", "0")
    assert code == 0, text
    code, text = invoke("denoise", src, tmp_path / "out2", "--max-pixels", "-1")
    assert code == 2


def test_flat_image_sigma_auto_no_numpy_warning(tmp_path):
    src = tmp_path / "in"
    write_image(src / "flat.png", np.full((32, 32, 3), 128, np.uint8))
    write_image(src / "black.png", np.zeros((32, 32, 3), np.uint8))
    code, text = invoke("denoise", src, tmp_path / "out")  # --sigma auto
    assert code == 0, text
    assert "RuntimeWarning" not in text and "empty slice" not in text.lower()
    assert abs(read_image(tmp_path / "out" / "flat.png").astype(float).mean() - 128) < 3
    assert read_image(tmp_path / "out" / "black.png").max() < 12


# --- broken weights ---------------------------------------------------------------------

@pytest.mark.parametrize("case", BROKEN_WEIGHTS)
def test_broken_weights_one_error_line_and_exit_1(small, tmp_path, monkeypatch, case):
    expect = break_weights(tmp_path / "w", case)
    monkeypatch.setenv("RESTORE_WEIGHTS", str(tmp_path / "w"))
    code, text = denoise(small, tmp_path / "out")
    assert code == 1
    assert text.strip().count("\n") == 0 and re.match("error: " + expect, text.strip()), text
    assert not (tmp_path / "out").exists()


def test_models_with_a_bad_manifest_is_one_error_line(tmp_path, monkeypatch):
    expect = break_weights(tmp_path / "w", "bad-manifest")
    monkeypatch.setenv("RESTORE_WEIGHTS", str(tmp_path / "w"))
    code, text = invoke("models")
    assert code == 1 and re.fullmatch("error: " + expect + ".*", text.strip()), text
