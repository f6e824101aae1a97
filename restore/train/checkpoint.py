"""Training checkpoints as safetensors (weights + Adam state + JSON metadata; no pickle)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def save_checkpoint(path: Path, net: torch.nn.Module, opt: torch.optim.Optimizer, **meta) -> None:
    """Write model and optimizer tensors plus ``meta`` (JSON-serialisable) atomically."""
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    sd = opt.state_dict()
    for pid, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"opt.{pid}.{k}"] = v.detach().contiguous().cpu().reshape(v.shape)
    metadata = {"meta": json.dumps(meta), "param_groups": json.dumps(sd["param_groups"])}
    tmp = path.with_name("." + path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def load_checkpoint(path: Path, net: torch.nn.Module, opt: torch.optim.Optimizer) -> dict:
    """Restore ``net`` and ``opt`` from :func:`save_checkpoint`'s file; returns ``meta``.

    Buffers missing from an older checkpoint keep their current values (the training
    loops set their derived buffers after resuming); a missing parameter or an unknown
    tensor is an error.

    Raises:
        RuntimeError: if the checkpoint's parameters do not match ``net``'s.
    """
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(str(path))
    dev = next(net.parameters()).device
    result = net.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=False)
    params = {name for name, _ in net.named_parameters()}
    missing = [k for k in result.missing_keys if k in params]
    if missing or result.unexpected_keys:
        raise RuntimeError(f"checkpoint {path} does not match the model: missing {missing}, "
                           f"unexpected {result.unexpected_keys}")
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v if name == "step" else v.to(dev)
    opt.load_state_dict({"state": state, "param_groups": json.loads(metadata["param_groups"])})
    return json.loads(metadata["meta"])
