"""Visible-watermark synthesis: a watermark *layer* (color and alpha) drawn with numpy,
OpenCV and Pillow's text renderer from the logos and fonts of a :class:`WatermarkBank`, and
composited with :func:`overlay_watermark`, a tensor function. Logos and fonts are read
from disk by :func:`load_watermark_bank` through :mod:`restore.io`.
"""

from __future__ import annotations

import io as _bytes_io
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from restore.io import FONT_DIRS, read_watermark_material
from restore.ops.degrade.holdout import is_held_out

#: Kinds of synthetic watermark and their probabilities (single mark or a tiled pattern).
WATERMARK_KINDS = {"logo": 0.3, "text": 0.25, "logo_tiled": 0.2, "text_tiled": 0.25}
#: Opacity range of a watermark (multiplies the logo's or glyphs' own alpha).
OPACITY_RANGE = (0.2, 1.0)
#: A pixel belongs to the watermark mask when its alpha exceeds this (about 13 gray levels
#: of change at most where the mark's color is far from the image's).
MASK_THRESHOLD = 0.05
_WORDS = ("SAMPLE", "PREVIEW", "COPYRIGHT", "PROOF", "DRAFT", "CONFIDENTIAL", "Stock", "Photo", "Images",
          "Studio", "Archive", "Photography", "Licensed", "Watermark", "Demo", "DO NOT COPY", "Gallery",
          "Pictures", "Media", "Creative", "Press", "News", "Travel", "Wedding", "Design")


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


def load_watermark_bank(logo_dirs: str | Path | list, split: str = "train", *, fonts: list | None = None
                        ) -> WatermarkBank:
    """The logos and fonts of one split, read with :func:`restore.io.read_watermark_material`.

    Args:
        logo_dirs: folder(s) of logo images (PNG with alpha preferred; see :func:`logo_alpha`).
        split: ``"train"`` (everything not held out), ``"val"`` (only the held-out logos
            and font, :func:`restore.ops.degrade.holdout.is_held_out`) or ``"all"``.
        fonts: font files; default :func:`restore.io.find_fonts`.

    Returns:
        A :class:`WatermarkBank`.

    Raises:
        FileNotFoundError: if a folder is missing, or no logo or no font is left.
        ValueError: for an unknown split.
    """

    if split not in ("train", "val", "all"):
        raise ValueError(f"split must be 'train', 'val' or 'all', got {split!r}")

    def keep(name: str, kind: str) -> bool:
        return split == "all" or is_held_out(name, kind) == (split == "val")

    dirs = [Path(d) for d in (logo_dirs if isinstance(logo_dirs, (list, tuple)) else [logo_dirs])]
    logo_files, font_files = read_watermark_material(dirs, fonts)
    logos = [(name, logo_alpha(img)) for name, img in logo_files if keep(Path(name).stem, "logo")]
    font_files = [(name, data) for name, data in font_files if keep(name, "font")]
    if not logos:
        raise FileNotFoundError(f"no {split} logos in {', '.join(map(str, dirs))}")
    if not font_files:
        raise FileNotFoundError(f"no {split} fonts found (install matplotlib, or the DejaVu fonts in one of "
                                f"{', '.join(FONT_DIRS)})")
    return WatermarkBank(tuple(a for _, a in logos), tuple(d for _, d in font_files),
                         tuple([n for n, _ in logos] + [n for n, _ in font_files]))
