"""Which logos, fonts and training images are held out of training, for validation and
benchmarks: a deterministic split by file name (CRC-32), the same on every machine."""

from __future__ import annotations

import zlib

#: Font files held out of training for validation and benchmarks (the DejaVu Sans Mono
#: family); every other font trains.
HELD_OUT_FONT_PREFIX = "DejaVuSansMono"
#: Logos are held out when the CRC-32 of their file stem is 0 modulo this (about 1 in 5).
HELD_OUT_LOGO_MODULUS = 5
HELD_OUT_IMAGE_MODULUS = 16


def is_held_out(name: str, kind: str) -> bool:
    """Whether a logo (``kind="logo"``, by file stem), a font (``kind="font"``, by file
    name) or a training image (``kind="image"``, by file name: about 1 in 16, e.g. the
    face validation split of the inpainting GAN) is held out of training for validation
    and benchmarks. Deterministic."""
    if kind == "image":
        return zlib.crc32(name.encode("utf-8")) % HELD_OUT_IMAGE_MODULUS == 0
    if kind == "font":
        return name.startswith(HELD_OUT_FONT_PREFIX)
    if kind == "logo":
        return zlib.crc32(name.encode("utf-8")) % HELD_OUT_LOGO_MODULUS == 0
    raise ValueError(f"kind must be 'logo', 'font' or 'image', got {kind!r}")
