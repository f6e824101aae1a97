"""Color conversions on (B, C, H, W) float tensors in [0, 1].

Constants are the ITU-R BT.601 luma weights (also used by ``cv2.cvtColor`` and MATLAB's
``rgb2gray``/``rgb2ycbcr``, the field's convention for gray images and SR metrics).
"""

from __future__ import annotations

import torch

#: ITU-R BT.601 luma weights (R, G, B).
BT601_LUMA = (0.299, 0.587, 0.114)


def rgb_to_gray(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 1, H, W) BT.601 luma in [0, 1].

    Raises:
        ValueError: if ``x`` does not have 3 channels.
    """
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W) RGB, got shape {tuple(x.shape)}")
    w = torch.tensor(BT601_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def gray_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) -> (B, 3, H, W) with the gray value in every channel."""
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"expected (B, 1, H, W) gray, got shape {tuple(x.shape)}")
    return x.expand(-1, 3, -1, -1).contiguous()


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 1, H, W) Y of YCbCr (BT.601, studio range
    16-235 scaled to [0, 1] as in MATLAB's ``rgb2ycbcr``), the channel SR metrics use."""
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W) RGB, got shape {tuple(x.shape)}")
    w = torch.tensor((65.481, 128.553, 24.966), dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return ((x * w).sum(1, keepdim=True) + 16.0) / 255.0


#: sRGB (IEC 61966-2-1) linear RGB -> CIE XYZ matrix, D65 white (the rounded matrix of
#: scikit-image and OpenCV: its rows sum to the white point only to 1e-4, so pure grays
#: get |a*|, |b*| up to about 0.005).
SRGB_TO_XYZ = ((0.412453, 0.357580, 0.180423),
               (0.212671, 0.715160, 0.072169),
               (0.019334, 0.119193, 0.950227))
#: CIE D65 reference white (2-degree observer) in XYZ, Y = 1; scikit-image's and OpenCV's.
D65_WHITE = (0.95047, 1.0, 1.08883)
#: CIE Lab constants: epsilon = (6/29)^3 and kappa = (29/3)^3 (CIE 15:2004).
_LAB_EPS, _LAB_KAPPA = (6 / 29) ** 3, (29 / 3) ** 3


def _check_rgb(x: torch.Tensor) -> None:
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W), got shape {tuple(x.shape)}")


def rgb_to_lab(x: torch.Tensor) -> torch.Tensor:
    """sRGB -> CIE L*a*b* (D65), differentiable.

    Args:
        x: (B, 3, H, W) sRGB in [0, 1] (gamma-encoded, as stored in files).

    Returns:
        (B, 3, H, W): L* in [0, 100], a* and b* roughly in [-128, 127]; matches
        ``skimage.color.rgb2lab``.

    Raises:
        ValueError: if ``x`` is not (B, 3, H, W).
    """
    _check_rgb(x)
    x = x.clamp(0, 1)
    lin = torch.where(x > 0.04045, ((x + 0.055) / 1.055).clamp_min(1e-12) ** 2.4, x / 12.92)
    m = torch.tensor(SRGB_TO_XYZ, dtype=x.dtype, device=x.device)
    xyz = torch.einsum("ij,bjhw->bihw", m, lin)
    xyz = xyz / torch.tensor(D65_WHITE, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    f = torch.where(xyz > _LAB_EPS, xyz.clamp_min(1e-12) ** (1 / 3), (_LAB_KAPPA * xyz + 16) / 116)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)


def rgb_to_lightness(x: torch.Tensor) -> torch.Tensor:
    """CIE L* (D65) of sRGB or gray images, the L channel of :func:`rgb_to_lab` at a third
    of its cost (only the luminance Y is computed).

    Args:
        x: (B, 3, H, W) sRGB or (B, 1, H, W) gray (an sRGB gray level), in [0, 1].

    Returns:
        (B, 1, H, W) L* in [0, 100].

    Raises:
        ValueError: if ``x`` is not (B, 1 or 3, H, W).
    """
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"expected (B, 1 or 3, H, W), got shape {tuple(x.shape)}")
    x = x.clamp(0, 1)
    lin = torch.where(x > 0.04045, ((x + 0.055) / 1.055).clamp_min(1e-12) ** 2.4, x / 12.92)
    if x.shape[1] == 3:
        w = torch.tensor(SRGB_TO_XYZ[1], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        lin = (lin * w).sum(1, keepdim=True)
    else:
        lin = lin * sum(SRGB_TO_XYZ[1])
    f = torch.where(lin > _LAB_EPS, lin.clamp_min(1e-12) ** (1 / 3), (_LAB_KAPPA * lin + 16) / 116)
    return 116 * f - 16


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE L*a*b* (D65) -> sRGB in [0, 1] (out-of-gamut colors clipped), differentiable.

    Args:
        lab: (B, 3, H, W), L* in [0, 100], a*/b* in about [-128, 127].

    Returns:
        (B, 3, H, W) sRGB in [0, 1]; inverts :func:`rgb_to_lab` within 1e-4 in gamut.

    Raises:
        ValueError: if ``lab`` is not (B, 3, H, W).
    """
    _check_rgb(lab)
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], dim=1)
    xyz = torch.where(f ** 3 > _LAB_EPS, f ** 3, (116 * f - 16) / _LAB_KAPPA)
    xyz = xyz * torch.tensor(D65_WHITE, dtype=lab.dtype, device=lab.device).view(1, 3, 1, 1)
    m = torch.linalg.inv(torch.tensor(SRGB_TO_XYZ, dtype=torch.float64)).to(lab.dtype).to(lab.device)
    lin = torch.einsum("ij,bjhw->bihw", m, xyz).clamp(0, 1)
    return torch.where(lin > 0.0031308, 1.055 * lin.clamp_min(1e-12) ** (1 / 2.4) - 0.055, 12.92 * lin).clamp(0, 1)


def ab_gamut_bins(step: float = 10.0, extent: float = 110.0) -> torch.Tensor:
    """Centers of the quantized a*b* color bins that hold some sRGB color: the output
    classes of colorization by classification (Zhang, Isola & Efros, "Colorful Image
    Colorization", ECCV 2016, who use a grid of 10 and get 313 in-gamut bins).

    A cell of the ``step`` grid over ``[-extent, extent]^2`` is kept when any of 5 x 5
    points inside it, at any L* in 1..99, lies in the sRGB gamut (a round trip through
    sRGB moves it by less than 1).

    Returns:
        (Q, 2) float32 (a*, b*) bin centers, sorted by a* then b*.
    """
    centers = torch.arange(-extent, extent + 1e-6, step, dtype=torch.float64)
    offs = torch.linspace(-step / 2, step / 2, 5, dtype=torch.float64)
    a = (centers.view(-1, 1, 1, 1) + offs.view(1, 1, -1, 1)).expand(len(centers), len(centers), 5, 5)
    b = (centers.view(1, -1, 1, 1) + offs.view(1, 1, 1, -1)).expand(len(centers), len(centers), 5, 5)
    levels = torch.arange(1.0, 100.0, 2.0, dtype=torch.float64)
    keep = torch.zeros(len(centers), len(centers), dtype=torch.bool)
    for L in levels:
        lab = torch.stack([torch.full_like(a, float(L)), a, b]).reshape(1, 3, -1, 25)
        back = rgb_to_lab(lab_to_rgb(lab))
        ok = ((back - lab).abs().amax(1) < 1.0).reshape(len(centers), len(centers), 25).any(-1)
        keep |= ok
    ga, gb = torch.meshgrid(centers, centers, indexing="ij")
    return torch.stack([ga[keep], gb[keep]], dim=1).float()


def spread_chroma(ab: torch.Tensor, factor: float) -> torch.Tensor:
    """Move each pixel's chroma away from the image's mean chroma by ``factor``:
    ``mean + factor * (ab - mean)``, the mean over each image's pixels.

    For a colorization whose decoded chroma ``ab`` is the estimate to stay close to, this
    is the change that raises the spread term of the colorfulness of Hasler & Suesstrunk
    (2003; :func:`restore.metrics.colorfulness`, the standard deviation of the opponent
    channels) the most for a given squared distance from ``ab`` (a Lagrangian argument,
    with the opponent channels taken as linear in a*, b*), unlike a saturation factor
    (``factor * ab``), which also pushes the image's overall tint, e.g. a sepia cast,
    further out.

    Args:
        ab: (B, 2, H, W) float a*, b* (about -110 to 110).
        factor: >= 0; 1 returns ``ab`` unchanged, 0 the mean chroma everywhere.

    Returns:
        (B, 2, H, W) float a*, b*, same dtype (out-of-gamut colors are clipped by
        :func:`lab_to_rgb` later).

    Raises:
        ValueError: if ``ab`` is not (B, 2, H, W) or ``factor`` is negative.
    """
    if ab.dim() != 4 or ab.shape[1] != 2:
        raise ValueError(f"expected (B, 2, H, W) a*b*, got {tuple(ab.shape)}")
    if factor < 0:
        raise ValueError(f"factor must be >= 0, got {factor}")
    if factor == 1:
        return ab
    mean = ab.mean((2, 3), keepdim=True)
    return mean + (ab - mean) * factor
