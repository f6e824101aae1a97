"""Pieces shared by the training loops: the time-aware cosine schedule, the step loop with
its validation/checkpoint ticks, the update step, resuming and writing the result."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

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


def resume_run(ckpt, net: torch.nn.Module, opt: torch.optim.Optimizer, resume: bool,
               log) -> tuple[int, list, float]:
    """``(start step, history, seconds trained so far)``: from the checkpoint ``ckpt``
    when ``resume`` is set and it exists (restoring ``net`` and ``opt``), else a fresh start."""
    from restore.train.checkpoint import load_checkpoint

    if resume and ckpt.exists():
        state = load_checkpoint(ckpt, net, opt)
        log(f"resumed from {ckpt} at step {state['step']}")
        return state["step"], state["history"], state["seconds"]
    return 0, [], 0.0


def load_init(net: torch.nn.Module, init, log: Callable[[str], None] | None = None) -> None:
    """Load the weights file ``init`` (safetensors of ``net``'s architecture, e.g. a shipped
    zoo file) into ``net``: a warm start, the optimizer and schedule being the caller's.

    Raises:
        FileNotFoundError: if ``init`` does not exist.
        RuntimeError: if its tensors do not match ``net``.
    """
    from pathlib import Path

    from safetensors.torch import load_file

    if not Path(init).exists():
        raise FileNotFoundError(f"init weights not found: {init}")
    net.load_state_dict(load_file(str(init)))
    if log:
        log(f"starting from the weights in {init}")


def write_result(net: torch.nn.Module, out, config: dict, *, step: int, seconds: float, device,
                 validation: dict, history: list) -> dict:
    """Write the trained weights to ``out`` (safetensors, the config in its metadata) and
    the JSON sidecar beside it (config, steps done, seconds, device, torch version,
    validation figures, history). Returns the sidecar dict."""
    import json

    from restore.zoo.registry import save_weights

    sidecar = dict(config, steps_done=step, seconds=round(seconds, 1), device=str(device),
                   torch=torch.__version__, validation=validation, history=history)
    save_weights(net, out, metadata={"config": json.dumps(config), "steps_done": str(step)})
    out.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return sidecar


@dataclass(frozen=True)
class Tick:
    """One training step of a :class:`Schedule`.

    Attributes:
        step: the step number (1-based, continuing after a resume).
        seconds: training seconds before this step (resumed runs included).
        lr: the learning rate set for this step.
        validate: validate and checkpoint after this step (every ``val_every`` steps, the
            last step, and the step where the time budget ran out).
        out_of_time: the time budget ran out: the schedule stops after this step.
    """

    step: int
    seconds: float
    lr: float
    validate: bool
    out_of_time: bool


class Schedule:
    """The step loop shared by the training commands: iterating yields a :class:`Tick` per
    step from ``start + 1`` to ``steps`` after setting the learning rate of ``opt`` by
    :func:`cosine_lr`; it stops early (after logging why) once ``max_minutes`` of training
    time are spent. ``step`` and ``seconds`` give the last step done and the training time,
    for the weights' sidecar."""

    def __init__(self, opt: torch.optim.Optimizer, *, steps: int, lr: float, start: int = 0, elapsed: float = 0.0,
                 max_minutes: float | None = None, warmup: int = 0, val_every: int = 250,
                 log: Callable[[str], None] = print) -> None:
        self.opt, self.steps, self.lr, self.start, self.elapsed = opt, steps, lr, start, elapsed
        self.max_minutes, self.warmup, self.val_every, self.log = max_minutes, warmup, val_every, log
        self.step = start
        self._t0: float | None = None

    @property
    def seconds(self) -> float:
        """Training seconds so far, resumed runs included."""
        return self.elapsed + (time.time() - self._t0 if self._t0 is not None else 0.0)

    def __iter__(self) -> Iterator[Tick]:
        self._t0 = time.time()
        for step in range(self.start + 1, self.steps + 1):
            seconds = self.seconds
            cur_lr, frac = cosine_lr(step, self.steps, self.lr, seconds=seconds, max_minutes=self.max_minutes,
                                     warmup=self.warmup)
            set_lr(self.opt, cur_lr)
            out_of_time = frac >= 1.0 and step < self.steps
            self.step = step
            yield Tick(step, seconds, cur_lr, step % self.val_every == 0 or step == self.steps or out_of_time,
                       out_of_time)
            if out_of_time:
                self.log(f"stopping at step {step}: max_minutes={self.max_minutes} reached")
                return
