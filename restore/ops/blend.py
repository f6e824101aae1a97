"""Filling and blending holes: Poisson blending and the classical fills, in one place.

Poisson blending (Pérez, Gangnet & Blake, "Poisson Image Editing", SIGGRAPH 2003): inside
the hole the result keeps the *gradients* of a source (the generator's fill) while
matching the target's known pixels on the hole's border, so the seam between the fill and
the photo disappears. The discrete Poisson equation over the hole pixels is a sparse
linear system, factorised once with SciPy's SuperLU and solved for every channel; a hole
of more than :data:`DIRECT_SOLVE_MAX` pixels is solved by multigrid-preconditioned
conjugate gradients instead (PyAMG), whose memory grows linearly with the hole (the
factorisation's fill-in took about 1.6 KB per hole pixel on a 0.64 MP hole, the multigrid
solver about 0.2 KB, and was faster there).

The classical fills (:func:`classical_inpaint` on 8-bit arrays, :func:`classical_fill` on
tensors) are the inpainting pipeline's comparison methods, the watermark remover's
refinement of opaque marks and the benchmarks' baselines.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

#: Hole pixels up to which :func:`poisson_solve` factorises its system (exact, fastest on
#: small holes); above it, multigrid-preconditioned conjugate gradients (memory linear in
#: the hole).
DIRECT_SOLVE_MAX = 2**17

#: The classical fills: OpenCV Telea and Navier-Stokes, scikit-image biharmonic.
CLASSICAL_FILLS = ("telea", "ns", "biharmonic")


def hole_box(mask: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    """The bounding box of the nonzero pixels of ``mask``, grown by ``margin`` pixels on every
    side and cut to the image.

    Args:
        mask: (H, W) bool or numbers, nonzero = in the hole.
        margin: pixels added on every side (>= 0).

    Returns:
        ``(rows, cols)`` slices (``mask[rows, cols]`` holds every nonzero pixel), or ``None``
        for a mask with no nonzero pixel.
    """
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    h, w = mask.shape
    return (slice(max(0, rows[0] - margin), min(h, rows[-1] + 1 + margin)),
            slice(max(0, cols[0] - margin), min(w, cols[-1] + 1 + margin)))


def classical_inpaint(image: np.ndarray, mask: np.ndarray, method: str, radius: int = 3) -> np.ndarray:
    """Fill the hole of an 8-bit image with a classical method.

    Args:
        image: (H, W, 3) uint8 RGB.
        mask: (H, W) bool or {0, 1}, 1 = missing.
        method: ``telea`` (Telea, "An Image Inpainting Technique Based on the Fast Marching
            Method", J. Graphics Tools 2004, OpenCV), ``ns`` (Bertalmio et al.,
            Navier-Stokes, CVPR 2001, OpenCV) or ``biharmonic`` (Damelin & Hoang 2018,
            scikit-image).
        radius: the OpenCV methods' neighbourhood radius in pixels (3, the value of OpenCV's
            example, was the best of 1, 3, 5, 9 for Telea on held-out training images).

    Returns:
        (H, W, 3) uint8; known pixels unchanged. The OpenCV methods run on the hole's bounding
        box grown by ``2 * radius + 2`` px, which gives the pixels they give on the whole
        image (they read only within ``radius`` of the hole) at a cost that grows with the
        box, not the image.

    Raises:
        ValueError: unknown method.
    """
    import cv2

    m = (np.asarray(mask) > 0).astype(np.uint8)
    if method in ("telea", "ns"):
        flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
        box = hole_box(m, 2 * radius + 2)
        if box is None:
            return image.copy()
        # both methods read only pixels within their radius of the hole, so the hole's bounding
        # box with a margin gives the same pixels as the whole image, at a cost that grows with
        # the hole's box instead of the image (a small logo on a large photo)
        out = image.copy()
        out[box] = cv2.inpaint(np.ascontiguousarray(image[box]), np.ascontiguousarray(m[box]), radius, flag)
        return out
    if method == "biharmonic":
        from skimage.restoration import inpaint_biharmonic
        out = inpaint_biharmonic(image.astype(np.float64) / 255.0, m.astype(bool), channel_axis=-1)
        out = (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)
        out[m == 0] = image[m == 0]
        return out
    raise ValueError(f"method must be one of {CLASSICAL_FILLS}, got {method!r}")


def classical_fill(x: torch.Tensor, region: torch.Tensor, method: str = "telea", radius: int = 3) -> torch.Tensor:
    """Replace ``region`` of ``x`` by a classical fill (:func:`classical_inpaint`), computed
    on the 8-bit image; pixels outside ``region`` are returned unchanged.

    Args:
        x: (B, 3, H, W) float in [0, 1] (values outside are clipped for the fill).
        region: (B, 1, H, W) bool (or nonzero = fill), the pixels to fill.
        method: one of :data:`CLASSICAL_FILLS`.
        radius: the OpenCV methods' neighbourhood radius in pixels.

    Returns:
        (B, 3, H, W), ``x``'s dtype and device; the filled pixels are multiples of 1/255.

    Raises:
        ValueError: unknown method.
    """
    if method not in CLASSICAL_FILLS:
        raise ValueError(f"method must be one of {CLASSICAL_FILLS}, got {method!r}")
    region = region > 0
    out = x.clone()
    for i in range(x.shape[0]):
        r = region[i, 0].cpu().numpy()
        if not r.any():
            continue
        img = (x[i].permute(1, 2, 0).cpu().numpy().clip(0, 1) * 255 + 0.5).astype(np.uint8)
        filled = torch.from_numpy(classical_inpaint(img, r, method, radius)).permute(2, 0, 1).to(x) / 255.0
        out[i] = torch.where(region[i], filled, x[i])
    return out


def poisson_solve(ys: np.ndarray, xs: np.ndarray, height: int, width: int,
                  source_at: Callable[[np.ndarray, np.ndarray], np.ndarray],
                  target_at: Callable[[np.ndarray, np.ndarray], np.ndarray], across_border: bool = True
                  ) -> np.ndarray:
    """The Poisson fill (:func:`poisson_blend`) of the hole pixels ``(ys, xs)``, reading the
    images only at those pixels and their 4-neighbours, so that its memory grows with the
    hole, not with the image.

    Args:
        ys, xs: (n,) int row and column of each hole pixel, in row-major order (as
            ``np.nonzero`` gives them), inside the ``height`` x ``width`` image.
        height, width: the image's size (its border is a free, zero-flux boundary).
        source_at: ``source_at(rows, cols)`` -> (m, C) float values of the fill at those pixels.
        target_at: the same for the image with its known pixels (asked only at known pixels).
        across_border: as :func:`poisson_blend`'s.

    Returns:
        (n, C) float64, the filled values of the hole pixels (not clipped). Up to
        :data:`DIRECT_SOLVE_MAX` hole pixels the system is factorised (SuperLU); above,
        it is solved by conjugate gradients preconditioned by algebraic multigrid, from
        the source's values (relative residual 1e-8), falling back to the factorisation
        if they do not converge.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.linalg import splu

    n = ys.size
    linear = ys.astype(np.int64) * width + xs  # sorted: the hole's index of a pixel by binary search
    src = np.asarray(source_at(ys, xs), np.float64)
    c = src.shape[1]
    diag = np.zeros(n)
    rhs = np.zeros((n, c))
    neighbours = []  # per direction: the rows with an unknown neighbour there, and its index
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)  # outside the image: no constraint (Neumann)
        p = np.nonzero(inside)[0]
        del inside
        qy, qx = ny[p], nx[p]
        del ny, nx
        diag[p] += 1
        ql = qy.astype(np.int64) * width + qx
        q = np.minimum(np.searchsorted(linear, ql), max(n - 1, 0))
        unknown = linear[q] == ql
        del ql
        # guidance: the source's gradient along this edge
        g = src[p] - np.asarray(source_at(qy, qx), np.float64)
        rhs[p] += g if across_border else g * unknown[:, None]
        del g
        neighbours.append((p[unknown], q[unknown].astype(np.int32)))
        known = ~unknown
        if known.any():
            rhs[p[known]] += np.asarray(target_at(qy[known], qx[known]), np.float64)  # Dirichlet: the known border pixel
        del p, q, qy, qx, unknown, known
    del linear
    # a hole component with no known neighbour (the whole image missing) keeps the source's
    # mean level through a weak tie to it
    diag += 1e-6
    rhs += 1e-6 * src
    # the matrix built row by row in CSR form (int32 indices): each row its diagonal, then
    # its unknown neighbours up, down, left, right, as the earlier COO build summed them
    counts = np.ones(n, np.int64)
    for rows_d, _ in neighbours:
        counts[rows_d] += 1
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    del counts
    nnz = int(indptr[-1])
    indices = np.empty(nnz, np.int32)
    data = np.empty(nnz)
    pos = indptr[:-1].copy()
    indices[pos] = np.arange(n, dtype=np.int32)
    data[pos] = diag
    pos += 1
    for rows_d, cols_d in neighbours:
        at = pos[rows_d]
        indices[at] = cols_d
        data[at] = -1.0
        pos[rows_d] += 1
    del neighbours, pos, diag
    a = csr_matrix((data, indices, indptr), shape=(n, n))
    a.sort_indices()
    del data, indices, indptr
    if n > DIRECT_SOLVE_MAX:
        out = _multigrid_solve(a, rhs, src)
        if out is not None:
            return out
    return splu(a.tocsc()).solve(rhs)


def _multigrid_solve(a, rhs: np.ndarray, x0: np.ndarray) -> np.ndarray | None:
    """Solve the symmetric positive definite ``a @ x = rhs`` (``a`` in CSR form) column by column with
    conjugate gradients preconditioned by classical (Ruge-Stueben) algebraic multigrid
    (PyAMG; Ruge & Stueben 1987), from ``x0``; None if a column's relative residual stays
    above 1e-6."""
    import pyamg

    ml = pyamg.ruge_stuben_solver(a)
    out = np.empty_like(rhs)
    for j in range(rhs.shape[1]):
        out[:, j] = ml.solve(rhs[:, j], x0=x0[:, j], tol=1e-8, maxiter=100, accel="cg")
        if np.linalg.norm(rhs[:, j] - a @ out[:, j]) > 1e-6 * max(np.linalg.norm(rhs[:, j]), 1e-30):
            return None
    return out


def poisson_blend(source: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, *,
                  across_border: bool = True) -> torch.Tensor:
    """Fill the hole of ``target`` with ``source``'s gradients, seamlessly.

    Solves, for the pixels f inside the hole, the discrete Poisson equation
    ``laplacian(f) = laplacian(source)`` with ``f = target`` on the known pixels bordering
    the hole (the image border is a free, zero-flux boundary).

    Args:
        source: (B, C, H, W) float in [0, 1], the fill (e.g. G(z*)); only its values in and
            next to the hole matter.
        target: (B, C, H, W) float in [0, 1], the image with its known pixels.
        mask: (B, 1, H, W), 1 (or True) = hole; soft masks are thresholded at 0.5.
        across_border: take the source's gradients between the hole and its known
            neighbours too (Pérez et al.; the source's own step at the border is kept). False:
            only the gradients between hole pixels, so the fill meets the border with no step
            whatever the source's values outside the hole (for a source whose colours drift
            from the image's).

    Returns:
        (B, C, H, W) float32 in [0, 1]; pixels outside the hole are ``target``'s, exactly.

    Raises:
        ValueError: if the shapes do not match.
    """
    if source.shape != target.shape or mask.shape[0] != target.shape[0] or mask.shape[1] != 1 \
            or mask.shape[2:] != target.shape[2:]:
        raise ValueError(f"poisson_blend needs source and target (B, C, H, W) and mask (B, 1, H, W); got "
                         f"{tuple(source.shape)}, {tuple(target.shape)}, {tuple(mask.shape)}")
    out = target.detach().float().clone()
    for i in range(target.shape[0]):
        hole = (mask[i, 0] > 0.5).cpu().numpy()
        if not hole.any():
            continue
        src, tgt = source[i].detach().float().cpu().numpy(), target[i].detach().float().cpu().numpy()
        ys, xs = np.nonzero(hole)
        solved = poisson_solve(ys, xs, *hole.shape, lambda r, c: src[:, r, c].T, lambda r, c: tgt[:, r, c].T,
                               across_border=across_border)
        out[i][:, torch.from_numpy(ys), torch.from_numpy(xs)] = torch.from_numpy(solved.T).to(out)
    return out.clamp_(0, 1)  # out is this function's own copy
