"""The model zoo: model specs, registration, weights loading with checksum, devices.

Weights are safetensors only (never pickle). ``weights/manifest.json`` is the record of
shipped files: for each model its file name, sha256, size and the benchmark figures
``restore bench --record`` measured for it. A spec takes its sha256 from there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from restore.zoo import paths
from restore.zoo.paths import MANIFEST
from restore.zoo.settings import ColorizeSettings, DenoiseSettings, InpaintSettings, UnwatermarkSettings

log = logging.getLogger("restore")


class WeightsError(RuntimeError):
    """A weights file is missing, does not match its sha256, or does not fit its arch."""


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything the pipelines and the CLI need to know about one zoo model.

    Attributes:
        name: zoo name, e.g. ``"dae-s"``.
        task: ``denoise``, ``colorize``, ``upscale``, ``inpaint`` or ``unwatermark``.
        arch: the ``nn.Module`` class.
        arch_kwargs: keyword arguments for ``arch``.
        weights: file name under the weights folder (``*.safetensors``).
        sha256: hex digest of the weights file (from the manifest when not given).
        scale: output / input size ratio (1 except for super-resolution).
        in_channels, out_channels: image channels the network takes and gives.
        multiple_of: input height and width must be multiples of this (the pipeline pads).
        tiling: whether the model may run tile by tile on large images.
        tile: default tile side in input pixels for large images (what
            ``from_pretrained(tile="auto")`` takes); None = the whole image at once.
        overlap: default overlap between tiles in input pixels (for a windowed inpainting
            model: between its windows, whose side is the generator's).
        settings: the model's other inference settings, a frozen dataclass of its task
            (:mod:`restore.zoo.settings`: ``DenoiseSettings``, ``ColorizeSettings``,
            ``UnwatermarkSettings``, ``InpaintSettings``; None for upscale, which has none);
            the pipelines take their defaults from it. Replace it with
            ``dataclasses.replace`` to run a model with other values.
        supports_half: whether fp16 inference is accurate enough (used on CUDA only).
        license: licence of the weights.
        trained_on: training data, in words.
        description: one line for ``restore models``.
        device_advice: e.g. "CPU ok" or "GPU recommended".
        bench: benchmark figures recorded by ``restore bench --record`` (from the manifest).
    """

    name: str
    task: str
    arch: type[nn.Module]
    arch_kwargs: dict[str, Any]
    weights: str
    sha256: str | None = None
    scale: int = 1
    in_channels: int = 3
    out_channels: int = 3
    multiple_of: int = 1
    tiling: bool = True
    tile: int | None = None
    overlap: int = 0
    settings: DenoiseSettings | ColorizeSettings | UnwatermarkSettings | InpaintSettings | None = None
    supports_half: bool = False
    license: str = ""
    trained_on: str = ""
    description: str = ""
    device_advice: str = "CPU ok"
    bench: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def weights_path(self) -> Path:
        """Where the weights file is: ``weights`` under :func:`restore.zoo.paths.weights_dir`."""
        return paths.weights_dir() / self.weights


_REGISTRY: dict[str, Callable[[], ModelSpec]] = {}
_DEFAULTS: dict[str, str] = {}


def register_model(fn: Callable[[], ModelSpec] | None = None, *, default: bool = False):
    """Decorator registering a zero-argument function that returns a :class:`ModelSpec`.

    ``@register_model(default=True)`` also makes it its task's default model.

    Raises:
        ValueError: for a name registered twice, or a second default of a task.
    """
    def wrap(f: Callable[[], ModelSpec]) -> Callable[[], ModelSpec]:
        spec = f()
        if spec.name in _REGISTRY:
            raise ValueError(f"model {spec.name!r} registered twice")
        if default and spec.task in _DEFAULTS:
            raise ValueError(f"{spec.name!r} registered as the default {spec.task} model, but "
                             f"{_DEFAULTS[spec.task]!r} is already")
        _REGISTRY[spec.name] = f
        if default:
            _DEFAULTS[spec.task] = spec.name
        return f
    return wrap(fn) if fn is not None else wrap


def read_manifest(weights_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """The manifest as a dict ``{model name: {file, sha256, bytes, bench, ...}}`` ({} if absent);
    ``weights_dir`` defaults to :func:`restore.zoo.paths.weights_dir`."""
    path = (weights_dir or paths.weights_dir()) / MANIFEST
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def write_manifest(manifest: dict[str, dict[str, Any]], weights_dir: Path | None = None) -> None:
    """Write the manifest atomically, keys sorted (into ``weights_dir`` or
    :func:`restore.zoo.paths.weights_dir`)."""
    path = (weights_dir or paths.weights_dir()) / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def get_spec(name: str) -> ModelSpec:
    """The spec of model ``name``, with sha256 and bench figures filled from the manifest.

    Raises:
        KeyError: for an unknown model, listing the known ones.
    """
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    spec = _REGISTRY[name]()
    entry = read_manifest().get(name, {})
    return dataclasses.replace(spec, sha256=spec.sha256 or entry.get("sha256"),
                               bench=entry.get("bench", spec.bench))


def list_models(task: str | None = None) -> list[str]:
    """Names of the registered models, optionally only those of ``task``; sorted."""
    return sorted(n for n, f in _REGISTRY.items() if task is None or f().task == task)


def default_model(task: str) -> str:
    """The default model name of ``task``.

    Raises:
        KeyError: if the task has no registered default.
    """
    if task not in _DEFAULTS:
        raise KeyError(f"no default model for task {task!r}")
    return _DEFAULTS[task]


def model_for_scale(task: str, scale: int, model: str | None = None) -> str:
    """The model of ``task`` that upscales by ``scale``: ``model`` itself when given (its
    scale checked), else the task's default if it has that scale, else the first such
    model by name.

    Raises:
        ValueError: if no model of ``task`` has that scale, or ``model`` is of another task
            or scale.
        KeyError: for an unknown ``model``.
    """
    if model is not None:
        spec = get_spec(model)
        if spec.task != task:
            raise ValueError(f"model {model!r} is a {spec.task} model, not {task}")
        if spec.scale != scale:
            raise ValueError(f"model {model} is x{spec.scale}, not x{scale} (use outscale for other sizes)")
        return model
    names = list_models(task)
    matching = [m for m in names if get_spec(m).scale == scale]
    if not matching:
        scales = sorted({get_spec(m).scale for m in names})
        raise ValueError(f"no {task} model of scale {scale}; scales in the zoo: {scales}")
    default = _DEFAULTS.get(task)
    return default if default in matching else matching[0]


_logged_device: set[str] = set()


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA if available, else MPS, else CPU; other names are checked.

    Raises:
        ValueError: for an unknown device name or one that is not available here.
    """
    name = str(device)
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda requested but CUDA is not available")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device mps requested but MPS is not available")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {device!r}")
    if str(dev) not in _logged_device:
        _logged_device.add(str(dev))
        log.info("restore: using device %s", dev)
    return dev


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_model(spec: ModelSpec, **overrides: Any) -> nn.Module:
    """Instantiate ``spec.arch`` with random weights (``overrides`` replace arch kwargs)."""
    return spec.arch(**{**spec.arch_kwargs, **overrides})


def load_model(name: str | ModelSpec, device: str | torch.device = "auto",
               dtype: torch.dtype | None = None) -> tuple[nn.Module, ModelSpec]:
    """Build a zoo model and load its shipped weights, checking the sha256 first.

    Args:
        name: zoo name or spec.
        device: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        dtype: ``torch.float16`` is honoured only on CUDA and when the spec allows it;
            otherwise float32.

    Returns:
        ``(module in eval mode on the device, spec)``.

    Raises:
        KeyError: unknown model.
        WeightsError: weights file missing, sha256 mismatch, or keys/shapes that do not fit.
    """
    from safetensors.torch import load_file

    spec = get_spec(name) if isinstance(name, str) else name
    path = spec.weights_path
    if not path.exists():
        raise WeightsError(f"weights file for {spec.name} not found: {path} "
                           f"(set {paths.ENV_VAR} to the folder that holds the weights)")
    if spec.sha256 is None:
        raise WeightsError(f"no sha256 recorded for {spec.name} in {path.parent / MANIFEST}")
    digest = sha256_file(path)
    if digest != spec.sha256:
        raise WeightsError(f"sha256 mismatch for {path}: expected {spec.sha256}, got {digest}")
    dev = resolve_device(device)
    net = build_model(spec)
    try:
        net.load_state_dict(load_file(str(path)), strict=True)
    except RuntimeError as e:
        raise WeightsError(f"{path} does not fit arch {spec.arch.__name__}: {e}") from None
    half = dtype == torch.float16 and dev.type == "cuda" and spec.supports_half
    net = net.to(device=dev, dtype=torch.float16 if half else torch.float32).eval()
    if dev.type == "cpu":
        net = net.to(memory_format=torch.channels_last)
    for p in net.parameters():
        p.requires_grad_(False)
    return net, spec


def save_weights(net: nn.Module, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Save a module's state dict as safetensors (atomically), with string metadata."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".tmp")
    state = {k: v.detach().float().contiguous().cpu() for k, v in net.state_dict().items()}
    save_file(state, str(tmp), metadata=metadata or {})
    os.replace(tmp, path)
    return path
