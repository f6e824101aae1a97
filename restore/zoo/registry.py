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
from restore.zoo.settings import ColorizeSettings, DenoiseSettings, InpaintSettings, UnwatermarkSettings, UpscaleSettings

log = logging.getLogger("restore")


class WeightsError(RuntimeError):
    """A weights file is missing, truncated or damaged (sha256 mismatch), not a safetensors
    file, or of another architecture; or the manifest is unreadable. The message is one
    line: the file, what is wrong with it, and what to do."""


def weights_remedy(file: str, spec: ModelSpec | None = None) -> str:
    """What to do about a missing or bad file of the weights folder, in words for the user:
    how to get the shipped ``file`` back where the weights come from (a checkout, an
    installed package, or ``$RESTORE_WEIGHTS``), and, for a model's weights, how to retrain."""
    folder = paths.weights_dir()
    if os.environ.get(paths.ENV_VAR, "").strip():
        fix = (f"put a good {file} into {folder} (the folder {paths.ENV_VAR} names) or unset {paths.ENV_VAR} "
               "to use the shipped weights")
    elif (folder.parent / ".git").exists():
        fix = f"restore the shipped file with `git checkout -- {folder.name}/{file}` in {folder.parent}"
    else:
        fix = "reinstall restore to get the shipped weights back (`pip install --force-reinstall restore`)"
    if spec is not None:
        fix += (f", or retrain it with `restore train {spec.task} --model {spec.name} ...` and publish it "
                "(restore.zoo.manifest.publish_weights)")
    return fix


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
            ``UnwatermarkSettings``, ``InpaintSettings``, ``UpscaleSettings``; None for an
            upscale model without a strength control);
            the pipelines take their defaults from it. Replace it with
            ``dataclasses.replace`` to run a model with other values.
        supports_half: whether fp16 inference is accurate enough (used on CUDA only).
        supports_bf16: whether bf16 autocast on the CPU keeps the model's bench figures
            (within 0.05 dB of float32 on each bench set); ``precision="auto"`` uses it
            only then, on a CPU with native bf16 (:mod:`restore.zoo.accel`).
        fp32_modules: submodule names (``model.get_submodule``) computed in float32 when the
            rest runs in bf16, their output handed on in bf16
            (:func:`restore.zoo.accel.keep_float32`), where the figures need them; empty:
            the whole network in bf16.
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
    settings: DenoiseSettings | ColorizeSettings | UnwatermarkSettings | InpaintSettings | UpscaleSettings | None = None
    supports_half: bool = False
    supports_bf16: bool = False
    fp32_modules: tuple[str, ...] = ()
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
    ``weights_dir`` defaults to :func:`restore.zoo.paths.weights_dir`.

    Raises:
        WeightsError: the manifest cannot be read, is not JSON, or is not an object of
            objects (one line naming the file and what to do).
    """
    path = (weights_dir or paths.weights_dir()) / MANIFEST
    if not path.exists():
        return {}
    fix = weights_remedy(MANIFEST)
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as e:
        raise WeightsError(f"{path}: cannot read the weights manifest ({e.strerror or e}); {fix}") from None
    except UnicodeDecodeError:
        raise WeightsError(f"{path}: the weights manifest is not text (damaged); {fix}") from None
    except json.JSONDecodeError as e:
        raise WeightsError(f"{path}: the weights manifest is not valid JSON ({e.msg} at line {e.lineno} "
                           f"column {e.colno}); {fix}") from None
    if not isinstance(manifest, dict) or not all(isinstance(v, dict) for v in manifest.values()):
        raise WeightsError(f"{path}: the weights manifest is not an object of model entries; {fix}")
    return manifest


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
    model by name made for the same inputs as the default (``settings.inputs``: real
    photos or bicubic downsamplings), else the first such model by name.

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
    if default in matching:
        return default
    kind = getattr(get_spec(default).settings, "inputs", None) if default is not None else None
    same = [m for m in matching if getattr(get_spec(m).settings, "inputs", None) == kind]
    return (same or matching)[0]


def model_for_sigma(sigma: float | str, model: str | None = None) -> str:
    """The denoising model for a ``sigma``: ``model`` itself when given; else the default
    denoise model, unless ``sigma`` is a number and that model is blind (it takes no
    noise level), then the first denoise model by name that takes one.

    Raises:
        KeyError: if no denoise model is registered (an unknown ``model`` is returned as
            given, for the loader to report).
    """
    if model is not None:
        return model
    default = default_model("denoise")
    if isinstance(sigma, str) or not get_spec(default).settings.blind:
        return default
    told = [m for m in list_models("denoise") if not get_spec(m).settings.blind]
    return told[0] if told else default



def model_for_hints(hints: bool, model: str | None = None) -> str:
    """The colorization model for a run with or without color hints: ``model`` itself when
    given; else the default colorize model, unless hints are given and it takes none, then
    the first colorize model by name that takes them.

    Raises:
        KeyError: if no colorize model is registered.
        ValueError: hints are given and ``model`` (or every colorize model) takes none.
    """
    takes = (lambda m: bool(get_spec(m).arch_kwargs.get("hints", False)))
    if model is not None:
        if hints and model in list_models("colorize") and not takes(model):
            raise ValueError(f"model {model} takes no color hints; "
                             f"models that do: {', '.join(m for m in list_models('colorize') if takes(m)) or 'none'}")
        return model
    default = default_model("colorize")
    if not hints or takes(default):
        return default
    with_hints = [m for m in list_models("colorize") if takes(m)]
    if not with_hints:
        raise ValueError("no colorize model takes color hints")
    return with_hints[0]


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
        WeightsError: weights file missing, truncated or damaged (sha256 mismatch), not a
            safetensors file, or its tensor names/shapes do not fit the arch; an unreadable
            manifest. One line naming the file and what to do (:func:`weights_remedy`).
    """
    from safetensors.torch import load_file

    spec = get_spec(name) if isinstance(name, str) else name
    path = spec.weights_path
    fix = weights_remedy(spec.weights, spec)
    entry = read_manifest(path.parent).get(spec.name, {})
    if not path.is_file():
        listed = f", listed in {path.parent / MANIFEST}" if entry else ""
        raise WeightsError(f"{path}: weights file of {spec.name} not found{listed}; {fix}")
    if spec.sha256 is None:
        raise WeightsError(f"{path}: no sha256 recorded for {spec.name} in {path.parent / MANIFEST}; {fix}")
    digest = sha256_file(path)
    if digest != spec.sha256:
        raise WeightsError(f"{path}: weights file of {spec.name} is {_damage(path, entry.get('bytes'))}, "
                           f"its sha256 does not match the manifest's; {fix}")
    dev = resolve_device(device)
    net = build_model(spec)
    try:
        state = load_file(str(path))
    except Exception as e:  # noqa: BLE001 - safetensors raises its own SafetensorError (and others)
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WeightsError(f"{path}: not a readable safetensors file ({reason}); {fix}") from None
    mismatch = state_dict_mismatch(net.state_dict(), state)
    if mismatch:
        raise WeightsError(f"{path}: does not fit {spec.name} (arch {spec.arch.__name__}, {mismatch}): weights of "
                           f"another model or of other settings; {fix}")
    net.load_state_dict(state, strict=True)
    half = dtype == torch.float16 and dev.type == "cuda" and spec.supports_half
    net = net.to(device=dev, dtype=torch.float16 if half else torch.float32).eval()
    if dev.type == "cpu":
        net = net.to(memory_format=torch.channels_last)
    for p in net.parameters():
        p.requires_grad_(False)
    return net, spec


def _damage(path: Path, expected_bytes: int | None) -> str:
    """How a weights file whose sha256 does not match looks damaged, in words."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(b"version https://git-lfs"):
        return "a Git LFS pointer, not the weights (run `git lfs pull`)"
    if expected_bytes and size < expected_bytes:
        return f"truncated ({size} of {expected_bytes} bytes)"
    if expected_bytes and size != expected_bytes:
        return f"damaged ({size} bytes, {expected_bytes} expected)"
    return "damaged or replaced"


def state_dict_mismatch(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str:
    """How the tensors of a weights file (``found``) differ from a module's state dict
    (``expected``), in a few words ("" when names and shapes agree): counts of missing,
    unexpected and other-shaped tensors, each with one example."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shapes = [k for k in expected if k in found and tuple(found[k].shape) != tuple(expected[k].shape)]
    dims = lambda t: "x".join(map(str, t.shape)) or "scalar"  # noqa: E731
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensor(s) missing, e.g. {missing[0]}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected, e.g. {unexpected[0]}")
    if shapes:
        k = shapes[0]
        parts.append(f"{len(shapes)} of another shape, e.g. {k} {dims(found[k])} instead of {dims(expected[k])}")
    return "; ".join(parts)


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
