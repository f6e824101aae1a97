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

import numpy as np
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


class ArraySource:
    """A numpy image read tile by tile as float tensors, so that only one tile at a time
    exists as float32 (the whole image stays in its file dtype).

    Args:
        array: ``H x W x C`` uint8, uint16 or float32/64 (a view is kept, not a copy).
        channels: channels of the tiles; a 1-channel array is repeated to 3 when 3.

    Attributes:
        shape: ``(1, channels, H, W)``, the shape of the tensor the source stands for.
    """

    def __init__(self, array: np.ndarray, channels: int | None = None) -> None:
        if array.ndim != 3:
            raise ValueError(f"array must be H x W x C, got shape {array.shape}")
        self.array = array
        c = array.shape[2]
        self.channels = c if channels is None else channels
        if self.channels != c and not (c == 1 and self.channels == 3):
            raise ValueError(f"cannot read a {c}-channel array as {self.channels} channels")
        self.shape = (1, self.channels, array.shape[0], array.shape[1])

    def read(self, rows: slice | np.ndarray, cols: slice | np.ndarray) -> torch.Tensor:
        """The pixels ``array[rows, cols]`` as a (1, channels, h, w) float32 tensor, in [0, 1]
        for integer arrays (:func:`to_float`); ``rows``/``cols`` are slices or index arrays."""
        if isinstance(rows, np.ndarray) and isinstance(cols, np.ndarray):
            a = self.array[rows[:, None], cols[None, :]]
        else:
            a = self.array[rows][:, cols]
        t = to_float(a).permute(2, 0, 1).unsqueeze(0)
        return t.expand(-1, 3, -1, -1).contiguous() if self.channels != a.shape[2] else t


def to_float(a: np.ndarray) -> torch.Tensor:
    """An ``H x W x C`` numpy image as a float32 tensor of the same layout: uint8 / 255,
    uint16 / 65535, floats as they are. Every conversion of file pixels to the tensor
    contract goes through this one function, so a tile converted alone has exactly the
    values it has in the whole image converted at once.

    Raises:
        TypeError: for another dtype.
    """
    if a.dtype == np.uint8:
        scale = 255.0
    elif a.dtype == np.uint16:
        scale = 65535.0
    elif a.dtype in (np.float32, np.float64):
        scale = None
    else:
        raise TypeError(f"unsupported image dtype {a.dtype}; use uint8, uint16 or float32")
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    return t / scale if scale is not None else t


def _padded_index(n: int, padded: int, reflect: bool) -> slice | np.ndarray:
    """Source indices of the ``padded`` positions along a side of ``n`` px padded at the end
    (as :func:`pad_to_multiple`: reflect, or replicate)."""
    if padded == n:
        return slice(0, n)
    i = np.arange(padded)
    return np.where(i < n, i, 2 * (n - 1) - i) if reflect else np.minimum(i, n - 1)


#: Output rows handed to the sink at a time (bounds the temporaries of the last division).
FLUSH_ROWS = 128

#: Receives finished rows of the output: ``sink(row0, block)`` with ``block`` (B, C', rows, W')
#: float, rows ``row0 .. row0 + rows`` of the (cropped) output.
Sink = Callable[[int, torch.Tensor], None]


def run_tiled(model_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor | ArraySource, *,
              tile: int | None = 768, overlap: int = 64, scale: int = 1, multiple_of: int = 1, min_tile: int = 64,
              sink: Sink | None = None, device: torch.device | str | None = None,
              dtype: torch.dtype | None = None) -> torch.Tensor | None:
    """Run ``model_fn`` over ``x`` whole or tile by tile, and stitch the outputs.

    Memory: besides the input, the output and one tile, the feathered blending holds a
    float32 band one row of tiles high and the output's width (``tile * scale`` rows); with
    an :class:`ArraySource` input and a ``sink`` nothing else of the image's size is made.

    Args:
        model_fn: maps (B, C, h, w) to (B, C', h*scale, w*scale); h and w are multiples of
            ``multiple_of``.
        x: input, (B, C, H, W) float tensor, or an :class:`ArraySource` (a numpy image read
            one tile at a time; padded the same way).
        tile: tile side in input pixels (rounded down to a multiple of ``multiple_of``);
            ``None`` or 0 runs the whole image at once.
        overlap: overlap between neighbouring tiles in input pixels (rounded up to a
            multiple of ``multiple_of``, at most half the tile).
        scale: output / input size ratio of ``model_fn``.
        multiple_of: size multiple the model needs.
        min_tile: smallest tile tried when CUDA runs out of memory.
        sink: where finished output rows go (:data:`Sink`), top to bottom; each row is
            given once per attempt (again from the top after an out-of-memory retry).
            None: the output is returned as one tensor.
        device, dtype: where and as what the tiles of an :class:`ArraySource` are given to
            ``model_fn`` (default: CPU, float32); a tensor input is moved there once.

    Returns:
        (B, C', H*scale, W*scale) output, the padding cropped off; None when ``sink`` is given.

    Raises:
        ValueError: if ``x`` is not 4-D or the sizes are inconsistent.
        torch.cuda.OutOfMemoryError: if even ``min_tile`` does not fit. On an out-of-memory
            error the tile is halved and the run retried, with a warning.
    """
    if len(x.shape) != 4:
        raise ValueError(f"x must be (B, C, H, W), got shape {tuple(x.shape)}")
    m = max(1, int(multiple_of))
    h, w = x.shape[-2:]
    if isinstance(x, ArraySource):
        hp, wp = -(-h // m) * m, -(-w // m) * m
        reflect = hp - h < h and wp - w < w
        rows, cols = _padded_index(h, hp, reflect), _padded_index(w, wp, reflect)

        def read(y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
            r = rows[y0:y1] if isinstance(rows, np.ndarray) else slice(y0, y1)
            c = cols[x0:x1] if isinstance(cols, np.ndarray) else slice(x0, x1)
            t = x.read(r, c)
            return t.to(device, dtype) if device is not None or dtype is not None else t
    else:
        xp, _ = pad_to_multiple(x.to(device if device is not None else x.device, dtype or x.dtype), m)
        hp, wp = xp.shape[-2:]

        def read(y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
            return xp[..., y0:y1, x0:x1]
    result: list[torch.Tensor] = []

    def collect(r0: int, block: torch.Tensor) -> None:
        if r0 == 0 and block.shape[-2] == h * scale:  # the whole output at once
            result[:] = [block]
            return
        if not result:
            result.append(block.new_empty(*block.shape[:-2], h * scale, w * scale))
        result[0][..., r0:r0 + block.shape[-2], :] = block

    emit = sink or collect
    while True:
        try:
            _run(model_fn, read, hp, wp, h, w, tile, overlap, scale, m, emit)
            break
        except torch.cuda.OutOfMemoryError:
            current = tile or max(hp, wp)
            if current // 2 < min_tile:
                raise
            tile = current // 2
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            log.warning("restore: CUDA out of memory, retrying with tile %d", tile)
    return None if sink is not None else result[0]


def _run(model_fn, read, hp: int, wp: int, h: int, w: int, tile: int | None, overlap: int, scale: int, m: int,
         emit: Sink) -> None:
    oh, ow = h * scale, w * scale
    if not tile or (hp <= tile and wp <= tile):
        emit(0, model_fn(read(0, hp, 0, wp))[..., :oh, :ow])
        return
    tile = max(m, tile // m * m)
    overlap = min(-(-overlap // m) * m, tile // 2 // m * m)
    th, ys = _tiles(hp, tile, overlap, m)
    tw, xs = _tiles(wp, tile, overlap, m)
    acc = weight = None  # the band of output rows top .. top + th * scale, reused row after row
    top = 0
    out_dtype = None

    def flush(n: int) -> None:  # hand on the band's first n rows, a few at a time (small temporaries)
        for r0 in range(0, min(n, oh - top), FLUSH_ROWS):
            r1 = min(n, oh - top, r0 + FLUSH_ROWS)
            emit(top + r0, (acc[..., r0:r1, :ow] / weight[..., r0:r1, :ow].clamp_min(1e-8)).to(out_dtype))

    for y0 in ys:
        start = y0 * scale
        if acc is not None:  # rows above this row of tiles are final: hand them on, keep the rest
            flush(start - top)
            shift = start - top
            keep = acc.shape[-2] - shift
            if keep > 0:
                acc[..., :keep, :] = acc[..., shift:, :].clone()
                weight[..., :keep, :] = weight[..., shift:, :].clone()
            acc[..., max(keep, 0):, :] = 0
            weight[..., max(keep, 0):, :] = 0
        top = start
        for x0 in xs:
            t = read(y0, y0 + th, x0, x0 + tw)
            out_dtype = t.dtype
            y = model_fn(t)
            if acc is None:
                acc = torch.zeros(y.shape[0], y.shape[1], th * scale, wp * scale, device=y.device, dtype=torch.float32)
                weight = torch.zeros(1, 1, th * scale, wp * scale, device=y.device, dtype=torch.float32)
            wy = _ramp(th * scale, overlap * scale, y0 > 0, y0 + th < hp, y.device, torch.float32)
            wx = _ramp(tw * scale, overlap * scale, x0 > 0, x0 + tw < wp, y.device, torch.float32)
            wt = wy[:, None] * wx[None, :]
            sx = slice(x0 * scale, (x0 + tw) * scale)
            acc[..., :, sx] += y.float() * wt
            weight[..., :, sx] += wt
    flush(th * scale)
