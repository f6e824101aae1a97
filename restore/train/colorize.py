"""Training of the colorization autoencoder (``restore train colorize``).

Colorization as classification with class rebalancing (Zhang, Isola & Efros, "Colorful
Image Colorization", ECCV 2016). Clean color images are resized so that their short side
is the render size (the scale the pipeline runs the network at) and held in memory;
nearly gray images are dropped. Each step takes random crops with a random horizontal
flip (no rotations: sky is up), converts them to CIE Lab, feeds L* to the network and
scores its per-pixel distribution over the a*b* bins against the soft-encoded true
chroma (the 5 nearest bins, Gaussian weights of std 5) at half resolution, with every
pixel weighted by the rarity of its color: ``w ~ 1 / ((1 - lambda) * p_smooth + lambda / Q)``
normalized to ``E_p[w] = 1``, ``p_smooth`` the training set's bin frequencies smoothed by a
Gaussian of std 5 in a*b*, lambda = 0.5 (the paper's choices). Optimiser: Adam with a
cosine learning-rate decay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from restore.metrics import batch_psnr, colorfulness
from restore.ops.color import ab_gamut_bins, lab_to_rgb, rgb_to_lab
from restore.train.checkpoint import save_checkpoint
from restore.train.data import center_crops, load_folder, random_crops, split_train_val
from restore.train.loop import Schedule, resume_run, update, write_result
from restore.zoo.archs.unet import ColorizationUNet
from restore.zoo.registry import resolve_device

#: Images whose colorfulness (Hasler & Suesstrunk, 0-255 scale) is below this are taken
#: as gray or monochrome and left out of training.
MIN_COLORFULNESS = 8.0
#: Decodings shown by the validation, (temperature, prior): Zhang et al.'s annealed mean
#: (0.38, 0), and of the posterior with the rebalancing undone, annealed and its mean.
VAL_DECODINGS = ((0.38, 0.0), (0.38, 1.0), (0.6, 1.0), (1.0, 1.0))


def resize_short_side(img: np.ndarray, size: int) -> np.ndarray:
    """Resize an H x W x C uint8 image so that its short side is ``size`` (area
    interpolation when shrinking, bicubic when enlarging)."""
    h, w = img.shape[:2]
    s = size / min(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    return cv2.resize(img, (nw, nh), interpolation=interp)


def color_images(images: list[np.ndarray], render_size: int) -> tuple[list[np.ndarray], list[int]]:
    """The images resized to short side ``render_size``, without the nearly gray ones
    (colorfulness below :data:`MIN_COLORFULNESS`). Returns the images and the indices kept."""
    out, kept = [], []
    for i, img in enumerate(images):
        small = resize_short_side(img, render_size)
        t = torch.from_numpy(small).permute(2, 0, 1)[None].float() / 255.0
        if float(colorfulness(t)[0]) >= MIN_COLORFULNESS:
            out.append(np.ascontiguousarray(small))
            kept.append(i)
    return out, kept


def nearest_bins(ab: torch.Tensor, bins: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distances and indices of the ``k`` nearest bins of every pixel.

    Args:
        ab: (B, 2, h, w) a*, b*.
        bins: (Q, 2) bin centers.

    Returns:
        ``(d2, idx)``, both (B, k, h, w).
    """
    d2 = (ab.pow(2).sum(1, keepdim=True) - 2 * torch.einsum("bchw,qc->bqhw", ab, bins)
          + bins.pow(2).sum(1).view(1, -1, 1, 1))
    d2, idx = d2.topk(k, dim=1, largest=False)
    return d2.clamp_min(0), idx


def soft_encode(ab: torch.Tensor, bins: torch.Tensor, k: int = 5, sigma: float = 5.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft-encode chroma over the bins (Zhang et al. 2016): the ``k`` nearest bins get
    Gaussian weights of std ``sigma`` (a*b* units), summing to 1.

    Returns:
        ``(target, nearest)``: (B, Q, h, w) float target distribution and (B, h, w) long
        index of the nearest bin.
    """
    d2, idx = nearest_bins(ab, bins, k)
    wts = torch.softmax(-d2 / (2 * sigma ** 2), dim=1)
    target = torch.zeros(ab.shape[0], bins.shape[0], *ab.shape[2:], device=ab.device)
    target.scatter_(1, idx, wts)
    return target, idx[:, 0]


def rebalancing_weights(images: list[np.ndarray], bins: torch.Tensor, lam: float = 0.5, sigma: float = 5.0,
                        stride: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-rebalancing weights of Zhang et al. (2016, eq. 3-4) from the bin frequencies of
    ``images`` (every ``stride``-th pixel in each direction).

    Returns:
        ``(weights, prior)``: (Q,) float32 each; ``prior`` is the smoothed frequency
        ``p_smooth`` and ``(prior * weights).sum() == 1``.
    """
    counts = torch.zeros(bins.shape[0], dtype=torch.float64)
    for img in images:
        t = torch.from_numpy(np.ascontiguousarray(img[::stride, ::stride])).permute(2, 0, 1)[None].float() / 255.0
        _, idx = nearest_bins(rgb_to_lab(t)[:, 1:], bins)
        counts += torch.bincount(idx.flatten(), minlength=bins.shape[0]).double()
    p = counts / counts.sum()
    kernel = torch.exp(-torch.cdist(bins.double(), bins.double()).pow(2) / (2 * sigma ** 2))
    p_smooth = kernel @ p
    p_smooth = p_smooth / p_smooth.sum()
    w = 1.0 / ((1 - lam) * p_smooth + lam / bins.shape[0])
    w = w / (p_smooth * w).sum()
    return w.float(), p_smooth.float()


def rebalanced_loss(logits: torch.Tensor, ab: torch.Tensor, bins: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Class-rebalanced multinomial cross-entropy of Zhang et al. (2016, eq. 2).

    Args:
        logits: (B, Q, h, w) network output.
        ab: (B, 2, H, W) true a*b* at the input resolution (average-pooled to h x w).
        bins: (Q, 2) bin centers; weights: (Q,) from :func:`rebalancing_weights`.
    """
    if ab.shape[-2:] != logits.shape[-2:]:
        ab = F.adaptive_avg_pool2d(ab, logits.shape[-2:])
    target, nearest = soft_encode(ab, bins)
    ce = -(target * torch.log_softmax(logits, dim=1)).sum(1)
    return (weights[nearest] * ce).mean()


def merge_chroma(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """RGB from L* (B, 1, H, W) and chroma (B, 2, h, w), bilinearly upsampled to H x W."""
    ab = F.interpolate(ab, size=L.shape[-2:], mode="bilinear", align_corners=False)
    return lab_to_rgb(torch.cat([L, ab], 1))


def validation_set(val_images: list[np.ndarray], size: int = 256) -> torch.Tensor:
    """Center crops (N, 3, size, size) in [0, 1] of the render-size validation images."""
    return torch.from_numpy(center_crops(val_images, size))


@torch.no_grad()
def validate(net: ColorizationUNet, clean: torch.Tensor, device: torch.device) -> dict[str, float]:
    """PSNR (dB, RGB) of the colorized validation crops and their mean colorfulness as a
    share of the ground truth's, for each of :data:`VAL_DECODINGS` (keys ``T0.38``,
    ``cf0.38``; ``T1p``, ``cf1p`` with the rebalancing undone); also the gray baseline's
    PSNR (L* with zero chroma)."""
    net.eval()
    clean = clean.to(device)
    lab = rgb_to_lab(clean)
    L = lab[:, :1]
    gray = lab_to_rgb(torch.cat([L, torch.zeros_like(lab[:, 1:])], 1))
    cf_true = float(colorfulness(clean).mean())
    out = {"gray": float(batch_psnr(clean, gray).mean())}
    logits = torch.cat([net(L[i:i + 8]) for i in range(0, len(L), 8)])
    for t, prior in VAL_DECODINGS:
        rgb = merge_chroma(L, net.decode(logits, t, prior))
        out[_key(t, prior)] = float(batch_psnr(clean, rgb).mean())
        out["cf" + _key(t, prior)[1:]] = float(colorfulness(rgb).mean()) / cf_true
    net.train()
    return out


def _key(t: float, prior: float) -> str:
    return f"T{t:g}" + ("p" if prior else "")


def _fmt(val: dict) -> str:
    return f"gray {val['gray']:.2f} | " + " | ".join(
        f"{_key(t, p)} {val[_key(t, p)]:.2f} dB cf {100 * val['cf' + _key(t, p)[1:]]:.0f}%"
        for t, p in VAL_DECODINGS)


def train_colorize(*, data: str | Path | list, out: str | Path, steps: int = 20000, batch: int = 16, patch: int = 160,
                   lr: float = 5e-4, width: int = 32, levels: int = 5, blocks: int = 1, dec_blocks: int | None = None,
                   render_size: int = 256, rebalance: float = 0.5, n_val: int = 32, val_every: int = 250,
                   seed: int = 0, device: str = "auto", resume: bool = False, max_minutes: float | None = None,
                   log: Callable[[str], None] = print) -> dict:
    """Train a :class:`ColorizationUNet` and write ``out`` (safetensors) plus ``out``.json.

    Args:
        data: folder(s) of color training images.
        out: weights file to write; ``<out>.ckpt.safetensors`` is the checkpoint, written
            every ``val_every`` steps, that ``resume=True`` continues from.
        patch: crop side in render-size pixels (a multiple of ``2 ** levels``).
        render_size: short side the images are resized to (the pipeline's default render size).
        rebalance: lambda of the class rebalancing (1 = no rebalancing, uniform weights).
        max_minutes: time budget for CPU runs (the cosine schedule then follows whichever
            of steps or time is further along; training stops when either runs out).

    Returns:
        The sidecar dict (config, steps done, validation figures, seconds).

    Raises:
        FileNotFoundError: if ``data`` holds no usable image.
        ValueError: if ``patch`` is not a multiple of ``2 ** levels`` or exceeds ``render_size``.
    """
    if patch % 2 ** levels or patch > render_size:
        raise ValueError(f"patch must be a multiple of {2 ** levels} and <= render_size {render_size}, got {patch}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = out.with_name(out.stem + ".ckpt.safetensors")
    dev = resolve_device(device)
    torch.manual_seed(seed)
    bins = ab_gamut_bins()
    config = dict(task="colorize", arch="ColorizationUNet",
                  arch_kwargs=dict(width=width, levels=levels, blocks=blocks, dec_blocks=dec_blocks, bins=len(bins)),
                  steps=steps, batch=batch, patch=patch, lr=lr, render_size=render_size, rebalance=rebalance,
                  n_val=n_val, seed=seed, min_colorfulness=MIN_COLORFULNESS,
                  data=[str(d) for d in data] if isinstance(data, (list, tuple)) else str(data),
                  loss="class-rebalanced soft-encoded cross-entropy over a*b* bins (Zhang et al. 2016)")
    images, names = load_folder(data, min_side=64)
    images, kept = color_images(images, render_size)
    names = [names[i] for i in kept]
    train_images, val_images, val_names = split_train_val(images, names, n_val, seed)
    weights, prior = rebalancing_weights(train_images, bins, lam=rebalance)
    log(f"data: {len(train_images)} training images, {len(val_images)} held out ({len(kept)} of the images are "
        f"colorful enough); {len(bins)} chroma bins; rebalancing weights {float(weights.min()):.2f}-"
        f"{float(weights.max()):.2f}; device {dev}")
    clean_val = validation_set(val_images, min(render_size, 256))
    net = ColorizationUNet(**config["arch_kwargs"])
    net.ab_bins.copy_(bins)
    net = net.to(dev)
    if dev.type == "cpu":
        net = net.to(memory_format=torch.channels_last)
    bins, weights = bins.to(dev), weights.to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    start, history, elapsed_before = resume_run(ckpt, net, opt, resume, log)
    net.log_weights.copy_(weights.log())           # deterministic from the data: set after a resume too
    rng = np.random.default_rng([seed, start])
    log(f"model: {sum(p.numel() for p in net.parameters()) / 1e6:.2f} M parameters")
    net.train()
    schedule = Schedule(opt, steps=steps, lr=lr, start=start, elapsed=elapsed_before, max_minutes=max_minutes,
                        warmup=min(200, steps // 10), val_every=val_every, log=log)
    for tick in schedule:
        lab = rgb_to_lab(torch.from_numpy(random_crops(train_images, batch, patch, rng, rotate=False)).to(dev))
        L = lab[:, :1]
        if dev.type == "cpu":
            L = L.contiguous(memory_format=torch.channels_last)
        loss = rebalanced_loss(net(L), lab[:, 1:], bins, weights)
        update(opt, net, loss)
        if tick.validate:
            val = validate(net, clean_val, dev)
            history.append(dict(step=tick.step, seconds=round(tick.seconds, 1), loss=loss.item(), lr=tick.lr, **val))
            log(f"step {tick.step}/{steps} {tick.seconds / 60:.1f} min loss {loss.item():.4f} lr {tick.lr:.2e} | "
                f"val {_fmt(val)}")
            save_checkpoint(ckpt, net, opt, step=tick.step, history=history, seconds=tick.seconds)
    final = validate(net, clean_val, dev)
    sidecar = write_result(net, out, config, step=schedule.step, seconds=schedule.seconds, device=dev,
                           validation=dict(images=val_names, crop=clean_val.shape[-1], **final), history=history)
    log(f"wrote {out} and {out.with_suffix('.json')}; final val {_fmt(final)}")
    return sidecar
