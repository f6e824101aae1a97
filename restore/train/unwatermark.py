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

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from restore.metrics import batch_psnr, frmse, mask_iou
from restore.ops.degrade import (MASK_THRESHOLD, WatermarkBank, jpeg_roundtrip, load_watermark_bank,
                                 synthesize_watermark)
from restore.ops.tiling import run_tiled
from restore.train.data import load_folder, split_train_val, zoomed_region
from restore.train.engine import (BATCH, LR, N_VAL, STEPS, Recipe, Tick, TrainConfig, folders, option,
                                   update)
from restore.zoo.archs.unet import compose, watermark_mask

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
    psnr, psnr_in, frmse_out, frmse_in, iou, fp = [], [], [], [], [], []
    for i in range(0, case["marked"].shape[0], 8):
        x = case["marked"][i:i + 8].to(device)
        clean, alpha = case["clean"][i:i + 8].to(device), case["alpha"][i:i + 8].to(device)
        out = net(x)
        prob = torch.sigmoid(out[:, 3:4])
        y = compose(x, out[:, :3], watermark_mask(prob)).clamp(0, 1)
        true = alpha > MASK_THRESHOLD
        psnr.append(batch_psnr(clean, y).cpu())
        psnr_in.append(batch_psnr(clean, x).cpu())
        frmse_out.append(frmse(clean, y, true, data_range=1.0).cpu())
        frmse_in.append(frmse(clean, x, true, data_range=1.0).cpu())
        iou.append(mask_iou(prob > 0.5, true).cpu())
        fp.append((((prob > 0.5) & ~true).flatten(1).sum(1) / (~true).flatten(1).sum(1).clamp_min(1)).cpu())
    net.train()
    mean = lambda v: float(torch.cat(v).mean())  # noqa: E731

    def marked_mean(v: list[torch.Tensor]) -> float:   # fRMSE is NaN for an image without a mark
        v = torch.cat(v)
        return float(v[~v.isnan()].mean()) if (~v.isnan()).any() else float("nan")

    return dict(psnr=mean(psnr), psnr_input=mean(psnr_in), frmse=marked_mean(frmse_out),
                frmse_input=marked_mean(frmse_in), iou=mean(iou), false_positive=mean(fp))


@dataclass(kw_only=True)
class UnwatermarkConfig(TrainConfig):
    """Options of ``restore train unwatermark``."""

    logos: tuple[str, ...] = option(help="Folder(s) of logos for synthetic watermarks; repeatable. About 1 in 5 logos "
                                         "and the DejaVu Sans Mono fonts are held out for validation.",
                                    path=True, exists=True)
    steps: int = option(20000, STEPS, min=1)
    batch: int = option(12, BATCH, min=1)
    patch: int = option(128, "Side of the training crops, in pixels (a multiple of the network's).", min=8)
    lr: float = option(5e-4, LR)
    w_hole: float = option(1.0, "Weight of the restored image's L1 inside the true mask.")
    w_mask: float = option(1.0, "Weight of the mask head's cross-entropy + Dice loss.")
    w_alpha: float = option(1.0, "Weight of the opacity head's cross-entropy.")
    clean_prob: float = option(0.1, "Share of crops left without a watermark.", min=0.0, max=1.0)
    canvas: float = option(2.0, "Marks are drawn on a canvas this many times the crop's side and the crop is cut "
                                "anywhere in it (1 = the mark inside every crop).", min=1.0)
    zoom_min: float = option(0.8, "Smallest zoom of the training images.", min=0.1)
    zoom_max: float = option(2.0, "Largest zoom of the training images (bicubic enlargement: stands in for photos "
                                  "of higher resolution).", min=0.1)
    jpeg: float = option(0.0, "Share of crops saved as JPEG (watermarked and clean alike) after the mark is drawn, "
                              "so that marks are not found by being free of JPEG artifacts.", min=0.0, max=1.0)
    jpeg_quality_min: int = option(JPEG_QUALITY[0], "Lowest JPEG quality of the crops saved as JPEG.", min=1, max=100)
    jpeg_quality_max: int = option(JPEG_QUALITY[1], "Highest JPEG quality of the crops saved as JPEG.", min=1, max=100)
    hard_negatives: float = option(0.0, "Share of crops cut around the starting network's false detections on the "
                                        "unmarked training images (hard-negative mining; most useful with --init).",
                                   min=0.0, max=1.0)
    val_zooms: tuple[float, ...] = option((1.0, 1.6), "Zoom(s) at which the held-out images are validated "
                                                      "(1.6: about a Kodak photo's scale against a BSDS one's); "
                                                      "repeatable.", name="--val-zoom")
    n_val: int = option(16, N_VAL, min=1)

    def __post_init__(self) -> None:
        self.logos = folders(self.logos)
        self.val_zooms = tuple(self.val_zooms)
        super().__post_init__()

    @property
    def zoom(self) -> tuple[float, float]:
        return (self.zoom_min, self.zoom_max)

    @property
    def jpeg_quality(self) -> tuple[int, int]:
        return (self.jpeg_quality_min, self.jpeg_quality_max)

    def check(self) -> None:
        check_crop_options(self.canvas, self.zoom, self.jpeg, self.jpeg_quality, self.hard_negatives)
        if not self.val_zooms or min(self.val_zooms) <= 0:
            raise ValueError(f"validation zooms must be positive, got {self.val_zooms}")


class UnwatermarkRecipe(Recipe):
    """Train the two-head watermark-removal autoencoder (watermarks synthesized on the fly)."""

    task, Config = "unwatermark", UnwatermarkConfig
    config: UnwatermarkConfig

    def load_data(self) -> str:
        c = self.config
        images, names = load_folder(list(c.data), min_side=max(c.patch, 256))  # 256: the validation crop
        self.train_images, val_images, self.val_names = split_train_val(images, names, c.n_val, c.seed)
        self.train_bank = load_watermark_bank(list(c.logos), "train")
        val_bank = load_watermark_bank(list(c.logos), "val")
        self.fonts = dict(fonts_train=[n for n in self.train_bank.names if n.endswith(".ttf")],
                          fonts_val=[n for n in val_bank.names if n.endswith(".ttf")])
        self.case = validation_set(val_images, val_bank, seed=c.seed, zooms=c.val_zooms)
        self.case_jpeg = jpeg_case(self.case, VAL_JPEG_QUALITY)
        return (f"data: {len(self.train_images)} training images, {len(val_images)} held out; logos "
                f"{len(self.train_bank.logos)} train / {len(val_bank.logos)} held out; fonts "
                f"{len(self.train_bank.fonts)} / {len(val_bank.fonts)}")

    def start(self, step: int) -> None:
        c = self.config
        self.rng = np.random.default_rng([c.seed, step])
        self.hard = None
        if c.hard_negatives > 0:
            self.hard = mine_hard_negatives(self.net, self.train_images, self.device, seed=step)
            self.log(f"hard negatives: {sum(len(p) > 0 for p in self.hard)} of {len(self.train_images)} unmarked "
                     f"training images have pixels above probability {HARD_NEGATIVE_PROB}; {c.hard_negatives:.0%} "
                     f"of the crops are cut around them")

    def step(self, tick: Tick) -> dict[str, torch.Tensor]:
        c, dev = self.config, self.device
        marked, clean, alpha = (torch.from_numpy(a).to(dev) for a in
                                watermarked_crops(self.train_images, self.train_bank, c.batch, c.patch, self.rng,
                                                  c.clean_prob, canvas=c.canvas, zoom=c.zoom, jpeg=c.jpeg,
                                                  jpeg_quality=c.jpeg_quality, hard_negatives=self.hard,
                                                  hard_share=c.hard_negatives))
        if dev.type == "cpu":
            marked = marked.contiguous(memory_format=torch.channels_last)
        pred = self.net(marked)
        restored, mask_logit, alpha_logit = pred[:, :3], pred[:, 3:4], pred[:, 4:5]
        prob = torch.sigmoid(mask_logit)
        y = compose(marked, restored, watermark_mask(prob))
        true = (alpha > MASK_THRESHOLD).float()
        hole = ((restored - clean).abs() * true).sum() / (3 * true.sum() + 1.0)
        dice = 1 - (2 * (prob * true).sum() + 1) / (prob.sum() + true.sum() + 1)
        loss = (y - clean).abs().mean() + c.w_hole * hole + \
            c.w_mask * (F.binary_cross_entropy_with_logits(mask_logit, true) + dice) + \
            c.w_alpha * F.binary_cross_entropy_with_logits(alpha_logit, alpha)
        update(self.opt, self.net, loss)
        return {"loss": loss.detach()}

    def validate(self) -> dict:
        return dict(validate(self.net, self.case, self.device), jpeg=validate(self.net, self.case_jpeg, self.device))

    def summary(self, v: dict) -> str:
        return (f"val PSNR {v['psnr']:.2f} (input {v['psnr_input']:.2f}) fRMSE {v['frmse']:.4f} "
                f"(input {v['frmse_input']:.4f}) IoU {v['iou']:.3f} false positives {v['false_positive']:.4f} | "
                f"JPEG q{VAL_JPEG_QUALITY}: IoU {v['jpeg']['iou']:.3f} "
                f"false positives {v['jpeg']['false_positive']:.4f}")

    def validation_record(self, figures: dict) -> dict:
        return {"images": self.val_names, "crop": 256, "zooms": list(self.config.val_zooms), **figures,
                "jpeg": dict(quality=VAL_JPEG_QUALITY, **figures["jpeg"])}

    def record(self) -> dict:
        return dict(hard_negative_prob=HARD_NEGATIVE_PROB, **self.fonts,
                    loss="L1(composed) + w_hole * L1(restored inside mask) + w_mask * (BCE + Dice)(mask) + "
                         "w_alpha * BCE(alpha)")


#: ``restore train unwatermark`` as a function: keyword options are :class:`UnwatermarkConfig`'s fields.
train_unwatermark = UnwatermarkRecipe.run

#: The recipe :func:`restore.train.recipe` returns.
RECIPE = UnwatermarkRecipe
