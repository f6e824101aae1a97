"""The zoo's registrations: one function per model, imported explicitly (no scanning).

Each registration gives everything the model's inference needs: its arch, its weights,
its tiling (``tile``, ``overlap``) and its task's settings (:mod:`restore.zoo.settings`),
with a note on how the values were chosen.
"""

from __future__ import annotations

import dataclasses

from restore.zoo.archs.dcgan import LatentInpainter
from restore.zoo.archs.srresnet import SRResNet
from restore.zoo.archs.unet import MASK_RAMP, ColorizationUNet, NoiseLevelUNet, WatermarkUNet
from restore.zoo.registry import ModelSpec, register_model
from restore.zoo.settings import ColorizeSettings, DenoiseSettings, InpaintSettings, UnwatermarkSettings, UpscaleSettings

#: Licence of weights trained on the photo folders: the code is MIT, but ImageNet and BSDS500
#: are for non-commercial research, and the weights inherit that.
_PHOTOS_LICENSE = "non-commercial research only (inherited from training data: ImageNet samples, BSDS500)"
_DENOISE_DATA = "bsds400 + imagenet-samples (../shared/data/train), AWGN sigma 0-75 synthesized"


@register_model
def dae_s() -> ModelSpec:
    return ModelSpec(
        name="dae-s", task="denoise", arch=NoiseLevelUNet,
        arch_kwargs=dict(channels=3, width=32, levels=4, blocks=1, dec_blocks=None),
        weights="dae-s.safetensors", multiple_of=8, tiling=True, tile=768, overlap=64, supports_half=True,
        # bf16 on the CPU: Kodak24 sigma 25 (8 images) 31.39 -> 31.38 dB (docs/benchmarks.md, "Speed")
        supports_bf16=True,
        # trained on AWGN with sigma 0-75 (the range of the field's benchmarks)
        settings=DenoiseSettings(sigma_range=(0.0, 75.0), blind=False),
        license=_PHOTOS_LICENSE, trained_on=_DENOISE_DATA,
        description="noise-level-conditioned U-Net autoencoder, CPU-sized (trained on 2 CPU cores)",
        device_advice="CPU ok")


# The default: on the real-photo benchmarks (JPEG q10-40 on CBSD68 and Kodak24, PolyU real
# noise, clean Kodak24 through the model; docs/models/dae-real-s.md) it beats dae-s with
# sigma auto on every row, and photos people bring are JPEG files with camera noise.
# ``restore denoise --sigma N`` still picks dae-s (zoo.registry.model_for_sigma).
@register_model(default=True)
def dae_real_s() -> ModelSpec:
    return ModelSpec(
        name="dae-real-s", task="denoise", arch=NoiseLevelUNet,
        # dae-s's network, fine-tuned from it with its noise map held at 0
        arch_kwargs=dict(channels=3, width=32, levels=4, blocks=1, dec_blocks=None),
        weights="dae-real-s.safetensors", multiple_of=8, tiling=True, tile=768, overlap=64, supports_half=True,
        # bf16 on the CPU (docs/bf16_quality.py): CBSD68 JPEG q10 / q20 (16 images) 26.774 -> 26.773 /
        # 29.081 -> 29.081 dB, PolyU (16 pairs) 36.137 -> 36.135 dB, clean Kodak24 (8) 42.717 -> 42.704 dB
        supports_bf16=True,
        settings=DenoiseSettings(sigma_range=(0.0, 0.0), blind=True),
        license=_PHOTOS_LICENSE,
        trained_on="bsds400 + imagenet-samples (../shared/data/train) through the REAL_PHOTO degradation model "
                   "(camera, Gaussian and Poisson noise; JPEG quality 10-95; 1 in 10 left clean)",
        description="blind real-photo restoration (JPEG blocking and ringing, sensor noise) with dae-s's "
                    "autoencoder, CPU-sized",
        device_advice="CPU ok")


#: The CPU-sized SRResNet shared by every upscale model (see docs/models.md); x2 has one sub-pixel stage.
_SR_X4 = dict(channels=3, width=48, blocks=8, scale=4, batch_norm=False, bicubic_skip=True, edge_kernel=3)


def _sr_data(inputs: str, scale: int) -> str:
    """The training data of an upscale model for ``inputs`` (``UpscaleSettings.inputs``) at ``scale``."""
    if inputs == "bicubic":
        return (f"bsds400 + imagenet-samples (../shared/data/train), x{scale} MATLAB-style bicubic downsampling "
                "rounded to 8 bit, synthesized")
    return (f"bsds400 + imagenet-samples (../shared/data/train) through the realistic degradation model x{scale} "
            "(Real-ESRGAN's two stages of blur, resize, noise and JPEG), drawn anew every step")


def _sr(name: str, description: str, settings: UpscaleSettings, scale: int = 4, bf16: bool = False) -> ModelSpec:
    """An upscale model of the shared SRResNet at ``scale``; ``bf16``: checked to keep its
    bench figures in bfloat16 on the CPU (the check is noted at the registration)."""
    return ModelSpec(
        name=name, task="upscale", arch=SRResNet, arch_kwargs=dict(_SR_X4, scale=scale), weights=f"{name}.safetensors",
        # tiles at the low-resolution side: 192 px in gives 768 px out at x4
        scale=scale, multiple_of=1, tiling=True, tile=192 if scale == 4 else 384, overlap=32, supports_half=True,
        supports_bf16=bf16, settings=settings, license=_PHOTOS_LICENSE,
        trained_on=_sr_data(settings.inputs, scale), description=description, device_advice="CPU ok")


@register_model()
def srresnet_x4() -> ModelSpec:
    # bf16 on the CPU: Set5 31.26 -> 31.26 dB, Set14 28.04 -> 28.04 dB (docs/benchmarks.md, "Speed")
    return _sr("srresnet-x4", "SRResNet x4 (L1, PSNR-oriented), CPU-sized: 8 blocks, width 48 (trained on 2 CPU cores)",
               UpscaleSettings(psnr_partner=None, default_strength=0.0), bf16=True)


@register_model()
def srgan_x4() -> ModelSpec:
    return _sr("srgan-x4", "SRGAN x4: srresnet-x4 fine-tuned with a GAN and a VGG-free content loss "
                           "(sharper, lower PSNR)",
               # fine-tuned from srresnet-x4's weights: --strength interpolates between the two
               UpscaleSettings(psnr_partner="srresnet-x4", default_strength=1.0))


@register_model()
def srresnet_x2() -> ModelSpec:
    # bf16 on the CPU: Set5 x2 37.39 -> 37.39 dB
    return _sr("srresnet-x2", "SRResNet x2 (L1, PSNR-oriented): srresnet-x4's body with one sub-pixel stage, "
                              "fine-tuned from it (trained on 2 CPU cores)",
               UpscaleSettings(psnr_partner=None, default_strength=0.0), scale=2, bf16=True)


# For real photos (small web JPEGs, phone shots, scans): the realistic degradation model's
# inputs (Real-ESRGAN, Wang et al. 2021). The PSNR stage and its adversarial fine-tune, the
# latter with --strength between the two (docs/models/real-srgan-x4.md).
@register_model()
def real_srresnet_x4() -> ModelSpec:
    # bf16 on the CPU: Kodak24 realistic x4 (8 images) 24.17 -> 24.17 dB, blockiness 1.047 -> 1.047
    return _sr("real-srresnet-x4", "SRResNet x4 for real photos (JPEG, noise, blur): srresnet-x4 fine-tuned on the "
                                   "realistic degradation model, L1 (trained on 2 CPU cores)",
               UpscaleSettings(psnr_partner=None, default_strength=0.0, inputs="real"), bf16=True)


# The default: photos people upscale are real ones. Default strength 0.5: at 1 (its own
# weights) light halos ring strong edges on real inputs, at 0.5 edges stay crisp without
# them (chosen by looking at docs/sr_real_inputs.py's inputs, not from the bench).
@register_model(default=True)
def real_srgan_x4() -> ModelSpec:
    # bf16 on the CPU: Kodak24 realistic x4 (8 images, strength 0.5) 24.05 -> 24.05 dB
    return _sr("real-srgan-x4", "SRGAN x4 for real photos: real-srresnet-x4 fine-tuned with a GAN (EMA weights), "
                                "--strength between the two (trained on 2 CPU cores)",
               UpscaleSettings(psnr_partner="real-srresnet-x4", default_strength=0.5, inputs="real"), bf16=True)


@register_model()
def real_srresnet_x2() -> ModelSpec:
    # bf16 on the CPU: Set5 x2 30.70 -> 30.70 dB
    return _sr("real-srresnet-x2", "SRResNet x2 for real photos: real-srresnet-x4's body with one sub-pixel stage, "
                                   "fine-tuned on the realistic degradation model x2 (trained on 2 CPU cores)",
               UpscaleSettings(psnr_partner=None, default_strength=0.0, inputs="real"), scale=2, bf16=True)


_WM_DATA = ("bsds400 + imagenet-samples (../shared/data/train) with synthetic watermarks from 4 in 5 of the logos "
            "(train/logos, train/watermarks-real) and the DejaVu fonts except Sans Mono")


#: Chosen on held-out training images, never the bench (see the unwatermark-s card in
#: docs/models.md): ``min_confidence`` 0.995 (hysteresis thresholding, Canny, IEEE TPAMI
#: 1986; docs/unwatermark_per_image.py); ``opaque_alpha`` 0.3 scored best (PSNR) with
#: Telea refinement, which fills about as well as the inpainting GAN at a fraction of its
#: time (docs/compare_unwatermark_refine.py); a TTA margin of 16 px scored best (32 and 64
#: within 0.04 dB) and costs least; boxes over a quarter of the image skipped: an eighth
#: less area run twice for 37.07 dB instead of 37.11. The mask ramp is the one trained with.
_UNWATERMARK_S = UnwatermarkSettings(mask_ramp=MASK_RAMP, min_confidence=0.995, opaque_alpha=0.3, refine="telea",
                                     tta_margin=16, tta_max_area=0.25)


def _unwatermark(name: str, settings: UnwatermarkSettings, description: str, trained_on: str,
                 fp32_modules: tuple[str, ...] = ("head",)) -> ModelSpec:
    """A WatermarkUNet of unwatermark-s's size (the weights file is ``<name>.safetensors``)."""
    return ModelSpec(
        name=name, task="unwatermark", arch=WatermarkUNet,
        arch_kwargs=dict(channels=3, width=32, levels=4, blocks=1, dec_blocks=None),
        weights=f"{name}.safetensors", out_channels=5, multiple_of=8, tiling=True, tile=512, overlap=64,
        # bf16 on the CPU for all but the head conv: its mask is thresholded at 0.995 confidence,
        # and bf16 everywhere moved it (Kodak24, 8 images: mask IoU 0.656 -> 0.719, PSNR 35.26 ->
        # 35.65 dB), as did bf16 with only the decoder's full-resolution level in float32; the head
        # conv computed in float32 (the image and its weights not rounded to bf16; its output goes
        # on in bf16, keep_float32) keeps it (docs/bf16_quality.py --fp32-modules head: CBSD68 16
        # images / Kodak24 8, PNG and JPEG q90: PSNR within 0.025 dB, mask IoU within 0.001; the
        # full bench tables in docs/benchmarks.md), with the network within 10 % of bf16 throughout
        # (docs/speed_steps.py)
        supports_bf16=True, fp32_modules=fp32_modules,
        supports_half=True, settings=settings,
        license=_PHOTOS_LICENSE, trained_on=trained_on, description=description, device_advice="CPU ok")


@register_model(default=True)
def unwatermark_s() -> ModelSpec:
    return _unwatermark("unwatermark-s", dataclasses.replace(_UNWATERMARK_S, jpeg_partner="unwatermark-jpeg-s"),
                        "two-head U-Net (watermark alpha + restored image), CPU-sized (trained on 2 CPU cores); "
                        "runs unwatermark-jpeg-s's weights on photos saved as JPEG", _WM_DATA)


@register_model
def unwatermark_jpeg_s() -> ModelSpec:
    # run alone (--model unwatermark-jpeg-s) its full-resolution encoder block stays in float32
    # too: with the head conv alone its CBSD68 PNG figures moved +0.059 dB / +0.005 IoU from
    # float32, with head and enc.0 +0.005 dB / 0.000 (docs/bf16_quality.py --models
    # unwatermark-jpeg-s --limit 68 --fp32-modules ...). As unwatermark-s's JPEG partner its
    # weights run in unwatermark-s's network, with unwatermark-s's fp32_modules (its JPEG rows
    # within 0.025 dB of float32).
    return _unwatermark("unwatermark-jpeg-s", _UNWATERMARK_S,
                        "unwatermark-s fine-tuned on marked crops saved as JPEG (quality 60-95) (trained on 2 CPU "
                        "cores); unwatermark-s uses it by itself for JPEG-saved inputs",
                        _WM_DATA + "; 9 in 10 crops saved as JPEG after marking", fp32_modules=("head", "enc.0"))


_COLOR_DATA = ("bsds400 + imagenet-samples (../shared/data/train) resized to short side 256, "
               "nearly gray images left out")


@register_model
def colorize_s() -> ModelSpec:
    return ModelSpec(
        name="colorize-s", task="colorize", arch=ColorizationUNet,
        arch_kwargs=dict(width=32, levels=5, blocks=1, dec_blocks=None, bins=270),
        weights="colorize-s.safetensors", in_channels=1, out_channels=3, multiple_of=32, tiling=False,
        # trained at 256 px; the decoding was chosen on held-out training images (never the
        # bench sets) for the most PSNR at 60 % or more of the originals' colorfulness
        # (docs/models.md, "Decoding"; docs/tune_colorize_decoding.py)
        # --reference: the most PSNR with the original as its own reference, at no less than
        # the automatic colorfulness, on the same held-out images (docs/tune_colorize_reference.py)
        settings=ColorizeSettings(render_size=256, prior=0.5, temperature=0.6, saturation=1.0,
                                  reference_strength=0.75, reference_match=0.25),
        # bf16 on the CPU: Kodak24 (8 images) 22.08 -> 22.08 dB, colorfulness 25.1 -> 25.1
        supports_half=True, supports_bf16=True, license=_PHOTOS_LICENSE, trained_on=_COLOR_DATA,
        description="U-Net classifying a*b* chroma from L* (Zhang et al. 2016 rebalancing), CPU-sized "
                    "(trained on 2 CPU cores)",
        device_advice="CPU ok")



# The default: the same automatic colorization as colorize-s (its decoding) and it takes
# color hints (docs/models/colorize-hints-s.md).
@register_model(default=True)
def colorize_hints_s() -> ModelSpec:
    return ModelSpec(
        name="colorize-hints-s", task="colorize", arch=ColorizationUNet,
        # colorize-s's network with the hint channels (a*, b*, mask) added to its head,
        # fine-tuned from it with random ground-truth hints (none for part of the images)
        arch_kwargs=dict(width=32, levels=5, blocks=1, dec_blocks=None, bins=270, hints=True),
        weights="colorize-hints-s.safetensors", in_channels=1, out_channels=3, multiple_of=32, tiling=False,
        # with hints, the decoding (plain posterior, prior 1) and the hint propagation (the
        # edge-aware optimization, sigma 2, decay 1e-5) chosen on the held-out training
        # images at full size with 10 random 1-pixel ground-truth hints, as the bench draws
        # them (docs/tune_colorize_hints.py; the card's "Hints"); the automatic decoding
        # stays colorize-s's
        # --reference chosen as colorize-s's (docs/tune_colorize_reference.py)
        # automatic mode: colorize-s's prior and temperature, then the chroma spread and the
        # mirrored pass chosen on the held-out training images at full size for the most PSNR
        # at 80 % or more of the originals' colorfulness (docs/tune_colorize_decoding.py
        # --spread; the card's "Decoding")
        settings=ColorizeSettings(render_size=256, prior=0.5, temperature=0.6, saturation=1.0, hint_prior=1.0,
                                  hint_method="optimize", hint_sigma=2.0, hint_decay=1e-5, reference_strength=1.0,
                                  reference_match=0.5, chroma_spread=1.15, tta=True),
        # bf16 on the CPU: Kodak24 (8 images) automatic 22.226 -> 22.229 dB, 10 ground-truth hints
        # 24.182 -> 24.181 dB
        supports_half=True, supports_bf16=True, license=_PHOTOS_LICENSE, trained_on=_COLOR_DATA,
        description="colorize-s with user color hints (Zhang et al. 2017 local hints), CPU-sized "
                    "(trained on 2 CPU cores)",
        device_advice="CPU ok")

def _gan(name: str, *, tiling: bool, overlap: int, settings: InpaintSettings, license: str, trained_on: str,
         description: str) -> ModelSpec:
    return ModelSpec(
        name=name, task="inpaint", arch=LatentInpainter,
        arch_kwargs=dict(latent=128, width=32, d_width=32, e_width=32, size=64), weights=f"{name}.safetensors",
        multiple_of=1, tiling=tiling, overlap=overlap, settings=settings, supports_half=False, license=license,
        trained_on=trained_on,
        description=description + " (trained on 2 CPU cores)", device_advice="CPU ok")


#: Latent-search settings chosen on held-out training images (not the benchmark's) within
#: the time budgets on 2 CPU cores: 10 s per 64x64 face, 30 s per 0.5 MP photo with a 5 %
#: stroke mask. A larger learning rate fits the known pixels more closely but moves the
#: fill away from the encoder's, and the hole PSNR drops (docs/models.md;
#: docs/tune_inpaint_search.py).
_SEARCH = dict(lambda_prior=0.003, lr=0.01, restart_noise=0.25)
#: Coarse-to-fine fill of large holes (windowed models only; gan-faces-64 never uses them).
#: Chosen on held-out training photos (never the benchmark's): 6 of the 76 held out (every
#: 12th) with the benchmark's object-sized boxes, hole PSNR: window by window 14.15 dB;
#: coarse to fine 20.03 (guide_weight 1), 19.95 (3), 20.12 (0.3); with guide_weight 1, 50
#: coarse steps instead of 10: 19.71, 20 px coarse context: 19.94; with 0.3, one round
#: instead of 3: 20.11; blending with the gradients inside the hole only (no step at its
#: border), guide_weight 0.3: 20.65 (docs/tune_inpaint_coarse.py; OpenCV Navier-Stokes
#: 21.02, Telea 20.65, biharmonic 20.15 on the same cases). coarse_depth 16 =
#: a quarter of the window: the deepest stroke pixel of the benchmark's stroke masks is
#: 12.4 px from known pixels, so strokes keep the window-by-window path; max_levels 4 and
#: 3 rounds bound the time (the README's 1 MP figure).
_COARSE = dict(coarse_depth=16, coarse_context=16, max_levels=4, rounds=3, filled_weight=0.5, guide_weight=0.3,
               coarse_steps=10)


@register_model()
def gan_faces_64() -> ModelSpec:
    return _gan("gan-faces-64", tiling=False, overlap=0, settings=InpaintSettings(steps=100, restarts=4, **_SEARCH, **_COARSE),
                license="non-commercial research only (inherited from training data: UTKFace)",
                trained_on="faces (../shared/data/train/faces, UTKFace aligned crops) resized to 64x64, "
                           "1 in 16 held out",
                description="DCGAN G/D (spectral norm, hinge) + encoder for 64x64 faces; the whole image is "
                            "resized to 64")


@register_model(default=True)
def gan_photos_64() -> ModelSpec:
    return _gan("gan-photos-64", tiling=True, overlap=16, settings=InpaintSettings(steps=10, restarts=1, **_SEARCH, **_COARSE),
                license=_PHOTOS_LICENSE,
                trained_on="64x64 crops of bsds400 + imagenet-samples (../shared/data/train), 1 in 16 held out",
                description="DCGAN G/D (spectral norm, hinge) + encoder for 64x64 photo windows, run window by "
                            "window over the holes")
