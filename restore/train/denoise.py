"""Training recipe of the noise-level-conditioned denoising autoencoder (``restore train denoise``).

Clean images are cropped at random (flips, 90-degree rotations), AWGN with a sigma drawn
uniformly from [0, sigma_max] (0-255 scale) is added on the fly, a fraction of the crops are
made gray (the same gray value and the same noise in all three channels, which is how the
pipeline feeds gray images), and a fraction are clipped and rounded to 8 bit as a noisy
file on disk would be. Loss: L1. Optimiser: Adam with a cosine learning-rate decay
(:mod:`restore.train.engine`).

A blind model (``spec.settings.blind``, e.g. dae-real-s) is trained instead on the
real-photo degradation model (:data:`restore.ops.degrade.REAL_PHOTO`: camera, Gaussian and
Poisson noise, JPEG at quality 10-95, some crops left clean) with its noise map held at 0,
and validated on JPEG q20 and q40, on a fixed draw of that model and on clean crops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from restore.metrics import batch_psnr
from restore.ops.color import gray_to_rgb, rgb_to_gray
from restore.ops.degrade import REAL_PHOTO, add_awgn, degrade, jpeg_roundtrip, quantize_8bit
from restore.train.data import center_crops, load_folder, random_crops, split_train_val
from restore.train.engine import BATCH, LR, N_VAL, PATCH, STEPS, Recipe, Tick, TrainConfig, option, update

#: Side of the validation crops (pixels); images smaller than this are not used.
VAL_CROP = 256
#: What ``degradation`` may be: AWGN with a known sigma, or the real-photo model (blind).
DEGRADATIONS = ("auto", "awgn", "real-photo")


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


def validation_set(val_images: list[np.ndarray], size: int = VAL_CROP, seed: int = 0) -> list[dict]:
    """Fixed validation cases: color sigma 25, gray sigma 25, color sigma 50 (unclipped)."""
    clean = torch.from_numpy(center_crops(val_images, size))
    g = torch.Generator().manual_seed(seed)
    cases = []
    for name, sigma, gray in (("color25", 25.0, False), ("gray25", 25.0, True), ("color50", 50.0, False)):
        b = clean.shape[0]
        c, n = synthesize(clean, torch.full((b,), sigma), torch.full((b,), gray), torch.zeros(b, dtype=torch.bool), g)
        cases.append(dict(name=name, sigma=sigma, clean=c, noisy=n))
    return cases


def degrade_real(clean: torch.Tensor, gray: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Degrade each crop with a random draw of :data:`restore.ops.degrade.REAL_PHOTO`.

    Args:
        clean: (B, 3, H, W) float32 in [0, 1] (gray crops have equal channels).
        gray: (B,) bool: these come back gray (the degraded image's luminance in all
            three channels), as a scanned or black-and-white JPEG is.
        rng: numpy random generator.

    Returns:
        (B, 3, H, W) float32 in [0, 1], on 8-bit levels.
    """
    out = np.empty_like(clean.numpy())
    for i, img in enumerate(clean.permute(0, 2, 3, 1).numpy()):
        out[i] = degrade(img, rng, REAL_PHOTO).transpose(2, 0, 1)
    noisy = torch.from_numpy(out)
    return torch.where(gray.view(-1, 1, 1, 1), gray_to_rgb(rgb_to_gray(noisy)), noisy)


def real_validation_set(val_images: list[np.ndarray], size: int = VAL_CROP, seed: int = 0) -> list[dict]:
    """Fixed validation cases of a blind model: JPEG q20 and q40 (OpenCV's encoder, 4:2:0),
    one seeded draw of the real-photo model, and the clean crops themselves."""
    clean = torch.from_numpy(center_crops(val_images, size))
    u8 = np.round(clean.permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)
    cases = []
    for q in (20, 40):
        jpeg = np.stack([jpeg_roundtrip(np.ascontiguousarray(im), q) for im in u8]).astype(np.float32) / 255
        cases.append(dict(name=f"jpeg{q}", sigma=0.0, clean=clean, noisy=torch.from_numpy(jpeg).permute(0, 3, 1, 2)))
    real = degrade_real(clean, torch.zeros(clean.shape[0], dtype=torch.bool), np.random.default_rng(seed))
    cases.append(dict(name="real", sigma=0.0, clean=clean, noisy=real))
    cases.append(dict(name="clean", sigma=0.0, clean=clean, noisy=clean.clone()))
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


@dataclass(kw_only=True)
class DenoiseConfig(TrainConfig):
    """Options of ``restore train denoise`` (defaults: dae-s's run)."""

    steps: int = option(5000, STEPS, min=1)
    batch: int = option(16, BATCH, min=1)
    patch: int = option(96, PATCH, min=8)
    lr: float = option(8e-4, LR)
    sigma_max: float = option(75.0, "Largest noise sigma drawn (0-255 scale).", min=0.0)
    gray_prob: float = option(0.25, "Share of crops made gray.", min=0.0, max=1.0)
    quantize_prob: float = option(0.5, "Share of noisy crops clipped and rounded to 8 bit.", min=0.0, max=1.0)
    degradation: str = option("auto", "awgn (a noise level the model is told), real-photo (the real-photo "
                                      "degradation model, noise map 0: a blind model), or auto (real-photo for "
                                      "a blind zoo model, else awgn).")
    n_val: int = option(16, N_VAL, min=1)

    def check(self) -> None:
        if self.degradation not in DEGRADATIONS:
            raise ValueError(f"degradation must be one of {', '.join(DEGRADATIONS)}, got {self.degradation!r}")


class DenoiseRecipe(Recipe):
    """Train the noise-level-conditioned denoising autoencoder (AWGN synthesized on the fly)."""

    task, Config = "denoise", DenoiseConfig
    config: DenoiseConfig

    def load_data(self) -> str:
        c = self.config
        blind = self.spec.settings.blind
        self.real = blind if c.degradation == "auto" else c.degradation == "real-photo"
        if self.real != blind:
            raise ValueError(f"{self.spec.name} is {'a blind' if blind else 'not a blind'} model: train it with "
                             f"--degradation {'real-photo' if blind else 'awgn'} (or auto)")
        images, names = load_folder(list(c.data), min_side=max(c.patch, VAL_CROP))
        self.train_images, val_images, self.val_names = split_train_val(images, names, c.n_val, c.seed)
        self.cases = (real_validation_set if self.real else validation_set)(val_images, seed=c.seed)
        return (f"data: {len(self.train_images)} training images, {len(val_images)} held out for validation; "
                "noisy input PSNR " + ", ".join(f"{k['name']} {float(batch_psnr(k['clean'], k['noisy']).mean()):.2f}"
                                                for k in self.cases))

    def start(self, step: int) -> None:
        self.rng = np.random.default_rng(self.config.seed + step)
        self.gen = torch.Generator().manual_seed(self.config.seed + step)

    def step(self, tick: Tick) -> dict[str, torch.Tensor]:
        c, dev = self.config, self.device
        clean = torch.from_numpy(random_crops(self.train_images, c.batch, c.patch, self.rng))
        sigma = torch.rand(c.batch, generator=self.gen) * c.sigma_max
        gray = torch.rand(c.batch, generator=self.gen) < c.gray_prob
        quant = torch.rand(c.batch, generator=self.gen) < c.quantize_prob
        if self.real:
            sigma = torch.zeros(c.batch)
            clean = torch.where(gray.view(-1, 1, 1, 1), gray_to_rgb(rgb_to_gray(clean)), clean)
            noisy = degrade_real(clean, gray, self.rng)
        else:
            clean, noisy = synthesize(clean, sigma, gray, quant, self.gen)
        clean, noisy = clean.to(dev, non_blocking=True), noisy.to(dev, non_blocking=True)
        if dev.type == "cpu":
            noisy = noisy.contiguous(memory_format=torch.channels_last)
        smap = (sigma / 255.0).view(-1, 1, 1, 1).to(dev)
        loss = (self.net(noisy, smap) - clean).abs().mean()
        update(self.opt, self.net, loss)
        return {"loss": loss.detach()}

    def validate(self) -> dict[str, float]:
        return validate(self.net, self.cases, self.device)

    def summary(self, figures: dict[str, float]) -> str:
        return "val PSNR " + " ".join(f"{k} {v:.2f}" for k, v in figures.items())

    def validation_record(self, figures: dict[str, float]) -> dict:
        return dict(images=self.val_names, crop=VAL_CROP, psnr=figures)

    def record(self) -> dict:
        return dict(loss="L1", degradation="real-photo (restore.ops.degrade.REAL_PHOTO)" if self.real else
                    "AWGN sigma 0-sigma_max")


#: ``restore train denoise`` as a function: keyword options are :class:`DenoiseConfig`'s fields.
train_denoise = DenoiseRecipe.run

#: The recipe :func:`restore.train.recipe` returns.
RECIPE = DenoiseRecipe
