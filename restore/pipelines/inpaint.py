"""Inpainting by latent optimization in a GAN (Yeh et al., "Semantic Image Inpainting with
Deep Generative Models", CVPR 2017), started from an encoder's latent, with Poisson blending.

For an image y with hole mask M (1 = missing) the search looks for

    z* = argmin_z  sum(W * |G(z) - y|) / sum(W)  +  lambda_prior * softplus(-D(G(z)))

where W weights the known pixels, more near the hole (:func:`importance_weights`), and
``softplus(-D) = -log sigmoid(D)`` is the discriminator prior in its non-saturating form
(our D is a hinge-loss critic with unbounded logits, so the paper's ``log(1 - D)`` would
have no minimum). z stays on the prior's sphere (projected after every Adam step). Several
restarts run as one batch and the lowest loss wins. Then G(z*) is Poisson-blended into y
(:func:`restore.ops.blend.poisson_blend`). Pixels outside the hole come back unchanged.

Beyond the paper, the search starts from the latent of an encoder E trained with the GAN
(``init="encoder"``, the default; restarts are perturbations of it); ``init="random"``
is the paper's random restarts.

A model trained on whole images (faces, ``spec.tiling`` False) sees the whole image
resized to its side; a model trained on patches (``spec.tiling`` True) runs window by
window over the windows that hold missing pixels, and the windows' fills are
feathered together before the blend. For a windowed model, a connected part of the hole
deeper than the model's ``coarse_depth`` (some pixel of it farther than that from every
known pixel: no window over its middle sees known pixels) is filled coarse to fine
instead (:mod:`restore.pipelines.inpaint_pyramid`) and blended with the gradients inside
it only; thinner parts (strokes) keep the full-resolution windows.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from restore.ops.blend import CLASSICAL_FILLS, classical_fill, hole_box, poisson_blend, poisson_solve
from restore.ops.color import gray_to_rgb
from restore.ops.tiling import to_float
from restore.pipelines.base import OptionError, Pipeline, Prepared, prepare, read_mask, to_dtype
from restore.pipelines.inpaint_pyramid import feather, fill_coarse_to_fine, split_hole, window_starts
from restore.zoo.archs.dcgan import LatentInpainter, sample_latent, to_sphere
from restore.zoo.settings import InpaintSettings

#: Fill methods: the GAN, and the classical baselines (OpenCV Telea and Navier-Stokes,
#: scikit-image biharmonic; :func:`restore.ops.blend.classical_inpaint`).
METHODS = ("gan",) + CLASSICAL_FILLS
#: Starts of the latent search.
INITS = ("encoder", "random")


def importance_weights(mask: torch.Tensor, window: int = 7, floor: float = 0.25) -> torch.Tensor:
    """Weights of the known pixels in the contextual loss (Yeh et al. 2017, eq. 4, with a floor).

    ``W = (1 - M) * (floor + fraction of missing pixels in the window x window
    neighbourhood)``: known pixels next to the hole count up to ``1 + floor``, far ones
    ``floor`` (the paper's weight is 0 there; the floor lets the whole face constrain z),
    missing pixels 0.

    Args:
        mask: (B, 1, H, W) float, 1 = missing.

    Returns:
        (B, 1, H, W) float32 weights.
    """
    frac = F.avg_pool2d(mask.float(), window, stride=1, padding=window // 2, count_include_pad=False)
    return (1 - mask.float()) * (floor + frac)


def latent_search(net: LatentInpainter, y: torch.Tensor, mask: torch.Tensor, *, steps: int, restarts: int,
                  lambda_prior: float, lr: float, restart_noise: float, init: str = "encoder", seed: int = 0,
                  chunk: int = 32, weight: torch.Tensor | None = None, guide: torch.Tensor | None = None,
                  guide_mask: torch.Tensor | None = None, guide_weight: float = 0.0
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Search the latent whose generated image matches the known pixels (see the module doc).

    The search settings (``steps`` to ``restart_noise``) are a model's
    :class:`restore.zoo.settings.InpaintSettings`: ``**spec.settings.search_kwargs()``
    passes them all.

    Args:
        net: the zoo model (generator, discriminator, encoder), in eval mode.
        y: (N, 3, S, S) float32 in [0, 1], S = ``net.size``; the missing pixels' values are ignored.
        mask: (N, 1, S, S) float32, 1 = missing.
        steps: Adam steps (0 = the start itself).
        restarts: latents searched per image, as one batch; the lowest final loss wins.
        lambda_prior: weight of the discriminator prior.
        lr: Adam's learning rate on z (the sphere has radius sqrt(latent)).
        restart_noise: standard deviation, per latent coordinate, of the perturbations of
            E's latent that make restarts 2.. of an encoder-started search.
        init: ``encoder``: start from E's latent (restarts 2.. are perturbations of it);
            ``random``: random latents from the prior (the paper).
        seed: seeds the random starts and perturbations (same seed, same result).
        chunk: images per batch (times ``restarts`` latents); the search's memory grows
            with it (gradients through the generator), not with N. 32 windows of 64 px
            with one restart took about 0.3 GiB on the CPU and ran no slower than 256
            (1.0 GiB), with the same result.
        weight: (N, 1, S, S) float, the contextual loss's pixel weights instead of
            :func:`importance_weights` of ``mask`` (the coarse-to-fine fill gives pixels
            filled in an earlier round a lower weight); 0 where ``mask`` is 1.
        guide: (N, 3, S, S) float in [0, 1], a prior fill of the hole (the upsampled fill of
            a coarser level): the encoder sees it in the pixels of ``guide_mask`` (as if
            known), and ``guide_weight`` times the mean L1 between G(z) and ``guide`` over
            ``guide_mask`` is added to the loss. None: no guide (the paper's search).
        guide_mask: (N, 1, S, S) float, 1 where ``guide`` holds; default ``mask``.
        guide_weight: weight of the guide's L1 term (>= 0).

    Returns:
        ``(fill, loss, curve)``: G(z*) (N, 3, S, S) in [0, 1]; the winners' final losses (N,);
        the mean over images of the best loss so far after each step, (steps + 1,).

    Raises:
        ValueError: unknown ``init`` or shapes that do not fit the model.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    s = net.size
    if y.ndim != 4 or y.shape[1] != 3 or y.shape[2:] != (s, s) or mask.shape != (y.shape[0], 1, s, s):
        raise ValueError(f"latent_search needs y (N, 3, {s}, {s}) and mask (N, 1, {s}, {s}); got "
                         f"{tuple(y.shape)}, {tuple(mask.shape)}")
    restarts = max(1, int(restarts))
    gen = torch.Generator().manual_seed(seed)
    fills, losses, curves = [], [], []
    if guide is not None and guide_mask is None:
        guide_mask = mask
    for i in range(0, y.shape[0], chunk):
        part = slice(i, i + chunk)
        extra = dict(weight=None if weight is None else weight[part], guide=None if guide is None else guide[part],
                     guide_mask=None if guide is None else guide_mask[part], guide_weight=guide_weight)
        f, lo, c = _search_chunk(net, y[part], mask[part], steps, restarts, lambda_prior, lr, restart_noise, init,
                                 gen, **extra)
        fills.append(f)
        losses.append(lo)
        curves.append(c * f.shape[0])
    return torch.cat(fills), torch.cat(losses), sum(curves) / y.shape[0]


def _search_chunk(net, y, mask, steps, restarts, lambda_prior, lr, restart_noise, init, gen, *, weight=None,
                  guide=None, guide_mask=None, guide_weight=0.0):
    n, dev = y.shape[0], y.device
    latent = net.latent
    with torch.no_grad():
        if init == "encoder":
            if guide is None:
                e_in, e_mask = y * (1 - mask), mask
            else:  # the guide counts as known where it holds
                e_in = torch.where((guide_mask > 0) & (mask > 0), guide, y * (1 - mask))
                e_mask = mask * (1 - guide_mask)
            z0 = net.encoder(e_in, e_mask).repeat_interleave(restarts, 0)
            noise = torch.randn(z0.shape, generator=gen).to(dev) * restart_noise
            noise[::restarts] = 0  # the first restart is E's latent itself
            z0 = to_sphere(z0 + noise)
        else:
            z0 = sample_latent(n * restarts, latent, generator=gen, device=dev)
    yr = y.repeat_interleave(restarts, 0)
    w = (importance_weights(mask) if weight is None else weight).repeat_interleave(restarts, 0)
    w_sum = w.flatten(1).sum(1).clamp_min(1e-8) * 3
    if guide is not None and guide_weight > 0:
        gr, gm = guide.repeat_interleave(restarts, 0), guide_mask.repeat_interleave(restarts, 0)
        gm_sum = gm.flatten(1).sum(1).clamp_min(1.0) * 3
    else:
        gr = None
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    curve = []
    best_loss = torch.full((n * restarts,), float("inf"), device=dev)
    best_z = z0.clone()

    def loss_of(zz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g = net.generator(zz)
        context = (w * (g - yr).abs()).flatten(1).sum(1) / w_sum
        if gr is not None:
            context = context + guide_weight * (gm * (g - gr).abs()).flatten(1).sum(1) / gm_sum
        prior = F.softplus(-net.discriminator(g)) if lambda_prior > 0 else torch.zeros_like(context)
        return context + lambda_prior * prior, g

    with torch.enable_grad():
        for step in range(steps + 1):
            loss, _ = loss_of(z)
            with torch.no_grad():
                better = loss < best_loss
                best_loss = torch.where(better, loss, best_loss)
                best_z[better] = z[better].detach()
                curve.append(float(best_loss.view(n, restarts).min(1).values.mean()))
            if step == steps:
                break
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            with torch.no_grad():
                z.copy_(to_sphere(z))
    with torch.no_grad():
        per_image = best_loss.view(n, restarts)
        pick = per_image.argmin(1) + torch.arange(n, device=dev) * restarts
        fill = net.generator(best_z[pick])
    return fill, per_image.min(1).values, torch.tensor(curve)


def _input_copy(prep: Prepared) -> np.ndarray:
    """A copy of a numpy/PIL input in its file dtype, alpha included: the output whose hole
    pixels the fill replaces."""
    arr = prep.array
    out = prep.new_output(arr.shape[0], arr.shape[1], arr.shape[2])
    out[..., :arr.shape[2]] = arr
    if prep.alpha_array is not None:
        out[..., arr.shape[2]:] = prep.alpha_array
    return out


class InpaintPipeline(Pipeline):
    """Fill the masked parts of a photo: GAN latent optimization (Yeh et al., CVPR 2017)
    with an encoder start and Poisson blending, or a classical method for comparison.

    Example:
        >>> pipe = InpaintPipeline.from_pretrained("gan-faces-64")
        >>> filled = pipe(image, mask)                 # numpy in -> numpy out, same dtype
        >>> filled, raw = pipe(image, mask, return_raw=True)   # raw: G(z*) before blending
        >>> telea = pipe(image, mask, method="telea")

    Gray images run as three equal channels and come back gray; alpha is passed through.
    Pixels where the mask is 0 come back unchanged. The search settings are the model's
    (``spec.settings``, a :class:`restore.zoo.settings.InpaintSettings`), and so is the
    overlap of a windowed model's windows (``spec.overlap``, or ``overlap`` given to
    :meth:`from_pretrained`); the windows' side is the generator's.
    """

    task = "inpaint"
    settings_type = InpaintSettings

    def resolve_options(self, *, method: str = "gan", init: str = "encoder", steps: int | None = None,
                        restarts: int | None = None, lambda_prior: float | None = None, seed: int = 0,
                        return_raw: bool = False) -> dict[str, Any]:
        """The options of ``__call__``, the model's search settings filled in for None, checked.

        Raises:
            OptionError: for an unknown method or init, ``steps`` < 0, ``restarts`` < 1 or
                ``lambda_prior`` < 0.
        """
        d = self.spec.settings
        steps = d.steps if steps is None else steps
        restarts = d.restarts if restarts is None else restarts
        lambda_prior = d.lambda_prior if lambda_prior is None else lambda_prior
        if method not in METHODS:
            raise OptionError("method", f"must be one of {', '.join(METHODS)}, got {method!r}")
        if init not in INITS:
            raise OptionError("init", f"must be one of {', '.join(INITS)}, got {init!r}")
        if steps < 0:
            raise OptionError("steps", f"must be >= 0, got {steps}")
        if restarts < 1:
            raise OptionError("restarts", f"must be >= 1, got {restarts}")
        if lambda_prior < 0:
            raise OptionError("lambda_prior", f"must be >= 0, got {lambda_prior}")
        return dict(method=method, init=init, steps=steps, restarts=restarts, lambda_prior=lambda_prior, seed=seed,
                    return_raw=return_raw)

    def __call__(self, image: Any, mask: Any, *, method: str = "gan", init: str = "encoder",
                 steps: int | None = None, restarts: int | None = None, lambda_prior: float | None = None,
                 seed: int = 0, return_raw: bool = False) -> Any:
        """Inpaint one image.

        Args:
            image: numpy ``H x W [x C]`` (uint8, uint16 or float32 in [0, 1], C in 1-4), PIL
                image, or tensor (1, C, H, W)/(C, H, W) float in [0, 1].
            mask: the hole, 1/True/white = fill: numpy ``H x W`` (bool, or any dtype with
                nonzero = fill; a color mask counts a pixel as fill when any channel is
                more than half its full scale), PIL image or tensor; resized with nearest
                neighbour when its size differs from the image's.
            method: ``gan`` or a classical method of :data:`METHODS`.
            init: start of the latent search, ``encoder`` or ``random`` (:data:`INITS`).
            steps, restarts, lambda_prior: latent-search settings; default: the model's
                (``spec.settings``: 100 steps, 4 restarts for gan-faces-64; 10 steps, 1
                restart per window for gan-photos-64; lambda_prior 0.003).
            seed: seeds the search (same seed, same output).
            return_raw: also return the generator's output before blending: G(z*) over the
                whole image for a whole-image model (resized to the image), the windows'
                G(z*) feathered together for a windowed one (the image itself outside the
                windows). The classical methods return their output twice.

        Returns:
            The filled image, same kind, dtype and channels as ``image``; with
            ``return_raw``, ``(filled, raw)``.

        Raises:
            OptionError: unknown method/init or settings out of range (a ValueError).
            ValueError: a batch of several images, or an unusable mask.
            TypeError: unsupported input kinds.
        """
        o = self.resolve_options(method=method, init=init, steps=steps, restarts=restarts, lambda_prior=lambda_prior,
                                 seed=seed, return_raw=return_raw)
        prep = prepare(image)
        if (method == "gan" and not return_raw and self.spec.tiling and prep.array is not None
                and prep.array.dtype in (np.uint8, np.uint16) and min(prep.array.shape[:2]) >= self.model.size):
            search = dataclasses.replace(self.spec.settings, steps=o["steps"], restarts=o["restarts"],
                                         lambda_prior=o["lambda_prior"])
            hole_array = mask_array(mask, *prep.array.shape[:2])
            # thin holes (strokes) window by window with memory that grows with the hole; a
            # hole with a large part from coarse to fine on a float crop around the hole
            parts = split_hole(hole_array, search.coarse_depth)
            if not parts[1]:
                return self._gan_sparse(prep, hole_array, search, init, seed)
            return self._gan_cropped(prep, hole_array, parts, search, init, seed)
        x = prep.x.clamp(0, 1)
        if x.shape[0] != 1:
            raise ValueError("inpaint takes one image at a time")
        gray = x.shape[1] == 1
        if gray:
            x = gray_to_rgb(x)
        hole = mask_tensor(mask, x.shape[2], x.shape[3])
        if not hole.any():
            out, raw = x, x
        elif method == "gan":
            search = dataclasses.replace(self.spec.settings, steps=o["steps"], restarts=o["restarts"],
                                         lambda_prior=o["lambda_prior"])
            out, raw = self._gan(x, hole, search, init, seed)
        else:
            out = classical_fill(x, hole, method)
            raw = out
        if gray:
            out, raw = out.mean(1, keepdim=True), raw.mean(1, keepdim=True)
        result = prep.finish(out.clamp(0, 1), prep.alpha)
        return (result, prep.finish(raw.clamp(0, 1), prep.alpha)) if return_raw else result

    def _gan(self, x: torch.Tensor, hole: torch.Tensor, search: InpaintSettings, init: str, seed: int,
             parts: tuple[np.ndarray, list[np.ndarray]] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The GAN fill of ``x`` (1, 3, H, W) where ``hole`` (1, 1, H, W) is 1: ``(blended,
        raw)``. ``parts``: :func:`split_hole` of the hole, if the caller has it already."""
        settings = dict(search.search_kwargs(), init=init, seed=seed)
        net = self.model
        s = net.size
        dev = self.device
        h, w = x.shape[2:]
        if not self.spec.tiling:  # whole-image model: resize to its side and back
            xs = F.interpolate(x, size=(s, s), mode="area")
            ms = (F.interpolate(hole, size=(s, s), mode="area") > 0.01).float()
            fill, _, _ = latent_search(net, xs.to(dev), ms.to(dev), **settings)
            raw = F.interpolate(fill.cpu(), size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
            return poisson_blend(raw, x, hole), raw
        thin, large = parts if parts is not None else split_hole(hole[0, 0].numpy() > 0.5, search.coarse_depth)
        if not large:  # strokes and other thin holes: window by window at full resolution
            raw = self._windows(x, hole, settings)
        else:
            raw = x.clone()
            if thin.any():
                where = torch.from_numpy(thin)[None, None]
                raw = torch.where(where, self._windows(x, hole, settings, where=where.float()), raw)

            def windows_search(ys, ms, weight, guide, guide_mask, steps):
                return latent_search(net, ys.to(dev), ms.to(dev), **dict(settings, steps=steps), weight=weight.to(dev),
                                     guide=None if guide is None else guide.to(dev),
                                     guide_mask=None if guide_mask is None else guide_mask.to(dev),
                                     guide_weight=search.guide_weight)[0].cpu()

            for part in large:
                est = fill_coarse_to_fine(x, hole, part, windows_search, window=s, overlap=self.overlap,
                                          coarse_context=search.coarse_context, max_levels=search.max_levels,
                                          rounds=search.rounds, filled_weight=search.filled_weight,
                                          steps=search.steps, coarse_steps=search.coarse_steps,
                                          importance=importance_weights)
                raw = torch.where(torch.from_numpy(part)[None, None], est, raw)
            out = poisson_blend(raw, x, torch.from_numpy(thin)[None, None].float()) if thin.any() else x
            # the generator's colours drift from the photo's: take its gradients inside the part only
            big = torch.from_numpy(np.any(large, axis=0))[None, None].float()
            return poisson_blend(raw, out, big, across_border=False), raw
        return poisson_blend(raw, x, hole), raw

    def _gan_cropped(self, prep: Prepared, hole: np.ndarray, parts: tuple[np.ndarray, list[np.ndarray]],
                     search: InpaintSettings, init: str, seed: int) -> Any:
        """The GAN fill of ``__call__`` (:meth:`_gan`) for a numpy/PIL image of an integer
        dtype whose hole has a large part, run on a float crop of the image around the hole
        instead of the whole image: the crop reaches ``coarse_context * 2**max_levels``
        plus a window beyond the hole on every side (clipped at the image's border), which
        holds every pixel the coarse-to-fine fill and the Poisson blends read, so a hole
        with only large parts gets the numbers of the whole-image path; the windows of thin
        parts lie on the crop's grid. ``parts``: :func:`split_hole` of ``hole``, cut to the
        crop for the fill (the crop holds the whole hole and every known pixel nearer to it
        than the crop's border, so splitting the crop again would give the same parts).
        Memory grows with the crop, not with the image; the output is a copy of the input
        with the hole's pixels replaced."""
        arr = prep.array
        channels = arr.shape[2]
        out = _input_copy(prep)
        rows, cols = hole_box(hole, search.coarse_context * 2 ** search.max_levels + self.model.size)
        y0, y1, x0, x1 = rows.start, rows.stop, cols.start, cols.stop
        x = to_float(np.ascontiguousarray(arr[y0:y1, x0:x1])).permute(2, 0, 1)[None].clamp(0, 1)
        gray = x.shape[1] == 1
        if gray:
            x = gray_to_rgb(x)
        sub = hole[y0:y1, x0:x1]
        thin, large = parts
        filled, _ = self._gan(x, torch.from_numpy(sub.astype(np.float32))[None, None], search, init, seed,
                              (thin[y0:y1, x0:x1], [p[y0:y1, x0:x1] for p in large]))
        if gray:
            filled = filled.mean(1, keepdim=True)
        filled = to_dtype(filled[0].clamp(0, 1).permute(1, 2, 0).numpy(), arr.dtype)
        region = out[y0:y1, x0:x1, :channels]
        region[sub] = filled[sub]
        return prep.finish_array(out)

    def _gan_sparse(self, prep: Prepared, hole: np.ndarray, search: InpaintSettings, init: str, seed: int) -> Any:
        """The windowed GAN fill of ``__call__`` for a numpy/PIL image of an integer dtype at
        least a window high and wide, with the numbers of the tensor path (:meth:`_windows`,
        then :func:`restore.ops.blend.poisson_blend`) but memory that grows with the hole:
        the image stays in its file dtype, only the windows that hold missing pixels are
        read as float, the windows' feathered fill is evaluated window by window, and the
        Poisson system reads it and the image only at the hole's pixels and their
        neighbours (:func:`restore.ops.blend.poisson_solve`). The output is a copy of the
        input with the hole's pixels replaced."""
        arr = prep.array
        h, w = arr.shape[:2]
        channels = arr.shape[2]
        out = _input_copy(prep)
        ys_hole, xs_hole = np.nonzero(hole)
        if ys_hole.size == 0:
            return prep.finish_array(out)
        s = self.model.size
        overlap = min(self.overlap, s // 2)
        sy, sx = np.asarray(window_starts(h, s, overlap)), np.asarray(window_starts(w, s, overlap))
        boxes = [(int(y0), int(x0)) for y0 in sy for x0 in sx if hole[y0:y0 + s, x0:x0 + s].any()]

        def read(y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:  # (1, 3, y1 - y0, x1 - x0) float32
            t = to_float(arr[y0:y1, x0:x1]).permute(2, 0, 1)[None]
            return gray_to_rgb(t) if channels == 1 else t

        crops = torch.cat([read(y0, y0 + s, x0, x0 + s) for y0, x0 in boxes])
        ms = torch.cat([torch.from_numpy(hole[y0:y0 + s, x0:x0 + s].astype(np.float32))[None, None]
                        for y0, x0 in boxes])
        settings = dict(search.search_kwargs(), init=init, seed=seed)
        fill, _, _ = latent_search(self.model, crops.to(self.device), ms.to(self.device), **settings)
        raws = _feathered_windows(fill.cpu(), crops, boxes, s, overlap)
        del crops, ms, fill
        grid = -np.ones((len(sy), len(sx)), np.int64)  # window index by grid position, -1: no window
        for k, (y0, x0) in enumerate(boxes):
            grid[np.searchsorted(sy, y0), np.searchsorted(sx, x0)] = k

        def target_at(r: np.ndarray, c: np.ndarray) -> np.ndarray:  # (m, 3) float32, the image
            v = to_float(arr[r, c][:, None]).numpy()[:, 0]
            return np.repeat(v, 3, axis=1) if channels == 1 else v

        # a pixel lies in at most s / (smallest spacing of the starts) + 1 windows along each side
        reach_y, reach_x = (range(0, -(s // max(1, int(np.diff(st).min(initial=s))) + 2), -1) for st in (sy, sx))

        def source_at(r: np.ndarray, c: np.ndarray) -> np.ndarray:  # (m, 3): a window's raw fill, else the image
            k = -np.ones(r.size, np.int64)
            iy = np.searchsorted(sy, r, side="right") - 1  # the last window starting at or above r
            ix = np.searchsorted(sx, c, side="right") - 1
            for dy in reach_y:
                for dx in reach_x:
                    gy, gx = iy + dy, ix + dx
                    ok = (k < 0) & (gy >= 0) & (gx >= 0)
                    ok[ok] &= (r[ok] < sy[gy[ok]] + s) & (c[ok] < sx[gx[ok]] + s)
                    k[ok] = grid[gy[ok], gx[ok]]
            v = target_at(r, c)
            hit = np.nonzero(k >= 0)[0]
            if hit.size:
                kk = k[hit]
                wy, wx = r[hit] - np.asarray([boxes[i][0] for i in kk]), c[hit] - np.asarray([boxes[i][1] for i in kk])
                v[hit] = raws[torch.from_numpy(kk), :, torch.from_numpy(wy), torch.from_numpy(wx)].numpy()
            return v

        solved = poisson_solve(ys_hole, xs_hole, h, w, source_at, target_at)
        vals = torch.from_numpy(solved).to(torch.float32).clamp(0, 1)  # (n, 3), as poisson_blend returns them
        if channels == 1:
            vals = vals.mean(1, keepdim=True)
        out[ys_hole, xs_hole, :channels] = to_dtype(vals.numpy(), out.dtype)
        return prep.finish_array(out)

    def _windows(self, x: torch.Tensor, hole: torch.Tensor, settings: dict,
                 where: torch.Tensor | None = None) -> torch.Tensor:
        """Window-by-window fill at full resolution over the windows that hold pixels of
        ``where`` (default: the hole), all at once; (1, 3, H, W), the image outside the windows."""
        net, dev = self.model, self.device
        s = net.size
        h, w = x.shape[2:]
        where = hole if where is None else where
        ph, pw = max(0, s - h), max(0, s - w)
        if ph or pw:  # smaller than a window: reflect-pad (replicate when too small to reflect)
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
            hole, where = F.pad(hole, (0, pw, 0, ph)), F.pad(where, (0, pw, 0, ph))
        H, W = x.shape[2:]
        overlap = min(self.overlap, s // 2)
        boxes = [(y0, x0) for y0 in window_starts(H, s, overlap) for x0 in window_starts(W, s, overlap)
                 if where[0, 0, y0:y0 + s, x0:x0 + s].any()]
        ys = torch.cat([x[:, :, y0:y0 + s, x0:x0 + s] for y0, x0 in boxes])
        ms = torch.cat([hole[:, :, y0:y0 + s, x0:x0 + s] for y0, x0 in boxes])
        fill, _, _ = latent_search(net, ys.to(dev), ms.to(dev), **settings)
        fill = fill.cpu()
        ramp = feather(s, overlap)
        acc = torch.zeros_like(x)
        weight = torch.zeros_like(x[:, :1])
        for k, (y0, x0) in enumerate(boxes):
            acc[:, :, y0:y0 + s, x0:x0 + s] += fill[k:k + 1] * ramp
            weight[:, :, y0:y0 + s, x0:x0 + s] += ramp
        raw = torch.where(weight > 0, acc / weight.clamp_min(1e-8), x)
        return raw[:, :, :h, :w]


def _feathered_windows(fill: torch.Tensor, crops: torch.Tensor, boxes: list[tuple[int, int]], s: int,
                       overlap: int) -> torch.Tensor:
    """The raw fill of :meth:`InpaintPipeline._windows` over each window, without the
    image-size accumulators: for window k, the feathered mean of every window that overlaps
    it, accumulated in the windows' order (so each pixel gets the numbers of ``_windows``),
    and ``crops[k]`` (the image) where no window reaches.

    Args:
        fill: (N, 3, s, s) the generator's fill of each window.
        crops: (N, 3, s, s) the image under each window.
        boxes: (y0, x0) of each window, in the order of ``_windows``.
        s, overlap: the windows' side and overlap.

    Returns:
        (N, 3, s, s) float32.
    """
    ramp = feather(s, overlap)
    weighted = fill * ramp
    starts = np.asarray(boxes).reshape(-1, 2)
    raws = torch.empty_like(crops)
    for k, (y0, x0) in enumerate(boxes):
        acc = torch.zeros(1, 3, s, s)
        weight = torch.zeros(1, 1, s, s)
        near = np.nonzero((np.abs(starts[:, 0] - y0) < s) & (np.abs(starts[:, 1] - x0) < s))[0]
        for j in near:
            v0, u0 = boxes[j]
            a0, a1, b0, b1 = max(y0, v0), min(y0, v0) + s, max(x0, u0), min(x0, u0) + s
            acc[:, :, a0 - y0:a1 - y0, b0 - x0:b1 - x0] += weighted[j:j + 1, :, a0 - v0:a1 - v0, b0 - u0:b1 - u0]
            weight[:, :, a0 - y0:a1 - y0, b0 - x0:b1 - x0] += ramp[:, :, a0 - v0:a1 - v0, b0 - u0:b1 - u0]
        raws[k] = torch.where(weight > 0, acc / weight.clamp_min(1e-8), crops[k:k + 1])[0]
    return raws


#: Share of the full scale above which a mask value is a hole (:func:`mask_array`).
HOLE_THRESHOLD = 0.5


def mask_tensor(mask: Any, height: int, width: int) -> torch.Tensor:
    """A mask given as numpy, PIL or tensor -> (1, 1, height, width) float32 in {0, 1}, 1 = fill.

    Color masks count a pixel as fill when any channel is above half its full scale;
    an alpha channel is ignored. Resized with nearest neighbour when sizes differ.

    Raises:
        TypeError, ValueError: unsupported mask kinds or shapes.
    """
    return torch.from_numpy(mask_array(mask, height, width).astype(np.float32))[None, None]


def mask_array(mask: Any, height: int, width: int) -> np.ndarray:
    """:func:`mask_tensor`'s mask as a (height, width) bool numpy array (1 byte per pixel):
    :func:`restore.pipelines.base.read_mask` with inpainting's rule, above half the full
    scale is a hole (``threshold=0.5``; a 0/1 integer mask is read as 0/1), color masks
    accepted, another size resized with nearest neighbour.

    Raises:
        TypeError, ValueError: unsupported mask kinds or shapes.
    """
    return read_mask(mask, height, width, threshold=HOLE_THRESHOLD, color=True, resize=True)[0, 0].numpy()
