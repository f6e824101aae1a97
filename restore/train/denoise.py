"""Training of the noise-level-conditioned denoising autoencoder (``restore train denoise``).

Clean images are cropped at random (flips, 90-degree rotations), AWGN with a sigma drawn
uniformly from [0, sigma_max] (0-255 scale) is added on the fly, a fraction of the crops are
made gray (the same gray value and the same noise in all three channels, which is how the
pipeline feeds gray images), and a fraction are clipped and rounded to 8 bit as a noisy
file on disk would be. Loss: L1. Optimiser: Adam with a cosine learning-rate decay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from restore.metrics import batch_psnr
from restore.ops.color import gray_to_rgb, rgb_to_gray
from restore.ops.degrade import add_awgn, quantize_8bit
from restore.train.checkpoint import save_checkpoint
from restore.train.data import center_crops, load_folder, random_crops, split_train_val
from restore.train.loop import Schedule, resume_run, update, write_result
from restore.zoo.archs.unet import NoiseLevelUNet
from restore.zoo.registry import resolve_device


def synthesize(clean: torch.Tensor, sigma: torch.Tensor, gray: torch.Tensor, quantize: torch.Tensor,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Make (clean, noisy) training pairs.

    Args:
        clean: (B, 3, H, W) in [0, 1].
        sigma: (B,) noise levels on the 0-255 scale.
        gray: (B,) bool, which samples become gray (equal channels, equal noise).
        quantize: (B,) bool, which noisy samples are clipped and rounded to 8 bit.

    Returns:
        ``(clean, noisy)``, both (B, 3, H, W).
    """
    clean = torch.where(gray.view(-1, 1, 1, 1), gray_to_rgb(rgb_to_gray(clean)), clean)
    noise = add_awgn(torch.zeros_like(clean), sigma, generator=generator)
    noise = torch.where(gray.view(-1, 1, 1, 1), noise[:, :1].expand_as(noise), noise)
    noisy = clean + noise
    noisy = torch.where(quantize.view(-1, 1, 1, 1), quantize_8bit(noisy), noisy)
    return clean, noisy


def validation_set(val_images: list[np.ndarray], size: int = 256, seed: int = 0) -> list[dict]:
    """Fixed validation cases: color sigma 25, gray sigma 25, color sigma 50 (unclipped)."""
    clean = torch.from_numpy(center_crops(val_images, size))
    g = torch.Generator().manual_seed(seed)
    cases = []
    for name, sigma, gray in (("color25", 25.0, False), ("gray25", 25.0, True), ("color50", 50.0, False)):
        b = clean.shape[0]
        c, n = synthesize(clean, torch.full((b,), sigma), torch.full((b,), gray), torch.zeros(b, dtype=torch.bool), g)
        cases.append(dict(name=name, sigma=sigma, clean=c, noisy=n))
    return cases


@torch.no_grad()
def validate(net: torch.nn.Module, cases: list[dict], device: torch.device) -> dict[str, float]:
    """Mean PSNR (dB) of the network on each validation case."""
    net.eval()
    out = {}
    for case in cases:
        vals = []
        for i in range(0, case["noisy"].shape[0], 8):
            noisy = case["noisy"][i:i + 8].to(device)
            smap = torch.full((noisy.shape[0], 1, 1, 1), case["sigma"] / 255.0, device=device)
            vals.append(batch_psnr(case["clean"][i:i + 8].to(device), net(noisy, smap)).cpu())
        out[case["name"]] = float(torch.cat(vals).mean())
    net.train()
    return out


def train_denoise(*, data: str | Path | list, out: str | Path, steps: int = 5000, batch: int = 16, patch: int = 96,
                  lr: float = 6e-4, width: int = 32, levels: int = 4, blocks: int = 1,
                  dec_blocks: int | None = None, sigma_max: float = 75.0, gray_prob: float = 0.25,
                  quantize_prob: float = 0.5, n_val: int = 16, val_every: int = 250, seed: int = 0,
                  device: str = "auto", resume: bool = False, max_minutes: float | None = None,
                  log: Callable[[str], None] = print) -> dict:
    """Train a :class:`NoiseLevelUNet` and write ``out`` (safetensors) plus ``out``.json.

    A checkpoint (``<out>.ckpt.safetensors``: weights, Adam state, step, RNG seeds) is
    written every ``val_every`` steps; ``resume=True`` continues from it (the step count
    and the schedule may be changed on resume). ``max_minutes`` is a time budget for CPU
    runs: the cosine learning-rate schedule then advances by whichever of steps or
    training time is further along, and training stops when either runs out.

    Returns:
        The sidecar dict (config, steps done, validation PSNRs, seconds).

    Raises:
        FileNotFoundError: if ``data`` holds no usable image.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = out.with_name(out.stem + ".ckpt.safetensors")
    dev = resolve_device(device)
    torch.manual_seed(seed)
    config = dict(task="denoise", arch="NoiseLevelUNet",
                  arch_kwargs=dict(channels=3, width=width, levels=levels, blocks=blocks, dec_blocks=dec_blocks),
                  steps=steps, batch=batch, patch=patch, lr=lr, sigma_max=sigma_max, gray_prob=gray_prob,
                  quantize_prob=quantize_prob, n_val=n_val, seed=seed, data=[str(d) for d in data] if isinstance(data, (list, tuple)) else str(data), loss="L1")
    images, names = load_folder(data, min_side=max(patch, 256))
    train_images, val_images, val_names = split_train_val(images, names, n_val, seed)
    log(f"data: {len(train_images)} training images, {len(val_images)} held out for validation, device {dev}")
    cases = validation_set(val_images, seed=seed)
    net = NoiseLevelUNet(**config["arch_kwargs"]).to(dev)
    if dev.type == "cpu":
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    start, history, elapsed_before = resume_run(ckpt, net, opt, resume, log)
    rng = np.random.default_rng(seed + start)
    gen = torch.Generator().manual_seed(seed + start)
    params = sum(p.numel() for p in net.parameters())
    log(f"model: {params / 1e6:.2f} M parameters; noisy input PSNR " +
        ", ".join(f"{c['name']} {float(batch_psnr(c['clean'], c['noisy']).mean()):.2f}" for c in cases))
    net.train()
    schedule = Schedule(opt, steps=steps, lr=lr, start=start, elapsed=elapsed_before, max_minutes=max_minutes,
                        warmup=min(200, steps // 10), val_every=val_every, log=log)
    for tick in schedule:
        clean = torch.from_numpy(random_crops(train_images, batch, patch, rng))
        sigma = torch.rand(batch, generator=gen) * sigma_max
        gray = torch.rand(batch, generator=gen) < gray_prob
        quant = torch.rand(batch, generator=gen) < quantize_prob
        clean, noisy = synthesize(clean, sigma, gray, quant, gen)
        clean, noisy = clean.to(dev, non_blocking=True), noisy.to(dev, non_blocking=True)
        if dev.type == "cpu":
            noisy = noisy.contiguous(memory_format=torch.channels_last)
        smap = (sigma / 255.0).view(-1, 1, 1, 1).to(dev)
        loss = (net(noisy, smap) - clean).abs().mean()
        update(opt, net, loss)
        if tick.validate:
            val = validate(net, cases, dev)
            history.append(dict(step=tick.step, seconds=round(tick.seconds, 1), loss=loss.item(), lr=tick.lr, **val))
            log(f"step {tick.step}/{steps} {tick.seconds / 60:.1f} min loss {loss.item():.4f} lr {tick.lr:.2e} | "
                "val PSNR " + " ".join(f"{k} {v:.2f}" for k, v in val.items()))
            save_checkpoint(ckpt, net, opt, step=tick.step, history=history, seconds=tick.seconds)
    final = validate(net, cases, dev)
    sidecar = write_result(net, out, config, step=schedule.step, seconds=schedule.seconds, device=dev,
                           validation=dict(images=val_names, crop=256, psnr=final), history=history)
    log(f"wrote {out} and {out.with_suffix('.json')}; final val PSNR " +
        " ".join(f"{k} {v:.2f}" for k, v in final.items()))
    return sidecar
