"""A reference photo's colors as a global hint for colorization.

Colorization by classification (Zhang, Isola & Efros, "Colorful Image Colorization", ECCV
2016) predicts, per pixel, a distribution over quantized a*b* chroma bins. A reference
photo whose palette the result should follow is summarized by its own distribution over
the same bins, a global histogram as in the "global hints" of Zhang, Zhu, Isola et al.
("Real-Time User-Guided Image Colorization with Learned Deep Priors", SIGGRAPH 2017). Here
it reweights each pixel's posterior as a prior before decoding (Bayes' rule with the
reference's color frequencies in place of the training set's, the idea of Zhang et al.
2016's class rebalancing), and the decoded chroma can then be moved to the reference's
a*b* mean and standard deviation (Reinhard, Ashikhmin, Gooch & Shirley, "Color Transfer
between Images", IEEE CG&A 2001).
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from restore.ops.color import rgb_to_lab

#: Std (a*b* units) of the Gaussian that smooths a reference's bin histogram: half the
#: bin spacing, as Zhang et al. (2016) smooth the training set's color prior.
HISTOGRAM_SIGMA = 5.0

#: Share of the uniform distribution mixed into a reference's histogram, so that a color
#: the reference lacks is discouraged, not forbidden.
HISTOGRAM_FLOOR = 0.05

#: Short side, in pixels, a reference is reduced to before its colors are counted.
REFERENCE_SIZE = 256

#: Alpha (0-1) above which a reference pixel counts.
REFERENCE_ALPHA = 0.5

#: Mean chroma (a*b* units) below which a reference is taken as colorless (gray).
MIN_REFERENCE_CHROMA = 1.0


@dataclasses.dataclass(frozen=True)
class ColorReference:
    """The colors of a reference photo, summarized over a colorization model's a*b* bins.

    Attributes:
        hist: (Q,) float32 smoothed, normalized histogram of the reference's chroma over
            the bins (sums to 1; every bin > 0 once a floor is mixed in).
        mean: (2,) float32 mean a*, b* of the reference.
        std: (2,) float32 standard deviation of a*, b*.
    """

    hist: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor


def reference_chroma(rgb: torch.Tensor, alpha: torch.Tensor | None = None, size: int = REFERENCE_SIZE
                     ) -> torch.Tensor:
    """The a*b* of a reference photo's pixels, the photo reduced to a short side of ``size``.

    Args:
        rgb: (1, 3, H, W) sRGB float in [0, 1].
        alpha: optional (1, 1, H, W) alpha in [0, 1]; pixels at or below
            :data:`REFERENCE_ALPHA` are left out.
        size: short side, in pixels, of the reduced photo (a smaller photo is kept).

    Returns:
        (N, 2) float32 a*, b* of the kept pixels.

    Raises:
        ValueError: if ``rgb`` is not (1, 3, H, W) or no pixel is opaque.
    """
    if rgb.ndim != 4 or rgb.shape[:2] != (1, 3):
        raise ValueError(f"reference must be (1, 3, H, W) RGB, got {tuple(rgb.shape)}")
    h, w = rgb.shape[-2:]
    s = min(1.0, size / min(h, w))
    if s < 1:
        out = (max(1, round(h * s)), max(1, round(w * s)))
        rgb = F.interpolate(rgb.float(), size=out, mode="bilinear", align_corners=False, antialias=True)
        if alpha is not None:
            alpha = F.interpolate(alpha.float(), size=out, mode="bilinear", align_corners=False, antialias=True)
    ab = rgb_to_lab(rgb.float().clamp(0, 1))[0, 1:].flatten(1).T
    if alpha is not None:
        ab = ab[alpha.flatten() > REFERENCE_ALPHA]
    if len(ab) == 0:
        raise ValueError("the reference photo is fully transparent: no color to take")
    return ab


def ab_histogram(ab: torch.Tensor, bins: torch.Tensor, sigma: float = HISTOGRAM_SIGMA,
                 floor: float = HISTOGRAM_FLOOR) -> torch.Tensor:
    """Smoothed histogram of chroma values over the a*b* bins.

    Each value counts for its nearest bin; the counts are smoothed with a Gaussian of std
    ``sigma`` over the bin centers (as Zhang et al. 2016 smooth their color prior) and
    mixed with the uniform distribution (share ``floor``).

    Args:
        ab: (N, 2) a*, b* values.
        bins: (Q, 2) bin centers.
        sigma: smoothing std in a*b* units; 0: none.
        floor: share of the uniform distribution, in [0, 1).

    Returns:
        (Q,) float32, summing to 1.

    Raises:
        ValueError: if ``ab`` is empty or ``floor`` is outside [0, 1).
    """
    if len(ab) == 0:
        raise ValueError("no chroma values to count")
    if not 0 <= floor < 1:
        raise ValueError(f"floor must be in [0, 1), got {floor}")
    bins = bins.float().to(ab.device)
    idx = torch.cdist(ab.float(), bins).argmin(1)
    p = torch.bincount(idx, minlength=len(bins)).double()
    if sigma > 0:
        kernel = torch.exp(-torch.cdist(bins.double(), bins.double()).pow(2) / (2 * sigma ** 2))
        p = kernel @ p
    p = p / p.sum()
    return ((1 - floor) * p + floor / len(bins)).float()


def color_reference(rgb: torch.Tensor, bins: torch.Tensor, alpha: torch.Tensor | None = None) -> ColorReference:
    """Summarize a reference photo for :func:`reference_logits` and :func:`match_chroma`.

    Args:
        rgb: (1, 3, H, W) sRGB float in [0, 1].
        bins: (Q, 2) the model's a*b* bin centers.
        alpha: optional (1, 1, H, W) alpha; transparent pixels are left out.

    Returns:
        The reference's :class:`ColorReference`.

    Raises:
        ValueError: a shape that is not (1, 3, H, W), a fully transparent reference, or a
            colorless one (mean chroma under :data:`MIN_REFERENCE_CHROMA`: a gray photo
            has no palette to give).
    """
    ab = reference_chroma(rgb, alpha)
    if float(ab.norm(dim=1).mean()) < MIN_REFERENCE_CHROMA:
        raise ValueError("the reference photo is gray (no color to take); give a color photo")
    return ColorReference(hist=ab_histogram(ab, bins), mean=ab.mean(0), std=ab.std(0, unbiased=False))


#: The lambda of the class rebalancing the colorize models were trained with (Zhang et al.
#: 2016, eq. 4; ``restore.train.colorize.rebalancing_weights``).
REBALANCE_LAMBDA = 0.5


def training_log_prior(log_weights: torch.Tensor, lam: float = REBALANCE_LAMBDA) -> torch.Tensor:
    """The training set's smoothed color frequencies ``p`` over the bins, recovered from a
    model's class-rebalancing weights ``w = k / ((1 - lam) p + lam / Q)`` normalized so that
    ``sum(p * w) = 1`` (Zhang et al. 2016, eq. 4), which gives ``k = 1 / sum(1 / w)``.

    Args:
        log_weights: (Q,) log of the rebalancing weights (the model's ``log_weights``).
        lam: the rebalancing's lambda.

    Returns:
        (Q,) float32 ``log p`` (p floored at 1e-8).
    """
    u = torch.exp(-log_weights.double())
    p = (u / u.sum() - lam / len(u)) / (1 - lam)
    return p.clamp_min(1e-8).log().float()


def reference_logits(logits: torch.Tensor, reference: ColorReference, strength: float,
                     log_prior: torch.Tensor | None = None) -> torch.Tensor:
    """Reweight a colorization network's per-pixel distribution by a reference's palette,
    as logits: ``p'(q | x) ~ p(q | x) * (hist(q) / prior(q)) ** strength``. With the
    training set's color frequencies as ``prior`` (:func:`training_log_prior`) and
    ``strength=1`` this is Bayes' rule with the reference's frequencies in place of the
    training set's; without ``log_prior``, the histogram multiplies the posterior.

    Args:
        logits: (B, Q, h, w) the network's bin logits.
        reference: the reference's :class:`ColorReference` over the same Q bins.
        strength: the exponent, >= 0 (0: unchanged).
        log_prior: optional (Q,) log of the frequencies to divide out.

    Returns:
        (B, Q, h, w) float32 logits, to be decoded as the network's are.

    Raises:
        ValueError: if the histogram does not have Q bins.
    """
    if reference.hist.numel() != logits.shape[1]:
        raise ValueError(f"the reference has {reference.hist.numel()} bins, the model {logits.shape[1]}")
    log_h = reference.hist.float().to(logits.device).log()
    if log_prior is not None:
        log_h = log_h - log_prior.float().to(logits.device)
    return logits.float() + strength * log_h.view(1, -1, 1, 1)


#: Largest factor by which :func:`match_chroma` stretches the spread of a chroma channel.
MAX_CHROMA_GAIN = 3.0


def match_chroma(ab: torch.Tensor, reference: ColorReference, amount: float = 1.0) -> torch.Tensor:
    """Move decoded chroma to a reference's a*b* mean and std, channel by channel
    (Reinhard et al. 2001, on a* and b* only: the lightness is not touched).

    Args:
        ab: (B, 2, h, w) a*, b*.
        reference: its ``mean`` and ``std`` are the targets.
        amount: 0 (unchanged) to 1 (the reference's mean and std).

    Returns:
        (B, 2, h, w) chroma: ``ab + amount * (matched - ab)`` with
        ``matched = (ab - mean(ab)) * g + ref_mean``, ``g = ref_std / std(ab)`` capped at
        :data:`MAX_CHROMA_GAIN`.
    """
    if amount == 0:
        return ab
    mu = ab.mean((2, 3), keepdim=True)
    sd = ab.std((2, 3), keepdim=True, unbiased=False)
    ref_mu = reference.mean.to(ab).view(1, 2, 1, 1)
    gain = (reference.std.to(ab).view(1, 2, 1, 1) / sd.clamp_min(1e-6)).clamp(max=MAX_CHROMA_GAIN)
    matched = (ab - mu) * gain + ref_mu
    return ab + amount * (matched - ab)
