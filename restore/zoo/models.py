"""The zoo's registrations: one function per model, imported explicitly (no scanning)."""

from __future__ import annotations

from restore.zoo.archs.dcgan import LatentInpainter
from restore.zoo.archs.srresnet import SRResNet
from restore.zoo.archs.unet import ColorizationUNet, NoiseLevelUNet, WatermarkUNet
from restore.zoo.registry import ModelSpec, register_model

_DENOISE_DATA = "bsds400 + imagenet-samples (../shared/data/train), AWGN sigma 0-75 synthesized"


@register_model(default=True)
def dae_s() -> ModelSpec:
    return ModelSpec(
        name="dae-s", task="denoise", arch=NoiseLevelUNet,
        arch_kwargs=dict(channels=3, width=32, levels=4, blocks=1, dec_blocks=None),
        weights="dae-s.safetensors", multiple_of=8, tiling=True, supports_half=True,
        license="MIT (weights trained by restore)", trained_on=_DENOISE_DATA,
        description="noise-level-conditioned U-Net autoencoder, CPU-sized (trained on 2 CPU cores)",
        device_advice="CPU ok")


_SR_DATA = ("bsds400 + imagenet-samples (../shared/data/train), x4 MATLAB-style bicubic downsampling "
            "rounded to 8 bit, synthesized")
#: The CPU-sized SRResNet shared by srresnet-x4 and srgan-x4 (see docs/models.md).
_SR_X4 = dict(channels=3, width=48, blocks=8, scale=4, batch_norm=False, bicubic_skip=True, edge_kernel=3)


def _sr_x4(name: str, description: str) -> ModelSpec:
    return ModelSpec(
        name=name, task="upscale", arch=SRResNet, arch_kwargs=dict(_SR_X4), weights=f"{name}.safetensors",
        scale=4, multiple_of=1, tiling=True, supports_half=True, license="MIT (weights trained by restore)",
        trained_on=_SR_DATA, description=description, device_advice="CPU ok")


@register_model(default=True)
def srresnet_x4() -> ModelSpec:
    return _sr_x4("srresnet-x4", "SRResNet x4 (L1, PSNR-oriented), CPU-sized: 8 blocks, width 48 "
                                 "(trained on 2 CPU cores)")


@register_model()
def srgan_x4() -> ModelSpec:
    return _sr_x4("srgan-x4", "SRGAN x4: srresnet-x4 fine-tuned with a GAN and a VGG-free content loss "
                              "(sharper, lower PSNR)")


_WM_DATA = ("bsds400 + imagenet-samples (../shared/data/train) with synthetic watermarks from 4 in 5 of the logos "
            "(train/logos, train/watermarks-real) and the DejaVu fonts except Sans Mono")


@register_model(default=True)
def unwatermark_s() -> ModelSpec:
    return ModelSpec(
        name="unwatermark-s", task="unwatermark", arch=WatermarkUNet,
        arch_kwargs=dict(channels=3, width=32, levels=4, blocks=1, dec_blocks=None),
        weights="unwatermark-s.safetensors", out_channels=5, multiple_of=8, tiling=True, supports_half=True,
        license="MIT (weights trained by restore)", trained_on=_WM_DATA,
        description="two-head U-Net (watermark alpha + restored image), CPU-sized (trained on 2 CPU cores)",
        device_advice="CPU ok")


_COLOR_DATA = ("bsds400 + imagenet-samples (../shared/data/train) resized to short side 256, "
               "nearly gray images left out")


@register_model(default=True)
def colorize_s() -> ModelSpec:
    return ModelSpec(
        name="colorize-s", task="colorize", arch=ColorizationUNet,
        arch_kwargs=dict(width=32, levels=5, blocks=1, dec_blocks=None, bins=270),
        weights="colorize-s.safetensors", in_channels=1, out_channels=3, multiple_of=32, tiling=False,
        supports_half=True, license="MIT (weights trained by restore)", trained_on=_COLOR_DATA,
        description="U-Net classifying a*b* chroma from L* (Zhang et al. 2016 rebalancing), CPU-sized "
                    "(trained on 2 CPU cores)",
        device_advice="CPU ok")


def _gan(name: str, *, tiling: bool, license: str, trained_on: str, description: str) -> ModelSpec:
    return ModelSpec(
        name=name, task="inpaint", arch=LatentInpainter,
        arch_kwargs=dict(latent=128, width=32, d_width=32, e_width=32, size=64), weights=f"{name}.safetensors",
        multiple_of=1, tiling=tiling, supports_half=False, license=license, trained_on=trained_on,
        description=description + " (trained on 2 CPU cores)", device_advice="CPU ok")


@register_model()
def gan_faces_64() -> ModelSpec:
    return _gan("gan-faces-64", tiling=False,
                license="MIT code; weights trained on UTKFace (non-commercial research only)",
                trained_on="faces (../shared/data/train/faces, UTKFace aligned crops) resized to 64x64, "
                           "1 in 16 held out",
                description="DCGAN G/D (spectral norm, hinge) + encoder for 64x64 faces; the whole image is "
                            "resized to 64")


@register_model(default=True)
def gan_photos_64() -> ModelSpec:
    return _gan("gan-photos-64", tiling=True,
                license="MIT code; weights trained on ImageNet samples + BSDS (non-commercial research)",
                trained_on="64x64 crops of bsds400 + imagenet-samples (../shared/data/train), 1 in 16 held out",
                description="DCGAN G/D (spectral norm, hinge) + encoder for 64x64 photo windows, run window by "
                            "window over the holes")
