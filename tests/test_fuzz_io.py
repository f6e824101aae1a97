"""Fuzzed reading: restore.io.read_image on a seeded corpus of valid, broken and hostile
files (every input format truncated at many points, byte flips in headers and data, wrong
extensions, huge and zero declared sizes, palette/CMYK/16-bit/float/multi-page/animated
files). Each must give a named error (ImageReadError or a subclass) or a correct image,
never another exception, a hang, a printed warning or silent garbage."""

from __future__ import annotations

import io
import random
import signal
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restore.io import ImageReadError, ImageTooLargeError, read_image

#: Seconds one read may take (the files are a few KB; a hang fails, it does not block CI).
TIME_LIMIT = 3.0
H, W = 24, 32


def _gradient(mode: str) -> Image.Image:
    yy, xx = np.mgrid[0:H, 0:W]
    rgb = np.stack([xx * 255 // (W - 1), yy * 255 // (H - 1), (xx + yy) * 255 // (H + W - 2)], -1).astype(np.uint8)
    im = Image.fromarray(rgb, "RGB")
    if mode == "RGBA":
        im.putalpha(Image.fromarray((xx * 8 % 256).astype(np.uint8), "L"))
    elif mode != "RGB":
        im = im.convert(mode)
    return im


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    f = io.BytesIO()
    im.save(f, fmt, **kw)
    return f.getvalue()


def _frames() -> list[Image.Image]:
    return [_gradient("RGB"), Image.new("RGB", (W, H), (0, 255, 0)), Image.new("RGB", (W, H), (0, 0, 255))]


def _float_tiff(nan: bool) -> bytes:
    a = (np.mgrid[0:H, 0:W][1] / (W - 1)).astype(np.float32)
    if nan:
        a[3, 5] = np.nan
    return _save(Image.fromarray(a, "F"), "TIFF")


#: name -> (file bytes, the expected image as Pillow decodes it (H x W x C) or None: a named error expected,
#: tolerance in 8-bit steps). Every format read, in the variants cameras and editors write.
def _corpus() -> dict[str, tuple[bytes, np.ndarray | None, int]]:
    c: dict[str, tuple[bytes, np.ndarray | None, int]] = {}

    def add(name, data, ref=None, tol=0, mode=None):
        if ref is None and mode is not None:
            with Image.open(io.BytesIO(data)) as im:
                ref = np.asarray(im.convert(mode))
        c[name] = (data, None if ref is None else (ref if ref.ndim == 3 else ref[:, :, None]), tol)

    add("rgb.png", _save(_gradient("RGB"), "PNG"), mode="RGB")
    add("rgba.png", _save(_gradient("RGBA"), "PNG"), mode="RGBA")
    add("gray.png", _save(_gradient("L"), "PNG"), mode="L")
    add("palette.png", _save(_gradient("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG"), mode="RGB")
    g16 = (np.mgrid[0:H, 0:W][1] * 2000).astype(np.uint16)
    add("gray16.png", _save(Image.fromarray(g16), "PNG"), ref=g16)
    add("bilevel.png", _save(_gradient("1"), "PNG"), mode="L")
    add("apng.png", _save(_frames()[0], "PNG", save_all=True, append_images=_frames()[1:]), mode="RGB")
    add("rgb.jpg", _save(_gradient("RGB"), "JPEG", quality=90), mode="RGB", tol=2)
    add("gray.jpg", _save(_gradient("L"), "JPEG", quality=90), mode="L", tol=2)
    add("cmyk.jpg", _save(_gradient("CMYK"), "JPEG", quality=90), mode="RGB", tol=4)
    add("progressive.jpg", _save(_gradient("RGB"), "JPEG", quality=90, progressive=True), mode="RGB", tol=2)
    add("rgb.tif", _save(_gradient("RGB"), "TIFF"), mode="RGB")
    add("rgba.tif", _save(_gradient("RGBA"), "TIFF"), mode="RGBA")
    add("cmyk.tif", _save(_gradient("CMYK"), "TIFF"), mode="RGB", tol=3)
    add("lzw.tif", _save(_gradient("RGB"), "TIFF", compression="tiff_lzw"), mode="RGB")
    add("pages.tif", _save(_frames()[0], "TIFF", save_all=True, append_images=_frames()[1:]), mode="RGB")
    add("float.tif", _float_tiff(False), ref=(np.mgrid[0:H, 0:W][1] / (W - 1) * 65535 + 0.5).astype(np.uint16), tol=1)
    add("nan.tif", _float_tiff(True))  # None: must be a named error, not NaN turned into 0
    add("lossless.webp", _save(_gradient("RGB"), "WEBP", lossless=True), mode="RGB")
    add("rgba.webp", _save(_gradient("RGBA"), "WEBP", lossless=True), mode="RGBA")
    add("lossy.webp", _save(_gradient("RGB"), "WEBP", quality=90), mode="RGB", tol=3)
    add("anim.webp", _save(_frames()[0], "WEBP", save_all=True, append_images=_frames()[1:], lossless=True), mode="RGB")
    add("rgb.bmp", _save(_gradient("RGB"), "BMP"), mode="RGB")
    add("gray.bmp", _save(_gradient("L"), "BMP"), mode="L")
    add("anim.gif", _save(_frames()[0], "GIF", save_all=True, append_images=_frames()[1:]), mode="RGB", tol=40)
    return c


CORPUS = _corpus()


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def read_checked(path: Path) -> np.ndarray | None:
    """read_image(path): the image, or None for a named error; fails the test on any other
    exception, a read over TIME_LIMIT, a printed warning, or an image that breaks the contract."""
    old = signal.signal(signal.SIGALRM, _alarm) if hasattr(signal, "SIGALRM") else None
    if old is not None:
        signal.setitimer(signal.ITIMER_REAL, 4 * TIME_LIMIT)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                img = read_image(path)
            except ImageReadError as e:
                assert str(e).startswith(str(path)), f"the error does not name the file: {e}"
                img = None
    except _Hang:
        pytest.fail(f"{path.name}: read_image did not return within {4 * TIME_LIMIT} s")
    finally:
        if old is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_LIMIT, f"{path.name}: {elapsed:.1f} s"
    assert not caught, f"{path.name}: warnings reached the caller: {[str(w.message) for w in caught]}"
    if img is not None:
        assert isinstance(img, np.ndarray) and img.ndim == 3 and img.shape[2] in (1, 3, 4), img.shape
        assert img.dtype in (np.uint8, np.uint16) and img.shape[0] > 0 and img.shape[1] > 0
        assert img.flags.c_contiguous
    return img


def _compare(img: np.ndarray | None, ref: np.ndarray | None, tol: int, name: str) -> None:
    if ref is None:
        assert img is None, f"{name}: expected a named error, got an image {img.shape}"
        return
    assert img is not None, f"{name}: a valid file was refused"
    assert img.shape == ref.shape, (name, img.shape, ref.shape)
    if ref.dtype == np.uint16 and img.dtype == np.uint16:
        diff = np.abs(img.astype(int) - ref.astype(int)).max() / 257
    else:
        assert img.dtype == ref.dtype, (name, img.dtype, ref.dtype)
        diff = np.abs(img.astype(int) - ref.astype(int)).max()
    assert diff <= tol, f"{name}: differs from Pillow's decode by {diff} (tolerance {tol})"


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_valid_files_read_correctly(tmp_path, name):
    data, ref, tol = CORPUS[name]
    path = tmp_path / name
    path.write_bytes(data)
    _compare(read_checked(path), ref, tol, name)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_wrong_extension_reads_the_same(tmp_path, name):
    data, ref, tol = CORPUS[name]
    for ext in (".png", ".jpg", ".tif", ".bmp", ".webp"):
        if not name.endswith(ext):
            path = tmp_path / (name.replace(".", "_") + ext)
            path.write_bytes(data)
            _compare(read_checked(path), ref, tol, path.name)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_truncated_files(tmp_path, name):
    """Cut at 16 points (more near the start, where the headers are): a named error, or an
    image of the right size (a format without an end marker may decode a cut file)."""
    data, ref, _ = CORPUS[name]
    n = len(data)
    cuts = sorted({1, 2, 4, 8, 12, 16, 24, 33, 50, 64, 100, n // 4, n // 2, 3 * n // 4, n - 8, n - 1} - {0, n})
    for cut in cuts:
        path = tmp_path / f"cut{cut}_{name}"
        path.write_bytes(data[:cut])
        img = read_checked(path)
        if img is not None and ref is not None:
            assert img.shape[:2] == ref.shape[:2], (path.name, img.shape)
        if name.endswith((".png", ".jpg")) and cut < n - 12:
            assert img is None, f"{path.name}: a cut PNG/JPEG must be refused"


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_byte_flips(tmp_path, name):
    """40 variants with 1-4 bytes changed, half in the first 64 bytes (headers), seeded."""
    data, _, _ = CORPUS[name]
    rng = random.Random(name)
    for i in range(40):
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(min(64, len(b))) if i % 2 == 0 else rng.randrange(len(b))
            b[pos] = rng.choice([0, 0xFF, b[pos] ^ (1 << rng.randrange(8)), rng.randrange(256)])
        path = tmp_path / f"flip{i}_{name}"
        path.write_bytes(bytes(b))
        read_checked(path)


def _png_with_size(width: int, height: int) -> bytes:
    """A PNG header declaring width x height (CRC right), with a tiny IDAT of zeros."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(64)))
            + chunk(b"IEND", b""))


def _jpeg_with_size(width: int, height: int) -> bytes:
    b = bytearray(CORPUS["rgb.jpg"][0])
    i = b.index(b"\xff\xc0")  # baseline SOF0: length(2) precision(1) height(2) width(2)
    b[i + 5:i + 9] = struct.pack(">HH", height, width)
    return bytes(b)


def _bmp_with_size(width: int, height: int) -> bytes:
    b = bytearray(CORPUS["rgb.bmp"][0])
    b[18:26] = struct.pack("<ii", width, height)
    return bytes(b)


def _tiff_with_size(width: int, height: int) -> bytes:
    b = bytearray(CORPUS["rgb.tif"][0])
    ifd = struct.unpack("<I", b[4:8])[0]
    for k in range(struct.unpack("<H", b[ifd:ifd + 2])[0]):
        e = ifd + 2 + 12 * k
        tag, typ = struct.unpack("<HH", b[e:e + 4])
        if tag in (256, 257):
            value = width if tag == 256 else height
            b[e + 8:e + 12] = struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
    return bytes(b)


MAKERS = {"png": _png_with_size, "jpg": _jpeg_with_size, "bmp": _bmp_with_size, "tif": _tiff_with_size}


@pytest.mark.parametrize("fmt", sorted(MAKERS))
@pytest.mark.parametrize("size", [(60000, 60000), (65535, 2), (50000, 4000)])
def test_huge_declared_size_is_refused_before_decoding(tmp_path, fmt, size):
    path = tmp_path / f"huge.{fmt}"
    path.write_bytes(MAKERS[fmt](*size))
    if size[0] * size[1] <= 100_000_000:
        read_checked(path)  # under the limit: an error for the missing data, or an image
        return
    start = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match=rf"huge\.{fmt}: .*MP is over"):
        read_image(path)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("fmt", sorted(MAKERS))
@pytest.mark.parametrize("size", [(0, 16), (16, 0), (0, 0)])
def test_zero_declared_size_is_a_named_error(tmp_path, fmt, size):
    path = tmp_path / f"zero.{fmt}"
    path.write_bytes(MAKERS[fmt](*size))
    assert read_checked(path) is None


hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


@settings(derandomize=True, max_examples=150, deadline=int(TIME_LIMIT * 1000),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(CORPUS)), cut=st.floats(0.0, 1.0),
       edits=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=6))
def test_hypothesis_cut_and_edited(tmp_path, name, cut, edits):
    """Any file of the corpus, cut anywhere, with up to 6 bytes set anywhere (seeded)."""
    b = bytearray(CORPUS[name][0])
    b = b[:max(1, int(len(b) * cut))] if cut < 1 else b
    for where, value in edits:
        b[min(len(b) - 1, int(len(b) * where))] = value
    path = tmp_path / ("h_" + name)
    path.write_bytes(bytes(b))
    read_checked(path)
