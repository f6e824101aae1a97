"""Color hints for user-guided colorization (Zhang, Zhu, Isola et al., "Real-Time
User-Guided Image Colorization with Learned Deep Priors", SIGGRAPH 2017).

A hint says "this pixel has this color". Users give hints as an RGBA image the size of
the photo: transparent everywhere except dots or strokes whose RGB is the color wanted
(only its chroma a*, b* is used: the lightness stays the photo's). The network takes them
as three channels at its render size: a*, b* and a mask (1 where a hint is).

Training and benchmarks reveal ground-truth hints: small patches of the original's
chroma at random places (:func:`reveal_hints`, :func:`hint_image_from`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from restore.ops.color import rgb_to_lab

#: Alpha (0-1) above which a pixel of a hint image is a hint.
HINT_ALPHA = 0.5


def hints_from_rgba(rgba: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The hint channels at the network's render size from a hint image.

    Each render-size pixel whose window holds hint pixels (alpha > :data:`HINT_ALPHA`)
    gets the mean a*b* of those pixels and a mask of 1; the others get zeros. Windows
    are those of adaptive average pooling, so any size ratio works (enlarging repeats).

    Args:
        rgba: (B, 4, H, W) float in [0, 1], RGB and alpha of the hint image.
        size: (h, w), the render size.

    Returns:
        (B, 3, h, w) float32: a*, b* (CIE Lab, D65) and the mask in {0, 1}.

    Raises:
        ValueError: for a tensor that is not (B, 4, H, W).
    """
    if rgba.ndim != 4 or rgba.shape[1] != 4:
        raise ValueError(f"hint image must be (B, 4, H, W), got {tuple(rgba.shape)}")
    m = (rgba[:, 3:4] > HINT_ALPHA).float()
    if not bool(m.any()):
        return rgba.new_zeros(rgba.shape[0], 3, *size)
    return pool_hints(torch.cat([rgb_to_lab(rgba[:, :3].float().clamp(0, 1))[:, 1:], m], 1), size)


def reveal_hints(ab: torch.Tensor, counts: list[int], rng: np.random.Generator, sizes: tuple[int, int] = (1, 9)
                 ) -> torch.Tensor:
    """Ground-truth hints as the training reveals them (Zhang et al. 2017): for image ``i``,
    ``counts[i]`` square patches of a random side in ``sizes`` (inclusive, pixels) at
    uniformly random places, each holding the mean a*b* of the true chroma over the patch.

    Args:
        ab: (B, 2, H, W) float true a*, b*.
        counts: B numbers of patches (0: no hint, the automatic mode).
        rng: the random generator (seeded by the caller).
        sizes: smallest and largest patch side.

    Returns:
        (B, 3, H, W) float32 hint channels (a*, b*, mask) on ``ab``'s device.

    Raises:
        ValueError: if ``len(counts)`` is not B.
    """
    B, _, H, W = ab.shape
    if len(counts) != B:
        raise ValueError(f"counts has {len(counts)} entries for a batch of {B}")
    hints = torch.zeros(B, 3, H, W, dtype=torch.float32, device=ab.device)
    for i, n in enumerate(counts):
        for _ in range(int(n)):
            s = int(rng.integers(sizes[0], sizes[1] + 1))
            s = min(s, H, W)
            y, x = int(rng.integers(0, H - s + 1)), int(rng.integers(0, W - s + 1))
            mean = ab[i, :, y:y + s, x:x + s].float().mean(dim=(1, 2))
            hints[i, :2, y:y + s, x:x + s] = mean.view(2, 1, 1)
            hints[i, 2, y:y + s, x:x + s] = 1.0
    return hints


def hint_image_from(original: np.ndarray, n: int, rng: np.random.Generator, side: int = 1) -> np.ndarray:
    """A hint image with ``n`` ground-truth dots taken from ``original``, as a user's
    hint file would be: RGBA uint8, transparent except ``n`` squares of ``side`` pixels
    at uniformly random places, each the mean RGB of the original over the square.
    The benchmark's "random ground-truth hints".

    Args:
        original: H x W x 3 uint8 color image.
        n: number of dots (0 gives a fully transparent image).
        rng: the random generator (seeded by the caller).
        side: side of each dot, pixels (clipped to the image).

    Returns:
        H x W x 4 uint8.

    Raises:
        ValueError: for an image that is not H x W x 3, or ``n`` < 0.
    """
    if original.ndim != 3 or original.shape[2] != 3:
        raise ValueError(f"original must be H x W x 3, got {original.shape}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    H, W = original.shape[:2]
    side = max(1, min(side, H, W))
    out = np.zeros((H, W, 4), np.uint8)
    for _ in range(n):
        y, x = int(rng.integers(0, H - side + 1)), int(rng.integers(0, W - side + 1))
        patch = original[y:y + side, x:x + side].reshape(-1, 3).astype(np.float64).mean(0)
        out[y:y + side, x:x + side, :3] = np.round(patch).astype(np.uint8)
        out[y:y + side, x:x + side, 3] = 255
    return out


def pool_hints(hints: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Hint channels (B, 3, H, W) (a*, b*, mask) brought to ``size`` (h, w) as
    :func:`hints_from_rgba` does: the mean a*b* of the hinted pixels of each window, mask 1
    where a window holds any hint."""
    m = (hints[:, 2:3] > 0).float()
    pooled_m = F.adaptive_avg_pool2d(m, size)
    pooled_ab = F.adaptive_avg_pool2d(hints[:, :2] * m, size)
    mask = (pooled_m > 0).float()
    ab = torch.where(mask > 0, pooled_ab / pooled_m.clamp_min(1e-12), torch.zeros_like(pooled_ab))
    return torch.cat([ab, mask], 1)


#: Default of ``propagate_hints``'s ``tol``: a hint whose weight at a pixel is below this
#: share of the fade-out term ``exp(-reach)`` is left out of the blend there.
PROPAGATION_TOL = 1e-4


def lightness_graph(L: np.ndarray, edge: float, groups: np.ndarray, count: int):
    """The 4-neighbour grid of an ``h x w`` lightness image as a sparse graph for
    :func:`scipy.sparse.csgraph.dijkstra`, plus one source node per hint group.

    Pixel ``i`` is node ``i`` (row-major); a step between 4-neighbours costs
    ``1 + edge * |L*_i - L*_j|`` in both directions. Node ``h * w + k - 1`` is the source of
    group ``k`` of ``groups`` (labels 1..``count``, 0 = no hint): it reaches each member
    pixel at cost 0, so one search from it gives the distance to the nearest member.

    Args:
        L: (h, w) float64 L* in [0, 100].
        edge: extra distance per L* unit of lightness step.
        groups: (h, w) int labels of the hint groups (``scipy.ndimage.label``).
        count: number of groups.

    Returns:
        A ``(h * w + count) x (h * w + count)`` CSR matrix of step costs (directed, both
        directions stored).
    """
    import scipy.sparse as sp

    h, w = L.shape
    n = h * w
    idx = np.arange(n).reshape(h, w)
    pairs = ((idx[:, :-1], idx[:, 1:], L[:, :-1] - L[:, 1:]), (idx[:-1, :], idx[1:, :], L[:-1, :] - L[1:, :]))
    a = np.concatenate([p[0].reshape(-1) for p in pairs])
    b = np.concatenate([p[1].reshape(-1) for p in pairs])
    cost = 1.0 + edge * np.abs(np.concatenate([p[2].reshape(-1) for p in pairs]))
    members = np.flatnonzero(groups.reshape(-1))
    rows = np.concatenate([a, b, n + groups.reshape(-1)[members] - 1])
    cols = np.concatenate([b, a, members])
    vals = np.concatenate([cost, cost, np.zeros(members.size)])  # explicit zeros are edges in csgraph
    return sp.csr_matrix((vals, (rows, cols)), shape=(n + count, n + count))


def propagate_hints(ab: torch.Tensor, L: torch.Tensor, hints: torch.Tensor, *, spread: float = 12.0,
                    edge: float = 0.5, reach: float = 3.0, tol: float = PROPAGATION_TOL,
                    chunk: int = 32) -> torch.Tensor:
    """Spread what the hints change over the regions they belong to: chrominance blending
    by intrinsic (geodesic) distance (Yatziv & Sapiro, "Fast Image and Video Colorization
    Using Chrominance Blending", IEEE TIP 2006), applied to the correction that each hint
    asks of a predicted chroma, and fading back to the prediction away from the hints.

    Each connected group of hinted pixels ``k`` (a dot or a stroke) asks for the correction
    ``c_k``, the mean of ``hint - ab`` over its pixels. ``D_k(i)`` is the geodesic distance
    from pixel ``i`` to the group over the 4-neighbour grid, a step costing
    ``1 + edge * |L*_i - L*_j|`` pixels, so distances grow fast across lightness edges.
    With ``w_k = exp(-D_k / spread)`` the correction is
    ``r = sum_k w_k c_k / (sum_k w_k + exp(-reach))``: near a group it is that group's,
    between groups a blend, and beyond ``reach * spread`` of every group it fades to 0 (the
    prediction stays). Hinted pixels get exactly their hint. (Yatziv & Sapiro weight by an
    inverse power of the distance and blend colors, not corrections.)

    The distances come from Dijkstra searches (:func:`scipy.sparse.csgraph.dijkstra`, one
    call for up to ``chunk`` groups, from one source node per group), each stopped at
    ``spread * (reach + ln(1 / tol))``: beyond it a group's weight is below
    ``tol * exp(-reach)``, the smallest denominator, and is left out (taken as 0). Across
    strong edges most of the grid lies beyond that distance, which is where the search
    saves most; the error this makes in ``r`` is at most ``tol * sum_k |c_k - r|``.

    Args:
        ab: (B, 2, h, w) float predicted a*, b*.
        L: (B, 1, h, w) float L* in [0, 100] at the same size.
        hints: (B, 3, h, w) hint channels (a*, b*, mask) at the same size.
        spread: distance (pixels of this grid) over which a correction falls to 1/e, > 0.
        edge: extra distance per L* unit of lightness step, >= 0.
        reach: the correction fades out beyond about ``reach * spread`` pixels.
        tol: share of ``exp(-reach)`` below which a weight is dropped, in [0, 1); 0 searches
            the whole grid for every group (exact).
        chunk: groups searched per call (bounds the memory: ``chunk * h * w`` float64).

    Returns:
        (B, 2, h, w) float32 chroma; ``ab`` itself for an image without hints.

    Raises:
        ValueError: for shapes that do not match, ``spread`` <= 0, ``edge`` < 0 or ``tol``
            outside [0, 1).
    """
    from scipy import ndimage
    from scipy.sparse.csgraph import dijkstra

    if ab.shape[-2:] != L.shape[-2:] or ab.shape[-2:] != hints.shape[-2:] or ab.shape[1] != 2:
        raise ValueError(f"shapes do not match: ab {tuple(ab.shape)}, L {tuple(L.shape)}, hints {tuple(hints.shape)}")
    if spread <= 0 or edge < 0 or not 0 <= tol < 1:
        raise ValueError(f"need spread > 0, edge >= 0 and 0 <= tol < 1, got {spread}, {edge}, {tol}")
    out = ab.float().clone()
    B, _, h, w = ab.shape
    n = h * w
    limit = spread * (reach + np.log(1.0 / tol)) if tol > 0 else np.inf
    for b in range(B):
        m = hints[b, 2].detach().cpu().numpy() > 0
        if not m.any():
            continue
        groups, count = ndimage.label(m)
        graph = lightness_graph(L[b, 0].detach().cpu().double().numpy(), edge, groups, count)
        delta = (hints[b, :2] - ab[b].float()).detach().cpu().double().numpy().reshape(2, n)
        labels = groups.reshape(-1)
        sizes = np.bincount(labels, minlength=count + 1)[1:]
        corr = np.stack([np.bincount(labels, weights=d, minlength=count + 1)[1:] for d in delta]) / sizes  # (2, count)
        num = np.zeros((2, n))
        den = np.full(n, np.exp(-reach))
        for k0 in range(0, count, chunk):
            k1 = min(count, k0 + chunk)
            dist = dijkstra(graph, directed=True, indices=np.arange(n + k0, n + k1), limit=limit)[:, :n]
            wk = np.exp(-dist / spread)                       # exp(-inf) = 0: beyond the limit
            num += (corr[:, k0:k1, None] * wk[None]).sum(axis=1)   # not BLAS: its threads spin on small products
            den += wk.sum(axis=0)
        r = (num / den).reshape(2, h, w)
        r[:, m] = delta.reshape(2, h, w)[:, m]
        out[b] += torch.from_numpy(r).to(out)
    return out


def lightness_affinity(L: np.ndarray, sigma: float):
    """The 4-neighbour affinity graph of an ``h x w`` lightness image: the weight between
    neighbours ``i`` and ``j`` is ``exp(-(L*_i - L*_j)^2 / (2 sigma^2))`` (1 across flat
    lightness, near 0 across an edge of several ``sigma``), as in Levin, Lischinski & Weiss,
    "Colorization using Optimization", SIGGRAPH 2004 (they use a 3x3 window and a
    per-window sigma).

    Args:
        L: (h, w) float64 L* in [0, 100].
        sigma: L* difference at which the weight is ``exp(-1/2)``, > 0.

    Returns:
        A symmetric ``(h * w) x (h * w)`` CSR matrix of weights (zero diagonal).
    """
    import scipy.sparse as sp

    h, w = L.shape
    idx = np.arange(h * w).reshape(h, w)
    a = np.concatenate([idx[:, :-1].reshape(-1), idx[:-1, :].reshape(-1)])
    b = np.concatenate([idx[:, 1:].reshape(-1), idx[1:, :].reshape(-1)])
    d = np.concatenate([(L[:, :-1] - L[:, 1:]).reshape(-1), (L[:-1, :] - L[1:, :]).reshape(-1)])
    wt = np.exp(-d * d / (2.0 * sigma * sigma))
    return sp.csr_matrix((np.concatenate([wt, wt]), (np.concatenate([a, b]), np.concatenate([b, a]))),
                         shape=(h * w, h * w))


def optimize_hints(ab: torch.Tensor, L: torch.Tensor, hints: torch.Tensor, *, sigma: float = 3.0,
                   decay: float = 1e-5) -> torch.Tensor:
    """Spread what the hints change over the photo by an edge-aware optimization: Levin,
    Lischinski & Weiss, "Colorization using Optimization" (SIGGRAPH 2004), applied to the
    correction ``r = hint - ab`` that the hints ask of a predicted chroma, not to the chroma.

    ``r`` is fixed to ``hint - ab`` at the hinted pixels and elsewhere minimizes
    ``sum_ij w_ij (r_i - r_j)^2 + decay * sum_i |r_i|^2`` over 4-neighbours ``i, j``, with
    the weights of :func:`lightness_affinity` (a correction flows freely where the lightness
    is flat and is held back across its edges); the ``decay`` term brings it back to 0 (the
    prediction) far from every hint, over about ``1 / sqrt(decay)`` pixels of flat
    lightness. One sparse linear system per image (the graph Laplacian plus ``decay``
    on the diagonal; :func:`scipy.sparse.linalg.spsolve`), both chroma channels at once.

    Args:
        ab: (B, 2, h, w) float predicted a*, b*.
        L: (B, 1, h, w) float L* in [0, 100] at the same size.
        hints: (B, 3, h, w) hint channels (a*, b*, mask) at the same size.
        sigma: L* step at which a neighbour's weight falls to ``exp(-1/2)``, > 0.
        decay: pull of the correction towards 0, > 0 (keeps the system well posed).

    Returns:
        (B, 2, h, w) float32 chroma, exactly the hint at hinted pixels; ``ab`` itself for
        an image without hints.

    Raises:
        ValueError: for shapes that do not match, ``sigma`` <= 0 or ``decay`` <= 0.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    if ab.shape[-2:] != L.shape[-2:] or ab.shape[-2:] != hints.shape[-2:] or ab.shape[1] != 2:
        raise ValueError(f"shapes do not match: ab {tuple(ab.shape)}, L {tuple(L.shape)}, hints {tuple(hints.shape)}")
    if sigma <= 0 or decay <= 0:
        raise ValueError(f"need sigma > 0 and decay > 0, got {sigma}, {decay}")
    out = ab.float().clone()
    B, _, h, w = ab.shape
    n = h * w
    for b in range(B):
        m = (hints[b, 2] > 0).detach().cpu().numpy().reshape(-1)
        if not m.any():
            continue
        W = lightness_affinity(L[b, 0].detach().cpu().double().numpy(), sigma)
        A = (sp.diags(np.asarray(W.sum(axis=1)).reshape(-1) + decay) - W).tocsr()
        known, free = np.flatnonzero(m), np.flatnonzero(~m)
        delta = (hints[b, :2] - ab[b].float()).detach().cpu().double().numpy().reshape(2, n)[:, known].T
        r = np.zeros((n, 2))
        r[known] = delta
        if free.size:
            rhs = -(A[free][:, known] @ delta)
            r[free] = spsolve(A[free][:, free].tocsc(), rhs).reshape(free.size, 2)
        out[b] += torch.from_numpy(r.T.reshape(2, h, w)).to(out)
    return out
