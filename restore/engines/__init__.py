"""Where a folder job runs: ``local`` (this process, the default) or ``ray`` (the workers of
a Ray cluster, an optional extra: ``pip install 'restore[ray]'``).

Every engine plans the job the same way (:func:`restore.pipelines.batch.plan_batch`), runs
each file the same way (:func:`restore.pipelines.batch.run_file`: read, process, write
atomically, never over an input) and returns the same
:class:`restore.pipelines.batch.BatchResult` (summary, exit code). Importing this package
does not import Ray.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from restore.io import MAX_PIXELS
from restore.pipelines.batch import BatchResult

ENGINES = ("local", "ray")

#: ``(image, input path) -> result``, as :func:`restore.pipelines.batch.run_batch` takes.
Process = Callable[[np.ndarray, Path], "np.ndarray | dict[str, np.ndarray]"]


@dataclasses.dataclass(frozen=True)
class PipelineJob:
    """A task pipeline and how to call it, as a picklable recipe: each worker of an engine
    calls it once (``job()``) to load its own pipeline and get its process function.

    Attributes:
        task: "denoise", "colorize", "upscale", "inpaint" or "unwatermark".
        load: keyword arguments of :func:`restore.load_pipeline` (``model``, ``device``,
            ``tile``, ``overlap``).
        options: the task options, already checked (``Pipeline.resolve_options``).
        outputs: file-name suffix of each output when the pipeline returns a tuple
            (``("", "_mask")``); ``("",)``: one output.
        pair: ``(input_path, source, kind)`` of a side input paired by file stem
            (:func:`restore.pipelines.batch.pair_finder`; inpainting masks), passed to the
            pipeline after the image; the pairing runs on the worker.
        max_pixels: pixel limit of the side inputs.
    """

    task: str
    load: dict[str, Any] = dataclasses.field(default_factory=dict)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    outputs: tuple[str, ...] = ("",)
    pair: tuple[str, str, str] | None = None
    max_pixels: int | None = MAX_PIXELS

    def process(self, pipe=None, find: Callable[[Path], np.ndarray] | None = None) -> Process:
        """The process function.

        Args:
            pipe: the pipeline already loaded; None: loaded here.
            find: the side-input finder of ``pair`` already made; None: made here.

        Raises:
            FileNotFoundError, ValueError: a bad side input (``pair``), as ``pair_finder``.
        """
        if pipe is None:
            from restore import load_pipeline
            pipe = load_pipeline(self.task, **self.load)
        if find is None and self.pair is not None:
            from restore.pipelines.batch import pair_finder
            input_path, source, kind = self.pair
            find = pair_finder(input_path, source, kind=kind, max_pixels=self.max_pixels)
        options, outputs = self.options, self.outputs

        def process(image: np.ndarray, path: Path):
            out = pipe(image, find(path), **options) if find is not None else pipe(image, **options)
            return dict(zip(outputs, out)) if len(outputs) > 1 else out

        return process

    def __call__(self) -> Process:
        return self.process()


def run_folder(make_process: Callable[[], Process], input_path: str | Path, output_dir: str | Path, *,
               engine: str = "local", address: str | None = None, workers: int | None = None,
               gpus_per_worker: float | None = None, **options) -> BatchResult:
    """Run a folder job on an engine.

    Args:
        make_process: builds the process function (``(image, path) -> result``); called once
            in this process (``local``) or once per worker (``ray``: it must pickle, e.g. a
            :class:`PipelineJob`, and be importable on the workers).
        input_path, output_dir: as :func:`restore.pipelines.batch.run_batch`'s.
        engine: "local" or "ray".
        address, workers, gpus_per_worker: ``ray`` only (:func:`restore.engines.ray.run`).
        **options: ``recursive``, ``skip_existing``, ``overwrite``, ``fmt``, ``quality``,
            ``progress``, ``on_error``, ``max_pixels``, as ``run_batch``'s.

    Returns:
        The :class:`~restore.pipelines.batch.BatchResult` of the job.

    Raises:
        ValueError: an unknown engine, ``ray`` options with ``local``, or a bad option.
        ImportError: ``ray`` without Ray installed (the message says what to install).
    """
    if engine == "local":
        given = [name for name, v in (("--address", address), ("--workers", workers),
                                      ("--gpus-per-worker", gpus_per_worker)) if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} need(s) --engine ray")
        from restore.engines.local import run
        return run(make_process, input_path, output_dir, **options)
    if engine == "ray":
        from restore.engines.ray import run
        return run(make_process, input_path, output_dir, address=address, workers=workers or 1,
                   gpus_per_worker=gpus_per_worker or 0.0, **options)
    raise ValueError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
