"""Shared test helpers: where the shared data is, small real images from it, JPEG bytes."""

import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

#: ``../shared/data`` beside the repository folder (see its README).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CBSD68 = SHARED_DATA / "bench" / "denoise" / "CBSD68"


def require_data(path: Path = CBSD68) -> Path:
    """Skip the calling test with a clear message when the shared data is absent."""
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (expected ../shared/data beside the repo)")
    return path


def real_image(h: int, w: int, index: int = 0) -> np.ndarray:
    """A centre crop h x w of the index-th CBSD68 image, H x W x 3 uint8."""
    from restore.io import iter_images, read_image
    img = read_image(sorted(iter_images(require_data()))[index])
    y0, x0 = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
    return np.ascontiguousarray(img[y0:y0 + h, x0:x0 + w, :3])


def real_image_tensor(h: int, w: int, index: int = 0) -> torch.Tensor:
    """The same crop as a (1, 3, h, w) float32 tensor in [0, 1]."""
    return torch.from_numpy(real_image(h, w, index)).permute(2, 0, 1)[None].float() / 255


#: EXIF tag of the image orientation (1-8).
EXIF_ORIENTATION = 0x0112


def jpeg_bytes(image: np.ndarray, orientation: int | None = None, quality: int = 95) -> bytes:
    """Encode an RGB/L uint8 array as JPEG with Pillow, optionally with an EXIF orientation."""
    buf = io.BytesIO()
    kw = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION] = orientation
        kw["exif"] = exif
    Image.fromarray(image.squeeze()).save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def require_fonts() -> None:
    """Skip the calling test when no DejaVu font is installed (the watermark text needs one)."""
    from restore.io import find_fonts
    if not find_fonts():
        pytest.skip("no DejaVu fonts found (install matplotlib or fonts-dejavu)")


def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid PNG of ``width`` x ``height`` black 1-bit gray pixels, made without holding
    the image: each row is compressed as it is streamed (20000 x 20000: about 50 KB, made
    in a fraction of a second, 400 MP once decoded)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (width + 7) // 8)  # filter byte 0, then the packed zero bits
    z = zlib.compressobj(9)
    body = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit gray
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


#: The ways a weights folder can be broken, for :func:`break_weights`.
BROKEN_WEIGHTS = ("truncated", "random-bytes", "not-safetensors", "missing", "bad-manifest", "other-arch")


def break_weights(folder: Path, case: str, name: str = "dae-s") -> str:
    """Copy the shipped weights of model ``name`` (and the manifest) into ``folder`` and
    break them as ``case`` says (one of :data:`BROKEN_WEIGHTS`); returns a regex the
    one-line error must match (the file, what is wrong). Point ``RESTORE_WEIGHTS`` at
    ``folder`` to use it."""
    import json
    import shutil

    from restore.zoo.paths import MANIFEST, weights_dir
    from restore.zoo.registry import get_spec, read_manifest, sha256_file

    src = weights_dir()
    manifest = read_manifest(src)
    file = get_spec(name).weights
    target = folder / file
    folder.mkdir(parents=True, exist_ok=True)
    data = (src / file).read_bytes()
    expect = {"truncated": r"truncated \(\d+ of \d+ bytes\)", "random-bytes": "damaged or replaced",
              "not-safetensors": "not a readable safetensors file", "missing": f"not found, listed in .*{MANIFEST}",
              "bad-manifest": "not valid JSON", "other-arch": f"does not fit {name} .*tensor"}[case]
    if case == "truncated":
        target.write_bytes(data[: len(data) // 3])
    elif case in ("random-bytes", "not-safetensors"):
        target.write_bytes(np.random.default_rng(0).integers(0, 256, len(data), dtype=np.uint8).tobytes())
    elif case == "other-arch":  # another zoo model's weights under this name, published as if right
        other = next(k for k, v in manifest.items() if get_spec(k).arch is not get_spec(name).arch)
        shutil.copyfile(src / manifest[other]["file"], target)
    elif case != "missing":
        target.write_bytes(data)
    if case in ("not-safetensors", "other-arch"):  # the manifest agrees with the file: only loading tells
        manifest[name] = {**manifest[name], "sha256": sha256_file(target), "bytes": target.stat().st_size}
    text = json.dumps(manifest)
    (folder / MANIFEST).write_text(text[: len(text) // 2] if case == "bad-manifest" else text)
    path = folder / (MANIFEST if case == "bad-manifest" else file)
    return re.escape(str(path)) + ": .*" + expect
