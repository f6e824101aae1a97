"""Blur kernels of the real-world degradation model: isotropic and anisotropic Gaussian,
generalized Gaussian, plateau, and 2-D sinc (ringing), as in Real-ESRGAN (Wang et al.
2021, "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic Data",
section 3.1), and the random draw over them.

Every kernel is a square float32 numpy array of odd side, non-negative except the sinc
(whose side lobes are negative, which makes the ringing), and sums to 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.special import j1

#: The kernel families :func:`random_kernel` draws from.
KERNEL_KINDS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")


def _check_size(size: int) -> None:
    if size < 3 or size % 2 == 0:
        raise ValueError(f"kernel size must be odd and >= 3, got {size}")


def _inverse_covariance(sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    if sigma_x <= 0 or sigma_y <= 0:
        raise ValueError(f"sigmas must be > 0, got {sigma_x}, {sigma_y}")
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    cov = rot @ np.diag([sigma_x ** 2, sigma_y ** 2]) @ rot.T
    return np.linalg.inv(cov)


def _grid(size: int) -> np.ndarray:
    r = np.arange(size) - size // 2
    xx, yy = np.meshgrid(r, r)
    return np.stack([xx, yy], -1).astype(np.float64)  # (size, size, 2)


def _quadratic(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    g = _grid(size)
    return np.einsum("...i,ij,...j->...", g, _inverse_covariance(sigma_x, sigma_y, theta), g)


def _normalized(k: np.ndarray) -> np.ndarray:
    return (k / k.sum()).astype(np.float32)


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0,
                    beta: float = 1.0) -> np.ndarray:
    """A (generalized) Gaussian blur kernel, ``exp(-(0.5 x' C^-1 x) ** beta)``.

    Args:
        size: odd side of the kernel, in pixels, >= 3.
        sigma_x: standard deviation along the kernel's first axis, in pixels, > 0.
        sigma_y: along the second axis (default: ``sigma_x``, isotropic).
        theta: rotation of the first axis, in radians.
        beta: shape; 1 is the Gaussian, below 1 heavier tails, above 1 flatter tops
            (Real-ESRGAN draws it from [0.5, 4]).

    Returns:
        (size, size) float32, non-negative, summing to 1.

    Raises:
        ValueError: for an even or too small ``size``, or a sigma <= 0.
    """
    _check_size(size)
    q = 0.5 * _quadratic(size, sigma_x, sigma_x if sigma_y is None else sigma_y, theta)
    return _normalized(np.exp(-np.power(q, beta)))


def plateau_kernel(size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0,
                   beta: float = 2.0) -> np.ndarray:
    """A plateau-shaped kernel, ``1 / (1 + (x' C^-1 x) ** beta)`` (Real-ESRGAN's
    "plateau"): a flat top with soft shoulders, like a defocused lens.

    Args:
        size: odd side, >= 3.
        sigma_x, sigma_y, theta: as :func:`gaussian_kernel`.
        beta: shape, > 0 (Real-ESRGAN draws it from [1, 2]).

    Returns:
        (size, size) float32, non-negative, summing to 1.

    Raises:
        ValueError: as :func:`gaussian_kernel`.
    """
    _check_size(size)
    q = _quadratic(size, sigma_x, sigma_x if sigma_y is None else sigma_y, theta)
    return _normalized(1.0 / (1.0 + np.power(q, beta)))


def sinc_kernel(size: int, cutoff: float) -> np.ndarray:
    """A circular low-pass (2-D sinc, the jinc ``cutoff J1(cutoff r) / (2 pi r)``) kernel:
    convolving with it makes the ringing and overshoot of sharpened or resampled images.

    Args:
        size: odd side, >= 3.
        cutoff: cut-off frequency in radians per pixel, in (0, pi]; pi leaves an image
            nearly unchanged, smaller values ring more (Real-ESRGAN: [pi/3, pi] for
            kernels of side < 13, [pi/5, pi] otherwise).

    Returns:
        (size, size) float32 summing to 1; it has negative values.

    Raises:
        ValueError: for a bad ``size`` or a ``cutoff`` outside (0, pi].
    """
    _check_size(size)
    if not 0 < cutoff <= math.pi:
        raise ValueError(f"cutoff must be in (0, pi], got {cutoff}")
    g = _grid(size)
    r = np.hypot(g[..., 0], g[..., 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        k = cutoff * j1(cutoff * r) / (2 * np.pi * r)
    k[size // 2, size // 2] = cutoff ** 2 / (4 * np.pi)
    return _normalized(k)


def apply_kernel(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve every channel with a kernel (OpenCV, borders mirrored without repeating
    the edge pixel).

    Args:
        image: (H, W) or (H, W, C) float32.
        kernel: (k, k) float32.

    Returns:
        Same shape and dtype as ``image``; not clipped (a sinc kernel overshoots).
    """
    out = cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    return out.reshape(image.shape)


@dataclass(frozen=True)
class KernelRange:
    """Ranges from which :func:`random_kernel` draws a blur kernel.

    Attributes:
        sizes: odd kernel sides to pick from, uniformly.
        sigma: ``(low, high)`` standard deviation in pixels.
        kinds: the families (:data:`KERNEL_KINDS`) to pick from.
        weights: their probabilities (same length as ``kinds``; normalized).
        beta_generalized: ``(low, high)`` shape of the generalized Gaussian.
        beta_plateau: ``(low, high)`` shape of the plateau kernel.
        sinc_prob: probability that a sinc kernel replaces the blur kernel.
    """

    sizes: tuple[int, ...] = (7, 9, 11, 13, 15, 17, 19, 21)
    sigma: tuple[float, float] = (0.2, 3.0)
    kinds: tuple[str, ...] = KERNEL_KINDS
    weights: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    beta_generalized: tuple[float, float] = (0.5, 4.0)
    beta_plateau: tuple[float, float] = (1.0, 2.0)
    sinc_prob: float = 0.1

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(KERNEL_KINDS)
        if unknown or len(self.kinds) != len(self.weights) or not self.kinds:
            raise ValueError(f"kinds must be among {KERNEL_KINDS} with one weight each, got {self.kinds}, "
                             f"{self.weights}")
        for s in self.sizes:
            _check_size(s)
        if not 0 < self.sigma[0] <= self.sigma[1]:
            raise ValueError(f"sigma range must be 0 < low <= high, got {self.sigma}")


def random_kernel(rng: np.random.Generator, ranges: KernelRange = KernelRange()) -> np.ndarray:
    """Draw one blur kernel as Real-ESRGAN's first and second blur stages do: a family
    from ``ranges.kinds``, sigmas and rotation uniform, or (with ``ranges.sinc_prob``) a
    sinc kernel with a cut-off uniform in [pi/3, pi] (side < 13) or [pi/5, pi].

    Args:
        rng: numpy random generator (the only source of randomness).
        ranges: what to draw from.

    Returns:
        (k, k) float32 summing to 1, k odd.
    """
    size = int(rng.choice(ranges.sizes))
    if rng.random() < ranges.sinc_prob:
        low = math.pi / 3 if size < 13 else math.pi / 5
        return sinc_kernel(size, float(rng.uniform(low, math.pi)))
    kind = str(rng.choice(ranges.kinds, p=np.asarray(ranges.weights) / sum(ranges.weights)))
    sx = float(rng.uniform(*ranges.sigma))
    sy, theta = (sx, 0.0) if kind.endswith("iso") and not kind.endswith("aniso") else (
        float(rng.uniform(*ranges.sigma)), float(rng.uniform(-math.pi, math.pi)))
    if kind.startswith("generalized"):
        return gaussian_kernel(size, sx, sy, theta, beta=float(rng.uniform(*ranges.beta_generalized)))
    if kind.startswith("plateau"):
        return plateau_kernel(size, sx, sy, theta, beta=float(rng.uniform(*ranges.beta_plateau)))
    return gaussian_kernel(size, sx, sy, theta)
