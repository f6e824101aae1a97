"""Training of the two-head watermark-removal autoencoder (``restore train unwatermark``).

Clean images are zoomed and cropped at random (flips, 90-degree rotations) and watermarked
on the fly by :func:`restore.ops.degrade.watermark_layer` with the training logos and
fonts: the mark is drawn over a canvas larger than the crop, with sizes relative to the
(zoomed) image's short side, so a crop sees a mark at the scale it would have on the full
image, or part of one, or none; a fraction of the crops stay clean, and the watermarked
input is rounded to 8 bit as a file would be. With ``hard_negatives``, a share of the
crops is cut around pixels where the starting network sees a mark in the unmarked
training images (hard-negative mining, :func:`mine_hard_negatives`). Validation uses
held-out images, logos and font, with the mark drawn over the whole image as the
benchmark does.

Loss, on [0, 1] images: ``L1(compose(x, restored, mask), clean)`` over the image, plus the
restored image's L1 inside the true mask (normalised by the mask's area, so small marks
count), plus the mask head's binary cross-entropy and Dice loss (Milletari et al., V-Net,
2016) against the true mask (alpha > ``MASK_THRESHOLD``), plus the opacity head's binary
cross-entropy against the true alpha. Adam with a cosine learning-rate decay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from restore.ops.degrade import load_watermark_bank
from restore.metrics import batch_psnr, mask_iou
from restore.ops.degrade import MASK_THRESHOLD, WatermarkBank, jpeg_roundtrip, synthesize_watermark
from restore.ops.tiling import run_tiled
from restore.train.checkpoint import save_checkpoint
from restore.train.data import load_folder, split_train_val, zoomed_region
from restore.train.loop import Schedule, load_init, resume_run, update, write_result
from restore.zoo.archs.unet import WatermarkUNet, compose, watermark_mask
from restore.zoo.registry import resolve_device

#: JPEG quality range of the training crops saved as JPEG (``jpeg`` of :func:`watermarked_crops`):
#: what cameras, editors and web sites commonly write.
JPEG_QUALITY = (60, 95)
#: JPEG quality of the second validation set (:func:`jpeg_case`), printed beside the first.
VAL_JPEG_QUALITY = 80
#: Mask probability above which a pixel of an unmarked training image counts as a false
#: detection, a hard negative (:func:`mine_hard_negatives`).
HARD_NEGATIVE_PROB = 0.5


def check_crop_options(canvas: float, zoom: tuple[float, float], jpeg: float = 0.0,
                       jpeg_quality: tuple[int, int] = JPEG_QUALITY, hard_share: float = 0.0) -> None:
    """Raise ValueError unless ``canvas >= 1``, ``0 < zoom[0] <= zoom[1]``, ``0 <= jpeg <= 1``,
    ``1 <= jpeg_quality[0] <= jpeg_quality[1] <= 100`` and ``0 <= hard_share <= 1``."""
    if canvas < 1:
        raise ValueError(f"canvas must be at least 1 (a multiple of the patch side), got {canvas}")
    if not 0 < zoom[0] <= zoom[1]:
        raise ValueError(f"zoom range must be positive and ordered, got {tuple(zoom)}")
    if not 0 <= jpeg <= 1:
        raise ValueError(f"jpeg share must be in [0, 1], got {jpeg}")
    if not 1 <= jpeg_quality[0] <= jpeg_quality[1] <= 100:
        raise ValueError(f"JPEG quality range must be ordered within 1-100, got {tuple(jpeg_quality)}")
    if not 0 <= hard_share <= 1:
        raise ValueError(f"hard-negative share must be in [0, 1], got {hard_share}")


@torch.no_grad()
def mine_hard_negatives(net: torch.nn.Module, images: list[np.ndarray], device: torch.device, *,
                        threshold: float = HARD_NEGATIVE_PROB, max_points: int = 256,
                        seed: int = 0) -> list[np.ndarray]:
    """Where ``net`` sees a watermark in images that have none: the pixels of each unmarked
    image whose predicted mask probability is above ``threshold`` (hard-negative mining,
    Sung & Poggio, "Example-based learning for view-based human face detection", 1998;
    Felzenszwalb et al., TPAMI 2010). :func:`watermarked_crops` cuts a share of its crops
    around them, so training sees more of the shadows, petals and painted objects the
    network takes for marks.

    Args:
        net: a :class:`WatermarkUNet` (put in eval mode while mining, back in train mode after).
        images: H x W x 3 uint8 RGB images, run whole (padded to the network's multiple by
            :func:`restore.ops.tiling.run_tiled`).
        device: where the network runs.
        threshold: mask probability in (0, 1) above which a pixel is a false detection.
        max_points: at most this many of an image's false pixels are kept (drawn at random).
        seed: seed of that draw.

    Returns:
        One (N_i, 2) int64 array of (row, column) pixels per image, N_i possibly 0.

    Raises:
        ValueError: unless ``0 < threshold < 1`` and ``max_points >= 1``.
    """
    if not 0 < threshold < 1 or max_points < 1:
        raise ValueError(f"need 0 < threshold < 1 and max_points >= 1, got {threshold}, {max_points}")
    was_training = net.training
    net.eval()
    rng = np.random.default_rng(seed)
    points = []
    for img in images:
        x = torch.from_numpy(img).to(device).permute(2, 0, 1)[None].float() / 255
        prob = torch.sigmoid(run_tiled(net, x, tile=None, multiple_of=net.multiple_of)[0, 3])
        p = torch.nonzero(prob > threshold).cpu().numpy().astype(np.int64)
        if len(p) > max_points:
            p = p[rng.choice(len(p), max_points, replace=False)]
        points.append(p)
    net.train(was_training)
    return points


def watermarked_crops(images: list[np.ndarray], bank: WatermarkBank, batch: int, patch: int,
                      rng: np.random.Generator, clean_prob: float = 0.1, *, canvas: float = 1.0,
                      zoom: tuple[float, float] = (1.0, 1.0), jpeg: float = 0.0,
                      jpeg_quality: tuple[int, int] = JPEG_QUALITY, hard_negatives: list[np.ndarray] | None = None,
                      hard_share: float = 0.0) -> tuple[np.ndarray, ...]:
    """Random watermarked training crops.

    Each crop is cut from a canvas: a random region of a training image, ``canvas`` times
    the crop's side, resized by a zoom drawn log-uniformly from ``zoom``
    (:func:`restore.train.data.zoomed_region`). The mark is drawn on the whole canvas with sizes relative to
    the zoomed image's short side, then the crop is taken anywhere in the canvas, so a crop
    holds a whole mark, part of one or none, about as often as a window of a real photo
    does (``canvas=1`` draws the mark inside the crop itself, the first runs' setting).

    Args:
        images: training images, H x W x 3 uint8, each side at least ``canvas * patch``
            (smaller ones give a smaller canvas).
        bank: logos and fonts of the training split.
        batch, patch: number and side of the crops.
        rng: the random generator.
        clean_prob: share of crops left without a watermark.
        canvas: canvas side as a multiple of ``patch`` (>= 1).
        zoom: (low, high) range of the zoom factor (1 = the image as it is).
        jpeg: share of crops saved as JPEG after the mark was drawn, the watermarked crop
            and its clean target alike, at one quality drawn uniformly from
            ``jpeg_quality`` (:func:`restore.ops.degrade.jpeg_roundtrip`). Without it the
            mark is the only part of a crop free of the training images' own JPEG
            artifacts and noise, and a network learns to find marks largely by that: it
            then misses most of a mark in a photo saved as JPEG (the unwatermark-s card in
            docs/models.md).
        jpeg_quality: (low, high) JPEG quality range, in 1-100.
        hard_negatives: per image of ``images``, (N, 2) pixels (row, column) where the
            network finds a mark that is not there (:func:`mine_hard_negatives`).
        hard_share: share of crops cut around one of those pixels (from an image that has
            one): the canvas and the crop in it are drawn among those that hold the
            pixel, then marked (or left clean) like any other.

    Returns:
        ``(watermarked, clean, alpha)``: (batch, 3, patch, patch) float32 in [0, 1], the
        watermarked crop rounded to 8 bit; same for the clean crop; (batch, 1, patch,
        patch) float32 alpha (all 0 for the crops left clean).

    Raises:
        ValueError: if ``canvas < 1``, the zoom range is not positive and ordered, ``jpeg``
            or ``hard_share`` is outside [0, 1], the quality range outside 1-100 or not
            ordered, or ``hard_negatives`` is not one array per image.
    """
    check_crop_options(canvas, zoom, jpeg, jpeg_quality, hard_share)
    if hard_negatives is not None and len(hard_negatives) != len(images):
        raise ValueError(f"hard_negatives needs one array per image: {len(hard_negatives)} for {len(images)} images")
    hard_images = [k for k, p in enumerate(hard_negatives or []) if len(p)] if hard_share > 0 else []
    marked = np.empty((batch, patch, patch, 3), np.float32)
    clean = np.empty((batch, patch, patch, 3), np.float32)
    alpha = np.zeros((batch, patch, patch), np.float32)
    for i in range(batch):
        hard = bool(hard_images) and rng.random() < hard_share
        if hard:
            k = hard_images[rng.integers(len(hard_images))]
            img, pts = images[k], hard_negatives[k]
        else:
            img = images[rng.integers(len(images))]
        side = max(patch, min(int(round(canvas * patch)), *img.shape[:2]))
        z = float(np.exp(rng.uniform(np.log(zoom[0]), np.log(zoom[1]))))
        if hard:   # the crop, anywhere in the canvas, holds the hard pixel
            region, z, q = zoomed_region(img, side, z, rng, tuple(int(v) for v in pts[rng.integers(len(pts))]))
            y, x = (int(rng.integers(max(0, v - patch + 1), min(side - patch, v) + 1)) for v in q)
        else:
            region, z = zoomed_region(img, side, z, rng)
            y, x = rng.integers(side - patch + 1), rng.integers(side - patch + 1)
        c = region.astype(np.float32) / 255.0
        clean[i] = c[y:y + patch, x:x + patch]
        if rng.random() < clean_prob:
            marked[i] = clean[i]
        else:
            m, _, a = synthesize_watermark(c, rng, bank, ref_side=int(round(min(img.shape[:2]) * z)))
            marked[i] = np.round(m[y:y + patch, x:x + patch] * 255.0) / 255.0
            alpha[i] = a[y:y + patch, x:x + patch]
        if jpeg > 0 and rng.random() < jpeg:
            q = int(rng.integers(jpeg_quality[0], jpeg_quality[1] + 1))
            for crops in (marked, clean):
                crops[i] = jpeg_roundtrip(np.round(crops[i] * 255.0).astype(np.uint8), q).astype(np.float32) / 255.0
    return (marked.transpose(0, 3, 1, 2).copy(), clean.transpose(0, 3, 1, 2).copy(), alpha[:, None])


def validation_set(val_images: list[np.ndarray], bank: WatermarkBank, size: int = 256, seed: int = 0,
                   zooms: tuple[float, ...] = (1.0,)) -> dict:
    """Fixed validation cases from the held-out images and ``bank`` (the held-out logos and
    font): for each zoom, each image resized by it (bicubic) gets a seeded mark drawn over
    the whole image, as the benchmark does, rounded to 8 bit; the case is its ``size`` x
    ``size`` centre crop, which may hold a whole mark, part of one or none.

    Returns:
        ``marked``, ``clean``: (N, 3, size, size) float32 in [0, 1]; ``alpha``: (N, 1,
        size, size) float32; N = ``len(zooms) * len(val_images)``.

    Raises:
        ValueError: if an image (after its zoom) is smaller than ``size``.
    """
    marked, clean, alpha = [], [], []
    for k, zoom in enumerate(zooms):
        for i, img in enumerate(val_images):
            if zoom != 1:
                img = cv2.resize(img, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
            if min(img.shape[:2]) < size:
                raise ValueError(f"validation image {i} is {img.shape[1]}x{img.shape[0]} at zoom {zoom}, "
                                 f"smaller than the {size} px crop")
            m, c, a = synthesize_watermark(img, np.random.default_rng([seed, k, i]), bank)
            y, x = (m.shape[0] - size) // 2, (m.shape[1] - size) // 2
            window = lambda v: v[y:y + size, x:x + size].reshape(size, size, -1).transpose(2, 0, 1)  # noqa: E731
            marked.append(window(np.round(m * 255) / 255))
            clean.append(window(c))
            alpha.append(window(a))
    as_tensor = lambda v: torch.from_numpy(np.stack(v).astype(np.float32))  # noqa: E731
    return dict(marked=as_tensor(marked), clean=as_tensor(clean), alpha=as_tensor(alpha))


def jpeg_case(case: dict, quality: int) -> dict:
    """The validation cases of :func:`validation_set` saved as JPEG at ``quality``, the
    watermarked and the clean image alike (the alpha is unchanged): how well marks are
    found in a JPEG photo, where the mark is not the one part free of artifacts."""
    def roundtrip(t: torch.Tensor) -> torch.Tensor:
        u8 = (t.permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
        out = np.stack([jpeg_roundtrip(im, quality) for im in u8]).astype(np.float32) / 255
        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
    return dict(marked=roundtrip(case["marked"]), clean=roundtrip(case["clean"]), alpha=case["alpha"])


@torch.no_grad()
def validate(net: torch.nn.Module, case: dict, device: torch.device) -> dict[str, float]:
    """PSNR of the output and of the input, RMSE inside the true mask (fRMSE, 0-1 scale)
    of both, mask IoU, and the false-positive share (predicted mask pixels outside the
    true mask, as a share of the pixels outside it), averaged over the validation images
    (fRMSE over those with a mark)."""
    net.eval()
    psnr, psnr_in, frmse, frmse_in, iou, fp, has = [], [], [], [], [], [], []
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
        fp.append((((prob > 0.5) & ~true).flatten(1).sum(1) / (~true).flatten(1).sum(1).clamp_min(1)).cpu())
        has.append(true.flatten(1).any(1).cpu())
    net.train()
    has_mark = torch.cat(has)
    mean = lambda v: float(torch.cat(v).mean())  # noqa: E731
    marked_mean = lambda v: float(torch.cat(v)[has_mark].mean()) if has_mark.any() else float("nan")  # noqa: E731
    return dict(psnr=mean(psnr), psnr_input=mean(psnr_in), frmse=marked_mean(frmse), frmse_input=marked_mean(frmse_in),
                iou=mean(iou), false_positive=mean(fp))


def train_unwatermark(*, data: str | Path | list, logos: str | Path | list, out: str | Path, steps: int = 20000,
                      batch: int = 12, patch: int = 128, lr: float = 5e-4, width: int = 32, levels: int = 4,
                      blocks: int = 1, dec_blocks: int | None = None, w_hole: float = 1.0, w_mask: float = 1.0,
                      w_alpha: float = 1.0,
                      clean_prob: float = 0.1, canvas: float = 2.0, zoom: tuple[float, float] = (0.8, 2.0),
                      jpeg: float = 0.0, jpeg_quality: tuple[int, int] = JPEG_QUALITY,
                      hard_negatives: float = 0.0, val_zooms: tuple[float, ...] = (1.0, 1.6),
                      init: str | Path | None = None, n_val: int = 16,
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
        canvas, zoom: each crop is cut from a canvas ``canvas`` times its side, a region of
            a training image resized by a zoom drawn from the ``zoom`` range, with the mark
            drawn over the whole canvas (:func:`watermarked_crops`); ``canvas=1, zoom=(1,
            1)`` is the setting of unwatermark-s's first two runs.
        jpeg, jpeg_quality: share of crops saved as JPEG after marking, and their quality
            range (:func:`watermarked_crops`); 0 is the setting of unwatermark-s's runs 1-4.
        hard_negatives: share of crops cut around the false detections of the network as
            it starts (after ``init`` or ``resume``) on the unmarked training images
            (:func:`mine_hard_negatives`, probability above :data:`HARD_NEGATIVE_PROB`);
            0 (no mining) is the setting of unwatermark-s's runs 1-6.
        val_zooms: the held-out images are validated at each of these zooms (1.6: about a
            Kodak photo's scale against a BSDS one's).
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
        ValueError: for a canvas below 1, a zoom range that is not positive and ordered, or a
            JPEG share, quality range or hard-negative share out of bounds.
    """
    check_crop_options(canvas, zoom, jpeg, jpeg_quality, hard_negatives)  # before the data is loaded
    if not val_zooms or min(val_zooms) <= 0:
        raise ValueError(f"validation zooms must be positive, got {tuple(val_zooms)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = out.with_name(out.stem + ".ckpt.safetensors")
    dev = resolve_device(device)
    torch.manual_seed(seed)
    as_list = lambda d: [str(x) for x in d] if isinstance(d, (list, tuple)) else str(d)  # noqa: E731
    config = dict(task="unwatermark", arch="WatermarkUNet",
                  arch_kwargs=dict(channels=3, width=width, levels=levels, blocks=blocks, dec_blocks=dec_blocks),
                  steps=steps, batch=batch, patch=patch, lr=lr, w_hole=w_hole, w_mask=w_mask, w_alpha=w_alpha,
                  clean_prob=clean_prob, canvas=canvas, zoom=list(zoom), jpeg=jpeg,
                  jpeg_quality=list(jpeg_quality), hard_negatives=hard_negatives,
                  hard_negative_prob=HARD_NEGATIVE_PROB, val_zooms=list(val_zooms),
                  init=str(init) if init else None, n_val=n_val, seed=seed,
                  data=as_list(data), logos=as_list(logos),
                  loss="L1(composed) + w_hole * L1(restored inside mask) + w_mask * (BCE + Dice)(mask) + "
                       "w_alpha * BCE(alpha)")
    images, names = load_folder(data, min_side=max(patch, 256))  # 256: the validation crop
    train_images, val_images, val_names = split_train_val(images, names, n_val, seed)
    train_bank = load_watermark_bank(logos, "train")
    val_bank = load_watermark_bank(logos, "val")
    config["fonts_train"] = [n for n in train_bank.names if n.endswith(".ttf")]
    config["fonts_val"] = [n for n in val_bank.names if n.endswith(".ttf")]
    log(f"data: {len(train_images)} training images, {len(val_images)} held out; logos {len(train_bank.logos)} "
        f"train / {len(val_bank.logos)} held out; fonts {len(train_bank.fonts)} / {len(val_bank.fonts)}; device {dev}")
    case = validation_set(val_images, val_bank, seed=seed, zooms=tuple(val_zooms))
    case_jpeg = jpeg_case(case, VAL_JPEG_QUALITY)
    net = WatermarkUNet(**config["arch_kwargs"]).to(dev)
    if init is not None:
        load_init(net, init, log)
    if dev.type == "cpu":
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    start, history, elapsed_before = resume_run(ckpt, net, opt, resume, log)
    rng = np.random.default_rng([seed, start])
    log(f"model: {sum(p.numel() for p in net.parameters()) / 1e6:.2f} M parameters")
    hard = None
    if hard_negatives > 0:
        hard = mine_hard_negatives(net, train_images, dev, seed=start)
        log(f"hard negatives: {sum(len(p) > 0 for p in hard)} of {len(train_images)} unmarked training images "
            f"have pixels above probability {HARD_NEGATIVE_PROB}; {hard_negatives:.0%} of the crops are cut "
            f"around them")
    net.train()
    schedule = Schedule(opt, steps=steps, lr=lr, start=start, elapsed=elapsed_before, max_minutes=max_minutes,
                        warmup=min(200, steps // 10), val_every=val_every, log=log)
    for tick in schedule:
        marked, clean, alpha = (torch.from_numpy(a).to(dev) for a in
                                watermarked_crops(train_images, train_bank, batch, patch, rng, clean_prob,
                                                  canvas=canvas, zoom=tuple(zoom), jpeg=jpeg,
                                                  jpeg_quality=tuple(jpeg_quality), hard_negatives=hard,
                                                  hard_share=hard_negatives))
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
            val_jpeg = validate(net, case_jpeg, dev)
            history.append(dict(step=tick.step, seconds=round(tick.seconds, 1), loss=loss.item(), lr=tick.lr, **val,
                                jpeg={k: val_jpeg[k] for k in ("psnr", "psnr_input", "iou", "false_positive")}))
            log(f"step {tick.step}/{steps} {tick.seconds / 60:.1f} min loss {loss.item():.4f} lr {tick.lr:.2e} | "
                f"val PSNR {val['psnr']:.2f} (input {val['psnr_input']:.2f}) fRMSE {val['frmse']:.4f} "
                f"(input {val['frmse_input']:.4f}) IoU {val['iou']:.3f} false positives {val['false_positive']:.4f} | "
                f"JPEG q{VAL_JPEG_QUALITY}: IoU {val_jpeg['iou']:.3f} false positives {val_jpeg['false_positive']:.4f}")
            save_checkpoint(ckpt, net, opt, step=tick.step, history=history, seconds=tick.seconds)
    final = validate(net, case, dev)
    final_jpeg = validate(net, case_jpeg, dev)
    sidecar = write_result(net, out, config, step=schedule.step, seconds=schedule.seconds, device=dev,
                           validation=dict(images=val_names, crop=256, zooms=list(val_zooms), **final,
                                           jpeg=dict(quality=VAL_JPEG_QUALITY, **final_jpeg)),
                           history=history)
    log(f"wrote {out} and {out.with_suffix('.json')}; final val PSNR {final['psnr']:.2f} "
        f"fRMSE {final['frmse']:.4f} IoU {final['iou']:.3f} false positives {final['false_positive']:.4f}")
    return sidecar
