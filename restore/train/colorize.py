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
cosine learning-rate decay (:mod:`restore.train.engine`).

A model with hint inputs (``colorize-hints-s``) is trained as Zhang, Zhu, Isola et al.
(SIGGRAPH 2017) train their local-hints network: each crop gets, with probability
``hint_share``, a geometric number (parameter ``hint_p``) of ground-truth hints, square
patches of side 1-9 px holding the mean true chroma over the patch
(:func:`restore.ops.hints.reveal_hints`), and none otherwise, so the automatic mode stays.
Started from a model without hints (``--init weights/colorize-s.safetensors``), the new
hint branch (``hint_head``) starts at zero: the network starts as the automatic one, and
the branch learns at ``hint_lr_scale`` times the learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from restore.metrics import batch_psnr, colorfulness
from restore.ops.color import ab_gamut_bins, lab_to_rgb, rgb_to_lab
from restore.ops.hints import reveal_hints
from restore.train.data import center_crops, load_folder, random_crops, split_train_val
from restore.train.engine import BATCH, LR, N_VAL, STEPS, Recipe, Tick, TrainConfig, option, update
from restore.zoo.archs.unet import ColorizationUNet

#: Images whose colorfulness (Hasler & Suesstrunk, 0-255 scale) is below this are taken
#: as gray or monochrome and left out of training.
MIN_COLORFULNESS = 8.0
#: Decodings shown by the validation, (temperature, prior): Zhang et al.'s annealed mean
#: (0.38, 0), and of the posterior with the rebalancing undone, annealed and its mean.
VAL_DECODINGS = ((0.38, 0.0), (0.38, 1.0), (0.6, 1.0), (1.0, 1.0))
#: Validation of a hint model: this many ground-truth hints per crop (1-3 px patches),
#: decoded with the temperature and prior of :data:`HINT_DECODING`.
VAL_HINTS = 10
HINT_DECODING = (0.6, 0.5)


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
    if getattr(net, "hints", False):
        t, prior = HINT_DECODING
        out["h0"] = float(batch_psnr(clean, merge_chroma(L, net.decode(logits, t, prior))).mean())
        hints = reveal_hints(lab[:, 1:], [VAL_HINTS] * len(L), np.random.default_rng(1234), sizes=(1, 3))
        logits = torch.cat([net(L[i:i + 8], hints[i:i + 8]) for i in range(0, len(L), 8)])
        ab = F.interpolate(net.decode(logits, t, prior), size=L.shape[-2:], mode="bilinear", align_corners=False)
        out[f"h{VAL_HINTS}"] = float(batch_psnr(clean, lab_to_rgb(torch.cat([L, ab], 1))).mean())
        m = hints[:, 2:3] > 0
        out["hint_err"] = float((ab - hints[:, :2]).norm(dim=1, keepdim=True)[m].mean())
    net.train()
    return out


def _key(t: float, prior: float) -> str:
    return f"T{t:g}" + ("p" if prior else "")


def _fmt(val: dict) -> str:
    text = f"gray {val['gray']:.2f} | " + " | ".join(
        f"{_key(t, p)} {val[_key(t, p)]:.2f} dB cf {100 * val['cf' + _key(t, p)[1:]]:.0f}%"
        for t, p in VAL_DECODINGS)
    if "hint_err" in val:
        text += (f" || hints 0: {val['h0']:.2f} dB, {VAL_HINTS}: {val[f'h{VAL_HINTS}']:.2f} dB, "
                 f"a*b* error at hints {val['hint_err']:.1f}")
    return text


@dataclass(kw_only=True)
class ColorizeConfig(TrainConfig):
    """Options of ``restore train colorize``."""

    steps: int = option(20000, STEPS, min=1)
    batch: int = option(16, BATCH, min=1)
    patch: int = option(160, "Crop side in render-size pixels (a multiple of the network's multiple, "
                             "at most --render-size).", min=8)
    lr: float = option(5e-4, LR)
    render_size: int = option(256, "Short side the training images are resized to (the pipeline's default "
                                   "render size).", min=8)
    rebalance: float = option(0.5, "Lambda of the class rebalancing (Zhang et al. 2016); 1 = none.", min=0.0, max=1.0)
    n_val: int = option(32, N_VAL, min=1)
    hint_share: float = option(0.8, "Share of the crops given ground-truth hints (models with hint inputs).",
                               min=0.0, max=1.0)
    hint_p: float = option(0.1, "Parameter of the geometric number of hints per hinted crop (mean 1/p).",
                           min=0.001, max=1.0)
    hint_lr_scale: float = option(10.0, "Learning rate of the hint branch, as a multiple of --lr.", min=0.0)

    def check(self) -> None:
        if self.patch > self.render_size:
            raise ValueError(f"patch {self.patch} exceeds render_size {self.render_size}")


class ColorizeRecipe(Recipe):
    """Train the colorization autoencoder (L* in, a distribution over a*b* chroma bins out)."""

    task, Config = "colorize", ColorizeConfig
    config: ColorizeConfig

    def load_data(self) -> str:
        c = self.config
        multiple = 2 ** self.spec.arch_kwargs["levels"]
        if c.patch % multiple:
            raise ValueError(f"patch must be a multiple of {multiple} for {self.spec.name}, got {c.patch}")
        self.bins = ab_gamut_bins()
        images, names = load_folder(list(c.data), min_side=64)
        images, kept = color_images(images, c.render_size)
        names = [names[i] for i in kept]
        self.train_images, val_images, self.val_names = split_train_val(images, names, c.n_val, c.seed)
        self.weights, _ = rebalancing_weights(self.train_images, self.bins, lam=c.rebalance)
        self.clean_val = validation_set(val_images, min(c.render_size, 256))
        return (f"data: {len(self.train_images)} training images, {len(val_images)} held out ({len(kept)} of the "
                f"images are colorful enough); {len(self.bins)} chroma bins; rebalancing weights "
                f"{float(self.weights.min()):.2f}-{float(self.weights.max()):.2f}")

    def build(self) -> dict[str, torch.nn.Module]:
        nets = super().build()
        nets["model"].ab_bins.copy_(self.bins)
        return nets

    def adapt_init(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weights of a model without hints for one with: the hint branch at zero (the
        network starts as the automatic one)."""
        if getattr(self.net, "hints", False) and "hint_head.weight" not in state:
            state = dict(state)
            for name, p in self.net.hint_head.named_parameters():
                state[f"hint_head.{name}"] = torch.zeros_like(p)
        return state

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam; the hint branch in its own group at ``hint_lr_scale`` times the rate."""
        if not getattr(self.net, "hints", False):
            return super().optimizers()
        branch = list(self.net.hint_head.parameters())
        ids = {id(p) for p in branch}
        rest = [p for p in self.net.parameters() if id(p) not in ids]
        return {"model": torch.optim.Adam([dict(params=rest, lr_scale=1.0),
                                           dict(params=branch, lr_scale=self.config.hint_lr_scale)],
                                          lr=self.config.lr)}

    def start(self, step: int) -> None:
        self.bins, self.weights = self.bins.to(self.device), self.weights.to(self.device)
        self.net.log_weights.copy_(self.weights.log())     # deterministic from the data: set after a resume too
        self.rng = np.random.default_rng([self.config.seed, step])

    def step(self, tick: Tick) -> dict[str, torch.Tensor]:
        c = self.config
        lab = rgb_to_lab(torch.from_numpy(random_crops(self.train_images, c.batch, c.patch, self.rng,
                                                       rotate=False)).to(self.device))
        L = lab[:, :1]
        hints = None
        if self.net.hints:
            counts = [int(self.rng.geometric(c.hint_p)) if self.rng.random() < c.hint_share else 0
                      for _ in range(len(L))]
            hints = reveal_hints(lab[:, 1:], counts, self.rng)
        if self.device.type == "cpu":
            L = L.contiguous(memory_format=torch.channels_last)
        loss = rebalanced_loss(self.net(L, hints), lab[:, 1:], self.bins, self.weights)
        update(self.opt, self.net, loss)
        return {"loss": loss.detach()}

    def validate(self) -> dict[str, float]:
        return validate(self.net, self.clean_val, self.device)

    def summary(self, figures: dict[str, float]) -> str:
        return "val " + _fmt(figures)

    def validation_record(self, figures: dict[str, float]) -> dict:
        return dict(images=self.val_names, crop=self.clean_val.shape[-1], **figures)

    def record(self) -> dict:
        record = dict(min_colorfulness=MIN_COLORFULNESS,
                      loss="class-rebalanced soft-encoded cross-entropy over a*b* bins (Zhang et al. 2016)")
        if self.spec.arch_kwargs.get("hints"):
            record["hints"] = "ground-truth patches of side 1-9 px, geometric count (Zhang et al. 2017)"
        return record


#: ``restore train colorize`` as a function: keyword options are :class:`ColorizeConfig`'s fields.
train_colorize = ColorizeRecipe.run

#: The recipe :func:`restore.train.recipe` returns.
RECIPE = ColorizeRecipe
