"""Image files in and out: the only module of ``restore`` that touches the file system.

Paths may also be object-store locations (``s3://BUCKET/KEY``, :mod:`restore.storage`): read
and written whole, put-once, no temporary object.

Arrays at this edge are ``H x W x C`` numpy arrays in RGB(A) channel order, C in {1, 3, 4}
(1 = gray, 4 = RGBA), dtype uint8 or uint16 as stored in the file. Decoding and encoding
use OpenCV; Pillow reads the headers (size, mode, EXIF orientation, which is applied on
read) and decodes the few files OpenCV gets wrong (8-bit TIFF with an alpha channel).
"""

from __future__ import annotations

import dataclasses
import errno
import io
import os
import re
import secrets
import socket
import struct
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from restore.storage import as_path, is_remote

#: File extensions read and written, lower case, mapped to the canonical format name.
FORMATS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".tif": "tif", ".tiff": "tif",
           ".bmp": "bmp", ".webp": "webp"}
#: Formats that can hold an alpha channel / 16-bit samples.
ALPHA_FORMATS = {"png", "tif", "webp"}
DEEP_FORMATS = {"png", "tif"}
#: Names that are never images even with an image extension (OS thumbnails, metadata).
IGNORED_NAMES = {"thumbs.db", ".ds_store", "desktop.ini"}

# EXIF orientation (tag 0x0112, values 1-8) as (rotate code, flip) applied after decoding.
_EXIF_ORIENTATION_TAG = 0x0112
_ORIENT = {2: (None, 1), 3: (cv2.ROTATE_180, None), 4: (None, 0), 5: (cv2.ROTATE_90_CLOCKWISE, 1),
           6: (cv2.ROTATE_90_CLOCKWISE, None), 7: (cv2.ROTATE_90_COUNTERCLOCKWISE, 1),
           8: (cv2.ROTATE_90_COUNTERCLOCKWISE, None)}


class ImageReadError(ValueError):
    """A file could not be read as an image (missing, empty, corrupt, truncated)."""


class ImageWriteError(ValueError):
    """An image could not be encoded or written."""


def is_image_path(path: str | Path) -> bool:
    """True if ``path`` has an image extension and is not a known OS metadata file."""
    p = as_path(path)
    return (p.suffix.lower() in FORMATS and p.name.lower() not in IGNORED_NAMES
            and not p.name.startswith("._"))


def iter_images(root: str | Path, recursive: bool = False) -> Iterator[Path]:
    """Yield the image files under ``root`` in sorted order.

    Args:
        root: a folder, or a single file (yielded as is if it has an image extension).
        recursive: also descend into sub-folders (hidden folders are skipped).

    Raises:
        FileNotFoundError: if ``root`` does not exist.
    """
    root = as_path(root)
    if is_remote(root):
        yield from _iter_remote_images(root, recursive)
        return
    if not root.exists():
        raise FileNotFoundError(f"input not found: {root}")
    if root.is_file():
        if is_image_path(root):
            yield root
        return
    walker = root.rglob("*") if recursive else root.iterdir()
    for p in sorted(walker):
        if any(part.startswith(".") for part in p.relative_to(root).parts[:-1]):
            continue
        if p.is_file() and is_image_path(p):
            yield p


def _iter_remote_images(root, recursive: bool) -> Iterator:
    """:func:`iter_images` of an ``s3://`` location (one listing request, not one per file)."""
    if root.is_file():
        if is_image_path(root.name):
            yield root
        return
    files = sorted(root.files(recursive=recursive))
    if not files:
        raise FileNotFoundError(f"input not found: {root} (no objects under it)")
    for p in files:
        if not any(part.startswith(".") for part in p.relative_to(root).parts[:-1]) and is_image_path(p.name):
            yield p


#: Default pixel limit of :func:`read_image` (width x height): larger images are refused
#: before decoding. A 100 MP RGB image is 300 MB as uint8 and 1.2 GB as float32.
MAX_PIXELS = 100_000_000


class ImageTooLargeError(ImageReadError):
    """An image whose header declares more pixels than the limit (refused before decoding),
    or one a decoder's own decompression-bomb check refuses.

    Attributes:
        width, height: the declared size in pixels (0 where the decoder did not say).
        pixels: width x height (or the decoder's count).
        limit: the limit it is over, in pixels.
    """

    def __init__(self, message: str, *, width: int, height: int, pixels: int, limit: int) -> None:
        super().__init__(message)
        self.width, self.height, self.pixels, self.limit = width, height, pixels, limit


def _mp(pixels: int, digits: str = ".1f") -> str:
    return f"{pixels / 1e6:{digits}} MP" if pixels >= 1_000_000 else f"{pixels} pixels"


@dataclasses.dataclass(frozen=True)
class _Header:
    width: int
    height: int
    mode: str = ""          # Pillow's mode ("" when Pillow could not read the header)
    format: str = ""        # Pillow's format name ("PNG", "JPEG", "TIFF", ...)
    orientation: int = 1    # EXIF orientation, 1-8
    extra_samples: bool = False  # a TIFF with an ExtraSamples tag (alpha that OpenCV premultiplies)


def _png_size(raw: bytes) -> tuple[int, int] | None:
    if raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR" and len(raw) >= 24:
        return struct.unpack(">II", raw[16:24])
    return None


def _tiff_size(raw: bytes) -> tuple[int, int] | None:
    """Width and height of the first page of a classic TIFF (ImageWidth 256, ImageLength 257)."""
    if raw[:4] not in (b"II*\x00", b"MM\x00*") or len(raw) < 8:
        return None
    e = "<" if raw[:2] == b"II" else ">"
    (ifd,) = struct.unpack(e + "I", raw[4:8])
    if ifd + 2 > len(raw):
        return None
    (n,) = struct.unpack(e + "H", raw[ifd:ifd + 2])
    size: dict[int, int] = {}
    for i in range(n):
        entry = raw[ifd + 2 + 12 * i: ifd + 14 + 12 * i]
        if len(entry) < 12:
            break
        tag, typ = struct.unpack(e + "HH", entry[:4])
        if tag in (256, 257):
            size[tag] = struct.unpack(e + ("H" if typ == 3 else "I"), entry[8:10] if typ == 3 else entry[8:12])[0]
    return (size[256], size[257]) if len(size) == 2 else None


def _bmp_size(raw: bytes) -> tuple[int, int] | None:
    if raw[:2] == b"BM" and len(raw) >= 26 and struct.unpack("<I", raw[14:18])[0] >= 40:
        w, h = struct.unpack("<ii", raw[18:26])
        return abs(w), abs(h)
    return None


def _read_header(path: Path, raw: bytes, max_pixels: int | None) -> _Header | None:
    """The declared size (and mode, EXIF orientation) of an image, from its header only.

    Pillow's ``Image.open`` is lazy: it parses the header and decodes nothing. Its
    decompression-bomb error (over ``2 * PIL.Image.MAX_IMAGE_PIXELS``) is turned into
    :class:`ImageTooLargeError`; its warning (over ``PIL.Image.MAX_IMAGE_PIXELS``) is not
    shown (the size is checked against ``max_pixels`` right after), nor are its warnings
    about corrupt metadata. Returns None where neither Pillow nor the TIFF/BMP header
    parsers here (for files Pillow does not read, e.g. float RGB TIFF) can read the size.
    """
    from PIL import Image as PILImage
    own = _png_size(raw) or _tiff_size(raw) or _bmp_size(raw)
    with warnings.catch_warnings():
        # the bomb warning, and those about corrupt metadata (EXIF, TIFF tags): the decode decides
        warnings.simplefilter("ignore")
        try:
            with PILImage.open(io.BytesIO(raw)) as im:
                w, h = im.size
                orientation, extra = 1, False
                if im.format in ("JPEG", "MPO", "TIFF", "WEBP"):
                    try:
                        orientation = int(im.getexif().get(_EXIF_ORIENTATION_TAG, 1) or 1)
                    except Exception:  # noqa: BLE001 - a broken EXIF block is no orientation
                        orientation = 1
                if im.format == "TIFF":
                    extra = 338 in getattr(im, "tag_v2", {})
                return _Header(w, h, im.mode, im.format or "", orientation, extra)
        except PILImage.DecompressionBombError as e:
            if own is not None:
                w, h = own
                pixels = w * h
            else:
                found = re.search(r"(\d+) pixels", str(e))
                w = h = 0
                pixels = int(found.group(1)) if found else 2 * (PILImage.MAX_IMAGE_PIXELS or 0)
            if max_pixels and pixels > max_pixels:
                return _Header(w, h) if own is not None else _too_large(path, w, h, pixels, max_pixels)
            limit = 2 * (PILImage.MAX_IMAGE_PIXELS or 0)
            size = f"{w}x{h} = {_mp(pixels)}" if w else _mp(pixels)
            raise ImageTooLargeError(
                f"{path}: {size} is over Pillow's decompression-bomb limit of {_mp(limit)} "
                "(PIL.Image.MAX_IMAGE_PIXELS)", width=w, height=h, pixels=pixels, limit=limit) from None
        except Exception:  # noqa: BLE001 - any header Pillow cannot parse: fall back to ours
            pass
    # Pillow reads every valid PNG header; libpng can spend seconds on a broken one
    return _Header(*own) if own is not None and not raw.startswith(b"\x89PNG") else None


def _too_large(path: Path, w: int, h: int, pixels: int, limit: int) -> None:
    size = f"{w}x{h} = {_mp(pixels)}" if w else _mp(pixels)
    raise ImageTooLargeError(f"{path}: {size} is over the limit of {_mp(limit, 'g')}; "
                             "--max-pixels N (max_pixels=N) changes it, 0 removes it",
                             width=w, height=h, pixels=pixels, limit=limit)


#: The PNG end chunk: length 0, type IEND, its fixed CRC.
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _decodes_fully(raw: bytes) -> bool:
    try:
        from PIL import Image as PILImage
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with PILImage.open(io.BytesIO(raw)) as im:
                im.load()  # raises on a truncated file (unless ImageFile.LOAD_TRUNCATED_IMAGES)
        return True
    except Exception:
        return False


def _pil_decode(raw: bytes) -> np.ndarray | None:
    """An 8-bit TIFF with alpha decoded by Pillow (OpenCV premultiplies unassociated alpha)."""
    from PIL import Image as PILImage
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with PILImage.open(io.BytesIO(raw)) as im:
            if im.mode not in ("RGBA", "RGBa", "LA", "La"):
                return None
            return np.asarray(im.convert("RGBA" if im.mode[0] == "R" else "LA"))


def _cv_decode(raw: np.ndarray) -> np.ndarray | None:
    """``cv2.imdecode`` with OpenCV's own log lines (errors on broken files) silenced."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        return cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
    finally:
        cv2.utils.logging.setLogLevel(level)


def read_image(path: str | Path, *, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """Read an image file.

    EXIF orientation is applied; alpha is kept; bit depth is kept (8 or 16 bit). Of a
    multi-page TIFF or an animated WebP/GIF/PNG, the first page or frame is read.

    The size is read from the header first, and an image over ``max_pixels`` is refused
    before anything is decoded (a small file can declare a huge image). The decoders'
    own limits stay on as well: Pillow, which reads the headers, refuses images over
    ``2 * PIL.Image.MAX_IMAGE_PIXELS`` (about 179 MP) and OpenCV, which decodes, over
    ``OPENCV_IO_MAX_IMAGE_PIXELS`` (2**30).

    Args:
        path: the image file (PNG, JPEG, TIFF, BMP, WebP; the content decides, not the
            extension), or an ``s3://BUCKET/KEY`` object (:mod:`restore.storage`).
        max_pixels: largest width x height accepted; default :data:`MAX_PIXELS`
            (100 MP); 0 or None: no limit of our own.

    Returns:
        ``H x W x C`` uint8 or uint16 array, RGB(A) order, C in {1, 3, 4} (CMYK is
        converted to RGB). Float samples (TIFF) are taken in [0, 1], clipped, and returned
        as uint16.

    Raises:
        ImageTooLargeError: (an ImageReadError) the declared size is over ``max_pixels``
            or a decoder's limit; the message gives the size.
        ImageReadError: if the file is missing, empty, not a decodable image, a
            truncated JPEG/PNG, of zero size, of an unsupported sample type, or has NaN or
            infinite samples. The message names the file.
    """
    path = as_path(path)
    try:
        raw = np.frombuffer(bytearray(path.read_bytes()), np.uint8) if is_remote(path) else \
            np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise ImageReadError(f"{path}: cannot read file ({e.strerror or e})") from None
    if raw.size == 0:
        raise ImageReadError(f"{path}: empty file (0 bytes)")
    data = raw.tobytes()
    header = _read_header(path, data, max_pixels)
    head, tail = data[:8], data[-16:]
    # No end marker at the very end: truncated, or data after it (camera padding, the video
    # of a motion photo). For JPEG a full decode by Pillow (after the size check), which
    # fails on truncation, tells which (0xFFD9 also ends an embedded thumbnail); for PNG
    # the whole IEND chunk is unique.
    jpeg_cut = head.startswith(b"\xff\xd8") and b"\xff\xd9" not in tail
    png_cut = head.startswith(b"\x89PNG") and b"IEND" not in tail and _PNG_IEND not in data
    if header is None:
        if jpeg_cut or png_cut:
            raise ImageReadError(f"{path}: truncated {'JPEG (no end-of-image marker)' if jpeg_cut else 'PNG (no IEND chunk)'}")
        if max_pixels or head.startswith(b"\x89PNG"):
            raise ImageReadError(f"{path}: not a decodable image (its size cannot be read from the header)")
    else:
        if header.width <= 0 or header.height <= 0:
            raise ImageReadError(f"{path}: the header declares an empty image ({header.width}x{header.height})")
        if max_pixels and header.width * header.height > max_pixels:
            _too_large(path, header.width, header.height, header.width * header.height, max_pixels)
    if jpeg_cut and not _decodes_fully(data):
        raise ImageReadError(f"{path}: truncated JPEG (no end-of-image marker)")
    if png_cut:
        raise ImageReadError(f"{path}: truncated PNG (no IEND chunk)")
    img = None
    if header is not None and header.extra_samples and header.mode in ("RGBA", "RGBa", "LA", "La"):
        try:
            img = _pil_decode(data)
        except Exception:  # noqa: BLE001 - let OpenCV try
            img = None
        if img is not None:
            img = img if img.ndim == 3 else img[:, :, None]
            img = cv2.cvtColor(img, cv2.COLOR_RGBA2BGRA) if img.shape[2] == 4 else img
    if img is None:
        img = _cv_decode(raw)
    if img is None or img.size == 0:
        raise ImageReadError(f"{path}: not a decodable image")
    if img.dtype.kind == "f":
        if not np.isfinite(img).all():
            raise ImageReadError(f"{path}: the image has NaN or infinite samples")
        img = (np.clip(img, 0, 1) * 65535 + 0.5).astype(np.uint16)
    elif img.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(f"{path}: unsupported sample type {img.dtype} (8/16-bit or float images only)")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] == 4 and header is not None and header.mode == "CMYK":
        img = img[:, :, :3]  # OpenCV converts CMYK to BGR and adds an opaque alpha
    elif img.shape[2] == 4 and header is not None and header.format == "GIF" and img[:, :, 3].min() == 255:
        img = img[:, :, :3]  # OpenCV gives every GIF an alpha channel; opaque: none
    if img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    elif img.shape[2] == 2:  # gray + alpha
        img = np.ascontiguousarray(img[:, :, [0, 0, 0, 1]])
    elif img.shape[2] != 1:
        raise ImageReadError(f"{path}: unsupported number of channels ({img.shape[2]})")
    orientation = header.orientation if header is not None else 1
    if orientation in _ORIENT:
        rot, flip = _ORIENT[orientation]
        if flip is not None:
            img = cv2.flip(img, flip)
        if rot is not None:
            img = cv2.rotate(img, rot)
        if img.ndim == 2:
            img = img[:, :, None]
    return np.ascontiguousarray(img)


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """An H x W x C image as read by :func:`read_image` -> H x W x 3 uint8 RGB: 16-bit is
    scaled to 8 bit (rounded), gray is replicated to three channels, alpha is dropped."""
    if image.dtype != np.uint8:
        image = (image.astype(np.float32) / np.iinfo(image.dtype).max * 255 + 0.5).astype(np.uint8)
    return image[..., :3] if image.shape[2] >= 3 else np.repeat(image[..., :1], 3, axis=2)


def output_format(path: str | Path, image: np.ndarray, requested: str | None = None) -> str:
    """The format to write ``image`` in: ``requested`` (e.g. "png", "jpg") or the one of
    ``path``'s extension; an image with alpha asked to be written to a format without
    alpha (jpg, bmp) goes to png instead, as Real-ESRGAN does, so the alpha is not lost.

    Raises:
        ValueError: for an unknown format.
    """
    fmt = (requested or as_path(path).suffix).lower().lstrip(".")
    fmt = FORMATS.get("." + fmt)
    if fmt is None:
        raise ValueError(f"unknown image format {requested or as_path(path).suffix!r}; "
                         f"known: {', '.join(sorted(set(FORMATS.values())))}")
    if image.ndim == 3 and image.shape[2] == 4 and fmt not in ALPHA_FORMATS:
        fmt = "png"
    return fmt


def encode_image(image: np.ndarray, fmt: str, quality: int | None = None) -> bytes:
    """Encode an ``H x W x C`` RGB(A) array (uint8, uint16, or float32 in [0, 1]) to bytes.

    16-bit data is kept for png/tif and reduced to 8 bit for the other formats;
    float32 is written as 16 bit where the format allows it, else 8 bit.
    ``quality`` (1-100) applies to jpg and webp (default 95).

    Raises:
        ImageWriteError: if the array has an unsupported shape or encoding fails.
    """
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ImageWriteError(f"cannot write an array of shape {image.shape}: expected H x W x 1/3/4")
    deep = fmt in DEEP_FORMATS
    if image.dtype == np.float32 or image.dtype == np.float64:
        scale = 65535 if deep else 255
        image = (np.clip(image, 0, 1) * scale + 0.5).astype(np.uint16 if deep else np.uint8)
    elif image.dtype == np.uint16 and not deep:
        image = (image.astype(np.uint32) * 255 + 32767) // 65535
        image = image.astype(np.uint8)
    elif image.dtype not in (np.uint8, np.uint16):
        raise ImageWriteError(f"unsupported dtype {image.dtype}")
    if image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    elif image.shape[2] == 4:
        if fmt not in ALPHA_FORMATS:
            raise ImageWriteError(f"format {fmt} cannot hold an alpha channel")
        image = cv2.cvtColor(image, cv2.COLOR_RGBA2BGRA)
    q = 95 if quality is None else int(quality)
    params = {"jpg": [cv2.IMWRITE_JPEG_QUALITY, q], "webp": [cv2.IMWRITE_WEBP_QUALITY, q]}.get(fmt, [])
    ok, buf = cv2.imencode("." + fmt, image, params)
    if not ok:
        raise ImageWriteError(f"OpenCV could not encode the image as {fmt}")
    return buf.tobytes()


class OutputExistsError(ImageWriteError):
    """The output file exists and was not to be replaced (``write_image(..., overwrite=False)``),
    for instance because another run wrote it first."""


#: Hidden temporary files of :func:`write_image`: ``.NAME.HOST-PID-TOKEN.tmp`` beside the output
#: (the host with ``.`` and ``-`` replaced by ``_``). The ``.tmp`` extension keeps them out of
#: every image listing and every existing-output check.
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<host>[^.\-]+)-(?P<pid>\d+)-(?P<token>[0-9a-z]+)\.tmp$")
#: Temporary files of earlier versions (``tempfile.mkstemp``: ``.NAME.XXXXXXXX.tmp``), removed by age only.
_OLD_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp$")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname().split(".")[0]) or "host"


def temp_path(path: str | Path) -> Path:
    """A fresh hidden temporary name beside ``path``: ``.NAME.HOST-PID-TOKEN.tmp``.

    It names the writing process, so :func:`clean_stale_temp_files` can tell a temporary
    file of a killed run from one that is being written; its ``.tmp`` extension is never
    an image extension, so listings and ``--skip-existing`` never take it for an output."""
    path = Path(path)
    return path.with_name(f".{path.name}.{_host()}-{os.getpid()}-{secrets.token_hex(4)}.tmp")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or cannot tell: keep the file
    return True


def clean_stale_temp_files(folder: str | Path, *, recursive: bool = False,
                           max_age_hours: float = 24.0) -> list[Path]:
    """Remove the temporary files that killed runs of :func:`write_image` left in ``folder``.

    A temporary file is removed when the process that wrote it is known to be gone: it
    was written on this host by a process id that no longer runs; or it is older than
    ``max_age_hours`` (written on another host sharing the folder, or by an earlier
    version). Temporary files of running processes are left alone, so a concurrent run
    into the same folder is not disturbed. Nothing else is touched.

    Args:
        folder: an output folder; a missing folder is fine (nothing to clean).
        recursive: also clean its sub-folders.
        max_age_hours: age (since the last write) after which any temporary file is stale.

    Returns:
        The files removed.
    """
    if is_remote(folder):
        return []  # objects are written put-once: no temporary object is ever left
    folder = Path(folder)
    if not folder.is_dir():
        return []
    host, now, removed = _host(), time.time(), []
    for p in (folder.rglob(".*.tmp") if recursive else folder.glob(".*.tmp")):
        m = _TEMP_RE.match(p.name)
        if m is None and not _OLD_TEMP_RE.match(p.name):
            continue
        try:
            if not p.is_file() or p.is_symlink():
                continue
            stale = now - p.stat().st_mtime > max_age_hours * 3600
            if not stale and m is not None and m["host"] == host:
                stale = not _pid_alive(int(m["pid"]))
            if stale:
                p.unlink()
                removed.append(p)
        except OSError:  # vanished meanwhile (its run published it) or not ours to remove
            continue
    return removed


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not supported for folders here (e.g. Windows)
    finally:
        os.close(fd)


def _publish_new(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the name ``path`` only if ``path`` does not exist (atomic on POSIX:
    a hard link fails when the target exists), then drop the temporary name."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        # no hard links on this file system (FAT, some network shares): check, then rename;
        # two runs finishing the same file in the same instant may then both write it (whole)
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def write_image(path: str | Path, image: np.ndarray, *, fmt: str | None = None,
                quality: int | None = None, overwrite: bool = True) -> Path:
    """Write ``image`` atomically: readers see the old file or the whole new one, never part.

    An ``s3://`` path is uploaded whole, put-once (:mod:`restore.storage`). A local one:
    the data goes to a hidden temporary file in the same folder (see :func:`temp_path`),
    is flushed to disk (fsync), and is then given its name. A run killed meanwhile
    leaves only that hidden ``.tmp`` file, which :func:`clean_stale_temp_files` removes.

    Args:
        path: destination; its extension is replaced when ``fmt`` (or alpha, see
            :func:`output_format`) asks for another format. Parent folders are created.
        image: ``H x W x C`` array, see :func:`encode_image`.
        fmt: output format name (png, jpg, tif, bmp, webp); default from ``path``.
        quality: jpg/webp quality 1-100.
        overwrite: replace an existing file (rename over it). With False an existing file
            is kept and :class:`OutputExistsError` raised, checked at the moment of
            publishing (a hard link, which fails if the name exists), so two processes
            writing the same name never replace each other's file.

    Returns:
        The path written.

    Raises:
        OutputExistsError: ``overwrite`` is False and the file exists.
        ImageWriteError: if encoding or writing fails; no partial file is left.
        ValueError: for an unknown format.
    """
    path = as_path(path)
    fmt = output_format(path, image, fmt)
    if FORMATS.get(path.suffix.lower()) != fmt:
        path = path.with_suffix("." + fmt)
    data = encode_image(image, fmt, quality)
    if is_remote(path):
        try:
            path.write_once(data, overwrite=overwrite)
        except FileExistsError:
            raise OutputExistsError(f"output {path} exists") from None
        except OSError as e:
            raise ImageWriteError(f"{path}: cannot write ({e.strerror or e})") from None
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as f:  # 0o666 & ~umask, as any new file
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _publish_new(tmp, path)
        _fsync_dir(path.parent)
    except BaseException as e:  # also KeyboardInterrupt: never leave the temporary file
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, FileExistsError):
            raise OutputExistsError(f"output {path} exists") from None
        if isinstance(e, OSError):
            raise ImageWriteError(f"{path}: cannot write ({e.strerror or e})") from None
        raise
    return path


#: Folders searched for the DejaVu fonts of the watermark synthesizer, after matplotlib's.
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.fonts", "~/.local/share/fonts",
             "/Library/Fonts", "/System/Library/Fonts", "C:/Windows/Fonts")


def find_fonts(pattern: str = "DejaVu*.ttf") -> list[Path]:
    """Font files for synthetic text watermarks: matplotlib's bundled DejaVu fonts when
    matplotlib is installed, then the system's font folders (:data:`FONT_DIRS`). One file
    per name, sorted by name."""
    dirs: list[Path] = []
    try:
        import matplotlib
        dirs.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf")
    except ImportError:
        pass
    dirs += [Path(d).expanduser() for d in FONT_DIRS]
    found: dict[str, Path] = {}
    for d in dirs:
        if d.is_dir():
            for p in sorted(d.rglob(pattern)):
                found.setdefault(p.name, p)
    return [found[k] for k in sorted(found)]


def read_watermark_material(logo_dirs: list[Path], fonts: list[Path] | None = None
                            ) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, bytes]]]:
    """Read the logos and font files of the watermark synthesizer.

    Args:
        logo_dirs: folders of logo images (unreadable files are skipped).
        fonts: font files; default :func:`find_fonts`.

    Returns:
        ``([(logo file name, image as read by read_image)], [(font file name, bytes)])``,
        both in sorted order.

    Raises:
        FileNotFoundError: if a folder is missing.
    """
    logos = []
    for d in logo_dirs:
        if not Path(d).is_dir():
            raise FileNotFoundError(f"logo folder not found: {d}")
        for p in iter_images(d):
            try:
                logos.append((p.name, read_image(p)))
            except ImageReadError:
                continue
    font_paths = [Path(f) for f in (fonts if fonts is not None else find_fonts())]
    return logos, [(f.name, f.read_bytes()) for f in font_paths]
