"""Inference precision: bfloat16 autocast on CPUs that compute bf16 natively.

On an x86 CPU with AMX (Intel Xeon Sapphire Rapids and later: ``amx_bf16``) oneDNN runs
convolutions in bf16 several times faster than in float32; on an AMD CPU with ``avx512_bf16``
(Zen 4 and later) about twice as fast (docs/speed_steps.py on an idle 2-core AMD EPYC: the
networks of dae-real-s, unwatermark-s, real-srgan-x4 and colorize-hints-s 1.6-2.5x over float32
channels-last). On an Intel CPU with ``avx512_bf16`` but no AMX (Cooper Lake; measured on a
Xeon with oneDNN held to that instruction set) it was 10-25 % slower than float32, and
elsewhere bf16 is emulated and slower. The weights
stay float32: ``torch.autocast`` casts each convolution's inputs to bf16 and accumulates in
float32, and the pipelines take the network's output back to float32.

A model takes part only where its spec says bf16 keeps its bench figures
(``ModelSpec.supports_bf16``: within 0.05 dB of float32 on each bench set); ``precision``
can force either way. A model whose figures need some layers at full precision names them
(``ModelSpec.fp32_modules``); :func:`keep_float32` runs them in float32 inside the bf16
autocast. ``RESTORE_PRECISION`` (``auto``, ``fp32`` or ``bf16``) sets the
default for every pipeline loaded with ``precision="auto"``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator

import torch

log = logging.getLogger("restore")

#: The values of ``precision`` (``from_pretrained``, ``load_pipeline``, ``RESTORE_PRECISION``).
PRECISIONS = ("auto", "fp32", "bf16")
#: Environment variable giving the default precision.
ENV_VAR = "RESTORE_PRECISION"
#: CPU features under which ``auto`` picks bf16 on any vendor's CPU. With ``amx_bf16`` bf16 won
#: on every network of the zoo (docs/speed_steps.py).
AUTO_BF16_FEATURES = ("amx_bf16",)
#: Per vendor (``vendor_id`` of /proc/cpuinfo), further features under which ``auto`` picks
#: bf16. AMD's ``avx512_bf16`` (Zen 4, Zen 5) ran the zoo's networks 1.6-2.5x faster than
#: float32 channels-last on an idle AMD EPYC; Intel's without AMX (Cooper Lake) lost to
#: float32 (a Xeon with ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16), so Intel is not listed.
AUTO_BF16_VENDOR_FEATURES = {"AuthenticAMD": ("avx512_bf16",)}


@functools.lru_cache(maxsize=1)
def cpu_features() -> frozenset[str]:
    """The CPU's bf16-related features: a subset of ``{"amx_bf16", "avx512_bf16"}``.

    Read from PyTorch's own CPU probe (``torch.backends.cpu``, PyTorch >= 2.3) where it
    gives them, else from the ``flags`` line of ``/proc/cpuinfo`` (Linux); empty elsewhere.
    """
    wanted = ("amx_bf16", "avx512_bf16")
    probe = getattr(getattr(torch._C, "_cpu", None), "_get_cpu_capability", None)
    if probe is not None:
        try:
            caps = probe()
            if isinstance(caps, dict) and all(k in caps for k in wanted):
                return frozenset(k for k in wanted if caps[k])
        except Exception:  # noqa: BLE001 - a private probe; fall back to /proc/cpuinfo
            pass
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return frozenset(k for k in wanted if k in flags)
    except OSError:
        pass
    return frozenset()


@functools.lru_cache(maxsize=1)
def cpu_vendor() -> str:
    """The CPU's vendor string as the ``vendor_id`` line of /proc/cpuinfo gives it (e.g.
    ``"AuthenticAMD"``, ``"GenuineIntel"``); ``""`` where there is no such file (not Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def cpu_prefers_bf16() -> bool:
    """Whether ``precision="auto"`` runs bf16 on this CPU: oneDNN is built in and the CPU has
    one of :data:`AUTO_BF16_FEATURES`, or one of its vendor's
    :data:`AUTO_BF16_VENDOR_FEATURES` (AMD with ``avx512_bf16``)."""
    wanted = set(AUTO_BF16_FEATURES) | set(AUTO_BF16_VENDOR_FEATURES.get(cpu_vendor(), ()))
    return bool(cpu_features() & wanted) and torch.backends.mkldnn.is_available()


def resolve_precision(precision: str, device: torch.device, supports_bf16: bool) -> str:
    """The precision a model runs at: ``"fp32"`` or ``"bf16"``.

    Args:
        precision: ``auto`` (the default of ``RESTORE_PRECISION`` if set, else bf16 where the
            device is a CPU of :func:`cpu_prefers_bf16` and the model allows it), ``fp32``
            or ``bf16`` (forced: on a CPU without native bf16 it runs, slower).
        device: where the model runs; bf16 autocast is used on the CPU only (CUDA has fp16,
            ``half``).
        supports_bf16: the model's ``ModelSpec.supports_bf16``.

    Raises:
        ValueError: for a precision other than those of :data:`PRECISIONS` (also in
            ``RESTORE_PRECISION``), or ``bf16`` on a device other than the CPU.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        env = os.environ.get(ENV_VAR, "").strip().lower()
        if env and env not in PRECISIONS:
            raise ValueError(f"{ENV_VAR} must be one of {', '.join(PRECISIONS)}, got {env!r}")
        precision = env or "auto"
    if precision == "bf16":
        if device.type != "cpu":
            raise ValueError(f"precision bf16 is for the CPU; on {device} use fp32 (or half on CUDA)")
        return "bf16"
    if precision == "auto":
        return "bf16" if device.type == "cpu" and supports_bf16 and cpu_prefers_bf16() else "fp32"
    return "fp32"


@contextlib.contextmanager
def autocast(precision: str) -> Iterator[None]:
    """Run the block under bf16 CPU autocast when ``precision`` is ``"bf16"``; else unchanged."""
    if precision == "bf16":
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield
    else:
        yield


def _autocast_dtype(device: str) -> torch.dtype:
    """The dtype autocast casts to on ``device`` (bf16 on the CPU by default)."""
    try:
        return torch.get_autocast_dtype(device)
    except AttributeError:  # PyTorch < 2.4
        return torch.get_autocast_cpu_dtype() if device == "cpu" else torch.get_autocast_gpu_dtype()


def _autocast_enabled(device: str) -> bool:
    """Whether autocast is on for ``device`` (``"cpu"``, ``"cuda"``...), on every PyTorch of 2.x."""
    try:
        return torch.is_autocast_enabled(device)
    except TypeError:  # PyTorch < 2.4: no device argument
        return torch.is_autocast_cpu_enabled() if device == "cpu" else torch.is_autocast_enabled()


def keep_float32(model: torch.nn.Module, names: tuple[str, ...] | list[str]) -> torch.nn.Module:
    """Make the submodules ``names`` of ``model`` (as ``model.get_submodule`` finds them, e.g.
    ``"head"``, ``"enc.0"``) compute in float32 under autocast: their floating-point tensor
    inputs are cast to float32 and autocast is off inside them, so neither their inputs nor
    their weights are rounded to bf16; their output (a tensor) is cast back to the autocast
    dtype, so the layers after them run as they would without this (a float32 output would
    make every later residual sum and skip connection at that resolution float32 too: for
    unwatermark-s's head conv that cost about a fifth of the network's time, for the same
    figures). Outside autocast nothing changes. Wraps each submodule's ``forward`` in place
    (once; calling again is harmless).

    Args:
        model: the network.
        names: submodule names; empty: nothing is done.

    Returns:
        ``model``.

    Raises:
        AttributeError: for a name that is not a submodule of ``model``.
    """
    for name in names:
        module = model.get_submodule(name)
        if getattr(module, "_restore_fp32", False):
            continue
        forward = module.forward

        def fp32_forward(*args, _forward=forward, **kwargs):
            device = next((a.device.type for a in args if isinstance(a, torch.Tensor)), "cpu")
            if not _autocast_enabled(device):
                return _forward(*args, **kwargs)
            args = tuple(a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)
            with torch.autocast(device, enabled=False):
                out = _forward(*args, **kwargs)
            return out.to(_autocast_dtype(device)) if isinstance(out, torch.Tensor) and out.is_floating_point() else out

        module.forward = fp32_forward
        module._restore_fp32 = True
    return model
