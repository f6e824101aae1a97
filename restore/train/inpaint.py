"""Training recipe of the inpainting GAN and its encoder (``restore train inpaint``).

One run trains the three networks of :class:`restore.zoo.archs.dcgan.LatentInpainter`
together, on ``size`` x ``size`` images (``size`` from the zoo entry): whole aligned faces resized to ``size``
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

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from restore.metrics import hole_psnr
from restore.ops.degrade import box_mask, center_mask, is_held_out, stroke_mask
from restore.train.data import load_folder
from restore.train.engine import BATCH, LR, STEPS, Recipe, Tick, TrainConfig, option
from restore.zoo.archs.dcgan import LatentInpainter, sample_latent

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
    case["telea_psnr"] = float(hole_psnr(case["image"], to_t(telea), case["mask"]).mean())
    return case


@torch.no_grad()
def validate(net: LatentInpainter, case: dict, device: torch.device) -> dict[str, float]:
    """Hole PSNR of the encoder's one-shot fill, ``G(E(masked))`` pasted into the hole."""
    net.eval()
    x, m = case["image"].to(device), case["mask"].to(device)
    fill = net(x * (1 - m), m)
    out = x * (1 - m) + fill * m
    net.train()
    return dict(hole_psnr=float(hole_psnr(case["image"], out.cpu(), case["mask"]).mean()),
                telea_hole_psnr=case["telea_psnr"])


@dataclass(kw_only=True)
class InpaintConfig(TrainConfig):
    """Options of ``restore train inpaint`` (the image side comes from the model: 64 for the
    zoo's GANs)."""

    kind: str = option("patches", "faces: whole aligned faces resized to the model's size (gan-faces-64); "
                                  "patches: random crops of photos (gan-photos-64, the default model).")
    steps: int = option(20000, STEPS, min=1)
    batch: int = option(32, BATCH + " Half of the fakes are encoder reconstructions.", min=2)
    lr: float = option(2e-4, LR)
    w_rec: float = option(10.0, "Weight of the encoder reconstruction's L1 over the image.")
    w_hole: float = option(10.0, "Weight of the reconstruction's L1 inside the hole.")
    n_val: int = option(64, "Held-out images (by file name, 1 in 16) used for validation, at most.", min=1)

    def check(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")


class InpaintRecipe(Recipe):
    """Train the inpainting GAN (generator, spectral-norm discriminator, hinge loss) and its encoder.

    G, D and E are one module (:class:`LatentInpainter`), D and G+E updated in turn with one
    Adam (two parameter groups) and one learning-rate schedule."""

    task, Config = "inpaint", InpaintConfig
    config: InpaintConfig
    channels_last = False

    def load_data(self) -> str:
        c = self.config
        self.size = self.spec.arch_kwargs["size"]
        self.train_images, held, self.held_names = load_images(list(c.data), c.kind, self.size)
        self.case = validation_set(held, self.size, c.kind, n=c.n_val, seed=c.seed)
        self.held = len(held)
        return (f"data: {len(self.train_images)} training images, {len(held)} held out; Telea hole PSNR on the "
                f"validation cases {self.case['telea_psnr']:.2f} dB")

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        net: LatentInpainter = self.net
        self.gen_params = list(net.generator.parameters()) + list(net.encoder.parameters())
        self.d_params = list(net.discriminator.parameters())
        return {"model": torch.optim.Adam([{"params": self.gen_params}, {"params": self.d_params}],
                                          lr=self.config.lr, betas=(0.5, 0.999))}

    def warmup(self) -> int:
        return min(100, self.config.steps // 10)

    def start(self, step: int) -> None:
        self.rng = np.random.default_rng([self.config.seed, step])

    def step(self, tick: Tick) -> dict[str, torch.Tensor]:
        c, net, opt, dev = self.config, self.net, self.opt, self.device
        half = c.batch // 2
        x, m = (torch.from_numpy(a).to(dev) for a in sample_batch(self.train_images, c.batch, self.size, self.rng,
                                                                   c.kind))
        z = sample_latent(c.batch - half, net.latent, device=dev)
        z_enc = net.encoder(x[:half] * (1 - m[:half]), m[:half])
        fake = net.generator(torch.cat([z_enc, z]))
        # discriminator step (the generator's graph is detached)
        d_loss = F.relu(1 - net.discriminator(x)).mean() + F.relu(1 + net.discriminator(fake.detach())).mean()
        opt.zero_grad(set_to_none=True)
        d_loss.backward()
        torch.nn.utils.clip_grad_norm_(self.d_params, 1.0)
        opt.step()  # only D has gradients
        # generator + encoder step
        rec = fake[:half]
        err = (rec - x[:half]).abs()
        hole = (err * m[:half]).sum() / (3 * m[:half].sum() + 1.0)
        g_adv = -net.discriminator(fake).mean()
        g_loss = g_adv + c.w_rec * err.mean() + c.w_hole * hole
        opt.zero_grad(set_to_none=True)
        g_loss.backward()
        for p in self.d_params:
            p.grad = None
        torch.nn.utils.clip_grad_norm_(self.gen_params, 1.0)
        opt.step()  # only G and E have gradients
        return {"d_loss": d_loss.detach(), "g_adv": g_adv.detach(), "rec": err.mean().detach()}

    def validate(self) -> dict[str, float]:
        return validate(self.net, self.case, self.device)

    def summary(self, figures: dict[str, float]) -> str:
        return f"val hole PSNR {figures['hole_psnr']:.2f} dB (Telea {figures['telea_hole_psnr']:.2f})"

    def validation_record(self, figures: dict[str, float]) -> dict:
        return dict(held_out=self.held, cases=int(self.case["image"].shape[0]), **figures)

    def record(self) -> dict:
        return dict(loss="D: hinge; G+E: hinge(G(z)) + hinge(G(E(masked x))) + w_rec * L1(G(E), x) + "
                         "w_hole * L1(G(E), x inside the hole)")


#: ``restore train inpaint`` as a function: keyword options are :class:`InpaintConfig`'s fields.
train_inpaint = InpaintRecipe.run

#: The recipe :func:`restore.train.recipe` returns.
RECIPE = InpaintRecipe
