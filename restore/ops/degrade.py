"""Synthetic degradations used for training and benchmarks.

Noise and downsampling are pure tensor functions: (B, C, H, W) float32 in [0, 1] in, same
out. The visible-watermark synthesizer draws a watermark *layer* (color and alpha) with
numpy, OpenCV and Pillow's text renderer, from logos and fonts handed to it in a
:class:`WatermarkBank` (files are read by :mod:`restore.io`), and composites it with
:func:`overlay_watermark`, a tensor function.
"""

from __future__ import annotations

import io as _bytes_io
import zlib
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch


def add_awgn(x: torch.Tensor, sigma: float | torch.Tensor,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Add white Gaussian noise.

    Args:
        x: clean images, shape (B, C, H, W), float in [0, 1].
        sigma: noise standard deviation on the 0-255 scale (sigma=25 is the field's usual
            level); a float, or a tensor of shape (B,) for one level per image.
        generator: optional RNG for reproducible noise.

    Returns:
        Noisy images, same shape and dtype as ``x``; not clipped.

    Raises:
        ValueError: if ``x`` is not 4-D or a ``sigma`` is negative.
    """
    if x.ndim != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}")
    sigma_t = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    if (sigma_t < 0).any():
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma_t.ndim == 1:
        sigma_t = sigma_t.view(-1, 1, 1, 1)
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return x + noise * (sigma_t / 255.0)


def quantize_8bit(x: torch.Tensor) -> torch.Tensor:
    """Clip to [0, 1] and round to the 256 levels of an 8-bit file (what saving a noisy
    image as PNG does). Shape and dtype are kept."""
    return torch.round(x.clamp(0, 1) * 255.0) / 255.0


def bicubic_down(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Downsample by an integer ``scale`` with antialiased bicubic interpolation, the
    MATLAB ``imresize`` kernel (Keys cubic, a = -0.5, widened by ``scale``) that made the
    Set5/Set14 low-resolution images: on Set5 x4 the result differs from the given
    ``*_LR.png`` by about 0.4 gray levels RMS, at the borders (MATLAB pads symmetrically).

    Args:
        x: (B, C, H, W) float in [0, 1]; H and W multiples of ``scale``.
        scale: integer factor >= 1.

    Returns:
        (B, C, H // scale, W // scale), same dtype; not clipped or rounded.

    Raises:
        ValueError: if ``x`` is not 4-D, ``scale`` < 1, or H/W are not multiples of it.
    """
    if x.ndim != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}")
    if scale < 1 or x.shape[-2] % scale or x.shape[-1] % scale:
        raise ValueError(f"H and W ({x.shape[-2]}, {x.shape[-1]}) must be multiples of scale {scale}")
    if scale == 1:
        return x
    return torch.nn.functional.interpolate(x, size=(x.shape[-2] // scale, x.shape[-1] // scale),
                                           mode="bicubic", antialias=True, align_corners=False)


# ---------------------------------------------------------------- visible watermarks

#: Kinds of synthetic watermark and their probabilities (single mark or a tiled pattern).
WATERMARK_KINDS = {"logo": 0.3, "text": 0.25, "logo_tiled": 0.2, "text_tiled": 0.25}
#: Opacity range of a watermark (multiplies the logo's or glyphs' own alpha).
OPACITY_RANGE = (0.2, 1.0)
#: A pixel belongs to the watermark mask when its alpha exceeds this (about 13 gray levels
#: of change at most where the mark's color is far from the image's).
MASK_THRESHOLD = 0.05
#: Font files held out of training for validation and benchmarks (the DejaVu Sans Mono
#: family); every other font trains.
HELD_OUT_FONT_PREFIX = "DejaVuSansMono"
#: Logos are held out when the CRC-32 of their file stem is 0 modulo this (about 1 in 5).
HELD_OUT_LOGO_MODULUS = 5
HELD_OUT_IMAGE_MODULUS = 16

_WORDS = ("SAMPLE", "PREVIEW", "COPYRIGHT", "PROOF", "DRAFT", "CONFIDENTIAL", "Stock", "Photo", "Images",
          "Studio", "Archive", "Photography", "Licensed", "Watermark", "Demo", "DO NOT COPY", "Gallery",
          "Pictures", "Media", "Creative", "Press", "News", "Travel", "Wedding", "Design")


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


def logo_alpha(rgba: np.ndarray) -> np.ndarray:
    """Logo as an (h, w, 4) float32 RGBA array in [0, 1] with a usable alpha channel.

    Logos without alpha (or with a fully opaque one) get their background keyed out: the
    median color of the border is the background, and alpha rises from 0 to 1 as a pixel's
    largest channel difference from it goes from 0.04 to 0.2.

    Args:
        rgba: (h, w, C) uint8/uint16/float image, C in {1, 3, 4}.
    """
    a = rgba.astype(np.float32)
    if rgba.dtype != np.float32:
        a /= float(np.iinfo(rgba.dtype).max)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    if a.shape[2] == 4 and a[..., 3].min() < 0.99:
        return np.ascontiguousarray(a)
    rgb = a[..., :3]
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    diff = np.abs(rgb - np.median(border, axis=0)).max(axis=2)
    alpha = np.clip((diff - 0.04) / 0.16, 0, 1)
    return np.ascontiguousarray(np.dstack([rgb, alpha]).astype(np.float32))


@dataclass(frozen=True)
class WatermarkBank:
    """The material of the watermark synthesizer.

    Attributes:
        logos: (h, w, 4) float32 RGBA logos in [0, 1] (see :func:`logo_alpha`).
        fonts: TrueType font files as bytes.
        names: the logos' and fonts' file names, for the record.

    Raises:
        ValueError: if there is no logo or no font.
    """

    logos: tuple[np.ndarray, ...]
    fonts: tuple[bytes, ...]
    names: tuple[str, ...] = ()
    _font_cache: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.logos or not self.fonts:
            raise ValueError(f"a watermark bank needs logos and fonts (got {len(self.logos)} logos, "
                             f"{len(self.fonts)} fonts)")

    def font(self, index: int, size: int):
        """A Pillow font object of font ``index`` at ``size`` pixels (cached)."""
        from PIL import ImageFont
        key = (index, size)
        if key not in self._font_cache:
            if len(self._font_cache) > 512:
                self._font_cache.clear()
            self._font_cache[key] = ImageFont.truetype(_bytes_io.BytesIO(self.fonts[index]), size)
        return self._font_cache[key]


def _random_text(rng: np.random.Generator) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"

    def name(n: int) -> str:
        return "".join(rng.choice(list(letters), size=n)).capitalize()

    form = int(rng.integers(5))
    if form == 0:
        return str(rng.choice(_WORDS))
    if form == 1:
        return f"\u00a9 {int(rng.integers(1990, 2027))} {name(int(rng.integers(3, 8)))} {name(int(rng.integers(4, 9)))}"
    if form == 2:
        return f"www.{name(int(rng.integers(4, 10))).lower()}.{rng.choice(['com', 'net', 'org', 'io', 'de'])}"
    if form == 3:
        return f"@{name(int(rng.integers(4, 11))).lower()}{int(rng.integers(100)) if rng.random() < 0.4 else ''}"
    return f"{name(int(rng.integers(4, 9)))} {rng.choice(_WORDS)}"


def _random_color(rng: np.random.Generator) -> np.ndarray:
    r = rng.random()
    if r < 0.4:
        return np.full(3, rng.uniform(0.85, 1.0), np.float32)    # white-ish
    if r < 0.6:
        return np.full(3, rng.uniform(0.0, 0.2), np.float32)     # black-ish
    if r < 0.7:
        return np.full(3, rng.uniform(0.3, 0.7), np.float32)     # gray
    return rng.uniform(0, 1, 3).astype(np.float32)


def render_text_mark(bank: WatermarkBank, text: str, font_index: int, size: int, color: np.ndarray,
                     angle: float = 0.0, outline: np.ndarray | None = None) -> np.ndarray:
    """Render ``text`` as an RGBA mark.

    Args:
        bank: supplies the font.
        text: the text (one line).
        font_index: index into ``bank.fonts``.
        size: font size in pixels.
        color: (3,) float RGB in [0, 1] of the glyphs.
        angle: rotation in degrees, counter-clockwise.
        outline: optional (3,) RGB of a stroke around the glyphs (about size / 15 px wide).

    Returns:
        (h, w, 4) float32 RGBA in [0, 1], alpha from the glyph coverage.
    """
    from PIL import Image, ImageDraw

    font = bank.font(font_index, max(6, int(size)))
    stroke = max(1, int(round(size / 15))) if outline is not None else 0
    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    w, h = right - left + 4, bottom - top + 4
    fill = Image.new("L", (w, h))
    ImageDraw.Draw(fill).text((2 - left, 2 - top), text, font=font, fill=255)
    layers = [fill]
    if outline is not None:
        full = Image.new("L", (w, h))
        ImageDraw.Draw(full).text((2 - left, 2 - top), text, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
        layers.append(full)
    if angle:
        layers = [im.rotate(angle, resample=Image.BICUBIC, expand=True) for im in layers]
    a_fill = np.asarray(layers[0], np.float32) / 255.0
    if outline is None:
        rgb = np.broadcast_to(color, a_fill.shape + (3,))
        return np.ascontiguousarray(np.dstack([rgb, a_fill]).astype(np.float32))
    a_full = np.maximum(np.asarray(layers[1], np.float32) / 255.0, a_fill)
    t = np.divide(a_fill, a_full, out=np.zeros_like(a_fill), where=a_full > 0)[..., None]
    rgb = t * color + (1 - t) * outline
    return np.ascontiguousarray(np.dstack([rgb, a_full]).astype(np.float32))


def _resize_mark(mark: np.ndarray, long_side: float, angle: float = 0.0) -> np.ndarray:
    h, w = mark.shape[:2]
    f = max(long_side, 4) / max(h, w)
    size = (max(1, int(round(w * f))), max(1, int(round(h * f))))
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC
    # premultiplied alpha so the background color of transparent pixels does not bleed in
    pm = np.dstack([mark[..., :3] * mark[..., 3:], mark[..., 3]])
    pm = cv2.resize(pm, size, interpolation=interp)
    if angle:
        hh, ww = pm.shape[:2]
        m = cv2.getRotationMatrix2D((ww / 2, hh / 2), angle, 1.0)
        cos, sin = abs(m[0, 0]), abs(m[0, 1])
        nw, nh = int(hh * sin + ww * cos + 1), int(hh * cos + ww * sin + 1)
        m[0, 2] += nw / 2 - ww / 2
        m[1, 2] += nh / 2 - hh / 2
        pm = cv2.warpAffine(pm, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0)
    pm = np.clip(pm, 0, 1)
    a = pm[..., 3:]
    rgb = np.divide(pm[..., :3], a, out=np.zeros_like(pm[..., :3]), where=a > 1e-4)
    return np.ascontiguousarray(np.dstack([np.clip(rgb, 0, 1), a[..., 0]]).astype(np.float32))


def _stamp(color: np.ndarray, alpha: np.ndarray, mark: np.ndarray, y: int, x: int) -> None:
    """Composite ``mark`` (RGBA) over the layer (``color`` straight, ``alpha``) at (y, x), in place."""
    h, w = alpha.shape
    mh, mw = mark.shape[:2]
    y0, x0, y1, x1 = max(0, y), max(0, x), min(h, y + mh), min(w, x + mw)
    if y0 >= y1 or x0 >= x1:
        return
    m = mark[y0 - y:y1 - y, x0 - x:x1 - x]
    a_new, a_old = m[..., 3:], alpha[y0:y1, x0:x1, None]
    a_out = a_new + a_old * (1 - a_new)
    c = (m[..., :3] * a_new + color[y0:y1, x0:x1] * a_old * (1 - a_new))
    color[y0:y1, x0:x1] = np.divide(c, a_out, out=np.zeros_like(c), where=a_out > 1e-6)
    alpha[y0:y1, x0:x1] = a_out[..., 0]


def watermark_layer(height: int, width: int, rng: np.random.Generator, bank: WatermarkBank, *,
                    ref_side: int | None = None, kind: str | None = None,
                    opacity: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw a random visible watermark layer.

    A single logo or line of text (size 12-45% / 4-12% of ``ref_side``, anywhere with its
    centre inside the layer, rotated up to 45 degrees for text), or a tiled pattern of
    smaller ones across the layer. Text: random words, copyright lines, URLs or handles in
    one of the bank's fonts, white, black, gray or a random color, a contrasting outline in
    a quarter of the cases. Logos keep their colors, or are made one flat color (30%).

    Args:
        height, width: layer size in pixels.
        rng: the random generator (a seed fixes the layer).
        bank: logos and fonts to draw from.
        ref_side: the side sizes are relative to (the short side of the whole image when
            the layer is a training crop of it); default ``min(height, width)``.
        kind: one of :data:`WATERMARK_KINDS`; default: drawn with their probabilities.
        opacity: overall opacity; default: uniform in :data:`OPACITY_RANGE`.

    Returns:
        ``(color, alpha)``: (H, W, 3) float32 RGB and (H, W) float32 alpha, in [0, 1].

    Raises:
        ValueError: for an unknown ``kind`` or a non-positive size.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"layer size must be positive, got {height}x{width}")
    kinds = list(WATERMARK_KINDS)
    if kind is None:
        kind = str(rng.choice(kinds, p=list(WATERMARK_KINDS.values())))
    elif kind not in WATERMARK_KINDS:
        raise ValueError(f"unknown watermark kind {kind!r}; kinds: {', '.join(kinds)}")
    if opacity is None:
        opacity = float(rng.uniform(*OPACITY_RANGE))
    ref = ref_side or min(height, width)
    tiled = kind.endswith("_tiled")
    if kind.startswith("text"):
        outline = _random_color(rng) if rng.random() < 0.25 else None
        color = _random_color(rng)
        if outline is not None and np.abs(outline - color).max() < 0.4:
            outline = 1.0 - color
        angle = float(rng.choice([0.0, rng.uniform(-45, 45)], p=[0.5, 0.5]))
        size = ref * (rng.uniform(0.03, 0.07) if tiled else rng.uniform(0.04, 0.12))
        mark = render_text_mark(bank, _random_text(rng), int(rng.integers(len(bank.fonts))), int(size), color,
                                angle, outline)
    else:
        mark = bank.logos[int(rng.integers(len(bank.logos)))].copy()
        if rng.random() < 0.3:
            mark[..., :3] = _random_color(rng)
        long_side = ref * (rng.uniform(0.08, 0.2) if tiled else rng.uniform(0.12, 0.45))
        mark = _resize_mark(mark, long_side, float(rng.uniform(-30, 30)) if rng.random() < 0.2 else 0.0)
    color = np.zeros((height, width, 3), np.float32)
    alpha = np.zeros((height, width), np.float32)
    mh, mw = mark.shape[:2]
    if tiled:
        gy, gx = mh * rng.uniform(1.5, 3.0), mw * rng.uniform(1.2, 2.0)
        shift = rng.uniform(0, gx) if rng.random() < 0.5 else 0.0
        oy, ox = rng.uniform(-gy, 0), rng.uniform(-gx, 0)
        for i, y in enumerate(np.arange(oy, height, gy)):
            for x in np.arange(ox - (shift * i) % gx, width, gx):
                _stamp(color, alpha, mark, int(round(y)), int(round(x)))
    else:
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        _stamp(color, alpha, mark, int(round(cy - mh / 2)), int(round(cx - mw / 2)))
    return color, alpha * np.float32(opacity)


def overlay_watermark(x: torch.Tensor, color: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Alpha-blend a watermark layer over images: ``(1 - alpha) * x + alpha * color``.

    Args:
        x: clean images, (B, C, H, W) float in [0, 1].
        color: watermark color, (B, C, H, W) or (B, 3, H, W) for gray ``x`` (then its luma
            is used), float in [0, 1].
        alpha: watermark alpha, (B, 1, H, W) float in [0, 1].

    Returns:
        Watermarked images, same shape and dtype as ``x``, in [0, 1].

    Raises:
        ValueError: if the shapes do not match.
    """
    if x.ndim != 4 or alpha.ndim != 4 or alpha.shape[1] != 1 or alpha.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"alpha has shape {tuple(alpha.shape)}, image is {tuple(x.shape)}; expected (B, 1, H, W)")
    if color.shape[1] != x.shape[1]:
        if x.shape[1] == 1 and color.shape[1] == 3:
            from restore.ops.color import rgb_to_gray
            color = rgb_to_gray(color)
        else:
            raise ValueError(f"color has shape {tuple(color.shape)}, image is {tuple(x.shape)}")
    return (1 - alpha) * x + alpha * color.to(x.dtype)


def synthesize_watermark(clean: np.ndarray, rng: np.random.Generator, bank: WatermarkBank, *,
                         ref_side: int | None = None, kind: str | None = None,
                         opacity: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Watermark one clean image with a random layer from :func:`watermark_layer`.

    Args:
        clean: (H, W, 3) uint8 RGB or float32 in [0, 1].
        rng, bank, ref_side, kind, opacity: as for :func:`watermark_layer`.

    Returns:
        ``(watermarked, clean, alpha)``: (H, W, 3) float32 in [0, 1] (not rounded),
        (H, W, 3) float32 in [0, 1], and the (H, W) float32 alpha in [0, 1]; the mask
        is ``alpha > MASK_THRESHOLD``.
    """
    c = clean.astype(np.float32) / 255.0 if clean.dtype == np.uint8 else clean.astype(np.float32)
    color, alpha = watermark_layer(c.shape[0], c.shape[1], rng, bank, ref_side=ref_side, kind=kind, opacity=opacity)
    marked = (1 - alpha[..., None]) * c + alpha[..., None] * color
    return marked.astype(np.float32), c, alpha


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode an image as JPEG with :func:`restore.io.encode_image` (what ``restore ...
    --format jpg`` writes: OpenCV's libjpeg, 4:2:0 chroma) and decode it again, as a photo
    saved by a camera, an editor or a web site is.

    Args:
        image: (H, W, 3) uint8 RGB.
        quality: JPEG quality, 1-100.

    Returns:
        (H, W, 3) uint8 RGB.

    Raises:
        ValueError: for a quality outside 1-100 or an image that is not H x W x 3 uint8.
    """
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1-100, got {quality}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 uint8 image, got {image.shape} {image.dtype}")
    from restore.io import encode_image   # the writer's own encoder (restore.io imports this module)

    buf = np.frombuffer(encode_image(image, "jpg", quality), np.uint8)
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


# --- inpainting masks: (H, W) float32, 1 = missing, 0 = known ---------------------------------

def center_mask(height: int, width: int, area: float = 0.25) -> np.ndarray:
    """A centered rectangular hole covering ``area`` of the image, with the image's aspect.

    Returns:
        (height, width) float32, 1 inside the hole (the benchmark's ``center`` kind).
    """
    if not 0 < area < 1:
        raise ValueError(f"area must be in (0, 1), got {area}")
    hh, hw = max(1, round(height * area ** 0.5)), max(1, round(width * area ** 0.5))
    y, x = (height - hh) // 2, (width - hw) // 2
    m = np.zeros((height, width), np.float32)
    m[y:y + hh, x:x + hw] = 1
    return m


def box_mask(height: int, width: int, rng: np.random.Generator, *, boxes: tuple[int, int] = (1, 4),
             side: tuple[float, float] = (0.1, 0.4)) -> np.ndarray:
    """Random axis-aligned boxes: between ``boxes[0]`` and ``boxes[1]`` of them, each side a
    random fraction ``side`` of the image's side. Returns (height, width) float32, 1 = missing."""
    m = np.zeros((height, width), np.float32)
    for _ in range(int(rng.integers(boxes[0], boxes[1] + 1))):
        bh = max(1, int(height * rng.uniform(*side)))
        bw = max(1, int(width * rng.uniform(*side)))
        y, x = int(rng.integers(0, height - bh + 1)), int(rng.integers(0, width - bw + 1))
        m[y:y + bh, x:x + bw] = 1
    return m


def stroke_mask(height: int, width: int, rng: np.random.Generator, *, coverage: float = 0.05,
                thickness: tuple[float, float] = (0.006, 0.015), max_strokes: int = 200) -> np.ndarray:
    """Free-form brush strokes (random walks of thick line segments, as in Yu et al.,
    DeepFill v2, ICCV 2019) drawn until about ``coverage`` of the pixels are missing.

    Args:
        coverage: target fraction of missing pixels (the result overshoots by at most one stroke).
        thickness: brush width as a fraction of the image's short side (at least 1 pixel);
            the default draws thin scratches, 3 to 7 pixels on a 481 x 321 image.

    Returns:
        (height, width) float32, 1 = missing.
    """
    m = np.zeros((height, width), np.uint8)
    short = min(height, width)
    target = coverage * height * width
    for _ in range(max_strokes):
        if m.sum() >= target:
            break
        y, x = float(rng.uniform(0, height)), float(rng.uniform(0, width))
        brush = max(1, int(round(short * rng.uniform(*thickness))))
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(int(rng.integers(3, 9))):
            angle += rng.uniform(-0.8, 0.8)
            length = short * rng.uniform(0.03, 0.12)
            ny = float(np.clip(y + length * np.sin(angle), 0, height - 1))
            nx = float(np.clip(x + length * np.cos(angle), 0, width - 1))
            cv2.line(m, (int(x), int(y)), (int(nx), int(ny)), 1, brush)
            y, x = ny, nx
    return m.astype(np.float32)


def make_mask(kind: str, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A mask of the benchmark's ``kind``: ``center`` (25% of the area), ``boxes`` or
    ``strokes`` (5% coverage). Returns (height, width) float32, 1 = missing.

    Raises:
        ValueError: unknown kind.
    """
    if kind == "center":
        return center_mask(height, width)
    if kind == "boxes":
        return box_mask(height, width, rng)
    if kind == "strokes":
        return stroke_mask(height, width, rng)
    raise ValueError(f"unknown mask kind {kind!r}: use center, boxes or strokes")
