"""The zoo's registrations: one function per model, imported explicitly (no scanning)."""

from __future__ import annotations

from restore.zoo.archs.unet import NoiseLevelUNet
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
