"""SRResNet generator and SRGAN discriminator.

Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial
Network", CVPR 2017. Departures from the paper, all of them switchable:

- No batch normalisation in the generator (``batch_norm=False`` by default): Lim et al.
  (EDSR, CVPRW 2017) showed it costs PSNR in SR, and without it a tiled run is exactly a
  function of its input tile.
- ``bicubic_skip=True`` adds the bicubic upsampling of the input to the output, so the
  network learns the residual detail only (as in VDSR); a small network trained for a short
  time on a CPU converges much faster that way.
- The discriminator ends with a global average pool before its dense layers, so it takes
  any patch size (the paper flattens a fixed 6x6 map of a 96x96 crop).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _ResidualBlock(nn.Module):
    """conv3x3 - (BN) - PReLU - conv3x3 - (BN) plus identity; (B, C, H, W) -> same shape."""

    def __init__(self, width: int, batch_norm: bool) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(width, width, 3, padding=1)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(width))
        layers.append(nn.PReLU(width))
        layers.append(nn.Conv2d(width, width, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(width))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """The SRResNet generator (also the SRGAN generator, with adversarially trained weights).

    Layout: 9x9 conv (``edge_kernel``) + PReLU; ``blocks`` residual blocks; 3x3 conv and a long skip; one
    sub-pixel stage (3x3 conv to 4x the channels, PixelShuffle(2), PReLU) per factor of 2
    (x3 uses one PixelShuffle(3) stage); a 9x9 conv to the output
    channels.

    Args:
        channels: image channels in and out (3; gray images are fed as 3 equal channels).
        width: feature channels (the paper: 64).
        blocks: residual blocks (the paper: 16).
        scale: 2, 3 or 4.
        batch_norm: BN in the residual blocks as in the paper (default off, see module doc).
        bicubic_skip: add the bicubic upsampling of the input to the output.
        edge_kernel: kernel size of the first and the last conv (the paper: 9; 3 makes the
            last conv, which runs at the output resolution, 9x cheaper).

    Forward:
        x: low-resolution images, (B, channels, h, w), float32 in [0, 1].

    Returns:
        (B, channels, h * scale, w * scale), float32, not clamped.

    Raises:
        ValueError: for a scale other than 2, 3 or 4.
    """

    def __init__(self, channels: int = 3, width: int = 64, blocks: int = 16, scale: int = 4,
                 batch_norm: bool = False, bicubic_skip: bool = False, edge_kernel: int = 9) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"scale must be 2, 3 or 4, got {scale}")
        self.scale, self.bicubic_skip = scale, bicubic_skip
        self.head = nn.Sequential(nn.Conv2d(channels, width, edge_kernel, padding=edge_kernel // 2), nn.PReLU(width))
        self.body = nn.Sequential(*[_ResidualBlock(width, batch_norm) for _ in range(blocks)])
        tail: list[nn.Module] = [nn.Conv2d(width, width, 3, padding=1)]
        if batch_norm:
            tail.append(nn.BatchNorm2d(width))
        self.body_tail = nn.Sequential(*tail)
        factors = [3] if scale == 3 else [2] * (scale // 2)
        up: list[nn.Module] = []
        for f in factors:
            up += [nn.Conv2d(width, width * f * f, 3, padding=1), nn.PixelShuffle(f), nn.PReLU(width)]
        self.upsample = nn.Sequential(*up)
        self.tail = nn.Conv2d(width, channels, edge_kernel, padding=edge_kernel // 2)
        if bicubic_skip:
            # Start as plain bicubic: the residual branch begins near zero.
            nn.init.zeros_(self.tail.bias)
            self.tail.weight.data.mul_(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(x)
        feat = feat + self.body_tail(self.body(feat))
        out = self.tail(self.upsample(feat))
        if self.bicubic_skip:
            out = out + F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return out


class SRGANDiscriminator(nn.Module):
    """The SRGAN discriminator: eight 3x3 convs with LeakyReLU(0.2), strides alternating
    1 and 2, widths doubling every two layers (w, w, 2w, 2w, 4w, 4w, 8w, 8w), BN after
    every conv but the first; then global average pooling, dense 16w, LeakyReLU, dense 1.

    Args:
        channels: image channels (3).
        width: channels of the first conv (the paper: 64).
        batch_norm: BN as in the paper; ``False`` uses spectral normalisation on every
            layer instead (Miyato et al., ICLR 2018), which keeps a small CPU-trained
            discriminator stable.

    Forward:
        x: high-resolution images or crops, (B, channels, H, W), float32 in [0, 1], H and
            W at least 16.
        features: if true, also return the activations after each conv block (for the
            feature-matching content loss).

    Returns:
        Logits (B, 1) (real > 0), or ``(logits, [activations])``.
    """

    def __init__(self, channels: int = 3, width: int = 64, batch_norm: bool = False) -> None:
        super().__init__()
        sn = (lambda m: m) if batch_norm else nn.utils.parametrizations.spectral_norm
        widths = [width, width, 2 * width, 2 * width, 4 * width, 4 * width, 8 * width, 8 * width]
        blocks = []
        c_in = channels
        for i, w in enumerate(widths):
            layers: list[nn.Module] = [sn(nn.Conv2d(c_in, w, 3, stride=1 + i % 2, padding=1))]
            if batch_norm and i > 0:
                layers.append(nn.BatchNorm2d(w))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            blocks.append(nn.Sequential(*layers))
            c_in = w
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Sequential(sn(nn.Linear(c_in, 16 * width)), nn.LeakyReLU(0.2, inplace=True),
                                  sn(nn.Linear(16 * width, 1)))

    def forward(self, x: torch.Tensor, features: bool = False):
        feats = []
        h = x * 2 - 1
        for block in self.blocks:
            h = block(h)
            feats.append(h)
        logits = self.head(h.mean(dim=(2, 3)))
        return (logits, feats) if features else logits
