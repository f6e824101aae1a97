"""restore.io: round trips per format, alpha/gray/16-bit, EXIF orientation, corrupt files,
atomic writes, permissions, and folder listing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from restore import io as rio
from restore.io import ImageReadError, ImageWriteError, iter_images, read_image, write_image
from restore.metrics import psnr

from helpers import jpeg_bytes




def smooth_rgb(h: int = 48, w: int = 64, dtype=np.uint8) -> np.ndarray:
    """A smooth color image (gradients): compresses well, so lossy codecs stay close."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx / (w - 1), yy / (h - 1), (xx + yy) / (h + w - 2)], -1)
    top = np.iinfo(dtype).max
    return (img * 0.8 * top + 0.1 * top + 0.5).astype(dtype)


def noise(shape, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """Random samples over the whole range of ``dtype`` (catches any lossy step)."""
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# --- round trips ------------------------------------------------------------------------

@pytest.mark.parametrize("ext", ["png", "bmp"])
def test_roundtrip_8bit_rgb_exact(tmp_path, ext):
    img = noise((20, 30, 3))
    out = write_image(tmp_path / f"x.{ext}", img)
    assert out == tmp_path / f"x.{ext}"
    back = read_image(out)
    assert back.dtype == np.uint8 and back.shape == img.shape
    np.testing.assert_array_equal(back, img)


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_roundtrip_16bit_rgb_exact(tmp_path, ext):
    img = noise((20, 30, 3), np.uint16)
    img[0, 0] = (0, 1, 65535)  # extremes and a value a 8-bit detour would lose
    back = read_image(write_image(tmp_path / f"x.{ext}", img))
    assert back.dtype == np.uint16 and back.shape == img.shape
    np.testing.assert_array_equal(back, img)


def test_roundtrip_gray_png(tmp_path):
    img = noise((20, 30, 1))
    back = read_image(write_image(tmp_path / "g.png", img))
    assert back.shape == (20, 30, 1) and back.dtype == np.uint8
    np.testing.assert_array_equal(back, img)
    # a 2-D array is gray too
    back2 = read_image(write_image(tmp_path / "g2.png", img[:, :, 0]))
    np.testing.assert_array_equal(back2, img)


def test_roundtrip_gray_16bit_png(tmp_path):
    img = noise((20, 30, 1), np.uint16)
    back = read_image(write_image(tmp_path / "g16.png", img))
    assert back.shape == (20, 30, 1) and back.dtype == np.uint16
    np.testing.assert_array_equal(back, img)


def test_roundtrip_rgba_png_keeps_alpha(tmp_path):
    img = noise((20, 30, 4))
    img[..., 3] = np.arange(30, dtype=np.uint8)[None, :] * 8  # includes 0 = fully transparent
    back = read_image(write_image(tmp_path / "a.png", img))
    assert back.shape == (20, 30, 4) and back.dtype == np.uint8
    np.testing.assert_array_equal(back, img)  # color under alpha 0 too: nothing premultiplied


def test_roundtrip_jpg_close(tmp_path):
    img = smooth_rgb()
    back = read_image(write_image(tmp_path / "x.jpg", img))
    assert back.shape == img.shape and back.dtype == np.uint8
    diff = np.abs(back.astype(int) - img)
    assert diff.max() <= 12 and diff.mean() < 2
    assert psnr(img / 255, back / 255) > 38


def test_roundtrip_webp_close(tmp_path):
    img = smooth_rgb()
    back = read_image(write_image(tmp_path / "x.webp", img, quality=90))
    assert back.shape == img.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - img).mean() < 3
    assert psnr(img / 255, back / 255) > 35


def _cv2_webp_alpha() -> bool:
    ok, buf = cv2.imencode(".webp", np.full((8, 8, 4), 128, np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 100])
    if not ok:
        return False
    dec = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return dec is not None and dec.ndim == 3 and dec.shape[2] == 4


def test_roundtrip_webp_alpha(tmp_path):
    if not _cv2_webp_alpha():
        pytest.skip("this OpenCV build does not keep the WebP alpha channel")
    img = np.dstack([smooth_rgb(), noise((48, 64), seed=3)])
    back = read_image(write_image(tmp_path / "a.webp", img, quality=100))
    assert back.shape == (48, 64, 4) and back.dtype == np.uint8
    np.testing.assert_array_equal(back[..., 3], img[..., 3])  # WebP alpha is lossless
    assert np.abs(back[..., :3].astype(int) - img[..., :3]).mean() < 3


# --- format changes on write ------------------------------------------------------------

def test_rgba_to_jpg_is_written_as_png(tmp_path):
    img = noise((16, 24, 4))
    out = write_image(tmp_path / "a.jpg", img)
    assert out == tmp_path / "a.png"
    assert files_in(tmp_path) == {"a.png"}
    np.testing.assert_array_equal(read_image(out), img)


def test_rgba_with_fmt_jpg_is_written_as_png(tmp_path):
    img = noise((16, 24, 4))
    out = write_image(tmp_path / "a.tif", img, fmt="jpg")
    assert out == tmp_path / "a.png"
    np.testing.assert_array_equal(read_image(out), img)


def test_16bit_to_jpg_is_8bit(tmp_path):
    # flat 16x16 blocks (one JPEG MCU each): JPEG keeps flat blocks exactly
    img = np.zeros((16, 48, 3), np.uint16)
    img[:, 16:32] = 128 * 257
    img[:, 32:] = 65535
    out = write_image(tmp_path / "d.jpg", img)
    assert out == tmp_path / "d.jpg"
    back = read_image(out)
    assert back.dtype == np.uint8 and back.shape == img.shape
    assert np.abs(back[:, :16].astype(int) - 0).max() <= 1
    assert np.abs(back[:, 16:32].astype(int) - 128).max() <= 1
    assert back[:, 32:].min() == 255  # 65535 -> 255
    # the mapping itself, on a lossless 8-bit format: k * 257 -> k for every k in 0..255
    ramp = np.arange(0, 65536, 257, dtype=np.uint16)[None, :, None].repeat(3, 2)
    back_bmp = read_image(write_image(tmp_path / "r.bmp", ramp))
    assert back_bmp.dtype == np.uint8
    np.testing.assert_array_equal(back_bmp[0, :, 0], np.arange(256, dtype=np.uint8))


def test_write_creates_parent_folders(tmp_path):
    out = write_image(tmp_path / "a" / "b" / "x.png", noise((4, 4, 3)))
    assert out.is_file()


# --- EXIF orientation -------------------------------------------------------------------

def _corner_image() -> np.ndarray:
    """40 high x 60 wide, dark, with a white 10x15 block in the top-left corner."""
    img = np.full((40, 60, 3), 30, np.uint8)
    img[:10, :15] = 250
    return img


@pytest.mark.parametrize("orientation, shape, corner", [
    (1, (40, 60, 3), (slice(0, 10), slice(0, 15))),      # as stored
    (6, (60, 40, 3), (slice(0, 15), slice(-10, None))),  # rotate 90 CW: top-left -> top-right
    (3, (40, 60, 3), (slice(-10, None), slice(-15, None))),  # 180: top-left -> bottom-right
    (8, (60, 40, 3), (slice(-15, None), slice(0, 10))),  # rotate 90 CCW: top-left -> bottom-left
])
def test_exif_orientation_applied(tmp_path, orientation, shape, corner):
    path = tmp_path / f"o{orientation}.jpg"
    path.write_bytes(jpeg_bytes(_corner_image(), orientation))
    img = read_image(path)
    assert img.shape == shape
    ys, xs = corner
    h, w = shape[:2]
    block = img[ys, xs]
    assert block.shape[:2] in ((10, 15), (15, 10))
    assert block.mean() > 200
    mask = np.ones((h, w), bool)
    mask[ys, xs] = False
    assert img[mask].mean() < 60
    # same pixels as Pillow's own EXIF transpose
    ref = np.array(ImageOps.exif_transpose(Image.open(path)))
    assert np.abs(img.astype(int) - ref).max() <= 2


# --- corrupt inputs ---------------------------------------------------------------------

def _png_bytes(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize("name, make", [
    ("empty.png", lambda: b""),
    ("text.png", lambda: b"this is a text file, not an image\n" * 4),
    ("truncated.jpg", lambda: (lambda b: b[: len(b) // 2])(jpeg_bytes(noise((64, 64, 3))))),
    ("truncated.png", lambda: (lambda b: b[: len(b) // 2])(_png_bytes(noise((64, 64, 3))))),
    ("garbage.jpg", lambda: b"\xff\xd8" + bytes(range(256)) * 4 + b"\xff\xd9"),
])
def test_corrupt_input_raises_with_name(tmp_path, name, make):
    path = tmp_path / name
    path.write_bytes(make())
    with pytest.raises(ImageReadError, match=name.replace(".", r"\.")):
        read_image(path)


@pytest.mark.parametrize("ext", ["jpg", "png"])
@pytest.mark.parametrize("keep", [0.1, 0.9, -20])
def test_truncated_anywhere_raises(tmp_path, ext, keep):
    img = noise((64, 64, 3))
    data = jpeg_bytes(img) if ext == "jpg" else _png_bytes(img)
    cut = int(len(data) * keep) if keep > 0 else len(data) + keep  # -20: just before the end marker
    path = tmp_path / f"cut.{ext}"
    path.write_bytes(data[:cut])
    with pytest.raises(ImageReadError, match=rf"cut\.{ext}: truncated"):
        read_image(path)


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_data_after_end_marker_is_read(tmp_path, ext):
    """Files with bytes after the end marker (camera padding, the video appended to a
    motion photo) are whole images, not truncated ones."""
    img = smooth_rgb()
    data = jpeg_bytes(img) if ext == "jpg" else _png_bytes(img[..., ::-1])
    path = tmp_path / f"padded.{ext}"
    path.write_bytes(data + bytes(64) + b"ftypmp42" + bytes(range(256)))
    back = read_image(path)
    assert back.shape == img.shape
    assert np.abs(back.astype(int) - img).max() <= (12 if ext == "jpg" else 0)


def test_missing_file_raises_with_name(tmp_path):
    with pytest.raises(ImageReadError, match=r"nothere\.png"):
        read_image(tmp_path / "nothere.png")


def test_image_read_error_is_value_error():
    assert issubclass(ImageReadError, ValueError)


# --- atomic writes and permissions ------------------------------------------------------

def test_write_leaves_no_temp_files(tmp_path):
    for i, ext in enumerate(["png", "jpg", "tif", "bmp", "webp"]):
        write_image(tmp_path / f"x{i}.{ext}", noise((8, 8, 3)))
    write_image(tmp_path / "x0.png", noise((8, 8, 3), seed=1))  # replacing an existing file
    assert files_in(tmp_path) == {"x0.png", "x1.jpg", "x2.tif", "x3.bmp", "x4.webp"}


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4, 3), np.int64),
                                 np.zeros((4, 4, 3, 1), np.uint8)])
def test_failed_encode_leaves_target_unchanged(tmp_path, bad):
    target = tmp_path / "x.png"
    write_image(target, noise((8, 8, 3)))
    before = target.read_bytes()
    with pytest.raises(ImageWriteError):
        write_image(target, bad)
    assert target.read_bytes() == before
    assert files_in(tmp_path) == {"x.png"}


def test_failed_rename_leaves_target_unchanged(tmp_path, monkeypatch):
    """A failure after the temp file is written (here: the rename) removes the temp file."""
    target = tmp_path / "x.png"
    write_image(target, noise((8, 8, 3)))
    before = target.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rio.os, "replace", broken_replace)
    with pytest.raises(ImageWriteError, match=r"x\.png"):
        write_image(target, noise((8, 8, 3), seed=1))
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert files_in(tmp_path) == {"x.png"}


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_written_file_respects_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        out = write_image(tmp_path / "x.png", noise((4, 4, 3)))
    finally:
        os.umask(old)
    mode = out.stat().st_mode & 0o777
    assert mode == 0o666 & ~umask  # not the 0600 of mkstemp


# --- iter_images ------------------------------------------------------------------------

def test_iter_images_sorted_and_ignores_junk(tmp_path):
    for name in ["b.png", "a.jpg", "c.JPEG", "d.tif", "e.webp", "f.bmp", "Thumbs.db", ".DS_Store",
                 "desktop.ini", "._a.jpg", "._foo.png", "notes.txt", "g.png.txt"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "nested.png").write_bytes(b"x")
    found = list(iter_images(tmp_path))
    assert [p.name for p in found] == ["a.jpg", "b.png", "c.JPEG", "d.tif", "e.webp", "f.bmp"]
    assert found == sorted(found)


def test_iter_images_recursive(tmp_path):
    for rel in ["z.png", "a/b/x.png", "a/y.jpg", "a/notes.txt", "a/._y.jpg", ".hidden/h.png",
                "a/.cache/c.png", "m/Thumbs.db"]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    found = list(iter_images(tmp_path, recursive=True))
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/b/x.png", "a/y.jpg", "z.png"]
    assert [p.name for p in iter_images(tmp_path)] == ["z.png"]


def test_iter_images_single_file(tmp_path):
    p = tmp_path / "one.png"
    p.write_bytes(b"x")
    assert list(iter_images(p)) == [p]
    assert list(iter_images(p, recursive=True)) == [p]


def test_iter_images_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(iter_images(tmp_path / "nope"))


# --- pixel limit --------------------------------------------------------------------------

def test_decompression_bomb_refused_fast_with_its_size(tmp_path):
    from helpers import bomb_png
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(20000, 20000))
    assert path.stat().st_size < 500_000
    start = time.perf_counter()
    with pytest.raises(rio.ImageTooLargeError, match=r"bomb\.png: 20000x20000 = 400\.0 MP is over the limit of 100 MP") as e:
        read_image(path)
    assert time.perf_counter() - start < 1.0
    assert isinstance(e.value, ImageReadError) and (e.value.width, e.value.height) == (20000, 20000)
    assert "--max-pixels" in str(e.value)
    # with no limit of ours, Pillow's own decompression-bomb check (about 179 MP) still refuses it
    with pytest.raises(rio.ImageTooLargeError, match=r"bomb\.png: 20000x20000 = 400\.0 MP is over Pillow"):
        read_image(path, max_pixels=0)
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "bmp", "webp"])
def test_max_pixels_every_format(tmp_path, ext):
    img = smooth_rgb(48, 64)
    path = write_image(tmp_path / f"x.{ext}", img)
    for limit in (None, 0, 48 * 64):
        assert read_image(path, max_pixels=limit).shape == (48, 64, 3)
    with pytest.raises(rio.ImageTooLargeError, match=r"x\.\w+: 64x48 = 3072 pixels is over the limit of 3071 pixels"):
        read_image(path, max_pixels=48 * 64 - 1)


def test_max_pixels_applies_to_the_stored_size_before_exif_rotation(tmp_path):
    from helpers import jpeg_bytes
    path = tmp_path / "rot.jpg"
    path.write_bytes(jpeg_bytes(smooth_rgb(40, 60), orientation=6))
    assert read_image(path, max_pixels=2400).shape == (60, 40, 3)
    with pytest.raises(rio.ImageTooLargeError, match="60x40"):
        read_image(path, max_pixels=2399)


def test_pillow_bomb_warning_is_not_shown_and_its_error_is_named(tmp_path, monkeypatch):
    import warnings
    from PIL import Image as PILImage
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 1000)
    small, big = write_image(tmp_path / "small.jpg", smooth_rgb(30, 40)), write_image(tmp_path / "big.jpg", smooth_rgb(48, 64))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow warns between 1000 and 2000 pixels: not shown
        assert read_image(small).shape == (30, 40, 3)
    with pytest.raises(rio.ImageTooLargeError, match=r"big\.jpg: .*3072 pixels|big\.jpg: .*Pillow"):
        read_image(big, max_pixels=0)


def test_zero_width_png_is_a_named_error(tmp_path):
    data = bytearray(_png_bytes(noise((4, 4, 3))))
    data[16:20] = (0).to_bytes(4, "big")  # IHDR width (its CRC now wrong too)
    path = tmp_path / "zero.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match=r"zero\.png: "):
        read_image(path)


def test_run_batch_refuses_large_inputs_and_masks(tmp_path):
    from restore.pipelines.batch import pair_finder, run_batch
    src = tmp_path / "in"
    write_image(src / "small.png", smooth_rgb(10, 10))
    write_image(src / "large.png", smooth_rgb(40, 40))
    result = run_batch(lambda image, path: image, src, tmp_path / "out", progress=False, max_pixels=1000)
    assert [p.name for p, _ in result.written] == ["small.png"]
    assert [(p.name, why) for p, why in result.failed] == [
        ("large.png", "40x40 = 1600 pixels is over the limit of 1000 pixels; --max-pixels N (max_pixels=N) changes it, 0 removes it")]
    assert result.exit_code == 1
    masks = tmp_path / "masks"
    write_image(masks / "small.png", smooth_rgb(40, 40))
    find = pair_finder(src, masks, max_pixels=1000)
    with pytest.raises(rio.ImageTooLargeError, match="40x40"):
        find(src / "small.png")
    assert pair_finder(src, masks, max_pixels=None)(src / "small.png").shape == (40, 40, 3)
