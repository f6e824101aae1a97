"""The training engine: one loop for every task.

A task is a :class:`Recipe` (build the networks from a zoo entry, sample a batch and update,
validate) with a :class:`TrainConfig` dataclass that declares each of its hyperparameters
once, with its default and the help line of its ``restore train TASK`` option. :func:`train`
does the rest the same way for every task:

- the network is ``spec.arch(**spec.arch_kwargs)`` of the zoo entry ``config.model`` (the
  task's default model when None), so the weights written always load into that spec;
- ``init`` loads a weights file into it first (a warm start: optimizer and schedule start
  afresh); ``resume`` continues from ``<out>.ckpt.safetensors`` (every network and optimizer
  of the recipe, the step count, the history and the training time), which is written at
  every validation;
- the learning rate follows a linear warm-up and a cosine decay (:func:`cosine_lr`); with
  ``max_minutes`` the schedule follows whichever of steps or training time is further
  along, and training stops when either runs out;
- every ``val_every`` steps (and at the last one) the recipe validates, the figures go to
  the log and the history, and the checkpoint is written (with ``snapshots``, the
  network's weights too, as ``<out>.step<N>.safetensors``);
- at the end ``out`` (safetensors, the config in its metadata) and ``out``.json (config,
  model, steps done, seconds, device, torch version, final validation, history) are written.

Writing a recipe::

    @dataclass(kw_only=True)
    class MyConfig(TrainConfig):
        steps: int = option(5000, STEPS, min=1)
        lr: float = option(5e-4, LR)
        sigma: float = option(25.0, "Noise level (0-255 scale).")

    class MyRecipe(Recipe):
        task, Config = "denoise", MyConfig
        def load_data(self): ...            # read images, build the validation set; a log line
        def start(self, step): ...          # seed the batch sampler (after init/resume)
        def step(self, tick): ...           # sample, loss, update; {"loss": tensor}
        def validate(self): ...             # {"psnr": 30.1}
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from restore.train.checkpoint import load_checkpoint, save_checkpoint
from restore.zoo import ModelSpec, default_model, get_spec, resolve_device
from restore.zoo.registry import save_weights

Log = Callable[[str], None]

# Help lines of the options most recipes have (each recipe declares its own default).
STEPS = "Training steps (optimizer updates)."
BATCH = "Images per step."
PATCH = "Side of the training crops, in pixels."
LR = "Peak learning rate (Adam; linear warm-up, then cosine decay to 1/100 of it)."
N_VAL = "Images held out of training for validation."


def option(default: Any = dataclasses.MISSING, help: str = "", **cli: Any) -> Any:
    """A field of a :class:`TrainConfig`: its default (the one place it is declared) and how
    the ``restore train`` option reads: ``help``, plus ``cli`` keys ``min``/``max`` (range
    checked by the command line), ``path`` (a file or folder; ``exists=True`` if it must
    exist) and ``name`` (the option's name when it is not ``--field-name``)."""
    return dataclasses.field(default=default, metadata=dict(help=help, **cli))


#: The choices of ``--precision`` for training.
PRECISIONS = ("fp32", "bf16")


@dataclass(kw_only=True)
class TrainConfig:
    """The options every training run has. A recipe's config subclasses it and adds its
    hyperparameters with :func:`option`, ``steps`` and ``lr`` among them.

    Raises (on construction):
        ValueError: for an ``out`` that is not ``*.safetensors`` or an option out of range
            (subclasses add their checks in :meth:`check`).
    """

    data: tuple[str, ...] = option(help="Folder(s) of clean training images; repeatable.", path=True, exists=True)
    out: str = option(help="Weights file to write (*.safetensors); a .json sidecar goes beside it and the "
                           "checkpoint <out>.ckpt.safetensors.", path=True)
    model: str | None = option(None, "Zoo model whose architecture is trained (default: the task's default model).")
    init: str | None = option(None, "Weights of the model's architecture to start from (fine-tuning), e.g. "
                                    "weights/NAME.safetensors.", path=True, exists=True)
    resume: bool = option(False, "Continue from <out>.ckpt.safetensors (if it exists).")
    max_minutes: float | None = option(None, "Stop after this much training time (the schedule then follows "
                                             "whichever of steps or time is further along).")
    val_every: int = option(250, "Validate and checkpoint every N steps.", min=1)
    snapshots: bool = option(False, "Also keep the weights of every validation (<out>.step<N>.safetensors).")
    seed: int = option(0, "Seed of the initialisation, the data split and the batches.")
    device: str = option("auto", "auto, cpu, cuda, cuda:N or mps.")
    precision: str = option("fp32", "fp32, or bf16: the training steps' forward passes in bfloat16 autocast (mixed "
                                    "precision; weights, optimizer and validation stay float32). Worth it on CPUs "
                                    "with AMX and on recent GPUs.")

    def __post_init__(self) -> None:
        self.data = folders(self.data)
        self.out = str(self.out)
        self.init = None if self.init is None else str(self.init)
        if not self.out.endswith(".safetensors"):
            raise ValueError(f"out must end in .safetensors, got {self.out}")
        if self.val_every < 1:
            raise ValueError(f"val_every must be at least 1, got {self.val_every}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        self.check()

    def check(self) -> None:
        """Raise ValueError for options that do not go together (before any data is read)."""

    def record(self) -> dict[str, Any]:
        """The options as the sidecar records them: all but ``out`` and ``resume``, and
        ``model`` and ``device``, which the engine records as resolved."""
        skip = {"out", "resume", "model", "device"}
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name not in skip}


def folders(value: str | os.PathLike | list | tuple) -> tuple[str, ...]:
    """One folder or several, as a tuple of strings."""
    return (str(value),) if isinstance(value, (str, os.PathLike)) else tuple(map(str, value))


def _plain(value: Any) -> Any:
    """``value`` as JSON holds it: tuples as lists, paths as strings."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, os.PathLike) else value


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


def cosine_lr(step: int, steps: int, lr: float, *, seconds: float = 0.0, max_minutes: float | None = None,
              warmup: int = 0) -> tuple[float, float]:
    """Learning rate at ``step``: linear warm-up over ``warmup`` steps, then a cosine decay
    from ``lr`` to ``lr / 100`` (Loshchilov & Hutter, SGDR, ICLR 2017, without restarts).
    With ``max_minutes`` (a wall-clock budget for CPU runs) the schedule advances by
    whichever of steps or elapsed ``seconds`` is further along.

    Returns:
        ``(learning rate, fraction of the run done)``; a fraction >= 1 means stop.
    """
    frac = step / steps
    if max_minutes is not None:
        frac = max(frac, seconds / (max_minutes * 60))
    decay = 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))) * 0.99 + 0.01
    return lr * min(1.0, step / max(1, warmup)) * decay, frac


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """Set the learning rate of every parameter group of ``opt`` (times the group's
    ``lr_scale``, if it has one: a new part of a fine-tuned network may learn faster)."""
    for group in opt.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def update(opt: torch.optim.Optimizer, net: nn.Module, loss: torch.Tensor, clip: float = 1.0) -> None:
    """One optimizer step on ``loss`` with the gradient norm of ``net`` clipped to ``clip``."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
    opt.step()


class Schedule:
    """The step loop: iterating yields a :class:`Tick` per step from ``start + 1`` to
    ``steps`` after setting the learning rate of ``opt`` by :func:`cosine_lr`; it stops early
    (after logging why) once ``max_minutes`` of training time are spent. ``step`` and
    ``seconds`` give the last step done and the training time."""

    def __init__(self, opt: torch.optim.Optimizer, *, steps: int, lr: float, start: int = 0, elapsed: float = 0.0,
                 max_minutes: float | None = None, warmup: int = 0, val_every: int = 250,
                 log: Log = print) -> None:
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


def load_init(net: nn.Module, init: str | Path, log: Log | None = None,
              adapt: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None) -> None:
    """Load the weights file ``init`` (safetensors of ``net``'s architecture, e.g. a shipped
    zoo file) into ``net``: a warm start, the optimizer and schedule being the caller's.
    ``adapt`` may first map the file's tensors to ``net``'s (e.g. new input channels).

    Raises:
        FileNotFoundError: if ``init`` does not exist.
        RuntimeError: if its tensors do not match ``net``.
    """
    from safetensors.torch import load_file

    if not Path(init).exists():
        raise FileNotFoundError(f"init weights not found: {init}")
    state = load_file(str(init))
    net.load_state_dict(adapt(state) if adapt else state)
    if log:
        log(f"starting from the weights in {init}")


class Recipe:
    """What is particular to one task's training; :func:`train` runs it.

    A subclass sets :attr:`task` and :attr:`Config` and implements :meth:`load_data`,
    :meth:`start`, :meth:`step` and :meth:`validate`; the other methods have defaults. The
    engine calls, in this order: ``load_data()``, ``build()`` (after seeding torch with
    ``config.seed``), ``optimizers()`` (after ``init`` was loaded into ``nets["model"]``),
    ``start(step)`` (after a resume), then ``step(tick)`` once per step and ``validate()``
    every ``val_every`` steps and at the end.

    Attributes (set by the engine):
        config: the run's options (an instance of :attr:`Config`).
        spec: the zoo entry whose architecture is trained.
        device: where the networks run.
        log: the logging callback.
        nets: the networks of :meth:`build`, on ``device``; ``nets["model"]`` is the one
            written to ``out``; all are checkpointed.
        opts: the optimizers of :meth:`optimizers`, all checkpointed. The engine sets the
            scheduled learning rate on ``opts["model"]``; a recipe with other optimizers
            sets theirs in :meth:`step` from ``tick.lr``.
    """

    task: ClassVar[str]
    Config: ClassVar[type[TrainConfig]]
    #: Convert ``nets["model"]`` to channels-last memory on CPU (faster convolutions there).
    channels_last: ClassVar[bool] = True

    def __init__(self, config: TrainConfig, spec: ModelSpec, device: torch.device, log: Log) -> None:
        self.config, self.spec, self.device, self.log = config, spec, device, log
        self.nets: dict[str, nn.Module] = {}
        self.opts: dict[str, torch.optim.Optimizer] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        names = {f.name for f in dataclasses.fields(cls.Config)} if hasattr(cls, "Config") else set()
        if not {"steps", "lr"} <= names:
            raise TypeError(f"{cls.__name__}.Config must be a TrainConfig dataclass with steps and lr")

    @property
    def net(self) -> nn.Module:
        """``nets["model"]``, the network trained for the zoo entry."""
        return self.nets["model"]

    @property
    def saved_net(self) -> nn.Module:
        """The network whose weights are written to ``out`` (and to snapshots):
        :attr:`net` by default; a recipe keeping an exponential moving average of the
        weights returns that copy."""
        return self.net

    @property
    def opt(self) -> torch.optim.Optimizer:
        """``opts["model"]``, the optimizer the schedule drives."""
        return self.opts["model"]

    @classmethod
    def run(cls, *, log: Log = print, **options: Any) -> dict:
        """Train with ``options``, the fields of :attr:`Config`; returns the sidecar dict
        (see :func:`train`)."""
        return train(cls, cls.Config(**options), log=log)

    def load_data(self) -> str:
        """Read the training images and build the validation set; returns a log line."""
        raise NotImplementedError

    def adapt_init(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The tensors of the ``init`` weights file as ``nets["model"]`` takes them; by
        default unchanged. A recipe that grows a shipped network (more input channels)
        maps the old tensors here."""
        return state

    def build(self) -> dict[str, nn.Module]:
        """The networks, on CPU with their initial weights: ``{"model": the spec's arch}``
        plus any the recipe trains beside it (a discriminator)."""
        return {"model": self.spec.arch(**self.spec.arch_kwargs)}

    def after_init(self) -> dict[str, nn.Module]:
        """Networks made from the initialised ones (e.g. an average of the model's weights
        that starts from the ``init`` weights), added to ``self.nets`` after ``init`` was
        loaded and before the optimizers are made and a checkpoint is resumed over them
        (so a resumed run loads their saved state); none by default."""
        return {}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers of ``self.nets``: Adam on the model at ``config.lr`` by default."""
        return {"model": torch.optim.Adam(self.net.parameters(), lr=self.config.lr)}

    def warmup(self) -> int:
        """Warm-up steps of the learning rate."""
        return min(200, self.config.steps // 10)

    def start(self, step: int) -> None:
        """Get ready to train from ``step`` (0, or the step resumed from): seed the batch
        sampler, set derived buffers, mine examples."""
        raise NotImplementedError

    def step(self, tick: Tick) -> dict[str, torch.Tensor]:
        """One training step: sample a batch, compute the loss, update the networks.
        Returns the loss terms to log (scalar tensors, read only at validation steps)."""
        raise NotImplementedError

    def validate(self) -> dict[str, Any]:
        """Validation figures (JSON-serialisable), networks left in training mode."""
        raise NotImplementedError

    def summary(self, figures: dict[str, Any]) -> str:
        """The figures of :meth:`validate` as one log line."""
        return " ".join(f"{k} {v:.4f}" for k, v in figures.items() if isinstance(v, float))

    def validation_record(self, figures: dict[str, Any]) -> dict[str, Any]:
        """The sidecar's ``validation`` entry from the final figures (add the images used)."""
        return figures

    def record(self) -> dict[str, Any]:
        """Facts of the run for the sidecar beside the options (loss, data details)."""
        return {}


def _parameters(nets: dict[str, nn.Module]) -> str:
    return ", ".join(f"{name} {sum(p.numel() for p in net.parameters()) / 1e6:.2f} M" for name, net in nets.items())


def train(recipe_class: type[Recipe], config: TrainConfig, *, log: Log = print) -> dict:
    """Train ``recipe_class`` with ``config`` and write ``config.out`` plus its sidecar.

    Returns:
        The sidecar dict: the options, ``task``, ``model``, ``arch``, ``arch_kwargs``, the
        recipe's facts, ``steps_done``, ``seconds``, ``device``, ``torch``, ``validation``
        and ``history`` (one entry per validation: step, seconds, lr, losses, figures).

    Raises:
        KeyError: for an unknown model.
        ValueError: for a model of another task, or options the recipe rejects.
        FileNotFoundError: if the data holds no usable image or ``init`` does not exist.
        RuntimeError: if ``init`` or the checkpoint does not fit the architecture.
    """
    task = recipe_class.task
    spec = get_spec(config.model or default_model(task))
    if spec.task != task:
        raise ValueError(f"model {spec.name} is a model for {spec.task}, not {task}")
    out = Path(config.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt = out.with_name(out.stem + ".ckpt.safetensors")
    dev = resolve_device(config.device)
    torch.manual_seed(config.seed)
    recipe = recipe_class(config, spec, dev, log)
    log(f"{recipe.load_data()}; device {dev}")
    recipe.nets = {name: net.to(dev) for name, net in recipe.build().items()}
    if config.init is not None:
        load_init(recipe.net, config.init, log, adapt=recipe.adapt_init)
    if dev.type == "cpu" and recipe.channels_last:
        recipe.nets["model"] = recipe.net.to(memory_format=torch.channels_last)
    recipe.nets.update(recipe.after_init())
    recipe.opts = recipe.optimizers()
    start, history, elapsed = 0, [], 0.0
    if config.resume and ckpt.exists():
        state = load_checkpoint(ckpt, recipe.nets, recipe.opts)
        start, history, elapsed = state["step"], state["history"], state["seconds"]
        log(f"resumed from {ckpt} at step {start}")
    recipe.start(start)
    log(f"{spec.name} ({spec.arch.__name__}): {_parameters(recipe.nets)} parameters")
    for net in recipe.nets.values():
        net.train()
    record = {"task": task, "model": spec.name, "arch": spec.arch.__name__, "arch_kwargs": dict(spec.arch_kwargs),
              **config.record(), **recipe.record()}   # the run's config: in the weights' metadata and sidecar
    meta = {"config": json.dumps(record)}
    schedule = Schedule(recipe.opt, steps=config.steps, lr=config.lr, start=start, elapsed=elapsed,
                        max_minutes=config.max_minutes, warmup=recipe.warmup(), val_every=config.val_every, log=log)
    figures, validated = None, None
    for tick in schedule:
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=config.precision == "bf16"):
            losses = recipe.step(tick)
        if tick.validate:
            figures, validated = recipe.validate(), tick.step
            losses = {k: float(v) for k, v in losses.items()}
            history.append(dict(step=tick.step, seconds=round(tick.seconds, 1), lr=tick.lr, **losses, **figures))
            log(f"step {tick.step}/{config.steps} {tick.seconds / 60:.1f} min "
                + "".join(f"{k} {v:.4f} " for k, v in losses.items())
                + f"lr {tick.lr:.2e} | {recipe.summary(figures)}")
            save_checkpoint(ckpt, recipe.nets, recipe.opts, step=tick.step, history=history, seconds=tick.seconds)
            if config.snapshots:
                save_weights(recipe.saved_net, out.with_name(f"{out.stem}.step{tick.step}.safetensors"),
                             metadata={**meta, "steps_done": str(tick.step)})
    final = figures if validated == schedule.step else recipe.validate()   # the last step validated: same network
    sidecar = dict(record, steps_done=schedule.step, seconds=round(schedule.seconds, 1), device=str(dev),
                   torch=torch.__version__, validation=recipe.validation_record(final), history=history)
    save_weights(recipe.saved_net, out, metadata={**meta, "steps_done": str(schedule.step)})
    out.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    log(f"wrote {out} and {out.with_suffix('.json')}; final {recipe.summary(final)}")
    return sidecar
