"""Training checkpoints as safetensors: the weights of every network of a run, the state of
every optimizer, and JSON metadata (no pickle).

A recipe names its networks and optimizers (``{"model": G, "discriminator": D}``); the
file holds ``net.<name>.<tensor>`` and ``opt.<name>.<param index>.<state>`` tensors, the
optimizers' parameter groups and the caller's metadata. Files written before the engine
(one network as ``model.*``, one optimizer as ``opt.<param index>.*``) still load into a run
with one network and one optimizer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn


def _check_names(names) -> None:
    for name in names:
        if not name or "." in name:
            raise ValueError(f"network and optimizer names must be non-empty and dot-free, got {name!r}")


Nets = Mapping[str, nn.Module] | nn.Module
Opts = Mapping[str, torch.optim.Optimizer] | torch.optim.Optimizer


def _named(nets: Nets, opts: Opts | None) -> tuple[Mapping, Mapping | None]:
    """A lone network or optimizer is the run's ``model`` (and its optimizer)."""
    return ({"model": nets} if isinstance(nets, nn.Module) else nets,
            {"model": opts} if isinstance(opts, torch.optim.Optimizer) else opts)


def save_checkpoint(path: Path, nets: Nets, opts: Opts, **meta) -> None:
    """Write the networks' and optimizers' tensors plus ``meta`` (JSON-serialisable) to
    ``path`` atomically (a temporary file renamed over it). ``nets`` and ``opts`` map names
    to modules and optimizers; a lone module or optimizer is named ``model``.

    Raises:
        ValueError: if a name is empty or holds a dot.
    """
    nets, opts = _named(nets, opts)
    _check_names([*nets, *opts])
    tensors: dict[str, torch.Tensor] = {}
    for name, net in nets.items():
        tensors.update({f"net.{name}.{k}": v.detach().contiguous().cpu() for k, v in net.state_dict().items()})
    groups = {}
    for name, opt in opts.items():
        sd = opt.state_dict()
        groups[name] = sd["param_groups"]
        for pid, st in sd["state"].items():
            for k, v in st.items():
                if torch.is_tensor(v):
                    tensors[f"opt.{name}.{pid}.{k}"] = v.detach().contiguous().cpu().reshape(v.shape)
    metadata = {"meta": json.dumps(meta), "param_groups": json.dumps(groups)}
    tmp = path.with_name("." + path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def _legacy(tensors: dict, metadata: dict, nets: Mapping, opts: Mapping | None) -> tuple[dict, dict]:
    """A one-network file of the training loops before the engine, renamed to the new keys."""
    if len(nets) != 1 or (opts is not None and len(opts) > 1):
        raise RuntimeError("a checkpoint with one network cannot restore several")
    net, opt = next(iter(nets)), next(iter(opts or {"opt": None}))
    renamed = {}
    for k, v in tensors.items():
        if k.startswith("model."):
            renamed[f"net.{net}.{k[6:]}"] = v
        elif k.startswith("opt."):
            renamed[f"opt.{opt}.{k[4:]}"] = v
    return renamed, {opt: json.loads(metadata["param_groups"])}


def load_checkpoint(path: Path, nets: Nets, opts: Opts | None = None) -> dict:
    """Restore ``nets`` (and ``opts``, unless None) from :func:`save_checkpoint`'s file;
    returns its ``meta``. Names as in :func:`save_checkpoint`.

    Every network asked for must be in the file; with ``opts`` the file's networks and
    optimizers must be exactly those given (a resumed run restores all of them). Buffers
    missing from an older checkpoint keep their current values (the recipes set their
    derived buffers after resuming); a missing parameter or an unknown tensor is an error.

    Raises:
        RuntimeError: if the file's networks, optimizers or parameters do not match.
    """
    nets, opts = _named(nets, opts)
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(str(path))
    groups = json.loads(metadata["param_groups"])
    if not any(k.startswith("net.") for k in tensors):
        tensors, groups = _legacy(tensors, metadata, nets, opts)
    in_file = {k.split(".", 2)[1] for k in tensors if k.startswith("net.")}
    if not set(nets) <= in_file or (opts is not None and (in_file != set(nets) or set(groups) != set(opts))):
        raise RuntimeError(f"checkpoint {path} holds networks {sorted(in_file)} and optimizers {sorted(groups)}, "
                           f"not {sorted(nets)} and {sorted(opts or {})}")
    for name, net in nets.items():
        prefix = f"net.{name}."
        result = net.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)},
                                     strict=False)
        params = {n for n, _ in net.named_parameters()}
        missing = [k for k in result.missing_keys if k in params]
        if missing or result.unexpected_keys:
            raise RuntimeError(f"checkpoint {path} does not match network {name!r}: missing {missing}, "
                               f"unexpected {result.unexpected_keys}")
    for name, opt in (opts or {}).items():
        dev = next(p.device for g in opt.param_groups for p in g["params"])
        state: dict[int, dict] = {}
        prefix = f"opt.{name}."
        for k, v in tensors.items():
            if k.startswith(prefix):
                pid, key = k[len(prefix):].split(".", 1)
                state.setdefault(int(pid), {})[key] = v if key == "step" else v.to(dev)
        opt.load_state_dict({"state": state, "param_groups": groups[name]})
    return json.loads(metadata["meta"])
