"""Single-image super-resolution with SRResNet / SRGAN (Ledig et al., CVPR 2017), with
ESRGAN's network interpolation (Wang et al., ECCV Workshops 2018) as the ``strength`` control."""

from __future__ import annotations

import threading
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from restore.ops.color import gray_to_rgb
from restore.pipelines.base import OptionError, Pipeline, prepare
from restore.zoo.settings import UpscaleSettings

#: Interpolated weights kept per strength in a pipeline (the least recently made go first).
STRENGTH_CACHE = 4


def interpolate_state(psnr: dict[str, torch.Tensor], gan: dict[str, torch.Tensor], strength: float
                      ) -> dict[str, torch.Tensor]:
    """ESRGAN's network interpolation: ``(1 - strength) * psnr + strength * gan`` for every
    floating-point tensor (computed in float32, returned in the tensors' dtype); other
    tensors (counters) are taken from ``gan``. ``strength`` 0 and 1 return the two state
    dicts' tensors themselves, bit for bit.

    Raises:
        ValueError: if the two state dicts do not have the same names and shapes.
    """
    if psnr.keys() != gan.keys() or any(psnr[k].shape != gan[k].shape for k in gan):
        raise ValueError("the PSNR and the GAN weights do not have the same architecture")
    if strength == 0:
        return dict(psnr)
    if strength == 1:
        return dict(gan)
    return {k: ((1 - strength) * psnr[k].float() + strength * g.float()).to(g.dtype) if g.is_floating_point() else g
            for k, g in gan.items()}


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
        >>> pipe = UpscalePipeline.from_pretrained("real-srgan-x4")   # device auto
        >>> big = pipe(image)                                     # numpy in -> numpy out, 4x the size
        >>> big = pipe(image, outscale=3.5)                       # model x4, then resized to 3.5x

    Large images run tile by tile at the low-resolution side (``tile``/``overlap`` are in
    input pixels; default: the model's, 192/32 for the shipped x4 models), with feathered
    overlaps, so the output has no seams and memory stays bounded. Gray images run through
    the RGB network as three equal channels and come back gray. Alpha is upscaled separately
    with bicubic interpolation (the model was trained on photographs, not on masks), as
    Real-ESRGAN's ``--alpha_upsampler bicubic`` does.

    ``strength`` (0-1) trades fidelity for detail on a model fine-tuned adversarially from a
    PSNR model (its spec's ``settings.psnr_partner``, e.g. real-srgan-x4 from real-srresnet-x4): the
    network runs with the weights ``(1 - strength) * PSNR + strength * GAN``; 0 gives the
    PSNR model's output (smooth, faithful, highest PSNR), 1 the adversarial model's
    (sharpest). The partner's weights are loaded on first use, and the interpolated weights
    of the last few strengths are kept.
    """

    task = "upscale"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._states: dict[float, dict[str, torch.Tensor]] = {}
        st = self.settings
        # the strength of the weights loaded: a model's own weights are strength 1 when it has a
        # PSNR partner (whatever strength it runs at by default), its default otherwise
        self._strength = None if st is None else 1.0 if st.psnr_partner else st.default_strength
        self._lock = threading.Lock()

    @property
    def settings(self) -> UpscaleSettings | None:
        """The model's :class:`restore.zoo.settings.UpscaleSettings` (None: no strength control)."""
        st = self.spec.settings
        return st if isinstance(st, UpscaleSettings) else None

    @property
    def scale(self) -> int:
        """The model's upscaling factor."""
        return int(self.spec.scale)

    def resolve_options(self, *, outscale: float | None = None, strength: float | None = None) -> dict[str, Any]:
        """``outscale`` checked (None: the model's scale) and ``strength`` checked (None:
        the model's default, ``settings.default_strength``).

        Raises:
            OptionError: for an ``outscale`` <= 0, a ``strength`` outside [0, 1], or a
                strength other than its default on a model without a PSNR partner.
        """
        if outscale is not None and not float(outscale) > 0:
            raise OptionError("outscale", f"must be > 0, got {outscale}")
        st = self.settings
        if strength is None:
            return {"outscale": outscale, "strength": None if st is None else st.default_strength}
        strength = float(strength)
        if not 0.0 <= strength <= 1.0:
            raise OptionError("strength", f"must be in [0, 1], got {strength}")
        if st is None or st.psnr_partner is None:
            default = None if st is None else st.default_strength
            if strength != default:
                from restore.zoo.registry import get_spec, list_models
                paired = [m for m in list_models("upscale") if getattr(get_spec(m).settings, "psnr_partner", None)]
                raise OptionError("strength", f"{self.spec.name} has no PSNR partner to interpolate with, so it runs "
                                              f"only at its own strength ({default}); models with a strength control: "
                                              f"{', '.join(paired) or 'none'}")
        return {"outscale": outscale, "strength": strength}

    def _state_for(self, strength: float) -> dict[str, torch.Tensor]:
        """The weights at ``strength`` (cached; the partner loaded on first use)."""
        if "gan" not in self.__dict__:
            net, _ = self.load_partner(self.settings.psnr_partner, "PSNR")
            self.gan = {k: v.clone() for k, v in self.model.state_dict().items()}
            self.psnr = {k: v.to(self.gan[k].dtype) for k, v in net.state_dict().items()}
        if strength not in self._states:
            while len(self._states) >= STRENGTH_CACHE:
                self._states.pop(next(iter(self._states)))
            self._states[strength] = interpolate_state(self.psnr, self.gan, strength)
        return self._states[strength]

    def __call__(self, image: Any, outscale: float | None = None, strength: float | None = None) -> Any:
        """Upscale one image (or a batch, for tensors).

        Args:
            image: numpy ``H x W [x C]`` (uint8, uint16 or float32 in [0, 1], C in 1-4),
                PIL image, or tensor (B, C, H, W)/(C, H, W) float in [0, 1].
            outscale: final size as a multiple of the input size (e.g. 2 or 3.5); the
                model's output is resized to ``round(H * outscale) x round(W * outscale)``
                (Lanczos up, area down). Default: the model's scale.
            strength: detail against fidelity, in [0, 1], for a model with a PSNR partner
                (real-srgan-x4, srgan-x4): 0 = the PSNR model's output, 1 = the adversarial
                model's own weights. Default: the model's ``settings.default_strength`` (0.5
                for real-srgan-x4, 1 for srgan-x4).

        Returns:
            The upscaled image, of the same kind, dtype and channel count as ``image``,
            ``scale`` (or ``outscale``) times its height and width.

        Raises:
            OptionError: for an ``outscale`` <= 0 or one that gives an empty image, or a bad
                ``strength`` (see :meth:`resolve_options`) (a ValueError).
            ValueError: for an unsupported shape.
            TypeError: for an unsupported input kind or dtype.
        """
        options = self.resolve_options(outscale=outscale, strength=strength)
        outscale, strength = options["outscale"], options["strength"]
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
        with self._lock:                      # the weights of one strength for the whole call
            if strength != self._strength:
                self.model.load_state_dict(self._state_for(strength))
                self._strength = strength
            y = torch.cat([self.run_model(x[i:i + 1]) for i in range(x.shape[0])]).clamp(0, 1)
        if gray:
            y = y.mean(1, keepdim=True)
        y = resize(y, size).clamp(0, 1)
        alpha = prep.alpha
        if alpha is not None:
            alpha = F.interpolate(alpha.float(), size=size, mode="bicubic", align_corners=False).clamp(0, 1)
        return prep.finish(y, alpha)
