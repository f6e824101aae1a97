"""Coarse-to-fine fill of large holes for a windowed inpainting GAN.

A model trained on 64 x 64 windows (``gan-photos-64``) fills a thin stroke well: every
window over it holds known pixels on both sides. A window inside an object-sized hole
holds none, and filled on its own it comes out as a blob unrelated to its neighbours.
So a large part of the hole is filled from coarse to fine, the latent search
(:func:`restore.pipelines.inpaint.latent_search`, Yeh et al., CVPR 2017) staying the
engine at every level:

1. **Which parts.** Each connected part of the hole (8-connected) whose depth, the largest
   distance from one of its pixels to the nearest known pixel, is more than
   ``coarse_depth`` pixels (:func:`split_hole`). Thinner parts (strokes, scratches) keep
   the full-resolution window-by-window fill.
2. **Coarsest level.** The image around the part is downscaled by 2^L, the least L (at most
   ``max_levels``) at which the part's bounding box fits in the window with
   ``coarse_context`` known pixels on each side (:func:`pyramid_levels`); there one window
   sees the whole hole with its surroundings, as the model saw holes in training.
3. **Up the pyramid** (factor 2 per level, as in Laplacian-pyramid synthesis): each level
   starts from the bilinear upsampling of the level below, which the encoder sees in the
   hole (the search's start) and which the search's loss pulls G(z) toward inside the
   hole (an L1 term weighted ``guide_weight``); the windows at that scale add texture.
4. **From the boundary inward.** At each level the windows over the part are filled in
   ``rounds`` rounds; each round takes the windows with the largest share of known or
   already filled pixels, and treats the earlier rounds' fills as known pixels of weight
   ``filled_weight`` (the order of exemplar-based inpainting, Criminisi et al., IEEE TIP
   2004).

The windows' fills are feathered together at every level and Poisson-blended into the
level's image before they are upsampled (:func:`restore.ops.blend.poisson_blend` with the
fill's gradients inside the part only: the generator's colours drift from the photo's,
and the known pixels at the border set them); the caller blends the full-resolution
result the same way. The work is bounded: at
most ``max_levels + 1`` levels and ``rounds`` sequential searches per level, and the number
of windows per level is about a quarter of the next finer level's.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from restore.ops.blend import poisson_blend

#: ``search(y, mask, weight, guide, guide_mask, steps) -> fills``: the latent search over a
#: batch of windows (tensors (N, C, S, S); ``guide`` and ``guide_mask`` may be None) with
#: ``steps`` Adam steps.
WindowSearch = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, "torch.Tensor | None", "torch.Tensor | None", int],
                        torch.Tensor]


def split_hole(hole: np.ndarray, depth: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """Split a hole into its thin parts and its large parts.

    The depth of a connected part (8-connectivity) is the largest Euclidean distance from
    one of its pixels to the nearest known pixel (OpenCV's distance transform): half the
    width of a stroke, half the short side of a box.

    Args:
        hole: (H, W) bool, True = missing.
        depth: parts deeper than this (pixels) are large.

    Returns:
        ``(thin, large)``: (H, W) bool of all the thin parts, and one (H, W) bool per large
        part, largest first.
    """
    hole = np.asarray(hole, bool)
    if not hole.any():
        return hole.copy(), []
    n, labels = cv2.connectedComponents(hole.astype(np.uint8), connectivity=8)
    if hole.all():
        dist = np.full(hole.shape, float(max(hole.shape)), np.float32)
    else:
        dist = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, 5)
    deepest = np.zeros(n, np.float32)
    np.maximum.at(deepest, labels.ravel(), dist.ravel())
    big = [k for k in range(1, n) if deepest[k] > depth]
    sizes = {k: int((labels == k).sum()) for k in big}
    large = [labels == k for k in sorted(big, key=lambda k: -sizes[k])]
    thin = hole.copy()
    for part in large:
        thin &= ~part
    return thin, large


def pyramid_levels(box_height: int, box_width: int, window: int, context: int, max_levels: int) -> int:
    """The coarsest level L (the image downscaled by 2^L): the least L at which a hole's
    bounding box fits in ``window - 2 * context`` pixels, at most ``max_levels``."""
    fit = max(1, window - 2 * context)
    level = 0
    while max(box_height, box_width) / 2 ** level > fit and level < max_levels:
        level += 1
    return level


def window_starts(n: int, size: int, overlap: int) -> list[int]:
    """Starts of windows of ``size`` covering 0..n with at least ``overlap`` shared pixels."""
    if n <= size:
        return [0]
    stride = size - overlap
    k = int(np.ceil((n - size) / stride)) + 1
    return sorted({round(i * (n - size) / (k - 1)) for i in range(k)})


def feather(size: int, overlap: int) -> torch.Tensor:
    """(1, 1, size, size) blending weights of a window: a linear ramp over ``overlap`` pixels at each edge."""
    ramp = torch.minimum(torch.arange(size) + 1.0, size - torch.arange(size).float())
    ramp = ramp.clamp(max=max(1, overlap)) / max(1, overlap)
    return (ramp[:, None] * ramp[None, :])[None, None]


def fill_coarse_to_fine(x: torch.Tensor, hole: torch.Tensor, part: np.ndarray, search: WindowSearch, *, window: int,
                        overlap: int, coarse_context: int, max_levels: int, rounds: int, filled_weight: float,
                        steps: int, coarse_steps: int, importance: Callable[[torch.Tensor], torch.Tensor]
                        ) -> torch.Tensor:
    """Fill one large part of a hole from coarse to fine (see the module doc).

    Args:
        x: (1, 3, H, W) float32 in [0, 1], the image (hole pixels' values are ignored).
        hole: (1, 1, H, W) float32, 1 = missing (all parts of the hole).
        part: (H, W) bool, the part to fill (inside ``hole``).
        search: the latent search over windows (:data:`WindowSearch`).
        window: the generator's side S.
        overlap: pixels shared by neighbouring windows.
        coarse_context, max_levels, rounds, filled_weight, coarse_steps: the model's
            :class:`restore.zoo.settings.InpaintSettings`.
        steps: the search's steps at full resolution (``coarse_steps`` above it).
        importance: the contextual loss's weights of a (N, 1, S, S) mask
            (:func:`restore.pipelines.inpaint.importance_weights`).

    Returns:
        (1, 3, H, W): ``x`` with the generator's output over the full-resolution windows
        around ``part`` (its pixels and the known pixels the windows cover), to be
        Poisson-blended into ``x`` over ``part`` with the gradients inside it only
        (``poisson_blend(..., across_border=False)``): the generator's colours drift.
    """
    h, w = x.shape[2:]
    ys, xs = np.nonzero(part)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    top = pyramid_levels(y1 - y0, x1 - x0, window, coarse_context, max_levels)
    part_t = torch.from_numpy(part.astype(np.float32))[None, None]
    est = x.clone()
    guided = False
    for level in range(top, -1, -1):
        f = 2 ** level
        m = coarse_context * f
        cy0, cy1, cx0, cx1 = max(0, y0 - m), min(h, y1 + m), max(0, x0 - m), min(w, x1 + m)
        ch, cw = cy1 - cy0, cx1 - cx0
        size = (max(1, round(ch / f)), max(1, round(cw / f)))

        def down(t: torch.Tensor) -> torch.Tensor:
            t = t[:, :, cy0:cy1, cx0:cx1]
            return F.interpolate(t, size=size, mode="area") if f > 1 else t

        hole_l = (down(hole) > 0.01).float()
        part_l = (down(part_t) > 0.01).float()
        x_l = down(x)
        guide = down(est) if guided else None
        gen = fill_level(x_l, hole_l, part_l, guide, search, window=window, overlap=overlap, rounds=rounds,
                         filled_weight=filled_weight, steps=coarse_steps if f > 1 else steps, importance=importance)
        if f == 1:  # the caller blends: G's output over the windows, known pixels included
            est[:, :, cy0:cy1, cx0:cx1] = gen
            break
        # the level's fill takes the known pixels' colours at its border (the generator's
        # colours drift), then is upsampled as the next level's start
        filled = F.interpolate(poisson_blend(gen, x_l, part_l, across_border=False), size=(ch, cw), mode="bilinear",
                               align_corners=False).clamp(0, 1)
        crop = est[:, :, cy0:cy1, cx0:cx1]
        est[:, :, cy0:cy1, cx0:cx1] = torch.where(part_t[:, :, cy0:cy1, cx0:cx1] > 0, filled, crop)
        guided = True
    return est


def fill_level(x: torch.Tensor, hole: torch.Tensor, part: torch.Tensor, guide: torch.Tensor | None,
               search: WindowSearch, *, window: int, overlap: int, rounds: int, filled_weight: float, steps: int,
               importance: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Fill ``part`` of one pyramid level with windows, in rounds from the boundary inward.

    Args:
        x: (1, 3, h, w) the level's image; hole: (1, 1, h, w) 1 = missing; part: (1, 1, h, w)
            1 = to fill (inside ``hole``); guide: (1, 3, h, w) the upsampled fill of the level
            below, or None at the coarsest level.
        search, window, overlap, rounds, filled_weight, importance: as in :func:`fill_coarse_to_fine`.
        steps: the search's steps at this level.

    Returns:
        (1, 3, h, w): the windows' G(z) feathered together where windows lie (known pixels
        included), ``x`` elsewhere.
    """
    s = window
    h, w = x.shape[2:]
    ph, pw = max(0, s - h), max(0, s - w)
    if ph or pw:  # smaller than a window: reflect-pad (replicate when too small to reflect)
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
        guide = None if guide is None else F.pad(guide, (0, pw, 0, ph), mode=mode)
        hole, part = F.pad(hole, (0, pw, 0, ph)), F.pad(part, (0, pw, 0, ph))
    H, W = x.shape[2:]
    overlap = min(overlap, s // 2)
    todo = [(a, b) for a in window_starts(H, s, overlap) for b in window_starts(W, s, overlap)
            if part[0, 0, a:a + s, b:b + s].any()]
    ramp = feather(s, overlap)
    cur = x.clone()
    done = torch.zeros_like(part)  # pixels of ``part`` filled in an earlier round
    acc, wsum = torch.zeros_like(x), torch.zeros_like(part)
    rounds = max(1, int(rounds))
    for r in range(rounds):
        if not todo:
            break
        missing = hole * (1 - done)
        known = [1 - float(missing[0, 0, a:a + s, b:b + s].mean()) for a, b in todo]
        take = math.ceil(len(todo) / (rounds - r))
        order = sorted(range(len(todo)), key=lambda k: -known[k])
        now = [todo[k] for k in order[:take]]
        todo = [todo[k] for k in order[take:]]

        def cut(t: torch.Tensor) -> torch.Tensor:
            return torch.cat([t[:, :, a:a + s, b:b + s] for a, b in now])

        ms, dn = cut(missing), cut(done)
        weight = importance(ms) * (1 - dn * (1 - filled_weight))
        fills = search(cut(cur), ms, weight, None if guide is None else cut(guide),
                       None if guide is None else cut(part), steps)
        for k, (a, b) in enumerate(now):
            acc[:, :, a:a + s, b:b + s] += fills[k:k + 1] * ramp
            wsum[:, :, a:a + s, b:b + s] += ramp
        done = part * (wsum > 0).float()
        cur = torch.where(done > 0, acc / wsum.clamp_min(1e-8), x)
    return torch.where(wsum > 0, acc / wsum.clamp_min(1e-8), x)[:, :, :h, :w]
