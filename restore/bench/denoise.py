"""Denoising benchmark: zoo pipelines against the classical baselines, in one run.

Two modes, both returning one row per method (see :func:`bench_denoise`):

* synthetic AWGN (:func:`bench_denoise`) on a folder of clean images, e.g. CBSD68, Kodak24,
  BSD68, Set12, following the protocol of ``../shared/data/README.md``: add N(0, sigma/255)
  with numpy seed 0, no clipping of the noisy input, PSNR/SSIM on RGB (or gray) in [0, 1];
* real camera noise (:func:`bench_denoise_real`) on ``*_real`` / ``*_mean`` pairs (PolyU,
  Xu et al. 2018);
* JPEG compression (:func:`bench_denoise_jpeg`): clean images saved as JPEG at one quality
  with OpenCV's encoder (libjpeg, 4:2:0 chroma), models with ``sigma="auto"``;
* clean inputs (:func:`bench_denoise_clean`): the output against the input itself, which
  shows how much a model changes a photo that needs nothing.

A blind model (``spec.settings.blind``) always runs with ``sigma="auto"``; the others are
given the true sigma in the AWGN mode and ``"auto"`` in the others.

Baselines: the noisy input itself, OpenCV non-local means (Buades et al., CVPR 2005, in
OpenCV's fast implementation) and BM3D / CBM3D (Dabov et al., TIP 2007; the ``bm3d`` package
of Makinen et al. 2020). Nothing here prints; progress goes to an optional callback.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from restore.bench.runner import (Column, LazyCases, Method, Progress, Report, mean_scores, resolve_models,
                                  run_methods)
from restore.bench.runner import format_table as runner_format_table
from restore.bench.runner import record as record_rows
from restore.io import iter_images, read_image
from restore.metrics import psnr, ssim
from restore.ops.degrade import jpeg_roundtrip

#: Baseline keys accepted in ``baselines``.
BASELINES = ("noisy", "nlm", "bm3d")

# OpenCV NLM parameters, as multiples of sigma (0-255 scale), and window sizes.
# Found with a sweep on 3 TRAINING images (train/bsds400 files #0, #150, #300 in sorted
# order: 100007.jpg, 189006.jpg, 35091.jpg; gray = cv2 RGB2GRAY of the same), AWGN
# sigma 15/25/50 from np.random.RandomState(0), noisy input clipped and rounded to uint8,
# PSNR against the clean image, averaged over the 3 images:
# * color (fastNlMeansDenoisingColored, works in 8-bit CIELAB; h for L, hColor for a/b):
#   h in {0.4..1.2} x sigma and hColor in {0.4..0.9} x sigma. With the 7/21 windows the
#   OpenCV docs recommend, h=0.6s, hColor=0.75s gave 28.48/25.93/23.78 dB (within 0.05 dB
#   of the best pair at each sigma; h=hColor=1.0s gave 27.16/25.24/22.80). A 3x3 template
#   (same search window, same h rule, re-checked best) gave 29.76/27.18/24.04 dB: +1.3,
#   +1.25, +0.26 dB over 7x7, a clear win, so color uses 3/21.
# * gray (fastNlMeansDenoising): h in {0.3..1.2} x sigma; below ~0.7s it barely denoises.
#   With 7/21, h=0.9s gave 30.54/28.04/24.64 dB. A 5x5 template gave 30.92/28.36/24.91 dB
#   (+0.3 dB; 3x3 was worse at sigma 25/50), so gray uses 5/21 with h=0.9s
#   (0.8s: 30.26/28.04/24.91, 1.0s: 30.97/28.13/24.73).
NLM_COLOR_H_PER_SIGMA = 0.6
NLM_COLOR_HCOLOR_PER_SIGMA = 0.75
NLM_COLOR_WINDOWS = (3, 21)  # (templateWindowSize, searchWindowSize)
NLM_GRAY_H_PER_SIGMA = 0.9
NLM_GRAY_WINDOWS = (5, 21)

_BM3D_HINT = "BM3D baseline needs the bm3d package: pip install -e .[bench]"


def _check_image(noisy: np.ndarray, sigma: float) -> None:
    if not isinstance(noisy, np.ndarray) or noisy.ndim != 3 or noisy.shape[2] not in (1, 3):
        shape = getattr(noisy, "shape", type(noisy).__name__)
        raise ValueError(f"expected an H x W x C array with C = 1 or 3, got {shape}")
    if not np.issubdtype(noisy.dtype, np.floating):
        raise ValueError(f"expected a float array in [0, 1], got dtype {noisy.dtype}")
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be a finite number >= 0 (0-255 scale), got {sigma}")


def nlm_denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """OpenCV fast non-local means (Buades et al., CVPR 2005) with ``h`` tuned to ``sigma``.

    Color uses ``cv2.fastNlMeansDenoisingColored`` (h = 0.6 sigma for luminance,
    hColor = 0.75 sigma for color, 3x3 template, 21x21 search); gray uses
    ``cv2.fastNlMeansDenoising`` (h = 0.9 sigma, 5x5 template, 21x21 search). How the
    rules were found is written beside the ``NLM_*`` constants of this module. OpenCV
    needs 8 bit, so the input is clipped to [0, 1] and rounded to 256 levels first.

    Args:
        noisy: ``H x W x C`` float array, nominally in [0, 1] (values outside are
            clipped), C = 1 (gray) or 3 (RGB).
        sigma: noise standard deviation on the 0-255 scale; 0 returns the clipped input.

    Returns:
        ``H x W x C`` float32 array in [0, 1] (multiples of 1/255).

    Raises:
        ValueError: for another shape, a non-float dtype, or a negative sigma.
    """
    _check_image(noisy, sigma)
    x8 = (np.clip(noisy, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if sigma > 0:
        if noisy.shape[2] == 3:
            t, s = NLM_COLOR_WINDOWS
            x8 = cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(x8), None,
                                                 NLM_COLOR_H_PER_SIGMA * sigma,
                                                 NLM_COLOR_HCOLOR_PER_SIGMA * sigma, t, s)
        else:
            t, s = NLM_GRAY_WINDOWS
            x8 = cv2.fastNlMeansDenoising(np.ascontiguousarray(x8[:, :, 0]), None,
                                          NLM_GRAY_H_PER_SIGMA * sigma, t, s)[:, :, None]
    return x8.astype(np.float32) / 255.0


def _import_bm3d():
    try:
        import bm3d
    except ImportError as e:
        raise ImportError(_BM3D_HINT) from e
    return bm3d


def bm3d_denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D (Dabov et al., TIP 2007) for gray, CBM3D (Dabov et al., ICIP 2007) for color,
    from the ``bm3d`` package (Makinen et al., 2020), default ``"np"`` profile, CBM3D in
    its default opponent color space.

    Slow, and single-threaded: one 481x321 image at sigma 25 took 32 s in color (CBM3D)
    and 12 s in gray (wall and CPU time alike; bm3d 4.0.3 on one core of a 2-core x86 VM
    while a training job ran on the other), i.e. about 200 / 80 s per megapixel.

    Args:
        noisy: ``H x W x C`` float array, nominally in [0, 1], not clipped (BM3D assumes
            unclipped Gaussian noise), C = 1 (gray) or 3 (RGB).
        sigma: noise standard deviation on the 0-255 scale; 0 returns the clipped input.

    Returns:
        ``H x W x C`` float32 array, clipped to [0, 1].

    Raises:
        ImportError: if ``bm3d`` is not installed (``pip install -e .[bench]``).
        ValueError: for another shape, a non-float dtype, or a negative sigma.
    """
    _check_image(noisy, sigma)
    bm3d = _import_bm3d()
    if sigma == 0:
        return np.clip(noisy, 0.0, 1.0).astype(np.float32)
    z = noisy.astype(np.float64)
    if noisy.shape[2] == 3:
        out = bm3d.bm3d_rgb(z, sigma_psd=sigma / 255.0)
    else:
        out = bm3d.bm3d(z[:, :, 0], sigma_psd=sigma / 255.0)
    out = np.asarray(out).reshape(noisy.shape)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _to_unit_float(image: np.ndarray) -> np.ndarray:
    """uint8/uint16 ``H x W x C`` -> float64 in [0, 1]; alpha (C=4) is dropped."""
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return image.astype(np.float64) / scale


def find_real_pairs(data: str | Path) -> list[tuple[Path, Path]]:
    """Pair the ``<prefix>_real.<ext>`` (noisy) and ``<prefix>_mean.<ext>`` (clean) images
    of a real-noise folder such as PolyU (Xu et al. 2018). Suffixes are matched without
    regard to case; the extensions of the two files of a pair may differ.

    Returns:
        ``(noisy_path, clean_path)`` pairs, sorted by prefix.

    Raises:
        FileNotFoundError: if ``data`` does not exist.
        ValueError: if an image has neither suffix, a prefix lacks its partner, or no pair
            is found (a benchmark must not silently drop files).
    """
    noisy: dict[str, Path] = {}
    clean: dict[str, Path] = {}
    stray: list[str] = []
    for p in iter_images(data):
        stem = p.stem
        kind = stem[-5:].lower()
        if kind == "_real":
            noisy[stem[:-5]] = p
        elif kind == "_mean":
            clean[stem[:-5]] = p
        else:
            stray.append(p.name)
    alone = sorted(set(noisy) ^ set(clean))
    if stray or alone:
        msg = []
        if stray:
            msg.append(f"not named *_real / *_mean: {', '.join(stray[:5])}")
        if alone:
            msg.append(f"without a partner: {', '.join(alone[:5])}")
        raise ValueError(f"{data}: cannot pair real-noise images ({'; '.join(msg)})")
    if not noisy:
        raise ValueError(f"{data}: no *_real / *_mean image pairs found")
    return [(noisy[k], clean[k]) for k in sorted(noisy)]


#: The figure columns of a denoising table.
COLUMNS = (Column("PSNR (dB)", "psnr"), Column("SSIM", "ssim", ".4f"), Column("s/MP", "s_per_mp"))


def awgn_cases(data: str | Path, *, sigma: float, seed: int = 0, limit: int | None = None) -> Sequence[dict]:
    """The synthetic-AWGN test cases of a folder (see :func:`bench_denoise` for the
    protocol): one dict per image, ``name``, ``mp`` (megapixels of the input), ``clean``
    and ``noisy`` (``H x W x C`` float64, ``clean`` in [0, 1], ``noisy`` not clipped) and
    ``sigma`` (the true level). Each case is made when it is read; reading it again gives
    the same numbers.

    Raises:
        FileNotFoundError: if ``data`` does not exist.
        ValueError: for sigma <= 0.
    """
    if isinstance(sigma, str) or not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be a number > 0 on the 0-255 scale, got {sigma!r}")
    rng = np.random.RandomState(seed)
    items = []
    for p in list(iter_images(data))[:limit]:
        shape = _to_unit_float(read_image(p)).shape
        items.append((p, shape, rng.get_state()))
        rng.standard_normal(shape)                   # advance as a full draw image by image would

    def make(item) -> dict:
        path, shape, state = item
        clean = _to_unit_float(read_image(path))
        noise = np.random.RandomState()
        noise.set_state(state)
        return dict(name=path.name, mp=shape[0] * shape[1] / 1e6, clean=clean,
                    noisy=clean + noise.standard_normal(shape) * (sigma / 255.0), sigma=float(sigma))

    return LazyCases(items, make)


def real_cases(data: str | Path, *, limit: int | None = None) -> Sequence[dict]:
    """The real-noise test cases of a folder of pairs (:func:`find_real_pairs`, the first
    ``limit``): ``name``, ``mp`` (input megapixels), ``clean``, ``noisy`` (float64 in
    [0, 1]) and ``sigma`` None (unknown: the baselines estimate it). Made on access.

    Raises:
        FileNotFoundError: if ``data`` does not exist.
        ValueError: unpaired files or no pairs; when read, a pair whose sizes differ.
    """
    def make(pair) -> dict:
        noisy_path, clean_path = pair
        noisy = _to_unit_float(read_image(noisy_path))
        clean = _to_unit_float(read_image(clean_path))
        if noisy.shape != clean.shape:
            raise ValueError(f"{noisy_path.name} is {noisy.shape}, {clean_path.name} is {clean.shape}")
        return dict(name=noisy_path.name, mp=clean.shape[0] * clean.shape[1] / 1e6, clean=clean, noisy=noisy,
                    sigma=None)

    return LazyCases(find_real_pairs(data)[:limit], make)


def jpeg_cases(data: str | Path, *, quality: int, limit: int | None = None) -> Sequence[dict]:
    """The JPEG test cases of a folder of clean images (the first ``limit``): each image
    encoded at ``quality`` with :func:`restore.ops.degrade.jpeg_roundtrip` (OpenCV's
    libjpeg, 4:2:0 chroma; gray images as three equal channels, decoded back to one) and
    decoded. ``name``, ``mp``, ``clean``, ``noisy`` (the decoded JPEG, float64 in [0, 1]),
    ``sigma`` None. Made on access.

    Raises:
        FileNotFoundError: if ``data`` does not exist.
        ValueError: for a quality outside 1-100.
    """
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1-100, got {quality}")

    def make(path: Path) -> dict:
        clean = _to_unit_float(read_image(path))
        u8 = np.round(clean * 255).astype(np.uint8)
        rgb = np.repeat(u8, 3, axis=2) if u8.shape[2] == 1 else u8
        jpeg = jpeg_roundtrip(np.ascontiguousarray(rgb), quality).astype(np.float64) / 255
        if u8.shape[2] == 1:
            jpeg = jpeg.mean(2, keepdims=True)
        return dict(name=path.name, mp=clean.shape[0] * clean.shape[1] / 1e6, clean=clean, noisy=jpeg, sigma=None)

    return LazyCases(list(iter_images(data))[:limit], make)


def clean_cases(data: str | Path, *, limit: int | None = None) -> Sequence[dict]:
    """Clean inputs: ``noisy`` is the clean image itself (float64 in [0, 1]), so a model's
    PSNR is against its own input. Made on access.

    Raises:
        FileNotFoundError: if ``data`` does not exist.
    """
    def make(path: Path) -> dict:
        clean = _to_unit_float(read_image(path))
        return dict(name=path.name, mp=clean.shape[0] * clean.shape[1] / 1e6, clean=clean, noisy=clean, sigma=None)

    return LazyCases(list(iter_images(data))[:limit], make)


def _blind(pipe) -> bool:
    """Whether a denoising pipeline's model is blind (``spec.settings.blind``); a stand-in
    without a spec is not."""
    return bool(getattr(getattr(getattr(pipe, "spec", None), "settings", None), "blind", False))


def model_sigma(pipe, sigma: float | str) -> float | str:
    """The ``sigma`` a denoising pipeline is given: ``"auto"`` for a blind model, else ``sigma``."""
    return "auto" if _blind(pipe) else sigma


def _baseline_sigma(case: dict) -> float:
    """The level a classical baseline is given: the true sigma, or for real noise the
    models' ``"auto"`` estimate (computed inside the baseline's timed call)."""
    if case["sigma"] is not None:
        return case["sigma"]
    import torch

    from restore.pipelines.denoise import estimate_sigma
    return estimate_sigma(torch.from_numpy(case["noisy"]).permute(2, 0, 1)[None])


def _score(case: dict, out: np.ndarray) -> dict[str, float]:
    """PSNR and SSIM of the output clipped to [0, 1] against the clean image."""
    out = np.clip(out, 0.0, 1.0)
    return dict(psnr=psnr(case["clean"], out), ssim=ssim(case["clean"], out))


def _methods(cases: Sequence[dict], *, baselines: Sequence[str], models: Sequence[str], device: str,
             sigma: float | str, input_label: str = "noisy input") -> list[Method]:
    """The rows: the baselines in :data:`BASELINES` order, then one per model (loaded here,
    before any timing; given ``sigma``, or ``"auto"`` if blind). BM3D is named "CBM3D"
    when every image is color; the "noisy" baseline is named ``input_label``."""
    bad = [b for b in baselines if b not in BASELINES]
    if bad:
        raise ValueError(f"unknown baseline(s) {bad}; known: {', '.join(BASELINES)}")
    if "bm3d" in baselines:
        _import_bm3d()  # fail before any work
        color = {c["clean"].shape[2] == 3 for c in cases}
        bm3d_label = {frozenset({True}): "CBM3D", frozenset({False}): "BM3D"}.get(frozenset(color), "BM3D/CBM3D")
    available = {
        "noisy": lambda: Method(input_label, lambda c: c["noisy"], timed=False),
        "nlm": lambda: Method("OpenCV NLM", lambda c: nlm_denoise(c["noisy"], _baseline_sigma(c))),
        "bm3d": lambda: Method(bm3d_label, lambda c: bm3d_denoise(c["noisy"], _baseline_sigma(c))),
    }
    methods = [available[b]() for b in BASELINES if b in baselines]
    from restore import load_pipeline
    for m in dict.fromkeys(models):  # order kept, no repeats
        pipe = load_pipeline("denoise", model=m, device=device)
        label = f"restore {m}" + (" (sigma auto)" if sigma == "auto" and not _blind(pipe) else "")
        methods.append(Method(label, lambda c, pipe=pipe: pipe(c["noisy"].astype(np.float32),
                                                               sigma=model_sigma(pipe, sigma)), model=m))
    return methods


def bench_denoise(data: str | Path, *, sigma: float, models: Iterable[str] | None,
                  device: str = "auto", baselines: Sequence[str] = ("noisy", "nlm", "bm3d"),
                  limit: int | None = None, seed: int = 0,
                  progress: Progress = None) -> list[dict]:
    """Synthetic-AWGN denoising benchmark of zoo models and baselines on a folder.

    Protocol (``../shared/data/README.md``): each image of ``data`` (sorted, the first
    ``limit`` if given; alpha dropped; 8 or 16 bit scaled to [0, 1]) gets
    ``clean + sigma/255 * N(0, 1)``, not clipped. The noise comes from one
    ``np.random.RandomState(seed)`` created per call and drawn image after image in sorted
    order with ``standard_normal(clean.shape)`` -- the same numbers as
    ``np.random.seed(seed)`` followed by ``np.random.randn(*clean.shape)`` per image, but
    without touching numpy's global state. The first ``limit`` images get the same noise
    as in a full run. Gray images (C=1, e.g. BSD68) run gray throughout.

    PSNR (dB, data range 1) and SSIM are computed per image on the method output clipped
    to [0, 1] (for "noisy input", the noisy image clipped to [0, 1]) against the clean
    image, then averaged over images. ``s_per_mp`` follows the timing protocol of
    :mod:`restore.bench.runner` (model loaded before timing, a warm-up call excluded), per
    input megapixel.

    Args:
        data: folder of clean images.
        sigma: noise standard deviation on the 0-255 scale, > 0; models and baselines
            are given the true sigma.
        models: zoo denoise model names, each a row ``"restore <name>"``; ``[]`` for
            baselines only; ``None`` for every denoise model of the zoo, the default first.
        device: device for the zoo pipelines ("auto", "cpu", "cuda", ...).
        baselines: any of "noisy", "nlm", "bm3d", listed in that order in the result.
        limit: only the first ``limit`` images.
        seed: seed of the noise RNG (the protocol uses 0).
        progress: optional ``callable(str)``, one line per method.

    Returns:
        One row per method (:func:`restore.bench.runner.run_methods`), baselines first
        then models: ``method``, ``model``, ``psnr``, ``ssim``, ``seconds``, ``s_per_mp``
        (None for "noisy input"), ``images``; the BM3D row is named "CBM3D" when every
        image is color.

    Raises:
        FileNotFoundError: if ``data`` does not exist.
        ValueError: for sigma <= 0, an unknown baseline, or no images.
        ImportError: if "bm3d" is asked for and the bm3d package is missing.
    """
    cases = awgn_cases(data, sigma=sigma, seed=seed, limit=limit)
    if not len(cases):
        raise ValueError(f"no images to benchmark in {data}")
    methods = _methods(cases, baselines=baselines, models=resolve_models("denoise", models), device=device,
                       sigma=float(sigma))
    return run_methods(methods, cases, _score, progress=progress)


def bench_denoise_real(data: str | Path, *, models: Iterable[str] | None, device: str = "auto",
                       baselines: Sequence[str] = ("noisy", "nlm", "bm3d"),
                       limit: int | None = None, progress: Progress = None) -> list[dict]:
    """Real-noise denoising benchmark on ``*_real`` (noisy) / ``*_mean`` (clean) pairs,
    e.g. PolyU (Xu et al. 2018); pairs as :func:`find_real_pairs`, the first ``limit``.

    Zoo models run with ``sigma="auto"``. NLM and BM3D need a level: they get the same
    per-image estimate as the models' ``"auto"`` (:func:`restore.pipelines.denoise.estimate_sigma`,
    a two-scale wavelet MAD estimate), computed inside their timed call. Metrics and
    timing as in :func:`bench_denoise`.

    Args:
        data: folder of image pairs.
        models, device, baselines, limit, progress: as in :func:`bench_denoise`.

    Returns:
        One row per method, as in :func:`bench_denoise`.

    Raises:
        FileNotFoundError: if ``data`` does not exist.
        ValueError: for an unknown baseline, unpaired files, a pair whose sizes differ,
            or no pairs.
        ImportError: if "bm3d" is asked for and the bm3d package is missing.
    """
    cases = real_cases(data, limit=limit)
    methods = _methods(cases, baselines=baselines, models=resolve_models("denoise", models), device=device,
                       sigma="auto")
    return run_methods(methods, cases, _score, progress=progress)


def bench_denoise_jpeg(data: str | Path, *, quality: int, models: Iterable[str] | None, device: str = "auto",
                       baselines: Sequence[str] = ("noisy",), limit: int | None = None,
                       progress: Progress = None) -> list[dict]:
    """JPEG benchmark: clean images saved at ``quality`` (:func:`jpeg_cases`), restored by
    the models with ``sigma="auto"`` (the AWGN model estimates a level, a blind model needs
    none) and by the baselines (NLM and BM3D at the estimated level). PSNR and SSIM against
    the clean image on RGB in [0, 1], timing as in :func:`bench_denoise`. The published
    FBCNN figures (Jiang et al. 2021) are on LIVE1 and other sets, with another encoder
    (MATLAB/PIL): a reference, not a row of the same run.

    Returns:
        One row per method; the input row is "JPEG input".

    Raises:
        FileNotFoundError: if ``data`` does not exist.
        ValueError: for a quality outside 1-100, an unknown baseline, or no images.
        ImportError: if "bm3d" is asked for and the bm3d package is missing.
    """
    cases = jpeg_cases(data, quality=quality, limit=limit)
    if not len(cases):
        raise ValueError(f"no images to benchmark in {data}")
    methods = _methods(cases, baselines=baselines, models=resolve_models("denoise", models), device=device,
                       sigma="auto", input_label="JPEG input")
    return run_methods(methods, cases, _score, progress=progress)


def bench_denoise_clean(data: str | Path, *, models: Iterable[str] | None, device: str = "auto",
                        limit: int | None = None, progress: Progress = None) -> list[dict]:
    """Clean-input benchmark: each model (``sigma="auto"``) on the clean images
    themselves, PSNR and SSIM of its output against its input (higher: the photo is left
    more as it was; 40 dB is about one gray level of RMS change). No baselines.

    Returns:
        One row per model.

    Raises:
        FileNotFoundError: if ``data`` does not exist.
        ValueError: for no images.
    """
    cases = clean_cases(data, limit=limit)
    if not len(cases):
        raise ValueError(f"no images to benchmark in {data}")
    methods = _methods(cases, baselines=(), models=resolve_models("denoise", models), device=device, sigma="auto")
    return run_methods(methods, cases, _score, progress=progress)


def format_table(rows: Sequence[dict], title: str | None = None) -> str:
    """Markdown table ``method | PSNR (dB) | SSIM | s/MP`` (:data:`COLUMNS`) of benchmark
    rows, optionally preceded by ``title`` and a blank line; no trailing newline."""
    return runner_format_table(rows, COLUMNS, title)


def bench_denoise_files(data: str | Path, *, sigma: float, models: Iterable[str] | None,
                        device: str = "auto", limit: int | None = None, seed: int = 0,
                        progress: Progress = None) -> list[dict]:
    """The user's path, timed cold: noisy images saved as 8-bit PNG files, denoised by a
    folder run, the model loaded inside the timed region.

    The noise is the protocol's (:func:`awgn_cases`, same seed, same numbers), then clipped
    and rounded to 8 bit and written as PNG to a temporary folder. Each model denoises that
    folder with the shared batch runner (:func:`restore.pipelines.batch.run_batch`, tiling
    on), exactly as ``restore denoise IN OUT --sigma S`` does; the 8-bit outputs are read
    back and scored against the clean images. This is a cold-start figure, outside the
    timing protocol of :mod:`restore.bench.runner`: one run, no warm-up, the model's load,
    reading and writing included.

    Returns:
        Rows as in :func:`bench_denoise`: "noisy input (8-bit PNG)" (``s_per_mp`` None)
        and "restore <name> (8-bit PNG, folder run, cold start)" (``model`` set) whose
        ``seconds`` and ``s_per_mp`` cover the whole folder run.

    Raises:
        FileNotFoundError: if ``data`` does not exist.
        ValueError: for sigma <= 0 or no images.
        RuntimeError: if a file of the folder run failed.
    """
    import tempfile

    from restore import load_pipeline
    from restore.io import write_image
    from restore.pipelines.batch import run_batch

    cases = awgn_cases(data, sigma=sigma, seed=seed, limit=limit)
    if not len(cases):
        raise ValueError(f"no images in {data}")
    models = resolve_models("denoise", models)
    rows = []
    with tempfile.TemporaryDirectory(prefix="restore-bench-") as tmp:
        noisy_dir, cleans, names, mp = Path(tmp) / "noisy", [], [], 0.0
        noisy_scores = []
        for case in cases:
            noisy8 = (np.clip(case["noisy"], 0, 1) * 255 + 0.5).astype(np.uint8)
            name = Path(case["name"]).stem + ".png"
            write_image(noisy_dir / name, noisy8)
            cleans.append(case["clean"])
            names.append(name)
            mp += case["mp"]
            noisy_scores.append(_score(case, noisy8.astype(np.float64) / 255))
        rows.append(dict(method="noisy input (8-bit PNG)", model=None, images=len(cases),
                         **mean_scores(noisy_scores), seconds=None, s_per_mp=None))
        for name in models:
            out_dir = Path(tmp) / f"out-{name}"
            t0 = time.perf_counter()
            pipe = load_pipeline("denoise", model=name, device=device)
            result = run_batch(lambda image, path: pipe(image, sigma=model_sigma(pipe, float(sigma))), noisy_dir, out_dir,
                               progress=False)
            seconds = time.perf_counter() - t0
            if result.interrupted:  # run_batch returns on Ctrl-C; a bench stops
                raise KeyboardInterrupt
            if result.failed:
                raise RuntimeError(f"folder run of {name} failed: {result.summary()}")
            scores = [_score(dict(clean=clean), _to_unit_float(read_image(out_dir / fname)))
                      for clean, fname in zip(cleans, names)]
            rows.append(dict(method=f"restore {name} (8-bit PNG, folder run, cold start)", model=name,
                             images=len(cases), **mean_scores(scores), seconds=seconds, s_per_mp=seconds / mp))
            if progress is not None:
                progress(f"{name}: folder run of {len(cases)} files in {seconds:.1f} s")
    return rows


def reports(data: str | Path, *, sigmas: Sequence[float] = (25.0,), real: bool = False, files: bool = False,
            jpeg: Sequence[int] = (), clean: bool = False,
            models: Iterable[str] | None = None, device: str = "auto",
            baselines: Sequence[str] = ("noisy", "nlm", "bm3d"), limit: int | None = None,
            record: bool = False, progress: Progress = None) -> Iterator[Report]:
    """``restore bench denoise``: one table per noise level (or one for real noise), as
    markdown, each yielded when done.

    Args:
        data: folder of clean images, or of ``*_real`` / ``*_mean`` pairs with ``real``.
        sigmas: AWGN levels (0-255 scale), one table each; ignored with ``real``.
        real: real-noise pairs (:func:`bench_denoise_real`) instead of AWGN.
        files: under each AWGN table, a second one: the cold-start folder run of
            :func:`bench_denoise_files`.
        jpeg: JPEG qualities: one table each (:func:`bench_denoise_jpeg`) instead of AWGN.
        clean: one clean-input table (:func:`bench_denoise_clean`) instead of AWGN.
        models, device, baselines, limit, progress: as in :func:`bench_denoise`.
        record: store the models' figures in the manifest under ``"<folder> sigma<s>"``,
            ``"<folder> real"``, ``"<folder> jpeg<q>"`` or ``"<folder> clean"`` (not for a
            ``limit`` run).

    Yields:
        One :class:`restore.bench.runner.Report` per table.

    Raises:
        As :func:`bench_denoise` and :func:`bench_denoise_real`, when iterated.
    """
    name = Path(data).name
    if jpeg or clean:
        for q in jpeg:
            rows = bench_denoise_jpeg(data, quality=q, models=models, device=device, baselines=baselines, limit=limit,
                                      progress=progress)
            yield Report(format_table(rows, f"{name}, JPEG quality {q} (OpenCV, 4:2:0), models with sigma auto"),
                         rows, recorded=record_rows(rows, f"{name} jpeg{q}", enabled=record, limit=limit))
        if clean:
            rows = bench_denoise_clean(data, models=models, device=device, limit=limit, progress=progress)
            yield Report(format_table(rows, f"{name}, clean input: output against input"), rows,
                         recorded=record_rows(rows, f"{name} clean", enabled=record, limit=limit))
        return
    for s in [None] if real else sigmas:
        if s is None:
            rows = bench_denoise_real(data, models=models, device=device, baselines=baselines, limit=limit,
                                      progress=progress)
            text, key = format_table(rows, f"{name}, real noise, models with sigma auto"), f"{name} real"
        else:
            rows = bench_denoise(data, sigma=s, models=models, device=device, baselines=baselines, limit=limit,
                                 progress=progress)
            text, key = format_table(rows, f"{name}, AWGN sigma {s:g}"), f"{name} sigma{s:g}"
            if files:
                cold = bench_denoise_files(data, sigma=s, models=models, device=device, limit=limit,
                                           progress=progress)
                text += "\n\n" + format_table(cold, f"{name}, AWGN sigma {s:g}: the user's path, cold start (noisy "
                                                    "8-bit PNG files denoised by a folder run; model load, reading "
                                                    "and writing timed)")
        yield Report(text, rows, recorded=record_rows(rows, key, enabled=record, limit=limit))
