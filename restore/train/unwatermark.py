"""Training of the two-head watermark-removal autoencoder (``restore train unwatermark``).

Clean images are cropped at random (flips, 90-degree rotations) and watermarked on the fly
by :func:`restore.ops.degrade.watermark_layer` with the training logos and fonts (sizes are
relative to the whole image's short side, so a crop sees a mark at the scale it would
have on the full image); a fraction of the crops stay clean, and the watermarked input is
rounded to 8 bit as a file would be. Validation uses held-out images, logos and font.

Loss, on [0, 1] images: ``L1(compose(x, restored, mask), clean)`` over the image, plus the
restored image's L1 inside the true mask (normalised by the mask's area, so small marks
count), plus the mask head's binary cross-entropy and Dice loss (Milletari et al., V-Net,
2016) against the true mask (alpha > ``MASK_THRESHOLD``), plus the opacity head's binary
cross-entropy against the true alpha. Adam with a cosine learning-rate decay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from restore.io import load_watermark_bank
from restore.metrics import batch_psnr, mask_iou
from restore.ops.degrade import MASK_THRESHOLD, WatermarkBank, synthesize_watermark
from restore.train.checkpoint import save_checkpoint
from restore.train.data import center_crops, load_folder, split_train_val
from restore.train.loop import Schedule, load_init, resume_run, update, write_result
from restore.zoo.archs.unet import WatermarkUNet, compose, watermark_mask
from restore.zoo.registry import resolve_device


def watermarked_crops(images: list[np.ndarray], bank: WatermarkBank, batch: int, patch: int,
                      rng: np.random.Generator, clean_prob: float = 0.1) -> tuple[np.ndarray, ...]:
    """Random crops (flip, 90-degree rotation) watermarked with random layers.

    Returns:
        ``(watermarked, clean, alpha)``: (batch, 3, patch, patch) float32 in [0, 1], the
        watermarked crop rounded to 8 bit; same for the clean crop; (batch, 1, patch,
        patch) float32 alpha (all 0 for the ``clean_prob`` share of crops left clean).
    """
    marked = np.empty((batch, patch, patch, 3), np.float32)
    clean = np.empty((batch, patch, patch, 3), np.float32)
    alpha = np.zeros((batch, patch, patch), np.float32)
    for i in range(batch):
        img = images[rng.integers(len(images))]
        y, x = rng.integers(img.shape[0] - patch + 1), rng.integers(img.shape[1] - patch + 1)
        crop = img[y:y + patch, x:x + patch]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        c = np.rot90(crop, k=int(rng.integers(4))).astype(np.float32) / 255.0
        clean[i] = c
        if rng.random() < clean_prob:
            marked[i] = c
            continue
        m, _, a = synthesize_watermark(c, rng, bank, ref_side=min(img.shape[:2]))
        marked[i] = np.round(m * 255.0) / 255.0
        alpha[i] = a
    return (marked.transpose(0, 3, 1, 2).copy(), clean.transpose(0, 3, 1, 2).copy(), alpha[:, None])


def validation_set(val_images: list[np.ndarray], bank: WatermarkBank, size: int = 256, seed: int = 0) -> dict:
    """Fixed validation cases: center crops of the held-out images, each watermarked with
    a seeded layer from ``bank`` (the held-out logos and font), rounded to 8 bit."""
    clean = center_crops(val_images, size)
    marked, alpha = np.empty_like(clean), np.zeros((clean.shape[0], 1, size, size), np.float32)
    for i, img in enumerate(val_images):
        rng = np.random.default_rng([seed, i])
        m, _, a = synthesize_watermark(clean[i].transpose(1, 2, 0), rng, bank, ref_side=min(img.shape[:2]))
        marked[i] = (np.round(m * 255) / 255).transpose(2, 0, 1)
        alpha[i, 0] = a
    return dict(marked=torch.from_numpy(marked), clean=torch.from_numpy(clean), alpha=torch.from_numpy(alpha))


@torch.no_grad()
def validate(net: torch.nn.Module, case: dict, device: torch.device) -> dict[str, float]:
    """PSNR of the output and of the input, RMSE inside the true mask (fRMSE, 0-1 scale)
    of both, and mask IoU, averaged over the validation images."""
    net.eval()
    psnr, psnr_in, frmse, frmse_in, iou = [], [], [], [], []
    for i in range(0, case["marked"].shape[0], 8):
        x = case["marked"][i:i + 8].to(device)
        clean, alpha = case["clean"][i:i + 8].to(device), case["alpha"][i:i + 8].to(device)
        out = net(x)
        prob = torch.sigmoid(out[:, 3:4])
        y = compose(x, out[:, :3], watermark_mask(prob)).clamp(0, 1)
        true = alpha > MASK_THRESHOLD
        area = true.flatten(1).sum(1).clamp_min(1) * 3
        psnr.append(batch_psnr(clean, y).cpu())
        psnr_in.append(batch_psnr(clean, x).cpu())
        frmse.append((((y - clean) ** 2 * true).flatten(1).sum(1) / area).sqrt().cpu())
        frmse_in.append((((x - clean) ** 2 * true).flatten(1).sum(1) / area).sqrt().cpu())
        iou.append(mask_iou(prob > 0.5, true).cpu())
    net.train()
    mean = lambda v: float(torch.cat(v).mean())  # noqa: E731
    return dict(psnr=mean(psnr), psnr_input=mean(psnr_in), frmse=mean(frmse), frmse_input=mean(frmse_in),
                iou=mean(iou))


def train_unwatermark(*, data: str | Path | list, logos: str | Path | list, out: str | Path, steps: int = 20000,
                      batch: int = 12, patch: int = 128, lr: float = 5e-4, width: int = 32, levels: int = 4,
                      blocks: int = 1, dec_blocks: int | None = None, w_hole: float = 1.0, w_mask: float = 1.0,
                      w_alpha: float = 1.0,
                      clean_prob: float = 0.1, init: str | Path | None = None, n_val: int = 16,
                      val_every: int = 250, seed: int = 0, device: str = "auto", resume: bool = False,
                      max_minutes: float | None = None, log: Callable[[str], None] = print) -> dict:
    """Train a :class:`WatermarkUNet` and write ``out`` (safetensors) plus ``out``.json.

    Args:
        data: folder(s) of clean training images.
        logos: folder(s) of logos; the held-out ones (and the held-out font) are used only
            for validation (:func:`restore.ops.degrade.is_held_out`).
        out: weights file to write; ``<out>.ckpt.safetensors`` is the checkpoint, written
            every ``val_every`` steps, that ``resume=True`` continues from.
        max_minutes: time budget for CPU runs (the cosine schedule then follows whichever
            of steps or time is further along; training stops when either runs out).
        w_hole, w_mask, w_alpha: weights of the in-mask L1, of the mask's cross-entropy +
            Dice loss, and of the opacity's cross-entropy.
        clean_prob: share of crops left without a watermark.
        init: weights (safetensors of the same architecture, e.g. a shipped
            ``weights/unwatermark-s.safetensors``) to start from instead of a random
            initialisation; the optimizer and the learning-rate schedule start afresh.
            Ignored when ``resume`` finds a checkpoint.

    Returns:
        The sidecar dict (config, steps done, validation figures, seconds).

    Raises:
        FileNotFoundError: if ``data`` holds no usable image, ``logos`` no logo, or
            ``init`` does not exist.
        RuntimeError: if ``init`` does not match the architecture.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = out.with_name(out.stem + ".ckpt.safetensors")
    dev = resolve_device(device)
    torch.manual_seed(seed)
    as_list = lambda d: [str(x) for x in d] if isinstance(d, (list, tuple)) else str(d)  # noqa: E731
    config = dict(task="unwatermark", arch="WatermarkUNet",
                  arch_kwargs=dict(channels=3, width=width, levels=levels, blocks=blocks, dec_blocks=dec_blocks),
                  steps=steps, batch=batch, patch=patch, lr=lr, w_hole=w_hole, w_mask=w_mask, w_alpha=w_alpha,
                  clean_prob=clean_prob, init=str(init) if init else None, n_val=n_val, seed=seed,
                  data=as_list(data), logos=as_list(logos),
                  loss="L1(composed) + w_hole * L1(restored inside mask) + w_mask * (BCE + Dice)(mask) + "
                       "w_alpha * BCE(alpha)")
    images, names = load_folder(data, min_side=max(patch, 256))
    train_images, val_images, val_names = split_train_val(images, names, n_val, seed)
    train_bank = load_watermark_bank(logos, "train")
    val_bank = load_watermark_bank(logos, "val")
    config["fonts_train"] = [n for n in train_bank.names if n.endswith(".ttf")]
    config["fonts_val"] = [n for n in val_bank.names if n.endswith(".ttf")]
    log(f"data: {len(train_images)} training images, {len(val_images)} held out; logos {len(train_bank.logos)} "
        f"train / {len(val_bank.logos)} held out; fonts {len(train_bank.fonts)} / {len(val_bank.fonts)}; device {dev}")
    case = validation_set(val_images, val_bank, seed=seed)
    net = WatermarkUNet(**config["arch_kwargs"]).to(dev)
    if init is not None:
        load_init(net, init, log)
    if dev.type == "cpu":
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    start, history, elapsed_before = resume_run(ckpt, net, opt, resume, log)
    rng = np.random.default_rng([seed, start])
    log(f"model: {sum(p.numel() for p in net.parameters()) / 1e6:.2f} M parameters")
    net.train()
    schedule = Schedule(opt, steps=steps, lr=lr, start=start, elapsed=elapsed_before, max_minutes=max_minutes,
                        warmup=min(200, steps // 10), val_every=val_every, log=log)
    for tick in schedule:
        marked, clean, alpha = (torch.from_numpy(a).to(dev) for a in
                                watermarked_crops(train_images, train_bank, batch, patch, rng, clean_prob))
        if dev.type == "cpu":
            marked = marked.contiguous(memory_format=torch.channels_last)
        pred = net(marked)
        restored, mask_logit, alpha_logit = pred[:, :3], pred[:, 3:4], pred[:, 4:5]
        prob = torch.sigmoid(mask_logit)
        y = compose(marked, restored, watermark_mask(prob))
        true = (alpha > MASK_THRESHOLD).float()
        hole = ((restored - clean).abs() * true).sum() / (3 * true.sum() + 1.0)
        dice = 1 - (2 * (prob * true).sum() + 1) / (prob.sum() + true.sum() + 1)
        loss = (y - clean).abs().mean() + w_hole * hole + \
            w_mask * (F.binary_cross_entropy_with_logits(mask_logit, true) + dice) + \
            w_alpha * F.binary_cross_entropy_with_logits(alpha_logit, alpha)
        update(opt, net, loss)
        if tick.validate:
            val = validate(net, case, dev)
            history.append(dict(step=tick.step, seconds=round(tick.seconds, 1), loss=loss.item(), lr=tick.lr, **val))
            log(f"step {tick.step}/{steps} {tick.seconds / 60:.1f} min loss {loss.item():.4f} lr {tick.lr:.2e} | "
                f"val PSNR {val['psnr']:.2f} (input {val['psnr_input']:.2f}) fRMSE {val['frmse']:.4f} "
                f"(input {val['frmse_input']:.4f}) IoU {val['iou']:.3f}")
            save_checkpoint(ckpt, net, opt, step=tick.step, history=history, seconds=tick.seconds)
    final = validate(net, case, dev)
    sidecar = write_result(net, out, config, step=schedule.step, seconds=schedule.seconds, device=dev,
                           validation=dict(images=val_names, crop=256, **final), history=history)
    log(f"wrote {out} and {out.with_suffix('.json')}; final val PSNR {final['psnr']:.2f} "
        f"fRMSE {final['frmse']:.4f} IoU {final['iou']:.3f}")
    return sidecar
