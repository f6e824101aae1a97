"""Single-image super-resolution with SRResNet / SRGAN (Ledig et al., CVPR 2017)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from restore.ops.color import gray_to_rgb
from restore.pipelines.base import OptionError, Pipeline, prepare


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (B, C, H, W) float images to ``size`` = (height, width) with OpenCV: Lanczos
    (8x8) when enlarging, area averaging when shrinking. Returns float32, same device."""
    b, c, h, w = x.shape
    if (h, w) == tuple(size):
        return x
    interp = cv2.INTER_AREA if size[0] < h and size[1] < w else cv2.INTER_LANCZOS4
    a = x.detach().float().cpu().permute(0, 2, 3, 1).numpy()
    out = np.stack([cv2.resize(np.ascontiguousarray(im), (size[1], size[0]), interpolation=interp).reshape(size[0], size[1], c)
                    for im in a])
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(x.device)


class UpscalePipeline(Pipeline):
    """Upscale images with a zoo super-resolution generator (SRResNet or SRGAN).

    Example:
        >>> pipe = UpscalePipeline.from_pretrained("srgan-x4")   # device auto
        >>> big = pipe(image)                                     # numpy in -> numpy out, 4x the size
        >>> big = pipe(image, outscale=3.5)                       # model x4, then resized to 3.5x

    Large images run tile by tile at the low-resolution side (``tile``/``overlap`` are in
    input pixels; default: the model's, 192/32 for the shipped x4 models), with feathered
    overlaps, so the output has no seams and memory stays bounded. Gray images run through
    the RGB network as three equal channels and come back gray. Alpha is upscaled separately
    with bicubic interpolation (the model was trained on photographs, not on masks), as
    Real-ESRGAN's ``--alpha_upsampler bicubic`` does.
    """

    task = "upscale"

    @property
    def scale(self) -> int:
        """The model's upscaling factor."""
        return int(self.spec.scale)

    def resolve_options(self, *, outscale: float | None = None) -> dict[str, Any]:
        """``outscale`` checked (None: the model's scale).

        Raises:
            OptionError: for an ``outscale`` <= 0.
        """
        if outscale is not None and not float(outscale) > 0:
            raise OptionError("outscale", f"must be > 0, got {outscale}")
        return {"outscale": outscale}

    def __call__(self, image: Any, outscale: float | None = None) -> Any:
        """Upscale one image (or a batch, for tensors).

        Args:
            image: numpy ``H x W [x C]`` (uint8, uint16 or float32 in [0, 1], C in 1-4),
                PIL image, or tensor (B, C, H, W)/(C, H, W) float in [0, 1].
            outscale: final size as a multiple of the input size (e.g. 2 or 3.5); the
                model's output is resized to ``round(H * outscale) x round(W * outscale)``
                (Lanczos up, area down). Default: the model's scale.

        Returns:
            The upscaled image, of the same kind, dtype and channel count as ``image``,
            ``scale`` (or ``outscale``) times its height and width.

        Raises:
            OptionError: for an ``outscale`` <= 0 or one that gives an empty image (a ValueError).
            ValueError: for an unsupported shape.
            TypeError: for an unsupported input kind or dtype.
        """
        outscale = self.resolve_options(outscale=outscale)["outscale"]
        prep = prepare(image)
        x = prep.x.clamp(0, 1)
        h, w = x.shape[-2:]
        if outscale is not None:
            outscale = float(outscale)
            size = (int(round(h * outscale)), int(round(w * outscale)))
            if min(size) < 1:
                raise OptionError("outscale", f"must give a non-empty image, got {outscale} for {w}x{h}")
        else:
            size = (h * self.scale, w * self.scale)
        gray = x.shape[1] == 1
        if gray:
            x = gray_to_rgb(x)
        y = torch.cat([self.run_model(x[i:i + 1]) for i in range(x.shape[0])]).clamp(0, 1)
        if gray:
            y = y.mean(1, keepdim=True)
        y = resize(y, size).clamp(0, 1)
        alpha = prep.alpha
        if alpha is not None:
            alpha = F.interpolate(alpha.float(), size=size, mode="bicubic", align_corners=False).clamp(0, 1)
        return prep.finish(y, alpha)
