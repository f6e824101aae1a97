"""Tiled inference for large images: overlapping tiles, feathered blending, padding.

The image is first padded (reflect, or replicate where the image is too small to
reflect) to a multiple of the model's ``multiple_of``; tiles start on multiples of it too,
so a strided network sees the same sampling grid in every tile as on the whole image.
Along each side, the fewest tiles of at most ``tile`` px that overlap by ``overlap`` px
are spread evenly and made only as long as they need to be, so little is computed twice.
Each tile's weight is 0 in the outer quarter of the overlap (where its missing context
makes it least accurate), ramps linearly to 1 over the middle half and stays 1 inside, and
is 1 up to the image border; the output is the weighted mean of the tiles. This is
the overlap-tile strategy of U-Net (Ronneberger et al., MICCAI 2015) and Real-ESRGAN's
tile mode, with linear feathering instead of a hard cut so no seam shows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch
import torch.nn.functional as F

log = logging.getLogger("restore")


def pad_to_multiple(x: torch.Tensor, multiple_of: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad (B, C, H, W) at the bottom and right so H and W are multiples of ``multiple_of``.

    Reflect padding where the image is large enough, replicate otherwise (a 1x1 image).
    Returns the padded tensor and the original (H, W).
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple_of, (-w) % multiple_of
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def _tiles(n: int, tile: int, overlap: int, m: int) -> tuple[int, list[int]]:
    """The tile length and start offsets along one side of ``n`` (a multiple of ``m``) px.

    As few tiles of at most ``tile`` px as cover ``n`` with ``overlap`` px between
    neighbours, each made as short as that count allows and spread evenly, so that the
    tiles cover about ``n + (count - 1) * overlap`` px rather than ``count * tile``
    (a 2000 px side in 768 px tiles: three of 712 px instead of three of 768 px, one
    overlapping the last by 600 px). Lengths and starts are multiples of ``m``.
    """
    if n <= tile:
        return n, [0]
    count = -(-(n - overlap) // (tile - overlap))
    length = -(-(n + (count - 1) * overlap) // (count * m)) * m
    units = (n - length) // m
    return length, [i * units // (count - 1) * m for i in range(count)]


def _ramp(length: int, overlap: int, left: bool, right: bool, device, dtype) -> torch.Tensor:
    d = torch.arange(length, device=device, dtype=dtype)
    w = torch.ones(length, device=device, dtype=dtype)
    if overlap > 0:
        q, h = overlap / 4, max(overlap / 2, 1.0)
        if left:
            w = torch.minimum(w, ((d + 0.5 - q) / h).clamp(0, 1))
        if right:
            w = torch.minimum(w, ((length - 1 - d + 0.5 - q) / h).clamp(0, 1))
    return w


def run_tiled(model_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *, tile: int | None = 768,
              overlap: int = 64, scale: int = 1, multiple_of: int = 1, min_tile: int = 64) -> torch.Tensor:
    """Run ``model_fn`` over ``x`` whole or tile by tile, and stitch the outputs.

    Args:
        model_fn: maps (B, C, h, w) to (B, C', h*scale, w*scale); h and w are multiples of
            ``multiple_of``.
        x: input, (B, C, H, W) float.
        tile: tile side in input pixels (rounded down to a multiple of ``multiple_of``);
            ``None`` or 0 runs the whole image at once.
        overlap: overlap between neighbouring tiles in input pixels (rounded up to a
            multiple of ``multiple_of``, at most half the tile).
        scale: output / input size ratio of ``model_fn``.
        multiple_of: size multiple the model needs.
        min_tile: smallest tile tried when CUDA runs out of memory.

    Returns:
        (B, C', H*scale, W*scale) output, the padding cropped off.

    Raises:
        ValueError: if ``x`` is not 4-D or the sizes are inconsistent.
        torch.cuda.OutOfMemoryError: if even ``min_tile`` does not fit. On an out-of-memory
            error the tile is halved and the run retried, with a warning.
    """
    if x.ndim != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}")
    m = max(1, int(multiple_of))
    xp, (h, w) = pad_to_multiple(x, m)
    while True:
        try:
            out = _run(model_fn, xp, tile, overlap, scale, m)
            return out[..., : h * scale, : w * scale]
        except torch.cuda.OutOfMemoryError:
            current = tile or max(xp.shape[-2:])
            if current // 2 < min_tile:
                raise
            tile = current // 2
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            log.warning("restore: CUDA out of memory, retrying with tile %d", tile)


def _run(model_fn, xp: torch.Tensor, tile: int | None, overlap: int, scale: int, m: int) -> torch.Tensor:
    b, _, hp, wp = xp.shape
    if not tile or (hp <= tile and wp <= tile):
        return model_fn(xp)
    tile = max(m, tile // m * m)
    overlap = min(-(-overlap // m) * m, tile // 2 // m * m)
    out = weight = None
    th, ys = _tiles(hp, tile, overlap, m)
    tw, xs = _tiles(wp, tile, overlap, m)
    for y0 in ys:
        for x0 in xs:
            y = model_fn(xp[..., y0:y0 + th, x0:x0 + tw])
            if out is None:
                out = torch.zeros(b, y.shape[1], hp * scale, wp * scale, device=y.device, dtype=torch.float32)
                weight = torch.zeros(1, 1, hp * scale, wp * scale, device=y.device, dtype=torch.float32)
            wy = _ramp(th * scale, overlap * scale, y0 > 0, y0 + th < hp, y.device, torch.float32)
            wx = _ramp(tw * scale, overlap * scale, x0 > 0, x0 + tw < wp, y.device, torch.float32)
            wt = wy[:, None] * wx[None, :]
            sy, sx = slice(y0 * scale, (y0 + th) * scale), slice(x0 * scale, (x0 + tw) * scale)
            out[..., sy, sx] += y.float() * wt
            weight[..., sy, sx] += wt
    return (out / weight.clamp_min(1e-8)).to(xp.dtype)
