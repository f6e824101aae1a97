"""The Pipeline base class: model loading, input/output kinds, alpha, gray, tiling."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable

import cv2
import numpy as np
import torch

from restore.ops.tiling import ArraySource, run_tiled, to_float
from restore.zoo.accel import autocast, keep_float32, resolve_precision
from restore.zoo.registry import ModelSpec, default_model, get_spec, load_model, resolve_device


class Prepared:
    """An input converted to the tensor contract, and how to convert the result back.

    A numpy or PIL input is kept in its file dtype: ``array`` is a view of it, and ``x`` is
    made from it only when first asked for, so a pipeline that works tile by tile
    (:meth:`Pipeline.map_streamed`) never holds the whole image as float.

    Attributes:
        x: (B, C, H, W) float32, C in {1, 3}; [0, 1] for integer inputs, float inputs
            are taken as they are (a noisy float image may leave [0, 1]). Made on first use.
        alpha: (B, 1, H, W) float32 alpha in [0, 1], or None. Made on first use.
        finish: maps the (B, C, H', W') result in [0, 1] back to the caller's kind
            (numpy/PIL/tensor, same dtype, alpha re-attached).
        array: for numpy and PIL inputs, the ``H x W x C`` color channels (C in {1, 3}) in
            the file dtype (uint8, uint16, float32/64); None for tensors.
        alpha_array: ``H x W x 1`` alpha of ``array``'s dtype, or None.
        finish_array: for numpy and PIL inputs, maps an ``H x W x C`` array of ``array``'s
            dtype (color channels, then alpha when the input had it) to the caller's kind.
    """

    def __init__(self, x: torch.Tensor | None, alpha: torch.Tensor | None,
                 finish: Callable[[torch.Tensor, torch.Tensor | None], Any], *, array: np.ndarray | None = None,
                 alpha_array: np.ndarray | None = None,
                 finish_array: Callable[[np.ndarray], Any] | None = None) -> None:
        self._x, self._alpha, self.finish = x, alpha, finish
        self.array, self.alpha_array, self.finish_array = array, alpha_array, finish_array

    @property
    def x(self) -> torch.Tensor:
        if self._x is None:
            self._x = to_float(self.array).permute(2, 0, 1).unsqueeze(0)
        return self._x

    @property
    def alpha(self) -> torch.Tensor | None:
        if self._alpha is None and self.alpha_array is not None:
            self._alpha = to_float(self.alpha_array).permute(2, 0, 1).unsqueeze(0)
        return self._alpha

    def new_output(self, height: int, width: int, channels: int) -> np.ndarray:
        """An uninitialised ``height x width x (channels [+ 1 for alpha])`` array of the
        file dtype, for :attr:`finish_array` (numpy and PIL inputs only)."""
        return np.empty((height, width, channels + (self.alpha_array is not None)), self.array.dtype)


def check_spec(spec: ModelSpec, task: str, settings_type: type | None) -> ModelSpec:
    """``spec``, checked to be of ``task`` with settings of ``settings_type``.

    Raises:
        KeyError: a model of another task.
        ValueError: ``spec.settings`` is not a ``settings_type`` (a registration without
            its task's settings).
    """
    if spec.task != task:
        raise KeyError(f"model {spec.name!r} is a {spec.task} model, not {task}")
    if settings_type is not None and not isinstance(spec.settings, settings_type):
        raise ValueError(f"model {spec.name!r} has no {settings_type.__name__} (spec.settings is "
                         f"{type(spec.settings).__name__}); see restore.zoo.settings")
    return spec


def to_dtype(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A float ``H x W x C`` array in [0, 1] (clipped first) as ``dtype``: uint8 and
    uint16 rounded to the nearest level, floats clipped. The inverse of
    :func:`restore.ops.tiling.to_float` for the values it makes."""
    a = np.clip(a, 0, 1)  # a new array: the scaling below is done in place, one float copy at a time
    if dtype == np.uint8:
        a *= 255.0
        a += 0.5
        return a.astype(np.uint8)
    if dtype == np.uint16:
        a *= 65535.0
        a += 0.5
        return a.astype(np.uint16)
    return a.astype(dtype, copy=False)


def _tensor_to_numpy(t: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    return to_dtype(t[0].permute(1, 2, 0).detach().float().cpu().numpy(), dtype)


def prepare(image: Any) -> Prepared:
    """Convert a numpy array, PIL image or tensor to the tensor contract.

    Accepted: numpy ``H x W`` or ``H x W x C`` (C in 1, 2, 3, 4; 2 and 4 carry alpha),
    uint8, uint16 or float32/64; PIL images (L, LA, RGB, RGBA, I;16, P); tensors
    (C, H, W) or (B, C, H, W) with C in 1, 3, 4, float in [0, 1].

    Raises:
        TypeError: for another kind or dtype.
        ValueError: for an unsupported shape or an empty image.
    """
    try:
        from PIL import Image as PILImage
    except ImportError:  # pragma: no cover
        PILImage = None
    if PILImage is not None and isinstance(image, PILImage.Image):
        mode = image.mode
        conv = {"P": "RGBA" if "transparency" in image.info else "RGB", "1": "L", "CMYK": "RGB",
                "YCbCr": "RGB", "I": "I;16", "F": "I;16"}
        if mode in conv:
            image = image.convert(conv[mode]) if conv[mode] != "I;16" else image
            mode = image.mode
        arr = np.array(image)
        if mode in ("I", "I;16", "I;16B", "F"):
            arr = np.clip(arr, 0, 65535).astype(np.uint16)
        inner = prepare(arr)

        def to_pil(out: np.ndarray) -> Any:
            return PILImage.fromarray(out[..., 0] if out.ndim == 3 and out.shape[2] == 1 else out)

        return Prepared(None, None, lambda y, alpha: to_pil(inner.finish(y, alpha)), array=inner.array,
                        alpha_array=inner.alpha_array, finish_array=lambda out: to_pil(inner.finish_array(out)))
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = image[:, :, None]
            squeeze = True
        else:
            squeeze = False
        if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
            raise ValueError(f"image has shape {image.shape}; expected H x W or H x W x C with C in 1-4")
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError(f"image is empty: shape {image.shape}")
        dtype = image.dtype
        if dtype not in (np.uint8, np.uint16, np.float32, np.float64):
            raise TypeError(f"unsupported image dtype {dtype}; use uint8, uint16 or float32")
        c = image.shape[2]
        color, alpha = (image[..., : c - 1], image[..., c - 1:]) if c in (2, 4) else (image, None)

        def finish_np(y: torch.Tensor, a: torch.Tensor | None) -> np.ndarray:
            if a is not None:
                y = torch.cat([y, a.to(y.device, y.dtype)], 1)
            out = _tensor_to_numpy(y, dtype)
            return out[..., 0] if squeeze else out

        return Prepared(None, None, finish_np, array=color, alpha_array=alpha,
                        finish_array=lambda out: out[..., 0] if squeeze else out)
    if isinstance(image, torch.Tensor):
        batched = image.ndim == 4
        t = image if batched else image.unsqueeze(0)
        if t.ndim != 4 or t.shape[1] not in (1, 3, 4):
            raise ValueError(f"tensor has shape {tuple(image.shape)}; expected (B, C, H, W) with C in 1, 3, 4")
        t = t.float()
        x, alpha = (t[:, :3], t[:, 3:]) if t.shape[1] == 4 else (t, None)

        def finish_t(y: torch.Tensor, a: torch.Tensor | None) -> torch.Tensor:
            if a is not None:
                y = torch.cat([y, a.to(y.device, y.dtype)], 1)
            y = y.to(image.device, image.dtype if image.is_floating_point() else torch.float32)
            return y if batched else y[0]

        return Prepared(x, alpha, finish_t)
    raise TypeError(f"unsupported image type {type(image).__name__}; pass a numpy array, PIL image or tensor")


def read_mask(mask: Any, height: int, width: int, *, threshold: float | None, color: bool = False,
              resize: bool = False, batch: int = 1) -> torch.Tensor:
    """A mask given to a pipeline (numpy, PIL or tensor) -> (B, 1, height, width) bool, True
    = in the mask: the one reader of user masks (inpainting holes, watermark regions).

    Args:
        mask: numpy ``H x W`` or ``H x W x 1`` (``H x W x C`` with ``color``), of any dtype;
            PIL image (read as ``L``); tensor (H, W), (1, H, W) or (B, 1, H, W) (with
            ``color`` also (C, H, W): leading dimensions of 1 are dropped).
        height, width: the image's size.
        threshold: which values are in the mask. ``None``: every nonzero value (negative
            ones too) -- the rule of ``UnwatermarkPipeline``, whose own soft mask (nonzero
            exactly where the mark is) must read back unchanged. A number ``t`` in [0, 1):
            values above ``t`` of the full scale -- numpy integers above
            ``int(t * max of the dtype)`` (above 127 of 255 for ``t=0.5``), except that an
            integer mask holding only 0 and 1 is read as 0/1 (1 in the mask); floats and
            tensors of any dtype above ``t`` (tensors are taken on the [0, 1] scale of the
            tensor contract); bool as it is -- ``InpaintPipeline``'s rule with ``t=0.5``.
        color: accept color masks: a pixel counts when any of its color channels does
            (the first three; an alpha channel is ignored).
        resize: a single mask of another size is resized to the image's with nearest
            neighbour; otherwise another size is an error.
        batch: the image's batch size: a batched tensor mask must have 1 or ``batch`` masks.

    Returns:
        (B, 1, height, width) bool tensor on the CPU, B = 1 but for a batched tensor.

    Raises:
        TypeError: an unsupported kind of mask.
        ValueError: an unsupported shape, an empty mask, or another size (or batch size)
            than the image's (without ``resize``).
    """
    try:
        from PIL import Image as PILImage
    except ImportError:  # pragma: no cover
        PILImage = None
    if PILImage is not None and isinstance(mask, PILImage.Image):
        mask = np.asarray(mask.convert("L"))
    if isinstance(mask, np.ndarray):
        m = mask
        if m.ndim == 3 and color:
            m = (m[..., :3] if m.shape[2] in (3, 4) else m[..., :1]).max(axis=2)
        elif m.ndim == 3 and m.shape[2] == 1:
            m = m[..., 0]
        if color and (m.ndim != 2 or m.size == 0):
            raise ValueError(f"mask has shape {mask.shape}; expected H x W or H x W x C")
        if m.dtype == bool:
            m = np.array(m, dtype=bool)
        elif threshold is None:
            m = m != 0
        elif np.issubdtype(m.dtype, np.integer):
            m = m > (math.floor(Fraction(threshold) * int(np.iinfo(m.dtype).max)) if m.size and m.max() > 1 else 0)
        else:
            m = m > threshold
        m = torch.from_numpy(np.ascontiguousarray(m))
    elif isinstance(mask, torch.Tensor):
        m = mask.detach()
        m = (m != 0) if threshold is None else (m.float() > threshold)
        if color:
            while m.ndim > 2 and m.shape[0] == 1:
                m = m[0]
            if m.ndim == 3:
                m = m[:3].any(0)
            if m.ndim != 2:
                raise ValueError(f"mask tensor has shape {tuple(mask.shape)}; expected H x W or 1 x H x W")
        m = m.cpu()
    else:
        raise TypeError(f"unsupported mask type {type(mask).__name__}; pass a numpy array, PIL image or tensor")
    while m.ndim < 4:
        m = m[None]
    if m.shape[1:] != (1, height, width) or m.shape[0] not in (1, batch):
        if not (resize and m.ndim == 4 and m.shape[:2] == (1, 1)):
            raise ValueError(f"mask has shape {tuple(mask.shape)}; the image is {width} x {height} (width x height)"
                             + (f", batch of {batch}" if batch > 1 else ""))
        small = cv2.resize(m[0, 0].numpy().astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
        m = torch.from_numpy(small.astype(bool))[None, None]
    return m


class OptionError(ValueError):
    """A task option out of its range, or an unknown choice.

    ``str(e)`` is ``"<option> <reason>"`` with the option named as the keyword argument
    (``"min_confidence must be in [0.25, 1] ..."``); ``option`` and ``reason`` let a front
    end name it its own way (the CLI: ``--min-confidence``).

    Attributes:
        option: the keyword argument's name.
        reason: the rest of the message.
    """

    def __init__(self, option: str, reason: str) -> None:
        self.option, self.reason = option, reason
        super().__init__(f"{option} {reason}")


def tile_and_overlap(spec: ModelSpec, tile: int | str | None = "auto", overlap: int | None = None
                     ) -> tuple[int | None, int]:
    """The tile side and overlap to run ``spec``'s model with.

    Args:
        spec: the model's spec (its ``tile`` and ``overlap`` are the defaults).
        tile: tile side in input pixels; ``None``/0 = the whole image; ``"auto"`` = ``spec.tile``.
        overlap: overlap in input pixels; None = ``spec.overlap``.

    Returns:
        ``(tile or None, overlap)``.

    Raises:
        ValueError: for a negative tile or overlap, or a string other than ``"auto"``.
    """
    if tile == "auto":
        tile = spec.tile
    elif isinstance(tile, str):
        raise ValueError(f"tile must be a number of pixels, 0/None or 'auto', got {tile!r}")
    if tile is not None and tile < 0:
        raise ValueError(f"tile must be >= 0, got {tile}")
    overlap = spec.overlap if overlap is None else overlap
    if overlap < 0:
        raise ValueError(f"overlap must be >= 0, got {overlap}")
    return tile or None, overlap


class Pipeline:
    """Base of the task pipelines: holds the model, its spec, the device and tiling.

    Subclasses set ``task`` (and ``settings_type``, the class of their spec's
    ``settings``) and implement ``__call__``; construct them with :meth:`from_pretrained`.
    Every default of a task option comes from the spec: ``self.spec.tile``/``overlap``
    and ``self.spec.settings``.
    """

    task: str = ""
    #: The backends this task's network runs on (``backend`` of :meth:`from_pretrained`):
    #: ``"onnx"`` only where every network call goes through :meth:`run_model`.
    backends: tuple[str, ...] = ("torch",)
    #: The class of ``spec.settings`` this pipeline reads (:mod:`restore.zoo.settings`); None: no settings.
    settings_type: type | None = None

    def __init__(self, model: torch.nn.Module, spec: ModelSpec, device: torch.device, *,
                 tile: int | str | None = "auto", overlap: int | None = None, half: bool = False,
                 precision: str = "auto", backend: str = "torch") -> None:
        self.model, self.spec, self.device = model, check_spec(spec, self.task, self.settings_type), device
        self.tile, self.overlap = tile_and_overlap(spec, tile, overlap)
        self.dtype = torch.float16 if half else torch.float32
        #: ``"torch"`` or ``"onnx"`` (:mod:`restore.zoo.onnx_backend`).
        self.backend = self.check_backend(backend, device, half, precision)
        #: ``"fp32"`` or ``"bf16"`` (CPU autocast, :mod:`restore.zoo.accel`); fp16 is ``dtype``.
        self.precision = ("fp32" if half or self.backend == "onnx"
                          else resolve_precision(precision, device, spec.supports_bf16))
        if self.precision == "bf16" and model is not None:
            keep_float32(model, spec.fp32_modules)
        #: The ONNX Runtime network (``backend="onnx"``), else None.
        self.onnx_model = None
        if self.backend == "onnx" and model is not None:
            from restore.zoo.onnx_backend import OnnxNetwork
            self.onnx_model = OnnxNetwork(model, self.spec)

    @classmethod
    def check_backend(cls, backend: str, device: torch.device, half: bool = False, precision: str = "auto") -> str:
        """``backend``, checked: one of :data:`restore.zoo.onnx_backend.BACKENDS` that this
        task runs on (:attr:`backends`); ``"onnx"`` only on the CPU, in float32.

        Raises:
            ValueError: an unknown backend, ``"onnx"`` for a task without it, on another
                device than the CPU, with fp16 or with ``precision="bf16"``.
        """
        from restore.zoo.onnx_backend import BACKENDS
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if backend not in cls.backends:
            raise ValueError(f"backend {backend!r} is not available for {cls.task} (it runs on: {', '.join(cls.backends)})")
        if backend == "onnx":
            if device.type != "cpu":
                raise ValueError(f"backend 'onnx' runs on the CPU; got device {device} (use --device cpu)")
            if half or precision == "bf16":
                raise ValueError("backend 'onnx' runs in float32; leave half and precision bf16 off")
        return backend

    @classmethod
    def from_pretrained(cls, model: str | ModelSpec | None = None, device: str = "auto", *,
                        tile: int | str | None = "auto", overlap: int | None = None, half: bool | None = None,
                        precision: str = "auto", backend: str = "torch"):
        """Load a zoo model for this task.

        Args:
            model: zoo name (``restore models`` lists them), or a :class:`ModelSpec` (e.g. a
                zoo spec with other settings, made with ``dataclasses.replace``); default:
                the task's default model.
            device: ``auto`` (CUDA, then MPS, then CPU; the CPU with ``backend="onnx"``),
                ``cpu``, ``cuda`` or ``mps``.
            tile: tile side in input pixels for large images; ``None``/0 = whole image;
                ``"auto"`` = the task's default tile, the model's ``spec.tile``.
            overlap: tile overlap in input pixels; default: the model's ``spec.overlap``.
            half: fp16 inference; default: on when the device is CUDA and the spec allows it.
            precision: ``auto`` (bf16 autocast on a CPU with AMX, or an AMD one with
                avx512_bf16, when the model's ``spec.supports_bf16`` says it keeps its
                figures, else fp32; the environment variable ``RESTORE_PRECISION`` changes
                this default), ``fp32`` (also turns the default ``half`` off) or ``bf16``
                (CPU only). See :mod:`restore.zoo.accel`.
            backend: ``torch`` (eager PyTorch) or ``onnx`` (ONNX Runtime on the CPU, float32,
                for the tasks of :attr:`backends`: denoise and unwatermark; the network is
                exported once into the user's cache folder; needs ``pip install
                'restore[onnx]'``). See :mod:`restore.zoo.onnx_backend`.

        Raises:
            KeyError: unknown model or a model of another task.
            WeightsError: missing or corrupt weights.
            ValueError: unknown or unavailable device, a bad tile or overlap, a spec
                without this task's settings, a bad precision, or a backend this task,
                device or precision does not run on.
            ImportError: ``backend="onnx"`` without the ``onnx`` extra installed.
        """
        dev = resolve_device("cpu" if backend == "onnx" and device == "auto" else device)
        spec = model if isinstance(model, ModelSpec) else get_spec(model or default_model(cls.task))
        check_spec(spec, cls.task, cls.settings_type)
        name = spec.name
        cls.check_backend(backend, dev, bool(half), precision)
        if backend == "onnx":
            from restore.zoo.onnx_backend import require_onnxruntime
            require_onnxruntime()  # before the weights are read
        prec = "fp32" if backend == "onnx" else resolve_precision(precision, dev, spec.supports_bf16)
        use_half = (dev.type == "cuda" and spec.supports_half and precision != "fp32") if half is None else bool(half)
        if use_half and not (dev.type == "cuda" and spec.supports_half):
            raise ValueError(f"fp16 needs CUDA and a model that supports it ({name}: "
                             f"supports_half={spec.supports_half}, device {dev})")
        tile, overlap = tile_and_overlap(spec, tile, overlap)
        net, spec = load_model(spec, dev, torch.float16 if use_half else None)
        return cls(net, spec, dev, tile=tile, overlap=overlap, half=use_half, precision=prec, backend=backend)

    def load_partner(self, name: str, role: str) -> tuple[torch.nn.Module, ModelSpec]:
        """A partner model of this one (the PSNR weights a GAN interpolates with, the
        weights an unwatermark model runs on JPEG inputs): loaded on this pipeline's device
        and dtype, checked to have the same architecture, so its weights can take this
        network's place.

        Args:
            name: the partner's zoo name.
            role: what it is to this model, for the error message ("PSNR", "JPEG").

        Raises:
            KeyError: unknown model.
            ValueError: the partner has another architecture.
            WeightsError: its weights are missing or corrupt.
        """
        partner = get_spec(name)
        if partner.arch is not self.spec.arch or dict(partner.arch_kwargs) != dict(self.spec.arch_kwargs):
            raise ValueError(f"{self.spec.name}'s {role} partner {partner.name} has another architecture")
        return load_model(partner, self.device, self.dtype if self.dtype == torch.float16 else None)

    def resolve_options(self, **options: Any) -> dict[str, Any]:
        """The options of ``__call__`` with the model's defaults filled in and checked.

        Front ends (the CLI) call it once before a folder run, so that a bad option is an
        error before any file is read. Subclasses override it; ``__call__`` calls it too.

        Raises:
            OptionError: for an option out of its range or an unknown choice.
        """
        return dict(options)

    def _model_fn(self, extra: tuple[torch.Tensor, ...]) -> Callable[[torch.Tensor], torch.Tensor]:
        dev, dtype = self.device, self.dtype
        extra = tuple(e.to(dev, dtype) for e in extra)
        cl = torch.channels_last if dev.type == "cpu" else torch.contiguous_format
        if self.onnx_model is not None:
            onnx_model = self.onnx_model
            return lambda t: onnx_model(t, *extra)

        def fn(t: torch.Tensor) -> torch.Tensor:
            with autocast(self.precision):
                return self.model(t.contiguous(memory_format=cl), *extra).float()

        return fn

    def run_model(self, x: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        """Run the network over ``x`` (B, C, H, W) with tiling and padding per the spec.

        ``extra`` tensors of shape (B, k, 1, 1) (e.g. a noise level) are passed to the
        network after the image. Returns float32 on the input's device, not clamped.
        """
        with torch.inference_mode():  # the image moves to the device once, not tile by tile
            return run_tiled(self._model_fn(extra), x, tile=self.tile if self.spec.tiling else None,
                             overlap=self.overlap, scale=self.spec.scale, multiple_of=self.spec.multiple_of,
                             device=self.device, dtype=self.dtype).to(x.device, torch.float32)

    def run_model_streamed(self, source: ArraySource, *extra: torch.Tensor,
                           sink: Callable[[int, torch.Tensor], None]) -> None:
        """:meth:`run_model` over a numpy image read tile by tile, the output handed to
        ``sink`` a band of rows at a time (:func:`restore.ops.tiling.run_tiled`), so that
        nothing of the image's size is made as float. The values are those of
        :meth:`run_model` on the whole image converted at once.

        Args:
            source: the image (:class:`restore.ops.tiling.ArraySource`).
            extra: as in :meth:`run_model`.
            sink: called as ``sink(row0, block)``, top to bottom, with ``block``
                (1, C', rows, W * scale) float32 on the CPU, not clamped: the output rows
                ``row0 .. row0 + rows``.
        """
        def to_cpu(row0: int, block: torch.Tensor) -> None:
            sink(row0, block.to("cpu", torch.float32))

        with torch.inference_mode():
            run_tiled(self._model_fn(extra), source, tile=self.tile if self.spec.tiling else None,
                      overlap=self.overlap, scale=self.spec.scale, multiple_of=self.spec.multiple_of,
                      sink=to_cpu, device=self.device, dtype=self.dtype)

    def map_streamed(self, prep: Prepared, post: Callable[[torch.Tensor], torch.Tensor], *extra: torch.Tensor,
                     channels: int) -> Any:
        """Run the network over ``prep``'s numpy image tile by tile and return the caller's kind.

        The image is read as 3 channels (a gray one repeated); each finished band of the
        network's output goes through ``post`` ((1, C', rows, W') float32 ->
        (1, channels, rows, W') in [0, 1]) and is written into an output of the file dtype
        (:func:`to_dtype`, the rounding of ``prep.finish``); alpha is copied through.
        Memory: the input and the output in their file dtype, plus one band of tiles as float.

        Args:
            prep: numpy or PIL image from :func:`prepare` (``prep.array`` is not None).
            post: maps a band of the network's output to the result's values.
            extra: as in :meth:`run_model`.
            channels: color channels of the result (1 or 3).

        Raises:
            ValueError: for an image with alpha and a model whose scale is not 1.
        """
        scale = int(self.spec.scale)
        if prep.alpha_array is not None and scale != 1:
            raise ValueError("map_streamed copies alpha through, which needs a scale-1 model")
        h, w = prep.array.shape[:2]
        out = prep.new_output(h * scale, w * scale, channels)

        def write(row0: int, block: torch.Tensor) -> None:
            band = post(block)[0].permute(1, 2, 0).numpy()
            out[row0:row0 + block.shape[-2], :, :channels] = to_dtype(band, out.dtype)

        self.run_model_streamed(ArraySource(prep.array, 3), *extra, sink=write)
        if prep.alpha_array is not None:
            a = prep.alpha_array  # integer levels come back unchanged from the float round trip
            out[..., channels:] = a if a.dtype.kind == "u" else to_dtype(a.astype(np.float32), a.dtype)
        return prep.finish_array(out)
