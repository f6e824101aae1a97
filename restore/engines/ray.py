"""The Ray engine: a folder job on the workers of a Ray cluster, with Ray Data.

The file list is a Ray dataset of one file per block (one file is the unit Ray retries);
``map_batches`` runs it through a pool of actors, each of which builds its process function
(loads the pipeline) once and reuses it for every file it gets. A worker reads and writes
the images itself with :mod:`restore.io` (atomic writes, nothing over an input), so the
input and output folders must be at the same path on every machine (a shared filesystem).
What each file came to (written, skipped, failed and why) streams back to this process,
which shows the progress bar and returns the same
:class:`~restore.pipelines.batch.BatchResult` as the local engine.

A worker that dies (killed, out of memory, its machine lost) is restarted and its file
given to a worker again (up to ``RETRIES`` times); the output of a file is written whole or
not at all. Needs ``pip install 'restore[ray]'``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path

from restore.io import MAX_PIXELS, clean_stale_temp_files
from restore.pipelines.batch import BatchResult, plan_batch, run_file

INSTALL_HINT = "the ray engine needs Ray Data: pip install 'restore[ray]' (or pip install 'ray[data]')"
#: How many times a dead worker is restarted, and a file of a dead worker given out again.
RETRIES = 3


class FileWorker:
    """One Ray actor: builds the process function once, then runs batches of files.

    Args:
        make_process: returns ``(image, path) -> result``; called once, in the actor.
        options: keyword arguments of :func:`restore.pipelines.batch.run_file` (but the
            process and paths).
    """

    def __init__(self, make_process: Callable[[], Callable], options: dict) -> None:
        import ray
        import torch
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
        torch.set_num_threads(max(1, int(cpus)))  # one thread per CPU Ray gave the worker
        self.process = make_process()
        self.options = options

    def __call__(self, batch: dict) -> dict:
        """``batch``: columns ``i``, ``src``, ``dst``; returns ``i``, ``status`` (written,
        skipped or failed), ``path`` (the output written) and ``reason`` (why it failed)."""
        rows: dict[str, list] = {"i": [], "status": [], "path": [], "reason": []}
        for i, src, dst in zip(batch["i"], batch["src"], batch["dst"]):
            result = run_file(self.process, Path(src), Path(dst), **self.options)
            status, path, reason = ("written", str(result.written[0][1]), "") if result.written else \
                ("skipped", "", "") if result.skipped else ("failed", "", result.failed[0][1])
            for key, value in zip(rows, (int(i), status, path, reason)):
                rows[key].append(value)
        return rows


def run(make_process: Callable[[], Callable], input_path: str | Path, output_dir: str | Path, *,
        address: str | None = None, workers: int = 1, gpus_per_worker: float = 0.0, recursive: bool = False,
        skip_existing: bool = False, overwrite: bool = False, fmt: str | None = None, quality: int | None = None,
        progress: bool = True, on_error: Callable[[Path, str], object] | None = None,
        max_pixels: int | None = MAX_PIXELS) -> BatchResult:
    """Run a folder job on a Ray cluster.

    Args:
        make_process: returns ``(image, path) -> result``; pickled to every worker and called
            there once (e.g. a :class:`restore.engines.PipelineJob`).
        input_path, output_dir: an image file or folder, and the output folder, at the same
            path on every machine of the cluster.
        address: the cluster (``"auto"``: the one started on this machine with ``ray start``;
            ``"ray://HOST:10001"``: a remote one); None: the one this process is already
            connected to, else a new one on this machine (shut down at the end).
        workers: number of actors (each loads the pipeline once).
        gpus_per_worker: GPUs given to each actor (fractions share one GPU); 0: CPU, one
            core per actor.
        recursive, skip_existing, overwrite, fmt, quality, progress, on_error, max_pixels:
            as :func:`restore.pipelines.batch.run_batch`'s.

    Returns:
        The :class:`~restore.pipelines.batch.BatchResult`, files in input order. If the Ray
        job itself fails (a worker dead more than ``RETRIES`` times, a cluster lost), the
        files without a result are failed with that reason. Ctrl-C returns the result with
        ``interrupted`` set.

    Raises:
        ImportError: Ray Data is not installed.
        FileNotFoundError, ValueError: as ``run_batch``; ``workers`` below 1.
    """
    try:
        import ray
        import ray.data
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, not {workers}")
    inputs, outputs, input_set = plan_batch(input_path, output_dir, recursive=recursive,
                                            skip_existing=skip_existing, overwrite=overwrite, fmt=fmt)
    output_dir = Path(output_dir)
    result = BatchResult()
    result.cleaned = clean_stale_temp_files(output_dir, recursive=recursive)
    if not inputs:
        return result
    out_real = output_dir.resolve()
    # every output lands in the output folder: only the inputs there can be replaced by one
    guard = {p for p in input_set if p.is_relative_to(out_real)}
    options = dict(input_set=guard, skip_existing=skip_existing, overwrite=overwrite, fmt=fmt, quality=quality,
                   max_pixels=max_pixels)
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=False)
    outcomes: dict[int, tuple[str, str]] = {}
    from tqdm.auto import tqdm
    bar = tqdm(total=len(inputs), disable=not progress, unit="img", desc="restore")
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the bar is ours (tqdm, per file)
        ctx.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.ERROR)  # its execution notes are not for users
        items = [{"i": i, "src": str(src.absolute()), "dst": str(dst.absolute())}
                 for i, (src, dst) in enumerate(zip(inputs, outputs))]
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        map_args = dict(fn_constructor_args=(make_process, options), batch_size=1,
                        compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=0 if gpus_per_worker else 1,
                        num_gpus=gpus_per_worker or None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # Ray >= 2.60: remote args to go in 2.64
            try:
                ds = ds.map_batches(FileWorker, **map_args, max_restarts=RETRIES, max_task_retries=RETRIES)
            except TypeError:  # a Ray without them: its own default (restarts without limit)
                ds = ds.map_batches(FileWorker, **map_args)
        try:
            for row in ds.iter_rows():
                i = int(row["i"])
                outcomes[i] = (row["status"], row["path"] or row["reason"])
                if row["status"] == "failed" and on_error is not None:
                    on_error(inputs[i], row["reason"])
                bar.update(1)
        except ray.exceptions.RayError as e:
            why = f"not processed: the Ray job stopped ({str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__})"
            for i, src in enumerate(inputs):
                if i not in outcomes:
                    outcomes[i] = ("failed", why)
                    if on_error is not None:
                        on_error(src, why)
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        bar.close()
        if started:
            ray.shutdown()
    for i, (src, dst) in enumerate(zip(inputs, outputs)):
        if i not in outcomes:
            result.not_started.append(src)
            continue
        status, detail = outcomes[i]
        if status == "written":
            result.written.append((src, dst.with_suffix(Path(detail).suffix)))
        elif status == "skipped":
            result.skipped.append(src)
        else:
            result.failed.append((src, detail))
    return result
