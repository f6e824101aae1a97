"""Training of the inpainting GAN and its encoder (``restore train gan``).

One run trains the three networks of :class:`restore.zoo.archs.dcgan.LatentInpainter`
together, on ``size`` x ``size`` images: whole aligned faces resized to ``size``
(``kind="faces"``) or random crops of natural photos (``kind="patches"``).

Each step draws a batch of real images and random hole masks (centered and jittered
rectangles, boxes, free-form strokes: :mod:`restore.ops.degrade`). Half of the fakes come
from random latents on the prior's sphere, half from the encoder's latents of the masked
real images, ``G(E(x * (1 - M), M))``:

- D: hinge loss, real batch against both kinds of fakes (spectral norm on every layer);
- G and E: the generator's hinge loss on both kinds of fakes, plus ``w_rec`` times the L1
  distance between ``G(E(...))`` and the real image over the whole image, plus ``w_hole``
  times that L1 inside the hole alone (normalised by the hole's area).

The reconstruction terms are our addition to Yeh et al. (CVPR 2017), where G is a plain
GAN and the latent search starts from random z: they train the encoder that starts the
search near the answer, and they pull G's range over the training faces, so that the
latent search can match the known pixels; the adversarial terms keep G's samples and
reconstructions sharp.

Adam (beta1 0.5) on all three networks with one cosine learning-rate schedule.
Validation: held-out images (:func:`restore.ops.degrade.is_held_out` with ``kind="image"``)
with a centered 25% hole (faces) or 5% thin strokes (patches): PSNR inside the hole of the
encoder's fill pasted into the hole, beside OpenCV Telea's on the same cases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from restore.ops.degrade import box_mask, center_mask, is_held_out, stroke_mask
from restore.train.checkpoint import save_checkpoint
from restore.train.data import load_folder
from restore.train.loop import Schedule, resume_run, write_result
from restore.zoo.archs.dcgan import LatentInpainter, sample_latent
from restore.zoo.registry import resolve_device

KINDS = ("faces", "patches")


def load_images(data: str | Path | list, kind: str, size: int) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Read the training images and split off the held-out ones by file name.

    ``faces``: every image resized to ``size`` x ``size`` (area interpolation);
    ``patches``: images kept whole (smaller than ``size`` on a side: skipped).

    Returns:
        ``(train, held_out, held_out_names)``: lists of H x W x 3 uint8 RGB arrays.

    Raises:
        FileNotFoundError: no usable image under ``data``.
        ValueError: unknown ``kind``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    folders = data if isinstance(data, (list, tuple)) else [data]
    train, held, held_names = [], [], []
    for folder in folders:
        images, names = load_folder(folder, min_side=1 if kind == "faces" else size)
        for img, name in zip(images, names):
            if kind == "faces":
                img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
            if is_held_out(Path(name).name, "image"):
                held.append(img)
                held_names.append(f"{Path(folder).name}/{name}")
            else:
                train.append(img)
    if not train or not held:
        raise FileNotFoundError(f"no usable images (or none held out) under {folders}")
    return train, held, held_names


def random_hole(size: int, rng: np.random.Generator, kind: str) -> np.ndarray:
    """One training mask (size x size float32, 1 = missing): for faces mostly centered,
    jittered rectangles of 10-40% of the area; for patches mostly thin strokes; both also
    get random boxes and thicker strokes."""
    r = rng.random()
    center_share, stroke_share = (0.5, 0.25) if kind == "faces" else (0.2, 0.55)
    if r < center_share:
        area = rng.uniform(0.1, 0.4)
        aspect = rng.uniform(0.7, 1.4)
        h = int(np.clip(round(size * (area * aspect) ** 0.5), 4, size - 4))
        w = int(np.clip(round(size * (area / aspect) ** 0.5), 4, size - 4))
        jitter = size // 8
        y = int(np.clip((size - h) // 2 + rng.integers(-jitter, jitter + 1), 0, size - h))
        x = int(np.clip((size - w) // 2 + rng.integers(-jitter, jitter + 1), 0, size - w))
        m = np.zeros((size, size), np.float32)
        m[y:y + h, x:x + w] = 1
        return m
    if r < center_share + stroke_share:
        thin = kind == "patches" and rng.random() < 0.7
        thickness = (2 / size, 8 / size) if thin else (4 / size, 12 / size)
        return stroke_mask(size, size, rng, coverage=rng.uniform(0.03, 0.3), thickness=thickness)
    return box_mask(size, size, rng, boxes=(1, 3), side=(0.1, 0.5))


def sample_batch(images: list[np.ndarray], batch: int, size: int, rng: np.random.Generator,
                 kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Random crops (patches) or whole images (faces), random left-right flips, with
    random holes. Returns ``(images, masks)``: (batch, 3, size, size) float32 in [0, 1]
    and (batch, 1, size, size) float32, 1 = missing."""
    out = np.empty((batch, size, size, 3), np.uint8)
    masks = np.empty((batch, 1, size, size), np.float32)
    for i in range(batch):
        img = images[rng.integers(len(images))]
        y, x = rng.integers(img.shape[0] - size + 1), rng.integers(img.shape[1] - size + 1)
        crop = img[y:y + size, x:x + size]
        out[i] = crop[:, ::-1] if rng.random() < 0.5 else crop
        masks[i, 0] = random_hole(size, rng, kind)
    return out.transpose(0, 3, 1, 2).astype(np.float32) / 255.0, masks


def validation_set(held: list[np.ndarray], size: int, kind: str, n: int = 64, seed: int = 0) -> dict:
    """Fixed validation cases from the held-out images: faces with the centered 25% hole,
    patches (center crops) with 5% thin strokes; plus OpenCV Telea's hole PSNR on them."""
    rng = np.random.default_rng(seed)
    x = np.stack([img[(img.shape[0] - size) // 2:][:size, (img.shape[1] - size) // 2:][:, :size]
                  for img in held[:n]])
    m = np.stack([center_mask(size, size) if kind == "faces" else
                  stroke_mask(size, size, rng, coverage=0.05, thickness=(3 / size, 6 / size)) for _ in x])
    telea = np.stack([cv2.inpaint(xi, (mi * 255).astype(np.uint8), 3, cv2.INPAINT_TELEA) for xi, mi in zip(x, m)])
    to_t = lambda a: torch.from_numpy(a.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)  # noqa: E731
    case = dict(image=to_t(x), mask=torch.from_numpy(m[:, None]))
    case["telea_psnr"] = hole_psnr(to_t(telea), case["image"], case["mask"])
    return case


def hole_psnr(x: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean over the batch of the PSNR (dB) inside the hole; B x C x H x W in [0, 1]."""
    se = ((x - ref) ** 2 * mask).flatten(1).sum(1) / (mask.flatten(1).sum(1) * x.shape[1]).clamp_min(1)
    return float((-10 * torch.log10(se.clamp_min(1e-10))).mean())


@torch.no_grad()
def validate(net: LatentInpainter, case: dict, device: torch.device) -> dict[str, float]:
    """Hole PSNR of the encoder's one-shot fill, ``G(E(masked))`` pasted into the hole."""
    net.eval()
    x, m = case["image"].to(device), case["mask"].to(device)
    fill = net(x * (1 - m), m)
    out = x * (1 - m) + fill * m
    net.train()
    return dict(hole_psnr=hole_psnr(out.cpu(), case["image"], case["mask"]), telea_hole_psnr=case["telea_psnr"])


def train_gan(*, data: str | Path | list, out: str | Path, kind: str = "faces", size: int = 64, steps: int = 20000,
              batch: int = 32, lr: float = 2e-4, latent: int = 128, width: int = 32, d_width: int = 32,
              e_width: int = 32, w_rec: float = 10.0, w_hole: float = 10.0, val_every: int = 250, seed: int = 0,
              device: str = "auto", resume: bool = False, max_minutes: float | None = None,
              log: Callable[[str], None] = print) -> dict:
    """Train a :class:`LatentInpainter` (G, D and E) and write ``out`` (safetensors) plus
    ``out``.json.

    Args:
        data: folder(s) of training images (faces: aligned faces; patches: photos).
        out: weights file; ``<out>.ckpt.safetensors`` is the checkpoint written every
            ``val_every`` steps, which ``resume=True`` continues from.
        kind: ``faces`` (whole images resized to ``size``) or ``patches`` (random crops).
        size: image / window side, 4 * 2**k.
        batch: real images per step (half of the fakes are encoder reconstructions).
        w_rec, w_hole: weights of the reconstruction L1 over the image and inside the hole.
        max_minutes: wall-clock budget for CPU runs (the cosine schedule then follows
            whichever of steps or time is further along).

    Returns:
        The sidecar dict.

    Raises:
        FileNotFoundError: no usable image under ``data``.
        ValueError: unknown ``kind`` or a ``size`` that is not 4 * 2**k.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = out.with_name(out.stem + ".ckpt.safetensors")
    dev = resolve_device(device)
    torch.manual_seed(seed)
    config = dict(task="inpaint", arch="LatentInpainter",
                  arch_kwargs=dict(latent=latent, width=width, d_width=d_width, e_width=e_width, size=size),
                  kind=kind, steps=steps, batch=batch, lr=lr, w_rec=w_rec, w_hole=w_hole, seed=seed,
                  data=[str(d) for d in data] if isinstance(data, (list, tuple)) else str(data),
                  loss="D: hinge; G+E: hinge(G(z)) + hinge(G(E(masked x))) + w_rec * L1(G(E), x) + "
                       "w_hole * L1(G(E), x inside the hole)")
    net = LatentInpainter(**config["arch_kwargs"]).to(dev)
    train_images, held, held_names = load_images(data, kind, size)
    log(f"data: {len(train_images)} training images, {len(held)} held out; device {dev}")
    case = validation_set(held, size, kind, seed=seed)
    gen_params = list(net.generator.parameters()) + list(net.encoder.parameters())
    d_params = list(net.discriminator.parameters())
    opt = torch.optim.Adam([{"params": gen_params}, {"params": d_params}], lr=lr, betas=(0.5, 0.999))
    start, history, elapsed_before = resume_run(ckpt, net, opt, resume, log)
    rng = np.random.default_rng([seed, start])
    log(f"model: G {sum(p.numel() for p in net.generator.parameters()) / 1e6:.2f} M, "
        f"D {sum(p.numel() for p in d_params) / 1e6:.2f} M, E {sum(p.numel() for p in net.encoder.parameters()) / 1e6:.2f} M "
        f"parameters; Telea hole PSNR on the validation cases {case['telea_psnr']:.2f} dB")
    net.train()
    half = batch // 2
    schedule = Schedule(opt, steps=steps, lr=lr, start=start, elapsed=elapsed_before, max_minutes=max_minutes,
                        warmup=min(100, steps // 10), val_every=val_every, log=log)
    for tick in schedule:
        x, m = (torch.from_numpy(a).to(dev) for a in sample_batch(train_images, batch, size, rng, kind))
        z = sample_latent(batch - half, latent, device=dev)
        z_enc = net.encoder(x[:half] * (1 - m[:half]), m[:half])
        fake = net.generator(torch.cat([z_enc, z]))
        # discriminator step (the generator's graph is detached)
        d_loss = F.relu(1 - net.discriminator(x)).mean() + F.relu(1 + net.discriminator(fake.detach())).mean()
        opt.zero_grad(set_to_none=True)
        d_loss.backward()
        torch.nn.utils.clip_grad_norm_(d_params, 1.0)
        opt.step()  # only D has gradients
        # generator + encoder step
        rec = fake[:half]
        err = (rec - x[:half]).abs()
        hole = (err * m[:half]).sum() / (3 * m[:half].sum() + 1.0)
        g_adv = -net.discriminator(fake).mean()
        g_loss = g_adv + w_rec * err.mean() + w_hole * hole
        opt.zero_grad(set_to_none=True)
        g_loss.backward()
        for p in d_params:
            p.grad = None
        torch.nn.utils.clip_grad_norm_(gen_params, 1.0)
        opt.step()  # only G and E have gradients
        if tick.validate:
            val = validate(net, case, dev)
            history.append(dict(step=tick.step, seconds=round(tick.seconds, 1), d_loss=d_loss.item(),
                                g_adv=g_adv.item(), rec=err.mean().item(), lr=tick.lr, **val))
            log(f"step {tick.step}/{steps} {tick.seconds / 60:.1f} min D {d_loss.item():.3f} G adv {g_adv.item():.3f} "
                f"rec L1 {err.mean().item():.4f} lr {tick.lr:.2e} | val hole PSNR {val['hole_psnr']:.2f} dB "
                f"(Telea {val['telea_hole_psnr']:.2f})")
            save_checkpoint(ckpt, net, opt, step=tick.step, history=history, seconds=tick.seconds)
    final = validate(net, case, dev)
    sidecar = write_result(net, out, config, step=schedule.step, seconds=schedule.seconds, device=dev,
                           validation=dict(held_out=len(held), cases=int(case["image"].shape[0]), **final),
                           history=history)
    log(f"wrote {out} and {out.with_suffix('.json')}; final val hole PSNR {final['hole_psnr']:.2f} dB "
        f"(Telea {final['telea_hole_psnr']:.2f})")
    return sidecar
