"""The degradation model: the only place degradations are made, split by subject.

- :mod:`.noise`: AWGN, 8-bit quantization, bicubic downsampling, JPEG round trips;
- :mod:`.realistic`: the real-world model (blur, resize, noise, JPEG in random order and
  strength; Real-ESRGAN's and BSRGAN's orders) and its presets, with blur kernels in
  :mod:`.kernels` and camera noise in linear RGB in :mod:`.camera`;
- :mod:`.masks`: inpainting masks (center, boxes, strokes);
- :mod:`.watermarks`: visible-watermark synthesis from logos and fonts;
- :mod:`.holdout`: which logos, fonts and images are held out of training.

Everything public is re-exported here.
"""

from __future__ import annotations

from restore.ops.degrade.holdout import (HELD_OUT_FONT_PREFIX, HELD_OUT_IMAGE_MODULUS, HELD_OUT_LOGO_MODULUS,
                                        is_held_out)
from restore.ops.degrade.masks import box_mask, center_mask, make_mask, stroke_mask
from restore.ops.degrade.camera import CameraParams, camera_noise, random_camera
from restore.ops.degrade.kernels import (KERNEL_KINDS, KernelRange, apply_kernel, gaussian_kernel, plateau_kernel,
                                         random_kernel, sinc_kernel)
from restore.ops.degrade.noise import add_awgn, bicubic_down, bicubic_down_8bit, jpeg_roundtrip, quantize_8bit
from restore.ops.degrade.realistic import (BSRGAN_X4, MILD, REAL_PHOTO, REALESRGAN_X2, REALESRGAN_X4,
                                           DegradationConfig, DegradationStage, SR_PRESETS, add_gaussian_noise,
                                           add_poisson_noise, degrade, random_jpeg, random_resize, sr_preset)
from restore.ops.degrade.watermarks import (MASK_THRESHOLD, OPACITY_RANGE, WATERMARK_KINDS, WatermarkBank,
                                            load_watermark_bank, logo_alpha, overlay_watermark, render_text_mark,
                                            synthesize_watermark, watermark_layer)

__all__ = [
    "HELD_OUT_FONT_PREFIX", "HELD_OUT_IMAGE_MODULUS", "HELD_OUT_LOGO_MODULUS", "is_held_out",
    "box_mask", "center_mask", "make_mask", "stroke_mask",
    "add_awgn", "bicubic_down", "bicubic_down_8bit", "jpeg_roundtrip", "quantize_8bit",
    "CameraParams", "camera_noise", "random_camera",
    "KERNEL_KINDS", "KernelRange", "apply_kernel", "gaussian_kernel", "plateau_kernel", "random_kernel", "sinc_kernel",
    "BSRGAN_X4", "MILD", "REAL_PHOTO", "REALESRGAN_X2", "REALESRGAN_X4", "DegradationConfig", "DegradationStage",
    "SR_PRESETS", "add_gaussian_noise", "add_poisson_noise", "degrade", "random_jpeg", "random_resize", "sr_preset",
    "MASK_THRESHOLD", "OPACITY_RANGE", "WATERMARK_KINDS", "WatermarkBank", "load_watermark_bank", "logo_alpha",
    "overlay_watermark", "render_text_mark", "synthesize_watermark", "watermark_layer",
]
