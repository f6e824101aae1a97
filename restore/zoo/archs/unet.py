"""U-Net autoencoders: the noise-level-conditioned denoiser, the colorizer and the two-head
watermark remover.

The noise level enters as an extra input channel holding sigma/255 at every pixel, the
idea of FFDNet (Zhang, Zuo & Zhang, "FFDNet: Toward a Fast and Flexible Solution for
CNN-Based Image Denoising", IEEE TIP 2018). The body is a small residual U-Net in the
style of DRUNet (Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser
Prior", IEEE TPAMI 2021): no normalisation layers, strided-conv downsampling,
transposed-conv upsampling, additive skips, and a global residual (the network
predicts the noise and subtracts it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResBlock(nn.Module):
    """conv3x3 - ReLU - conv3x3 plus identity; shape (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class ResUNet(nn.Module):
    """The residual U-Net body shared by the autoencoders of this file.

    Args:
        in_channels: input channels of the head conv.
        out_channels: output channels of the tail conv.
        width: channels at full resolution; level ``i`` has ``width * 2**i``.
        levels: number of resolution levels (the input side must be a multiple of
            ``2**(levels-1)``; the pipeline pads, the network never does).
        blocks: residual blocks per level in the encoder and in the bottleneck.
        dec_blocks: residual blocks per level in the decoder (defaults to ``blocks``).

    ``features(h)`` maps (B, in_channels, H, W) to the tail's (B, out_channels, H, W);
    ``features(h, extra)`` adds ``extra`` (B, width, H, W) to the head conv's output (a
    second input branch).
    """

    def __init__(self, in_channels: int, out_channels: int, width: int = 32, levels: int = 3, blocks: int = 2,
                 dec_blocks: int | None = None) -> None:
        super().__init__()
        dec_blocks = blocks if dec_blocks is None else dec_blocks
        self.levels = levels
        widths = [width * 2**i for i in range(levels)]
        self.head = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.enc = nn.ModuleList()
        self.down = nn.ModuleList()
        for i in range(levels - 1):
            self.enc.append(nn.Sequential(*[ResBlock(widths[i]) for _ in range(blocks)]))
            self.down.append(nn.Conv2d(widths[i], widths[i + 1], 2, stride=2))
        self.body = nn.Sequential(*[ResBlock(widths[-1]) for _ in range(blocks)])
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in reversed(range(levels - 1)):
            self.up.append(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2))
            self.dec.append(nn.Sequential(*[ResBlock(widths[i]) for _ in range(dec_blocks)]))
        self.tail = nn.Conv2d(widths[0], out_channels, 3, padding=1)

    @property
    def multiple_of(self) -> int:
        return 2 ** (self.levels - 1)

    def features(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        return self.tail(self.trunk(x, extra))

    def trunk(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """Everything but the tail conv: (B, in_channels, H, W) to (B, width, H, W) features."""
        h = self.head(x) if extra is None else self.head(x) + extra
        skips = []
        for enc, down in zip(self.enc, self.down):
            h = enc(h)
            skips.append(h)
            h = down(h)
        h = self.body(h)
        for up, dec in zip(self.up, self.dec):
            h = dec(up(h) + skips.pop())
        return h


class NoiseLevelUNet(ResUNet):
    """Denoising autoencoder conditioned on a per-pixel noise-level map.

    Args:
        channels: image channels (3 for RGB; gray images are fed as 3 equal channels).
        width, levels, blocks, dec_blocks: as for :class:`ResUNet`.

    Forward:
        x: noisy images, (B, channels, H, W), float32, nominally [0, 1] (not clipped).
        sigma_map: noise level, (B, 1, H, W) or (B, 1, 1, 1), on the [0, 1] scale
            (sigma_255 / 255).

    Returns:
        Denoised images, (B, channels, H, W), float32, not clamped.
    """

    def __init__(self, channels: int = 3, width: int = 32, levels: int = 3, blocks: int = 2,
                 dec_blocks: int | None = None) -> None:
        super().__init__(channels + 1, channels, width, levels, blocks, dec_blocks)
        self.channels = channels

    def forward(self, x: torch.Tensor, sigma_map: torch.Tensor) -> torch.Tensor:
        if sigma_map.shape[-2:] != x.shape[-2:]:
            sigma_map = sigma_map.expand(x.shape[0], 1, *x.shape[-2:])
        return x - self.features(torch.cat([x, sigma_map.to(x.dtype)], dim=1))


class WatermarkUNet(ResUNet):
    """Visible-watermark removal autoencoder with two heads: where the watermark is (its
    mask, and its opacity) and the clean image.

    The idea of SplitNet (Cun & Pun, "Split then Refine: Stacked Attention-guided ResUNets
    for Blind Single Image Visible Watermark Removal", AAAI 2021) and of Liu et al.'s
    WDNet (WACV 2021): one network finds where the watermark is and restores the
    pixels, and the restored image is used only where the mask says the watermark is,
    :func:`compose`. Here one residual U-Net carries both heads (the tail has
    ``channels + 2`` outputs), CPU-sized.

    Args:
        channels: image channels (3; gray images are fed as 3 equal channels).
        width, levels, blocks, dec_blocks: as for :class:`ResUNet`.

    Forward:
        x: watermarked images, (B, channels, H, W), float32 in [0, 1].

    Returns:
        (B, channels + 2, H, W) float32: the restored image (``[:, :channels]``, not
        clamped), the logit of the watermark mask (``[:, channels]``: the probability that
        the pixel is watermarked, alpha > ``MASK_THRESHOLD``) and the logit of the
        watermark's opacity (alpha, ``[:, channels + 1]``).
    """

    def __init__(self, channels: int = 3, width: int = 32, levels: int = 4, blocks: int = 1,
                 dec_blocks: int | None = None) -> None:
        super().__init__(channels, channels + 2, width, levels, blocks, dec_blocks)
        self.channels = channels
        with torch.no_grad():  # start from "no watermark": mask and alpha near 0.1
            self.tail.bias[channels:].fill_(-2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.features(x)
        return torch.cat([x - t[:, :self.channels], t[:, self.channels:]], dim=1)


#: Default ramp (low, high) of :func:`watermark_mask`, symmetric about 0.5.
MASK_RAMP = (0.25, 0.75)


def watermark_mask(prob: torch.Tensor, ramp: tuple[float, float] = MASK_RAMP) -> torch.Tensor:
    """Soft composition mask from the predicted mask probability.

    0 where ``prob < low`` (the pixel is kept exactly), 1 where ``prob > high``, linear
    between; with the default ramp (0.25, 0.75), ``mask > 0.5`` is ``prob > 0.5``.

    Args:
        prob: (B, 1, H, W) float in [0, 1], the sigmoid of the mask logit.
        ramp: ``(low, high)`` with ``0 <= low < high <= 1``.

    Returns:
        (B, 1, H, W) float mask in [0, 1].

    Raises:
        ValueError: for a ramp that is not ordered within [0, 1].
    """
    low, high = ramp
    if not 0 <= low < high <= 1:
        raise ValueError(f"mask ramp must satisfy 0 <= low < high <= 1, got {tuple(ramp)}")
    return ((prob - low) / (high - low)).clamp(0, 1)


def compose(x: torch.Tensor, restored: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``mask * restored + (1 - mask) * x``: pixels with mask 0 are returned unchanged.

    Args:
        x: input images, (B, C, H, W).
        restored: the network's restored images, (B, C, H, W).
        mask: (B, 1, H, W) in [0, 1], from :func:`watermark_mask`.
    """
    return torch.where(mask > 0, mask * restored + (1 - mask) * x, x)


class ColorizationUNet(ResUNet):
    """Colorization autoencoder: lightness L* in, a probability distribution over
    quantized a*b* chroma bins out, per pixel at half the input resolution.

    Colorization as classification with class rebalancing (Zhang, Isola & Efros,
    "Colorful Image Colorization", ECCV 2016): the chroma of a pixel is multimodal
    (a shirt may be red or blue), and the mean that an L1/L2 regression predicts is a
    desaturated sepia; a distribution over bins keeps the modes, and
    :meth:`decode` picks a point between mean and mode with the annealed-mean
    temperature. The body is the residual U-Net of this file; L* enters by a 2x2
    pixel-unshuffle (4 channels at half resolution, so the network runs at a quarter of
    the pixels; chroma is smooth), and a 1x1 conv maps the features to the bin logits.

    With ``hints=True`` the network also takes the user's sparse color hints (Zhang, Zhu,
    Isola et al., "Real-Time User-Guided Image Colorization with Learned Deep Priors",
    SIGGRAPH 2017): a*, b* of the hinted pixels and a mask of where hints are, pixel-
    unshuffled like L* (12 channels); no hint (an all-zero mask) is the
    automatic mode. They enter by their own 3x3 conv (``hint_head``), added to the head
    conv's features, so a network without hints grows one by adding that conv at zero.

    Args:
        width, levels, blocks, dec_blocks: as for :class:`ResUNet`.
        hints: take local hints as a second input.
        bins: number of chroma bins Q. The bin centers are the buffer ``ab_bins``
            (Q, 2) (a*, b*) and the log of the class-rebalancing weights the network was
            trained with the buffer ``log_weights`` (Q,); training fills both
            (:func:`restore.ops.color.ab_gamut_bins`,
            :func:`restore.train.colorize.rebalancing_weights`) and they are saved with
            the weights.

    Forward:
        L: (B, 1, H, W) float32 lightness L* in [0, 100]; H and W multiples of
            ``multiple_of`` (= 2 ** levels).
        hints: (B, 3, H, W) float32 or None (only with ``hints=True``; None is no hint):
            channels a*, b* (CIE Lab units, about -110 to 110; 0 where there is no hint)
            and the mask (1 where a hint is given, else 0).

    Returns:
        (B, Q, H/2, W/2) float32 logits of the chroma bins.

    Raises:
        ValueError: for hints given to a network built without ``hints``.
    """

    #: Scale of a*, b* in the hint channels (hints enter as a*/HINT_SCALE).
    HINT_SCALE = 100.0

    def __init__(self, width: int = 32, levels: int = 5, blocks: int = 1, dec_blocks: int | None = None,
                 bins: int = 270, hints: bool = False) -> None:
        super().__init__(4, bins, width, levels, blocks, dec_blocks)
        self.hints = hints
        if hints:
            self.hint_head = nn.Conv2d(12, width, 3, padding=1)
        self.tail = nn.Conv2d(width, bins, 1)
        self.register_buffer("ab_bins", torch.zeros(bins, 2))
        self.register_buffer("log_weights", torch.zeros(bins))

    @property
    def multiple_of(self) -> int:
        return 2 ** self.levels

    def forward(self, L: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        return self.tail(self.bin_features(L, hints))

    def bin_features(self, L: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        """The features the 1x1 ``tail`` maps to the bin logits: (B, width, H/2, W/2), for
        the inputs of :meth:`forward` (``forward = tail(bin_features)``). The tail being
        linear and per pixel, the mean of two views' logits is the tail of the mean of
        their features (what the colorize pipeline's mirrored pass uses: 270 bins to
        average become ``width`` channels).

        Raises:
            ValueError: as :meth:`forward`.
        """
        x = F.pixel_unshuffle(L / 50.0 - 1.0, 2)
        if self.hints:
            if hints is None:
                hints = L.new_zeros(L.shape[0], 3, *L.shape[-2:])
            h = torch.cat([hints[:, :2] / self.HINT_SCALE, hints[:, 2:3]], 1).to(L.dtype)
            return self.trunk(x, self.hint_head(F.pixel_unshuffle(h, 2)))
        if hints is not None:
            raise ValueError("this colorization network takes no hints (built with hints=False)")
        return self.trunk(x)

    def decode(self, logits: torch.Tensor, temperature: float = 0.38, prior: float = 0.0) -> torch.Tensor:
        """Annealed mean of the predicted distribution (Zhang et al. 2016, eq. 5).

        A network trained with class rebalancing predicts the chroma distribution
        multiplied by the rebalancing weights (rare, saturated colors boosted);
        ``prior=1`` divides them out again (logits - log w), giving the plain posterior,
        whose mean (``temperature=1``) is the least-squares estimate of the chroma.

        Args:
            logits: (B, Q, h, w) from :meth:`forward`.
            temperature: 1 gives the distribution's mean (what an L2 regression
                estimates: safe, desaturated); towards 0, its mode (vivid, riskier).
                Zhang et al. use 0.38.
            prior: how much of the rebalancing to undo, 0 (none, Zhang et al.) to 1.

        Returns:
            (B, 2, h, w) float32 a*, b*.

        Raises:
            ValueError: if ``temperature`` is not positive.
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        # bins last, (B, h, w, Q): a view of channels-last logits, on which the softmax over
        # the bins and the product with the bin centres run several times faster than over dim 1
        z = logits.float().permute(0, 2, 3, 1)
        z = (z - prior * self.log_weights.float()) / temperature
        ab = torch.softmax(z, dim=-1) @ self.ab_bins.float()
        return ab.permute(0, 3, 1, 2).contiguous()
