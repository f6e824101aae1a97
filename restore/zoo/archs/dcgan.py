"""DCGAN-style generator, spectral-norm discriminator and masked-image encoder for
latent-optimization inpainting.

The generator and discriminator follow DCGAN (Radford, Metz & Chintala, ICLR 2016):
a projected 4x4 seed map doubled by 4x4 stride-2 transposed convolutions, and its mirror
image of 4x4 stride-2 convolutions. Two changes keep small models stable on a CPU budget:
pixel-wise feature normalisation in the generator instead of batch norm (Karras et al.,
ProGAN, ICLR 2018: no running statistics, so the generator behaves the same in training,
in evaluation and on a batch of one) and spectral normalisation of every discriminator
layer (Miyato et al., ICLR 2018) trained with the hinge loss.

The latent prior is the sphere of radius sqrt(latent) (normalised Gaussian samples): every
latent the generator sees, the encoder gives or the latent search visits is projected onto
it (:func:`to_sphere`), so z never leaves the prior's support.

:class:`LatentInpainter` bundles G, D and the encoder E (masked image -> z, our addition to
Yeh et al., CVPR 2017) in one module, which is what the zoo ships.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import spectral_norm


def to_sphere(z: torch.Tensor) -> torch.Tensor:
    """Project latents (B x latent, float32) onto the prior's sphere of radius sqrt(latent)."""
    return F.normalize(z, dim=1) * math.sqrt(z.shape[1])


def sample_latent(n: int, latent: int, generator: torch.Generator | None = None,
                  device: torch.device | str = "cpu") -> torch.Tensor:
    """``n`` samples from the prior: (n, latent) float32 on the sphere of radius sqrt(latent)."""
    return to_sphere(torch.randn(n, latent, generator=generator, device="cpu").to(device))


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit RMS (ProGAN)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def _levels(size: int) -> int:
    n = int(round(math.log2(size / 4)))
    if n < 1 or 4 * 2 ** n != size:
        raise ValueError(f"size must be 4 * 2**k with k >= 1, got {size}")
    return n


class Generator(nn.Module):
    """G: latent (B x latent, on the prior's sphere) -> image (B x channels x size x size,
    float32 in [0, 1]).

    Args:
        latent: latent dimension.
        width: channels of the last hidden layer; each coarser level doubles it.
        size: output side, 4 * 2**k (64 for faces and patches).
        channels: image channels.
    """

    def __init__(self, latent: int = 128, width: int = 32, size: int = 64, channels: int = 3) -> None:
        super().__init__()
        n = _levels(size)
        self.latent, self.size = latent, size
        chans = [width * 2 ** (n - 1 - i) for i in range(n)]
        self.project = nn.Linear(latent, chans[0] * 16)
        layers: list[nn.Module] = [PixelNorm(), nn.LeakyReLU(0.2)]
        for c_in, c_out in zip(chans, chans[1:] + [width]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), PixelNorm(), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.to_rgb = nn.Conv2d(width, channels, 3, padding=1)
        self._c0 = chans[0]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.project(z).view(z.shape[0], self._c0, 4, 4)
        return (torch.tanh(self.to_rgb(self.body(h))) + 1) / 2


class _ConvTrunk(nn.Module):
    """size x size image -> flat features: 4x4 stride-2 convolutions down to 4x4."""

    def __init__(self, in_channels: int, width: int, size: int, sn: bool) -> None:
        super().__init__()
        n = _levels(size)
        wrap = spectral_norm if sn else (lambda m: m)
        layers: list[nn.Module] = []
        c_in = in_channels
        for i in range(n):
            c_out = width * 2 ** i
            layers += [wrap(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        self.features = c_in * 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).flatten(1)


class Discriminator(nn.Module):
    """D: image (B x channels x size x size, [0, 1]) -> realness logit (B,), spectral norm
    on every layer; trained with the hinge loss, so the logit is unbounded."""

    def __init__(self, width: int = 32, size: int = 64, channels: int = 3) -> None:
        super().__init__()
        self.trunk = _ConvTrunk(channels, width, size, sn=True)
        self.head = spectral_norm(nn.Linear(self.trunk.features, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x * 2 - 1)).squeeze(1)


class Encoder(nn.Module):
    """E: masked image -> latent on the prior's sphere.

    Input: ``image * (1 - mask)`` and ``mask`` (B x 1 x size x size, 1 = missing), so the
    encoder never sees the missing pixels. Output: B x latent float32 with norm sqrt(latent).
    """

    def __init__(self, latent: int = 128, width: int = 32, size: int = 64, channels: int = 3) -> None:
        super().__init__()
        self.trunk = _ConvTrunk(channels + 1, width, size, sn=False)
        self.head = nn.Linear(self.trunk.features, latent)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = torch.cat([(image * 2 - 1) * (1 - mask), mask], dim=1)
        return to_sphere(self.head(self.trunk(x)))


class LatentInpainter(nn.Module):
    """The zoo module for inpainting: ``generator``, ``discriminator`` and ``encoder`` for
    ``size`` x ``size`` windows (see the module docstring).

    Calling it maps (masked image, mask) -> G(E(masked image)), B x channels x size x size
    in [0, 1]: the encoder's one-shot fill, which the pipeline's latent search refines.
    """

    def __init__(self, latent: int = 128, width: int = 32, d_width: int = 32, e_width: int = 32, size: int = 64,
                 channels: int = 3) -> None:
        super().__init__()
        self.latent, self.size = latent, size
        self.generator = Generator(latent, width, size, channels)
        self.discriminator = Discriminator(d_width, size, channels)
        self.encoder = Encoder(latent, e_width, size, channels)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.generator(self.encoder(image, mask))
