"""Pieces shared by the training loops: the time-aware cosine schedule and the update step."""

from __future__ import annotations

import math

import torch


def cosine_lr(step: int, steps: int, lr: float, *, seconds: float = 0.0, max_minutes: float | None = None,
              warmup: int = 0) -> tuple[float, float]:
    """Learning rate at ``step``: linear warm-up over ``warmup`` steps, then a cosine decay
    from ``lr`` to ``lr / 100``. With ``max_minutes`` (a wall-clock budget for CPU runs) the
    schedule advances by whichever of steps or elapsed ``seconds`` is further along.

    Returns:
        ``(learning rate, fraction of the run done)``; a fraction >= 1 means stop.
    """
    frac = step / steps
    if max_minutes is not None:
        frac = max(frac, seconds / (max_minutes * 60))
    decay = 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))) * 0.99 + 0.01
    return lr * min(1.0, step / max(1, warmup)) * decay, frac


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group."""
    for group in opt.param_groups:
        group["lr"] = lr


def update(opt: torch.optim.Optimizer, net: torch.nn.Module, loss: torch.Tensor, clip: float = 1.0) -> None:
    """One optimiser step on ``loss`` with the gradient norm clipped to ``clip``."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
    opt.step()
