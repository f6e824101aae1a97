"""Training of the super-resolution generator and its adversarial fine-tuning
(``restore train upscale --stage psnr|gan``).

Stage ``psnr`` trains SRResNet with an L1 loss (Ledig et al., CVPR 2017, train it with MSE;
L1 converges to a higher PSNR in practice, Lim et al. 2017). Stage ``gan`` starts from the
stage-``psnr`` weights and trains the SRGAN generator against the SRGAN discriminator
(non-saturating GAN loss, Goodfellow et al. 2014, as in the paper) with a content loss
that needs no ImageNet-pretrained network:

- ``pixel``: L1 on pixels, keeps colours and low frequencies in place;
- ``feature matching``: L1 between the discriminator's activations on the generated and the
  real image, each layer divided by the mean magnitude of the real activations (Salimans et
  al., "Improved Techniques for Training GANs", NeurIPS 2016; used as a perceptual loss in
  pix2pixHD, Wang et al., CVPR 2018). The discriminator learns the features that tell
  bicubic-like blur from real texture, which is what a VGG loss supplies in the paper;
- ``fft``: L1 between the amplitude spectra of the two images, which asks for the
  ground truth's high-frequency energy whatever its phase (Jiang et al., "Focal Frequency
  Loss", ICCV 2021, without the focal weights);
- ``vgg`` (only with ``vgg19=FILE``): the paper's VGG19 relu5_4 feature loss, from a
  safetensors file of torchvision's ``vgg19().features`` state dict the user supplies.

Low-resolution inputs are made with :func:`restore.ops.degrade.bicubic_down` (MATLAB-style
antialiased bicubic, the protocol of Set5/Set14), rounded to 8 bit as a saved file is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from restore.metrics import batch_psnr, high_frequency_ratio
from restore.ops.color import rgb_to_y
from restore.ops.degrade import bicubic_down, quantize_8bit
from restore.train.checkpoint import load_checkpoint, save_checkpoint
from restore.train.data import load_folder, split_train_val
from restore.train.loop import Schedule, load_init, resume_run, set_lr, update, write_result
from restore.zoo.archs.srresnet import SRGANDiscriminator, SRResNet
from restore.zoo.registry import resolve_device, save_weights


def make_pairs(images: list[np.ndarray], scale: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(HR, LR) uint8 pairs: each HR image cropped to a multiple of ``scale`` and its
    MATLAB-style bicubic downsampling rounded to 8 bit. Shapes (H, W, 3) and (H/s, W/s, 3)."""
    pairs = []
    for img in images:
        h, w = img.shape[0] // scale * scale, img.shape[1] // scale * scale
        hr = np.ascontiguousarray(img[:h, :w])
        x = torch.from_numpy(hr).permute(2, 0, 1)[None].float() / 255.0
        lr = quantize_8bit(bicubic_down(x, scale))[0].permute(1, 2, 0).mul(255).round().byte().numpy()
        pairs.append((hr, np.ascontiguousarray(lr)))
    return pairs


def random_pair_crops(pairs: list[tuple[np.ndarray, np.ndarray]], batch: int, lr_patch: int, scale: int,
                      rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Aligned random crops with the same flip and 90-degree rotation on both sides.

    Returns:
        ``(hr, lr)``: (batch, 3, lr_patch*scale, lr_patch*scale) and
        (batch, 3, lr_patch, lr_patch), float32 in [0, 1].
    """
    hp = lr_patch * scale
    hr_out = np.empty((batch, hp, hp, 3), np.uint8)
    lr_out = np.empty((batch, lr_patch, lr_patch, 3), np.uint8)
    for i in range(batch):
        hr, lr = pairs[rng.integers(len(pairs))]
        y = int(rng.integers(lr.shape[0] - lr_patch + 1))
        x = int(rng.integers(lr.shape[1] - lr_patch + 1))
        a = lr[y:y + lr_patch, x:x + lr_patch]
        b = hr[y * scale:(y + lr_patch) * scale, x * scale:(x + lr_patch) * scale]
        if rng.random() < 0.5:
            a, b = a[:, ::-1], b[:, ::-1]
        k = int(rng.integers(4))
        lr_out[i], hr_out[i] = np.rot90(a, k), np.rot90(b, k)
    to_t = lambda a: torch.from_numpy(a.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)  # noqa: E731
    return to_t(hr_out), to_t(lr_out)


def psnr_y(hr: torch.Tensor, sr: torch.Tensor, border: int) -> torch.Tensor:
    """Per-image PSNR (dB) on the Y channel with ``border`` pixels cropped (the SR protocol).
    ``hr``, ``sr``: (B, 3, H, W) in [0, 1]; ``sr`` is clamped and rounded to 8 bit first."""
    sr = quantize_8bit(sr)
    c = slice(border, -border) if border else slice(None)
    return batch_psnr(rgb_to_y(hr)[..., c, c], rgb_to_y(sr)[..., c, c])


@torch.no_grad()
def validate(net: nn.Module, val: dict, device: torch.device) -> dict[str, float]:
    """PSNR-Y (border = scale) and the high-frequency energy ratio of the network on the
    held-out crops."""
    net.eval()
    outs = []
    for i in range(0, val["lr"].shape[0], 8):
        x = val["lr"][i:i + 8].to(device)
        if device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        outs.append(net(x).float().cpu())
    net.train()
    sr = torch.cat(outs).clamp(0, 1)
    return dict(psnr_y=float(psnr_y(val["hr"], sr, val["scale"]).mean()),
                hf_ratio=float(high_frequency_ratio(sr, val["hr"]).mean()))


class VGG19Features(nn.Module):
    """torchvision's ``vgg19().features`` up to relu5_4, for the paper's content loss.

    Weights come only from a user's safetensors file of that state dict (keys
    ``features.N.weight``/``features.N.bias`` or ``N.weight``/``N.bias``); nothing is
    downloaded. Input (B, 3, H, W) RGB in [0, 1]; output (B, 512, H/16, W/16).

    Raises:
        FileNotFoundError: if the file does not exist.
        KeyError: if the file does not hold VGG19's 16 conv layers.
    """

    CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512]

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=False)]
                c = v
        self.features = nn.Sequential(*layers)
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"VGG19 weights file not found: {path}")
        sd = load_file(str(path))
        sd = {k[len("features."):] if k.startswith("features.") else k: v for k, v in sd.items()}
        missing = [k for k in self.features.state_dict() if k not in sd]
        if missing:
            raise KeyError(f"{path} is not a VGG19 features state dict: missing {missing[:4]}")
        self.features.load_state_dict({k: sd[k] for k in self.features.state_dict()})
        self.requires_grad_(False).eval()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features((x - self.mean) / self.std)


def feature_matching_loss(fake_feats: list[torch.Tensor], real_feats: list[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of L1(fake, real) / mean|real| (real activations detached)."""
    terms = [(f - r.detach()).abs().mean() / (r.detach().abs().mean() + 1e-6) for f, r in zip(fake_feats, real_feats)]
    return torch.stack(terms).mean()


def fft_amplitude_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """L1 between the 2-D amplitude spectra (orthonormal FFT) of ``sr`` and ``hr``."""
    return (torch.fft.rfft2(sr, norm="ortho").abs() - torch.fft.rfft2(hr, norm="ortho").abs()).abs().mean()


def train_upscale(*, data: str | Path | list, out: str | Path, stage: str = "psnr", init: str | Path | None = None,
                  scale: int = 4, width: int = 64, blocks: int = 16, edge_kernel: int = 9, bicubic_skip: bool = False,
                  d_width: int = 64, steps: int = 100000, batch: int = 16, patch: int = 24, lr: float = 2e-4,
                  d_lr: float | None = None, w_pixel: float = 1.0, w_fm: float = 1.0, w_fft: float = 0.0,
                  w_adv: float = 5e-3, w_vgg: float = 0.0, vgg19: str | Path | None = None, n_val: int = 16,
                  val_every: int = 250, seed: int = 0, device: str = "auto", resume: bool = False,
                  max_minutes: float | None = None, snapshots: bool = False,
                  log: Callable[[str], None] = print) -> dict:
    """Train an SRResNet (``stage="psnr"``) or fine-tune it as SRGAN (``stage="gan"``).

    Writes ``out`` (generator weights, safetensors) and ``out``.json (config, steps, data,
    validation PSNR-Y and high-frequency ratio on held-out crops). A checkpoint
    ``<out>.ckpt.safetensors`` (generator, Adam state; for ``gan`` also the discriminator
    as ``<out>.d.ckpt.safetensors``) is written every ``val_every`` steps and ``resume``
    continues from it. ``max_minutes`` bounds the wall-clock time for CPU runs; the cosine
    learning-rate schedule follows whichever of steps or time is further along.

    Args:
        patch: low-resolution crop side (the high-resolution crop is ``patch * scale``).
        init: generator weights to start from (required for ``stage="gan"``).
        w_pixel, w_fm, w_fft, w_adv, w_vgg: loss weights of the gan stage (module doc).
        vgg19: safetensors file of torchvision VGG19 ``features`` weights (optional).
        snapshots: also keep the generator of every validation as
            ``<out>.step<N>.safetensors``, to pick the step with the best trade-off between
            PSNR and sharpness of an adversarial run (the sidecar history has the figures).

    Raises:
        ValueError: for an unknown stage, or ``stage="gan"`` without ``init``.
        FileNotFoundError: if ``data``, ``init`` or ``vgg19`` does not exist.
    """
    if stage not in ("psnr", "gan"):
        raise ValueError(f"stage must be 'psnr' or 'gan', got {stage!r}")
    if stage == "gan" and init is None:
        raise ValueError("stage 'gan' starts from a trained SRResNet: pass init=WEIGHTS")
    if w_vgg > 0 and vgg19 is None:
        raise ValueError("w_vgg > 0 needs vgg19=FILE (torchvision VGG19 features as safetensors)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = out.with_name(out.stem + ".ckpt.safetensors")
    d_ckpt = out.with_name(out.stem + ".d.ckpt.safetensors")
    dev = resolve_device(device)
    torch.manual_seed(seed)
    arch_kwargs = dict(channels=3, width=width, blocks=blocks, scale=scale, batch_norm=False,
                       bicubic_skip=bicubic_skip, edge_kernel=edge_kernel)
    config = dict(task="upscale", stage=stage, arch="SRResNet", arch_kwargs=arch_kwargs, steps=steps, batch=batch,
                  patch=patch, lr=lr, seed=seed, n_val=n_val, init=str(init) if init else None,
                  data=[str(d) for d in data] if isinstance(data, (list, tuple)) else str(data),
                  degradation="MATLAB-style antialiased bicubic, rounded to 8 bit")
    if stage == "psnr":
        config["loss"] = "L1"
    else:
        config.update(loss="pixel L1 + D feature matching + FFT amplitude L1 + non-saturating GAN (+ VGG19)",
                      w_pixel=w_pixel, w_fm=w_fm, w_fft=w_fft, w_adv=w_adv, w_vgg=w_vgg, d_width=d_width,
                      d_lr=d_lr or lr, discriminator="SRGANDiscriminator, spectral norm")
    images, names = load_folder(data, min_side=max(patch * scale, 256))
    train_images, val_images, val_names = split_train_val(images, names, n_val, seed)
    pairs = make_pairs(train_images, scale)
    val_pairs = make_pairs([im[(im.shape[0] - 256) // 2:(im.shape[0] - 256) // 2 + 256,
                               (im.shape[1] - 256) // 2:(im.shape[1] - 256) // 2 + 256] for im in val_images], scale)
    val = dict(scale=scale, hr=torch.stack([torch.from_numpy(h).permute(2, 0, 1) for h, _ in val_pairs]).float() / 255,
               lr=torch.stack([torch.from_numpy(lo).permute(2, 0, 1) for _, lo in val_pairs]).float() / 255)
    bic = F.interpolate(val["lr"], scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)
    log(f"data: {len(pairs)} training images, {len(val_images)} held out; device {dev}; "
        f"bicubic on held-out crops: PSNR-Y {float(psnr_y(val['hr'], bic, scale).mean()):.2f} dB, "
        f"HF ratio {float(high_frequency_ratio(bic, val['hr']).mean()):.3f}")

    net = SRResNet(**arch_kwargs).to(dev)
    if init is not None:
        load_init(net, init)
    if dev.type == "cpu":
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.99))
    disc = d_opt = vgg = None
    if stage == "gan":
        disc = SRGANDiscriminator(3, d_width).to(dev)
        d_opt = torch.optim.Adam(disc.parameters(), lr=d_lr or lr, betas=(0.9, 0.99))
        if vgg19 is not None:
            vgg = VGG19Features(vgg19).to(dev)
    start, history, elapsed_before = resume_run(ckpt, net, opt, resume, log)
    if start and disc is not None and d_ckpt.exists():
        load_checkpoint(d_ckpt, disc, d_opt)
    log(f"generator: {sum(p.numel() for p in net.parameters()) / 1e6:.2f} M parameters" +
        (f"; discriminator: {sum(p.numel() for p in disc.parameters()) / 1e6:.2f} M" if disc else "") +
        f"; start: {validate(net, val, dev)}")
    rng = np.random.default_rng(seed + start)
    schedule = Schedule(opt, steps=steps, lr=lr, start=start, elapsed=elapsed_before, max_minutes=max_minutes,
                        warmup=0 if stage == "gan" else min(200, steps // 10), val_every=val_every, log=log)
    bce = nn.BCEWithLogitsLoss()
    for tick in schedule:
        hr, lo = random_pair_crops(pairs, batch, patch, scale, rng)
        hr, lo = hr.to(dev, non_blocking=True), lo.to(dev, non_blocking=True)
        if dev.type == "cpu":
            lo = lo.contiguous(memory_format=torch.channels_last)
        sr = net(lo)
        terms: dict[str, torch.Tensor] = {}
        if stage == "psnr":
            loss = terms["l1"] = (sr - hr).abs().mean()
        else:
            set_lr(d_opt, tick.lr / lr * (d_lr or lr))
            # Discriminator step: real -> 1, generated -> 0.
            d_real = disc(hr)
            d_fake = disc(sr.detach())
            d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
            update(d_opt, disc, d_loss, clip=float("inf"))
            # Generator step.
            disc.requires_grad_(False)
            logits, fake_feats = disc(sr, features=True)
            with torch.no_grad():
                _, real_feats = disc(hr, features=True)
            disc.requires_grad_(True)
            terms["pix"] = (sr - hr).abs().mean()
            terms["fm"] = feature_matching_loss(fake_feats, real_feats)
            terms["adv"] = bce(logits, torch.ones_like(logits))
            loss = w_pixel * terms["pix"] + w_fm * terms["fm"] + w_adv * terms["adv"]
            if w_fft > 0:
                terms["fft"] = fft_amplitude_loss(sr, hr)
                loss = loss + w_fft * terms["fft"]
            if vgg is not None and w_vgg > 0:
                terms["vgg"] = (vgg(sr) - vgg(hr).detach()).abs().mean()
                loss = loss + w_vgg * terms["vgg"]
            terms["d"] = d_loss
        update(opt, net, loss)
        if tick.validate:
            step = tick.step
            v = validate(net, val, dev)
            history.append(dict(step=step, seconds=round(tick.seconds, 1), lr=tick.lr,
                                **{k: round(t.item(), 5) for k, t in terms.items()}, **v))
            log(f"step {step}/{steps} {tick.seconds / 60:.1f} min lr {tick.lr:.2e} " +
                " ".join(f"{k} {t.item():.4f}" for k, t in terms.items()) +
                f" | val PSNR-Y {v['psnr_y']:.2f} HF ratio {v['hf_ratio']:.3f}")
            save_checkpoint(ckpt, net, opt, step=step, history=history, seconds=tick.seconds)
            if snapshots:
                save_weights(net, out.with_name(f"{out.stem}.step{step}.safetensors"),
                             metadata={"config": json.dumps(config), "steps_done": str(step)})
            if disc is not None:
                save_checkpoint(d_ckpt, disc, d_opt, step=step)
    final = validate(net, val, dev)
    sidecar = write_result(net, out, config, step=schedule.step, seconds=schedule.seconds, device=dev,
                           validation=dict(images=val_names, crop=256, **final), history=history)
    log(f"wrote {out} and {out.with_suffix('.json')}; final held-out PSNR-Y {final['psnr_y']:.2f} dB, "
        f"HF ratio {final['hf_ratio']:.3f}")
    return sidecar
