"""The degradation model: the only place degradations are made, split by subject.

- :mod:`.noise`: AWGN, 8-bit quantization, bicubic downsampling, JPEG round trips;
- :mod:`.masks`: inpainting masks (center, boxes, strokes);
- :mod:`.watermarks`: visible-watermark synthesis from logos and fonts;
- :mod:`.holdout`: which logos, fonts and images are held out of training.

Everything public is re-exported here.
"""

from __future__ import annotations

from restore.ops.degrade.holdout import (HELD_OUT_FONT_PREFIX, HELD_OUT_IMAGE_MODULUS, HELD_OUT_LOGO_MODULUS,
                                        is_held_out)
from restore.ops.degrade.masks import box_mask, center_mask, make_mask, stroke_mask
from restore.ops.degrade.noise import add_awgn, bicubic_down, jpeg_roundtrip, quantize_8bit
from restore.ops.degrade.watermarks import (MASK_THRESHOLD, OPACITY_RANGE, WATERMARK_KINDS, WatermarkBank,
                                            load_watermark_bank, logo_alpha, overlay_watermark, render_text_mark,
                                            synthesize_watermark, watermark_layer)

__all__ = [
    "HELD_OUT_FONT_PREFIX", "HELD_OUT_IMAGE_MODULUS", "HELD_OUT_LOGO_MODULUS", "is_held_out",
    "box_mask", "center_mask", "make_mask", "stroke_mask",
    "add_awgn", "bicubic_down", "jpeg_roundtrip", "quantize_8bit",
    "MASK_THRESHOLD", "OPACITY_RANGE", "WATERMARK_KINDS", "WatermarkBank", "load_watermark_bank", "logo_alpha",
    "overlay_watermark", "render_text_mark", "synthesize_watermark", "watermark_layer",
]
