"""Training of the super-resolution generator and its adversarial fine-tuning
(``restore train upscale --stage psnr|gan``): the recipe.

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

Low-resolution inputs (``--degradation``):

- ``bicubic`` (default): :func:`restore.ops.degrade.bicubic_down_8bit` (MATLAB-style antialiased
  bicubic, the protocol of Set5/Set14), rounded to 8 bit as a saved file is; pairs made once.
- ``realesrgan`` / ``bsrgan``: the realistic degradation model
  (:func:`restore.ops.degrade.degrade`, preset :func:`restore.ops.degrade.sr_preset` of the
  model's scale: blur, resize, noise and JPEG in two stages) applied to each random HR crop,
  drawn anew every step from a generator seeded by ``(seed, step)``, so a resumed run sees
  the batches it would have seen. Degrading a 96 px HR crop costs 5-7 ms on one CPU core
  (about 0.1 s for a batch of 16, some 5 % of a CPU training step of srresnet-x4); the
  batch of the next step is made in one worker thread while the network trains. The
  validation set is the held-out images' centre crops, each degraded once with a fixed
  seed, the same in every run with the same ``seed`` and data.
"""

from __future__ import annotations

import copy
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from restore.metrics import batch_psnr, high_frequency_ratio
from restore.ops.degrade import bicubic_down_8bit, degrade, quantize_8bit, sr_preset
from restore.train.data import flip_rotate, load_folder, split_train_val
from restore.train.engine import BATCH, LR, N_VAL, STEPS, Recipe, Tick, TrainConfig, option, set_lr, update
from restore.zoo.archs.srresnet import SRGANDiscriminator

#: Side of the held-out high-resolution validation crops (pixels).
VAL_CROP = 256
STAGES = ("psnr", "gan")
#: The choices of ``--degradation``: bicubic, or an order of the realistic degradation model.
DEGRADATIONS = ("bicubic", "realesrgan", "bsrgan")
#: Added to the seed of the realistic validation set, so that it never repeats a training draw.
VAL_SEED_OFFSET = 1_000_003


def make_pairs(images: list[np.ndarray], scale: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(HR, LR) uint8 pairs: each HR image cropped to a multiple of ``scale`` and its
    MATLAB-style bicubic downsampling rounded to 8 bit. Shapes (H, W, 3) and (H/s, W/s, 3)."""
    pairs = []
    for img in images:
        h, w = img.shape[0] // scale * scale, img.shape[1] // scale * scale
        hr = np.ascontiguousarray(img[:h, :w])
        pairs.append((hr, bicubic_down_8bit(hr, scale)))
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


def degraded_crops(images: list[np.ndarray], batch: int, lr_patch: int, scale: int, config,
                   rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random HR crops (with a random flip and 90-degree rotation) and their LR versions
    by the realistic degradation model ``config`` (a :class:`restore.ops.degrade.DegradationConfig`
    of scale ``scale``).

    Args:
        images: H x W x 3 uint8 training images, each at least ``lr_patch * scale`` a side.
        batch: number of crops.
        lr_patch: LR crop side; the HR crop is ``lr_patch * scale``.
        rng: the only source of randomness (crop place, flip, and the degradation's draw).

    Returns:
        ``(hr, lr)``: (batch, 3, lr_patch*scale, lr_patch*scale) and (batch, 3, lr_patch,
        lr_patch), float32 in [0, 1]; LR on 8-bit levels, as a saved file.
    """
    hp = lr_patch * scale
    hr_out = np.empty((batch, hp, hp, 3), np.float32)
    lr_out = np.empty((batch, lr_patch, lr_patch, 3), np.float32)
    for i in range(batch):
        img = images[rng.integers(len(images))]
        y, x = int(rng.integers(img.shape[0] - hp + 1)), int(rng.integers(img.shape[1] - hp + 1))
        hr_out[i] = flip_rotate(img[y:y + hp, x:x + hp], rng).astype(np.float32) / 255.0
        lr_out[i] = degrade(hr_out[i], rng, config)
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))  # noqa: E731
    return to_t(hr_out), to_t(lr_out)


def degraded_val(crops: list[np.ndarray], config, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The realistic validation set: each HR crop (uint8, sides multiples of the scale)
    degraded once by ``config`` with the generator ``default_rng([seed + VAL_SEED_OFFSET, i])``.
    Returns ``(hr, lr)`` float32 tensors (N, 3, H, W) and (N, 3, H/s, W/s) in [0, 1]."""
    hr = [c.astype(np.float32) / 255.0 for c in crops]
    lr = [degrade(h, np.random.default_rng([seed + VAL_SEED_OFFSET, i]), config) for i, h in enumerate(hr)]
    stack = lambda a: torch.from_numpy(np.stack(a).transpose(0, 3, 1, 2).copy())  # noqa: E731
    return stack(hr), stack(lr)


@torch.no_grad()
def validate(net: nn.Module, val: dict, device: torch.device) -> dict[str, float]:
    """PSNR-Y (border = scale; the output rounded to 8 bit first, as a saved result is) and
    the high-frequency energy ratio of the network on the held-out crops."""
    net.eval()
    outs = []
    for i in range(0, val["lr"].shape[0], 8):
        x = val["lr"][i:i + 8].to(device)
        if device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last)
        outs.append(net(x).float().cpu())
    net.train()
    sr = torch.cat(outs).clamp(0, 1)
    scale = val["scale"]
    return dict(psnr_y=float(batch_psnr(val["hr"], quantize_8bit(sr), crop_border=scale, y_channel=True).mean()),
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




@dataclass(kw_only=True)
class UpscaleConfig(TrainConfig):
    """Options of ``restore train upscale``."""

    stage: str = option("psnr", "psnr: SRResNet with L1; gan: SRGAN fine-tuning from --init.")
    degradation: str = option("bicubic", "Low-resolution inputs: bicubic (MATLAB-style, as Set5/Set14), or "
                                         "realesrgan / bsrgan (the realistic degradation model of the model's "
                                         "scale, drawn anew each step).")
    steps: int = option(100000, STEPS, min=1)
    batch: int = option(16, BATCH, min=1)
    patch: int = option(24, "Low-resolution crop side (the high-resolution crop is patch * scale).", min=2)
    lr: float = option(2e-4, LR)
    d_lr: float | None = option(None, "Discriminator learning rate (gan stage; default: --lr).")
    d_width: int = option(64, "Discriminator width (gan stage).", min=1)
    w_pixel: float = option(1.0, "Weight of the pixel L1 (gan stage).")
    w_fm: float = option(1.0, "Weight of the discriminator feature matching (gan stage).")
    w_fft: float = option(0.0, "Weight of the FFT amplitude L1 (gan stage).")
    w_adv: float = option(5e-3, "Weight of the adversarial loss (gan stage).")
    w_vgg: float = option(0.0, "Weight of the VGG19 relu5_4 feature loss (gan stage; needs --vgg19).")
    vgg19: str | None = option(None, "Your torchvision VGG19 features weights as safetensors, for the paper's "
                                     "content loss.", path=True, exists=True)
    n_val: int = option(16, N_VAL, min=1)
    ema: float = option(0.0, "Decay of an exponential moving average of the generator's weights, updated every "
                             "step; validated and written instead of the raw weights (0 = off; Real-ESRGAN: 0.999).",
                        min=0.0, max=0.99999)

    def check(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be 'psnr' or 'gan', got {self.stage!r}")
        if self.degradation not in DEGRADATIONS:
            raise ValueError(f"degradation must be one of {DEGRADATIONS}, got {self.degradation!r}")
        if self.stage == "gan" and self.init is None:
            raise ValueError("stage 'gan' starts from a trained SRResNet: give its weights as init (--init)")
        if self.w_vgg > 0 and self.vgg19 is None:
            raise ValueError("w_vgg > 0 needs vgg19=FILE (torchvision VGG19 features as safetensors)")


class UpscaleRecipe(Recipe):
    """Train SRResNet (--stage psnr) or fine-tune it adversarially as SRGAN (--stage gan).

    The gan stage trains a discriminator beside the generator; both are checkpointed."""

    task, Config = "upscale", UpscaleConfig
    config: UpscaleConfig

    def load_data(self) -> str:
        c, scale = self.config, self.spec.scale
        images, names = load_folder(list(c.data), min_side=max(c.patch * scale, VAL_CROP))
        train_images, val_images, self.val_names = split_train_val(images, names, c.n_val, c.seed)
        crops = [im[(im.shape[0] - VAL_CROP) // 2:(im.shape[0] - VAL_CROP) // 2 + VAL_CROP,
                    (im.shape[1] - VAL_CROP) // 2:(im.shape[1] - VAL_CROP) // 2 + VAL_CROP] for im in val_images]
        if c.degradation == "bicubic":
            self.pairs = make_pairs(train_images, scale)
            val_pairs = make_pairs(crops, scale)
            self.val = dict(scale=scale,
                            hr=torch.stack([torch.from_numpy(h).permute(2, 0, 1) for h, _ in val_pairs]).float() / 255,
                            lr=torch.stack([torch.from_numpy(lo).permute(2, 0, 1) for _, lo in val_pairs]).float() / 255)
        else:
            self.preset = sr_preset(c.degradation, scale)
            self.images = train_images
            self.pairs = train_images
            hr, lr = degraded_val(crops, self.preset, c.seed)
            self.val = dict(scale=scale, hr=hr, lr=lr)
        bic = F.interpolate(self.val["lr"], scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)
        psnr = batch_psnr(self.val["hr"], quantize_8bit(bic), crop_border=scale, y_channel=True)
        return (f"data: {len(self.pairs)} training images, {len(val_images)} held out ({c.degradation} LR); "
                f"bicubic on held-out crops: "
                f"PSNR-Y {float(psnr.mean()):.2f} dB, HF ratio {float(high_frequency_ratio(bic, self.val['hr']).mean()):.3f}")

    def adapt_init(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weights of another scale (e.g. an x4 SRResNet to start an x2 one): the tensors
        whose names and shapes the model has are taken (head, body, the first sub-pixel
        stage, tail); the sub-pixel stages it lacks keep their fresh initialisation. Weights
        of the model's own scale pass unchanged."""
        own = self.net.state_dict()
        if state.keys() == own.keys():
            return state
        kept = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        fresh = sorted(set(own) - set(kept))
        self.log(f"init of another scale: {len(kept)} tensors taken, {len(state) - len(kept)} dropped, "
                 f"{len(fresh)} fresh ({', '.join(fresh)})")
        return {**own, **kept}

    def build(self) -> dict[str, nn.Module]:
        nets = super().build()
        if self.config.stage == "gan":
            nets["discriminator"] = SRGANDiscriminator(3, self.config.d_width)
        return nets

    @property
    def saved_net(self) -> nn.Module:
        """The EMA copy of the generator with ``--ema``, else the generator."""
        return self.nets.get("ema", self.net)

    def after_init(self) -> dict[str, nn.Module]:
        """With ``--ema``, the average of the generator's weights, starting from the ``init``
        weights (a resumed run then loads the checkpointed average over it)."""
        return {"ema": copy.deepcopy(self.net).requires_grad_(False)} if self.config.ema > 0 else {}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        c = self.config
        opts = {"model": torch.optim.Adam(self.net.parameters(), lr=c.lr, betas=(0.9, 0.99))}
        if c.stage == "gan":
            opts["discriminator"] = torch.optim.Adam(self.nets["discriminator"].parameters(), lr=c.d_lr or c.lr,
                                                     betas=(0.9, 0.99))
        return opts

    def warmup(self) -> int:
        return 0 if self.config.stage == "gan" else super().warmup()

    def start(self, step: int) -> None:
        c = self.config
        self.rng = np.random.default_rng(c.seed + step)
        self.vgg = VGG19Features(c.vgg19).to(self.device) if c.stage == "gan" and c.vgg19 is not None else None
        self.bce = nn.BCEWithLogitsLoss()
        if c.degradation != "bicubic":
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="degrade")
            self.next_batch: tuple[int, Future] | None = None

    def realistic_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The (HR, LR) batch of ``step`` with the realistic degradation (seeded by ``(seed, step)``)."""
        c = self.config
        return degraded_crops(self.images, c.batch, c.patch, self.spec.scale, self.preset,
                              np.random.default_rng([c.seed, step]))

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch of ``step``: bicubic pairs from the sampler, or the realistic batch made
        in the worker thread during the previous step (the next one is started here)."""
        c = self.config
        if c.degradation == "bicubic":
            return random_pair_crops(self.pairs, c.batch, c.patch, self.spec.scale, self.rng)
        pending = self.next_batch
        fut = pending[1] if pending is not None and pending[0] == step else self.pool.submit(self.realistic_batch, step)
        self.next_batch = (step + 1, self.pool.submit(self.realistic_batch, step + 1))
        return fut.result()

    def step(self, tick: Tick) -> dict[str, torch.Tensor]:
        c, dev = self.config, self.device
        hr, lo = self.batch(tick.step)
        hr, lo = hr.to(dev, non_blocking=True), lo.to(dev, non_blocking=True)
        if dev.type == "cpu":
            lo = lo.contiguous(memory_format=torch.channels_last)
        sr = self.net(lo)
        if c.stage == "psnr":
            loss = (sr - hr).abs().mean()
            terms = {"l1": loss}
        else:
            loss, terms = self._gan_loss(tick, sr, hr)
        update(self.opt, self.net, loss)
        if "ema" in self.nets:
            with torch.no_grad():
                torch._foreach_lerp_(list(self.nets["ema"].parameters()), list(self.net.parameters()), 1 - c.ema)
        return {k: t.detach() for k, t in terms.items()}

    def _gan_loss(self, tick: Tick, sr: torch.Tensor, hr: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """The discriminator's update, then the generator's loss and its terms."""
        c, disc, bce = self.config, self.nets["discriminator"], self.bce
        d_opt = self.opts["discriminator"]
        set_lr(d_opt, tick.lr / c.lr * (c.d_lr or c.lr))
        # Discriminator step: real -> 1, generated -> 0.
        d_real = disc(hr)
        d_fake = disc(sr.detach())
        d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
        update(d_opt, disc, d_loss, clip=float("inf"))
        # Generator loss.
        disc.requires_grad_(False)
        logits, fake_feats = disc(sr, features=True)
        with torch.no_grad():
            _, real_feats = disc(hr, features=True)
        disc.requires_grad_(True)
        terms = {"pix": (sr - hr).abs().mean(), "fm": feature_matching_loss(fake_feats, real_feats),
                 "adv": bce(logits, torch.ones_like(logits))}
        loss = c.w_pixel * terms["pix"] + c.w_fm * terms["fm"] + c.w_adv * terms["adv"]
        if c.w_fft > 0:
            terms["fft"] = fft_amplitude_loss(sr, hr)
            loss = loss + c.w_fft * terms["fft"]
        if self.vgg is not None and c.w_vgg > 0:
            terms["vgg"] = (self.vgg(sr) - self.vgg(hr).detach()).abs().mean()
            loss = loss + c.w_vgg * terms["vgg"]
        terms["d"] = d_loss
        return loss, terms

    def validate(self) -> dict[str, float]:
        return validate(self.saved_net, self.val, self.device)

    def summary(self, figures: dict[str, float]) -> str:
        return f"val PSNR-Y {figures['psnr_y']:.2f} HF ratio {figures['hf_ratio']:.3f}"

    def validation_record(self, figures: dict[str, float]) -> dict:
        return dict(images=self.val_names, crop=VAL_CROP, **figures)

    def record(self) -> dict:
        c = self.config
        facts = dict(degradation_model="MATLAB-style antialiased bicubic, rounded to 8 bit" if c.degradation == "bicubic"
                     else f"{c.degradation} degradation model x{self.spec.scale} (restore.ops.degrade.sr_preset), "
                          f"drawn per step with seed (seed, step); validation degraded with seed "
                          f"seed + {VAL_SEED_OFFSET}", loss="L1")
        if self.config.stage == "gan":
            facts.update(loss="pixel L1 + D feature matching + FFT amplitude L1 + non-saturating GAN (+ VGG19)",
                         d_lr=self.config.d_lr or self.config.lr, discriminator="SRGANDiscriminator, spectral norm")
        return facts


#: ``restore train upscale`` as a function: keyword options are :class:`UpscaleConfig`'s fields.
train_upscale = UpscaleRecipe.run

#: The recipe :func:`restore.train.recipe` returns.
RECIPE = UpscaleRecipe
