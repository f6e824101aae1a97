"""Noise-level-conditioned U-Net denoising autoencoder.

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


class NoiseLevelUNet(nn.Module):
    """Denoising autoencoder conditioned on a per-pixel noise-level map.

    Args:
        channels: image channels (3 for RGB; gray images are fed as 3 equal channels).
        width: channels at full resolution; level ``i`` has ``width * 2**i``.
        levels: number of resolution levels (the input side must be a multiple of
            ``2**(levels-1)``; the pipeline pads, the network never does).
        blocks: residual blocks per level in the encoder and in the bottleneck.
        dec_blocks: residual blocks per level in the decoder (defaults to ``blocks``).

    Forward:
        x: noisy images, (B, channels, H, W), float32, nominally [0, 1] (not clipped).
        sigma_map: noise level, (B, 1, H, W) or (B, 1, 1, 1), on the [0, 1] scale
            (sigma_255 / 255).

    Returns:
        Denoised images, (B, channels, H, W), float32, not clamped.
    """

    def __init__(self, channels: int = 3, width: int = 32, levels: int = 3, blocks: int = 2,
                 dec_blocks: int | None = None) -> None:
        super().__init__()
        dec_blocks = blocks if dec_blocks is None else dec_blocks
        self.channels, self.levels = channels, levels
        widths = [width * 2**i for i in range(levels)]
        self.head = nn.Conv2d(channels + 1, widths[0], 3, padding=1)
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
        self.tail = nn.Conv2d(widths[0], channels, 3, padding=1)

    @property
    def multiple_of(self) -> int:
        return 2 ** (self.levels - 1)

    def forward(self, x: torch.Tensor, sigma_map: torch.Tensor) -> torch.Tensor:
        if sigma_map.shape[-2:] != x.shape[-2:]:
            sigma_map = sigma_map.expand(x.shape[0], 1, *x.shape[-2:])
        h = self.head(torch.cat([x, sigma_map.to(x.dtype)], dim=1))
        skips = []
        for enc, down in zip(self.enc, self.down):
            h = enc(h)
            skips.append(h)
            h = down(h)
        h = self.body(h)
        for up, dec in zip(self.up, self.dec):
            h = dec(up(h) + skips.pop())
        return x - self.tail(h)
