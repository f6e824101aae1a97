"""The degradation model: the only place degradations are made, split by subject.

- :mod:`.noise`: AWGN, 8-bit quantization, bicubic downsampling, JPEG round trips;
- :mod:`.masks`: inpainting masks (center, boxes, strokes);
- :mod:`.watermarks`: visible-watermark synthesis from logos and fonts;
- :mod:`.holdout`: which logos, fonts and images are held out of training.

Everything public is re-exported here.
"""

from __future__ import annotations

from restore.ops.degrade.noise import (add_awgn, quantize_8bit, bicubic_down, jpeg_roundtrip)  # noqa: F401
from restore.ops.degrade.masks import (center_mask, box_mask, stroke_mask, make_mask)  # noqa: F401
from restore.ops.degrade.holdout import (HELD_OUT_FONT_PREFIX, HELD_OUT_LOGO_MODULUS, HELD_OUT_IMAGE_MODULUS, is_held_out)  # noqa: F401
from restore.ops.degrade.watermarks import (WATERMARK_KINDS, OPACITY_RANGE, MASK_THRESHOLD, logo_alpha, WatermarkBank, render_text_mark, watermark_layer, overlay_watermark, synthesize_watermark, load_watermark_bank)  # noqa: F401
