"""Camera noise synthesized in linear RGB: "Unprocessing Images for Learned Raw
Denoising" (Brooks et al. 2019), without the color-correction matrix.

An sRGB image is taken back towards the sensor (inverse tone curve, inverse gamma, inverse
white balance), mosaicked to an RGGB Bayer pattern, given shot and read noise (variance
``shot * signal + read``), demosaicked by OpenCV and processed forward again. The noise that
comes out is signal-dependent, stronger in the shadows, colored and correlated between
neighbouring pixels, as a phone's or a compact camera's is. All functions take and return
float32 (H, W, 3) RGB arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

#: Display gamma undone and redone (Brooks et al. use 2.2).
GAMMA = 2.2
#: The OpenCV demosaicing code that inverts :func:`mosaic` (R at (0, 0), B at (1, 1)).
_DEMOSAIC = cv2.COLOR_BayerBG2RGB


@dataclass(frozen=True)
class CameraParams:
    """One draw of the camera model.

    Attributes:
        red_gain: white-balance gain of the red channel (Brooks et al.: [1.9, 2.4]).
        blue_gain: of the blue channel ([1.5, 1.9]).
        shot: shot-noise factor, the variance per unit of linear signal.
        read: read-noise variance, in linear units squared.
    """

    red_gain: float
    blue_gain: float
    shot: float
    read: float


def random_camera(rng: np.random.Generator, shot_range: tuple[float, float] = (1e-4, 1.2e-2)) -> CameraParams:
    """Draw white-balance gains and a noise level as Brooks et al. 2019 (section 3.2): the
    shot factor log-uniform in ``shot_range``, the read variance from the log-linear fit
    of their cameras, ``log read = 2.18 log shot + 1.20 + N(0, 0.26)``.

    Args:
        rng: numpy random generator.
        shot_range: ``(low, high)`` of the shot-noise factor, both > 0.

    Returns:
        The parameters.

    Raises:
        ValueError: for a range that is not ``0 < low <= high``.
    """
    if not 0 < shot_range[0] <= shot_range[1]:
        raise ValueError(f"shot_range must be 0 < low <= high, got {shot_range}")
    log_shot = rng.uniform(math.log(shot_range[0]), math.log(shot_range[1]))
    log_read = 2.18 * log_shot + 1.20 + rng.normal(0.0, 0.26)
    return CameraParams(red_gain=float(rng.uniform(1.9, 2.4)), blue_gain=float(rng.uniform(1.5, 1.9)),
                        shot=float(math.exp(log_shot)), read=float(math.exp(log_read)))


def unprocess(image: np.ndarray, params: CameraParams) -> np.ndarray:
    """sRGB to linear camera RGB: inverse smoothstep tone curve, inverse gamma, inverse
    white balance.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1].
        params: the camera draw (its gains are used).

    Returns:
        (H, W, 3) float32 in [0, 1].
    """
    x = np.clip(image, 0.0, 1.0).astype(np.float32)
    x = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * x) / 3.0)
    x = np.power(np.maximum(x, 1e-8), GAMMA)
    gains = np.array([1.0 / params.red_gain, 1.0, 1.0 / params.blue_gain], np.float32)
    return (x * gains).astype(np.float32)


def process(linear: np.ndarray, params: CameraParams) -> np.ndarray:
    """Linear camera RGB back to sRGB: white balance, clip, gamma, smoothstep tone curve
    (the inverse of :func:`unprocess`).

    Args:
        linear: (H, W, 3) float32, linear.
        params: the camera draw.

    Returns:
        (H, W, 3) float32 in [0, 1].
    """
    gains = np.array([params.red_gain, 1.0, params.blue_gain], np.float32)
    x = np.clip(linear * gains, 0.0, 1.0)
    x = np.power(np.maximum(x, 1e-8), 1.0 / GAMMA)
    return (3.0 * x ** 2 - 2.0 * x ** 3).astype(np.float32)


def mosaic(linear: np.ndarray) -> np.ndarray:
    """RGGB Bayer mosaic of an RGB image: R at even rows and columns, B at odd ones, G
    elsewhere.

    Args:
        linear: (H, W, 3) float32.

    Returns:
        (H, W) float32.
    """
    raw = linear[:, :, 1].copy()
    raw[0::2, 0::2] = linear[0::2, 0::2, 0]
    raw[1::2, 1::2] = linear[1::2, 1::2, 2]
    return raw


def demosaic(raw: np.ndarray) -> np.ndarray:
    """Bilinear demosaicing (OpenCV) of an RGGB mosaic made by :func:`mosaic`.

    Args:
        raw: (H, W) float32 in [0, 1], H and W >= 2.

    Returns:
        (H, W, 3) float32 in [0, 1].
    """
    q = np.round(np.clip(raw, 0.0, 1.0) * 65535.0).astype(np.uint16)
    return cv2.cvtColor(q, _DEMOSAIC).astype(np.float32) / 65535.0


def camera_noise(image: np.ndarray, rng: np.random.Generator, params: CameraParams | None = None) -> np.ndarray:
    """Add realistic camera noise to an sRGB image (Brooks et al. 2019): unprocess,
    mosaic, add shot and read noise, demosaic, process.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1], H and W >= 2.
        rng: numpy random generator.
        params: a camera draw (default: :func:`random_camera`).

    Returns:
        (H, W, 3) float32 in [0, 1]. With no noise (``shot = read = 0``) it differs from
        the input only by the demosaicing's interpolation.

    Raises:
        ValueError: for an image that is not (H, W, 3) with H, W >= 2.
    """
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 2:
        raise ValueError(f"expected an H x W x 3 image with H, W >= 2, got {image.shape}")
    params = params or random_camera(rng)
    raw = mosaic(unprocess(image, params))
    std = np.sqrt(np.maximum(raw * params.shot + params.read, 0.0))
    raw = raw + rng.standard_normal(raw.shape, dtype=np.float32) * std.astype(np.float32)
    return process(demosaic(raw), params)
