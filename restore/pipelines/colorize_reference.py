"""The reference photo of ``ColorizePipeline(image, reference=...)``: any kind the pipelines
take (or a file), checked and summarized once (:class:`restore.ops.palette.ColorReference`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from restore.ops.palette import ColorReference, color_reference
from restore.pipelines.base import OptionError, prepare

#: Largest reference accepted from a file, in pixels (width x height): the photo is reduced
#: to a short side of 256 before its colors are counted, so more is never needed.
REFERENCE_MAX_PIXELS = 100_000_000


def read_reference(reference: Any, bins: torch.Tensor) -> ColorReference:
    """A reference photo as the :class:`~restore.ops.palette.ColorReference` of a model's bins.

    Args:
        reference: a color photo: numpy ``H x W x 3/4`` (uint8, uint16 or float32 in
            [0, 1]), PIL image, tensor (3/4, H, W) or (1, 3/4, H, W) in [0, 1], or the path
            of an image file (read by :func:`restore.io.read_image`); transparent pixels
            are left out. A :class:`ColorReference` is returned as it is.
        bins: (Q, 2) the model's a*b* bin centers.

    Returns:
        The reference's histogram over ``bins``, a*b* mean and std.

    Raises:
        OptionError: (a ValueError, option ``reference``) a file that cannot be read as an
            image, a kind that is not an image, a batch of several images, a gray or fully
            transparent photo, or a histogram over other bins than the model's.
    """
    if isinstance(reference, ColorReference):
        if reference.hist.numel() != len(bins):
            raise OptionError("reference", f"was summarized over {reference.hist.numel()} color bins; "
                                           f"this model has {len(bins)}")
        return reference
    if isinstance(reference, (str, Path)):
        from restore.io import read_image
        try:
            reference = read_image(reference, max_pixels=REFERENCE_MAX_PIXELS)
        except ValueError as e:  # ImageReadError: missing, not an image, too large
            raise OptionError("reference", f"cannot be read: {str(e).strip(chr(39) + chr(34))}") from None
    try:
        prep = prepare(reference)
    except TypeError:
        raise OptionError("reference", f"must be an image (numpy array, PIL image, tensor or file path), "
                                       f"got {type(reference).__name__}") from None
    except ValueError as e:
        raise OptionError("reference", f"is not an image: {e}") from None
    x = prep.x
    if x.shape[0] != 1:
        raise OptionError("reference", f"must be one photo, got a batch of {x.shape[0]}")
    if x.shape[1] == 1:
        raise OptionError("reference", "is a gray photo (no color to take); give a color photo")
    try:
        return color_reference(x.clamp(0, 1), bins.float().cpu(), prep.alpha)
    except ValueError as e:
        raise OptionError("reference", str(e).removeprefix("the reference photo ")) from None
