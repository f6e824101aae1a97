"""The real-world degradation model: blur, resize, noise and JPEG in random order and
strength, as the photos people bring have been through.

Two orders from the field:

- ``"realesrgan"``: Real-ESRGAN's high-order model (Wang et al. 2021): each
  :class:`DegradationStage` applies blur, resize, noise and JPEG in that order (the second
  stage only with its ``prob``), then the image is resized to its target size and a sinc
  filter and a last JPEG follow in random order.
- ``"bsrgan"``: BSRGAN's shuffled model (Zhang et al. 2021, "Designing a Practical
  Degradation Model for Deep Blind Image Super-Resolution"): the operations of all stages
  are shuffled, then the target resize and the last JPEG.

Camera noise (:mod:`.camera`, Brooks et al. 2019) is one of the noise kinds. Every
function takes an (H, W, 3) float32 RGB array in [0, 1] and a ``numpy.random.Generator``
(the only source of randomness: the same seed gives the same result), and returns float32;
:func:`degrade` returns the final image clipped and rounded to 8-bit levels, as a file.

Presets: :data:`REAL_PHOTO` (same-size restoration of phone and web JPEGs),
:data:`MILD` (light compression and noise, e.g. for watermark removal),
:data:`REALESRGAN_X4`, :data:`REALESRGAN_X2` and :data:`BSRGAN_X4` (super-resolution).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import cv2
import numpy as np

from restore.ops.degrade.camera import camera_noise, random_camera
from restore.ops.degrade.kernels import KernelRange, apply_kernel, random_kernel, sinc_kernel
from restore.ops.degrade.noise import jpeg_roundtrip

#: Resampling filters :func:`random_resize` picks from, by name.
RESIZE_MODES = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
#: Noise kinds a stage picks from.
NOISE_KINDS = ("gaussian", "poisson", "camera")
ORDERS = ("realesrgan", "bsrgan")


def to_8bit(image: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and round to 256 levels; float32 in and out, shape kept."""
    return (np.round(np.clip(image, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)


def resize(image: np.ndarray, size: tuple[int, int], mode: str = "bicubic") -> np.ndarray:
    """Resize with OpenCV.

    Args:
        image: (H, W, 3) float32.
        size: ``(height, width)`` of the result, both >= 1.
        mode: a key of :data:`RESIZE_MODES` (``area`` for downsampling without aliasing).

    Returns:
        (height, width, 3) float32; bicubic may overshoot [0, 1].

    Raises:
        ValueError: for an unknown mode or a size below 1.
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"resize mode must be one of {sorted(RESIZE_MODES)}, got {mode!r}")
    h, w = size
    if h < 1 or w < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if (h, w) == image.shape[:2]:
        return image
    return cv2.resize(image, (w, h), interpolation=RESIZE_MODES[mode]).reshape(h, w, -1)


def random_resize(image: np.ndarray, rng: np.random.Generator, up: tuple[float, float] = (1.0, 1.5),
                  down: tuple[float, float] = (0.15, 1.0),
                  probs: tuple[float, float, float] = (0.2, 0.7, 0.1)) -> np.ndarray:
    """Resize by a random factor with a random filter (Real-ESRGAN's resize step).

    Args:
        image: (H, W, 3) float32.
        rng: numpy random generator.
        up: ``(low, high)`` factor when enlarging.
        down: ``(low, high)`` factor when shrinking.
        probs: probabilities of up, down and keep.

    Returns:
        The resized image (at least 8 pixels a side), float32.
    """
    kind = rng.choice(3, p=np.asarray(probs) / sum(probs))
    if kind == 2:
        return image
    factor = rng.uniform(*(up if kind == 0 else down))
    h, w = image.shape[:2]
    size = (max(8, round(h * factor)), max(8, round(w * factor)))
    return resize(image, size, str(rng.choice(list(RESIZE_MODES))))


def add_gaussian_noise(image: np.ndarray, rng: np.random.Generator, sigma: float, gray: bool = False) -> np.ndarray:
    """Add white Gaussian noise.

    Args:
        image: (H, W, 3) float32 in [0, 1].
        rng: numpy random generator.
        sigma: standard deviation on the 0-255 scale, >= 0.
        gray: the same noise in all channels (luminance noise) instead of independent.

    Returns:
        Same shape, float32; not clipped.

    Raises:
        ValueError: for a negative sigma.
    """
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    shape = image.shape[:2] + ((1,) if gray else image.shape[2:])
    return (image + rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma / 255.0)).astype(np.float32)


def add_poisson_noise(image: np.ndarray, rng: np.random.Generator, scale: float, gray: bool = False) -> np.ndarray:
    """Add Poisson (photon) noise as Real-ESRGAN does: the image is taken as ``10 ** scale``
    photons per unit and resampled, so the noise grows with the signal.

    Args:
        image: (H, W, 3) float32 in [0, 1].
        rng: numpy random generator.
        scale: ``log10`` of the photons per unit of signal; smaller is noisier
            (1.5: about 32 gray levels of noise at mid-gray; 3: about 6).
        gray: draw the noise on the luminance and add it to all channels.

    Returns:
        Same shape, float32; not clipped.
    """
    vals = 10.0 ** scale
    x = np.clip(image, 0.0, 1.0)
    if gray:
        y = x @ np.array([0.299, 0.587, 0.114], np.float32)
        noise = (rng.poisson(y * vals) / vals - y)[..., None]
    else:
        noise = rng.poisson(x * vals) / vals - x
    return (image + noise).astype(np.float32)


def random_jpeg(image: np.ndarray, rng: np.random.Generator, quality: tuple[int, int]) -> np.ndarray:
    """JPEG round trip through the real encoder (OpenCV's libjpeg, 4:2:0) at a quality
    drawn uniformly from ``quality`` (inclusive).

    Args:
        image: (H, W, 3) float32; clipped and rounded to 8 bit first.
        rng: numpy random generator.
        quality: ``(low, high)`` in 1-100.

    Returns:
        (H, W, 3) float32 on 8-bit levels.
    """
    q = int(rng.integers(quality[0], quality[1] + 1))
    u8 = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    return jpeg_roundtrip(u8, q).astype(np.float32) / 255.0


@dataclass(frozen=True)
class DegradationStage:
    """One stage of blur, resize, noise and JPEG; each step happens with its probability.

    Attributes:
        prob: probability that the stage runs at all.
        blur_prob: probability of a blur with a kernel from ``kernel``.
        kernel: the blur kernels' ranges (:class:`restore.ops.degrade.kernels.KernelRange`).
        resize_prob: probability of a resize with :func:`random_resize` (``up``/``down``).
        up, down: factor ranges of that resize.
        noise_prob: probability of noise.
        noise_kinds: kinds among :data:`NOISE_KINDS` ...
        noise_weights: ... and their probabilities.
        gaussian_sigma: ``(low, high)`` sigma of Gaussian noise, 0-255 scale.
        poisson_scale: ``(low, high)`` of the Poisson ``scale`` (:func:`add_poisson_noise`).
        camera_shot: ``(low, high)`` shot-noise factor of camera noise (:mod:`.camera`).
        gray_noise_prob: probability that Gaussian or Poisson noise is gray (luminance).
        jpeg_prob: probability of a JPEG round trip ...
        jpeg_quality: ... at a quality in this inclusive range.
    """

    prob: float = 1.0
    blur_prob: float = 1.0
    kernel: KernelRange = field(default_factory=KernelRange)
    resize_prob: float = 1.0
    up: tuple[float, float] = (1.0, 1.5)
    down: tuple[float, float] = (0.15, 1.0)
    noise_prob: float = 1.0
    noise_kinds: tuple[str, ...] = ("gaussian", "poisson")
    noise_weights: tuple[float, ...] = (0.5, 0.5)
    gaussian_sigma: tuple[float, float] = (1.0, 30.0)
    poisson_scale: tuple[float, float] = (1.5, 3.0)
    camera_shot: tuple[float, float] = (1e-4, 1.2e-2)
    gray_noise_prob: float = 0.4
    jpeg_prob: float = 1.0
    jpeg_quality: tuple[int, int] = (30, 95)

    def __post_init__(self) -> None:
        for name in ("prob", "blur_prob", "resize_prob", "noise_prob", "gray_noise_prob", "jpeg_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if set(self.noise_kinds) - set(NOISE_KINDS) or len(self.noise_kinds) != len(self.noise_weights):
            raise ValueError(f"noise_kinds must be among {NOISE_KINDS} with one weight each, got "
                             f"{self.noise_kinds}, {self.noise_weights}")
        if not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise ValueError(f"jpeg_quality must be 1 <= low <= high <= 100, got {self.jpeg_quality}")

    def operations(self, rng: np.random.Generator) -> list:
        """The steps this stage draws, as callables ``op(image, rng) -> image`` in the
        stage's order (blur, resize, noise, JPEG), the skipped ones left out."""
        ops = []
        if rng.random() < self.blur_prob:
            ops.append(lambda x, r: apply_kernel(x, random_kernel(r, self.kernel)))
        if rng.random() < self.resize_prob:
            ops.append(lambda x, r: random_resize(x, r, self.up, self.down))
        if rng.random() < self.noise_prob:
            ops.append(self._noise)
        if rng.random() < self.jpeg_prob:
            ops.append(lambda x, r: random_jpeg(x, r, self.jpeg_quality))
        return ops

    def _noise(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        kind = str(rng.choice(self.noise_kinds, p=np.asarray(self.noise_weights) / sum(self.noise_weights)))
        if kind == "camera":
            return camera_noise(np.clip(x, 0.0, 1.0), rng, random_camera(rng, self.camera_shot))
        gray = bool(rng.random() < self.gray_noise_prob)
        if kind == "gaussian":
            return add_gaussian_noise(x, rng, float(rng.uniform(*self.gaussian_sigma)), gray)
        return add_poisson_noise(x, rng, float(rng.uniform(*self.poisson_scale)), gray)


@dataclass(frozen=True)
class DegradationConfig:
    """A whole degradation model.

    Attributes:
        stages: the stages, run in turn (``"realesrgan"``) or with their steps shuffled
            together (``"bsrgan"``).
        order: one of :data:`ORDERS`.
        scale: the output is the input's size divided by this (1: same size, for
            restoration; 2 or 4 for super-resolution). The input's sides must be multiples.
        final_resize_modes: filters the resize to the target size picks from.
        final_sinc_prob: probability of a last sinc filter (ringing), cut-off in
            [pi/3, pi] (Real-ESRGAN: 0.8).
        final_jpeg_prob: probability of a last JPEG round trip ...
        final_jpeg_quality: ... at a quality in this inclusive range.
        identity_prob: probability that the image is only resized to the target size
            (a clean input, so a model learns to leave clean photos alone).
    """

    stages: tuple[DegradationStage, ...]
    order: str = "realesrgan"
    scale: int = 1
    final_resize_modes: tuple[str, ...] = ("area", "bilinear", "bicubic")
    final_sinc_prob: float = 0.8
    final_jpeg_prob: float = 1.0
    final_jpeg_quality: tuple[int, int] = (30, 95)
    identity_prob: float = 0.0

    def __post_init__(self) -> None:
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")
        if self.scale < 1:
            raise ValueError(f"scale must be >= 1, got {self.scale}")
        unknown = set(self.final_resize_modes) - set(RESIZE_MODES)
        if unknown or not self.final_resize_modes:
            raise ValueError(f"final_resize_modes must be among {sorted(RESIZE_MODES)}, got {self.final_resize_modes}")
        for name in ("final_sinc_prob", "final_jpeg_prob", "identity_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 1 <= self.final_jpeg_quality[0] <= self.final_jpeg_quality[1] <= 100:
            raise ValueError(f"final_jpeg_quality must be 1 <= low <= high <= 100, got {self.final_jpeg_quality}")

    def replace(self, **changes) -> DegradationConfig:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


def degrade(image: np.ndarray, rng: np.random.Generator, config: DegradationConfig) -> np.ndarray:
    """Degrade one clean image with a random draw of a degradation model.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1]; H and W multiples of ``config.scale``.
        rng: numpy random generator: the same state gives the same result.
        config: the model (e.g. :data:`REAL_PHOTO`, :data:`REALESRGAN_X4`).

    Returns:
        (H // scale, W // scale, 3) float32 in [0, 1] on 8-bit levels.

    Raises:
        ValueError: for an image that is not (H, W, 3), or sides that are not multiples of
            the scale.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 image, got shape {image.shape}")
    h, w = image.shape[:2]
    s = config.scale
    if h % s or w % s:
        raise ValueError(f"image sides ({h}, {w}) must be multiples of the scale {s}")
    target = (h // s, w // s)
    x = image.astype(np.float32, copy=True)
    if rng.random() < config.identity_prob:
        return to_8bit(resize(x, target, "area"))
    ops = []
    for stage in config.stages:
        if rng.random() < stage.prob:
            ops.extend(stage.operations(rng))
    if config.order == "bsrgan":
        rng.shuffle(ops)
    for op in ops:
        x = op(x, rng)
    x = resize(x, target, str(rng.choice(config.final_resize_modes)))
    sinc = rng.random() < config.final_sinc_prob
    jpeg = rng.random() < config.final_jpeg_prob
    tail = []
    if sinc:
        tail.append(lambda y: apply_kernel(y, sinc_kernel(int(rng.choice((7, 9, 11))),
                                                          float(rng.uniform(np.pi / 3, np.pi)))))
    if jpeg:
        tail.append(lambda y: random_jpeg(y, rng, config.final_jpeg_quality))
    if len(tail) == 2 and rng.random() < 0.5:
        tail.reverse()
    for op in tail:
        x = op(x)
    return to_8bit(x)


_NO_BLUR_OR_RESIZE = dict(blur_prob=0.0, resize_prob=0.0)

#: Same-size restoration of the photos people bring: sensor noise (camera, Gaussian or
#: Poisson) and JPEG compression at any quality, sometimes compressed twice, and one in ten
#: images left clean; no blur or resize, so that a model trained on it does not sharpen
#: (a clean photo must come out unchanged).
REAL_PHOTO = DegradationConfig(
    stages=(DegradationStage(**_NO_BLUR_OR_RESIZE, noise_prob=0.75, noise_kinds=("camera", "gaussian", "poisson"),
                             noise_weights=(0.5, 0.3, 0.2), gaussian_sigma=(1.0, 25.0), poisson_scale=(2.0, 3.5),
                             camera_shot=(1e-4, 6e-3), jpeg_prob=0.25, jpeg_quality=(50, 95)),),
    final_sinc_prob=0.0, final_jpeg_prob=0.85, final_jpeg_quality=(10, 95), identity_prob=0.1)

#: Light noise and high-quality JPEG, as a photo saved once by a camera or an editor.
MILD = DegradationConfig(
    stages=(DegradationStage(**_NO_BLUR_OR_RESIZE, noise_prob=0.5, noise_kinds=("camera", "gaussian"),
                             noise_weights=(0.5, 0.5), gaussian_sigma=(1.0, 8.0), camera_shot=(1e-4, 1e-3),
                             jpeg_prob=0.0),),
    final_sinc_prob=0.0, final_jpeg_prob=0.9, final_jpeg_quality=(70, 95), identity_prob=0.1)

#: Real-ESRGAN's x4 degradation model (Wang et al. 2021, their published settings).
REALESRGAN_X4 = DegradationConfig(
    stages=(DegradationStage(),
            DegradationStage(prob=0.8, kernel=KernelRange(sigma=(0.2, 1.5)), up=(1.0, 1.2), down=(0.3, 1.0),
                             gaussian_sigma=(1.0, 25.0), poisson_scale=(1.7, 3.0))),
    scale=4)
#: The same model for x2.
REALESRGAN_X2 = REALESRGAN_X4.replace(scale=2)
#: BSRGAN's shuffled order (Zhang et al. 2021) over the same steps, x4.
BSRGAN_X4 = REALESRGAN_X4.replace(order="bsrgan")

#: The super-resolution presets by (order, scale): what ``restore train upscale
#: --degradation`` and the realistic upscale bench use.
SR_PRESETS = {("realesrgan", 4): REALESRGAN_X4, ("realesrgan", 2): REALESRGAN_X2, ("bsrgan", 4): BSRGAN_X4}


def sr_preset(order: str, scale: int) -> DegradationConfig:
    """The super-resolution degradation preset of ``order`` (``"realesrgan"`` or
    ``"bsrgan"``) for a model of ``scale`` (:data:`SR_PRESETS`).

    Raises:
        ValueError: for a pair without a preset (e.g. ``bsrgan`` at x2).
    """
    try:
        return SR_PRESETS[(order, int(scale))]
    except KeyError:
        have = ", ".join(f"{o} x{s}" for o, s in SR_PRESETS)
        raise ValueError(f"no {order} degradation preset for x{scale}; presets: {have}") from None
