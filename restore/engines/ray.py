"""The Ray engine: a folder job on the workers of a Ray cluster, with Ray Data.

The file list is a Ray dataset of one file per block (one file is the unit Ray retries);
``map_batches`` runs it through a pool of actors, each of which builds its process function
(loads the pipeline) once and reuses it for every file it gets. A worker reads and writes
the images itself with :mod:`restore.io` (atomic writes, nothing over an input), so the
input and output folders must be at the same path on every machine (a shared filesystem), or
in an object store (``s3://``, :mod:`restore.storage`).
What each file came to (written, skipped, failed and why) streams back to this process,
which shows the progress bar and returns the same
:class:`~restore.pipelines.batch.BatchResult` as the local engine.

A worker that dies (killed, out of memory, its machine lost) is restarted and its file
given to a worker again; a file whose worker died ``RETRIES + 1`` times while processing it
is not tried again and fails, named, with that reason, while the other files go on (the
count is kept per file by a small bookkeeping actor, :class:`AttemptCounter`). The output of
a file is written whole or not at all. Needs ``pip install 'restore[ray]'``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path

from restore import storage
from restore.io import MAX_PIXELS, clean_stale_temp_files
from restore.pipelines.batch import BatchResult, plan_batch, run_file

INSTALL_HINT = "the ray engine needs Ray Data: pip install 'restore[ray]' (or pip install 'ray[data]')"
#: How many times a file whose worker died while processing it is given out again.
RETRIES = 3


class AttemptCounter:
    """The bookkeeping of a job's worker deaths, kept in a small actor of its own (no CPU)
    so that it outlives the workers: how many times each file was started, and how many
    workers started loading the pipeline since one last finished loading it."""

    def __init__(self) -> None:
        self.starts: dict[int, int] = {}
        self.loads_pending = 0

    def start(self, i: int) -> int:
        """Count a start of file ``i``; returns its number (1 the first time)."""
        self.starts[i] = self.starts.get(i, 0) + 1
        return self.starts[i]

    def load_started(self) -> int:
        """Count a worker starting to load the pipeline; returns the loads started since the
        last one finished (a worker that keeps dying while loading raises it without end)."""
        self.loads_pending += 1
        return self.loads_pending

    def load_finished(self) -> None:
        self.loads_pending = 0


def died_reason(deaths: int) -> str:
    """Why a file failed whose worker died ``deaths`` times while processing it."""
    return (f"its worker died {deaths} times while processing it (the process crashed, was killed or "
            "ran out of memory); not tried again")


class FileWorker:
    """One Ray actor: builds the process function once, then runs batches of files.

    Args:
        make_process: returns ``(image, path) -> result``; called once, in the actor.
        options: keyword arguments of :func:`restore.pipelines.batch.run_file` (but the
            process and paths).
        counter: the job's :class:`AttemptCounter` actor.
        retries: a file is started at most ``retries + 1`` times; one started more often
            killed its worker each time and fails without being processed again.
        max_loads: loads of the pipeline started without one finishing, beyond which a
            worker gives up (``RuntimeError``: the job stops) instead of dying again.

    Raises:
        RuntimeError: ``max_loads`` exceeded (workers keep dying while loading).
    """

    def __init__(self, make_process: Callable[[], Callable], options: dict, counter=None, retries: int = RETRIES,
                 max_loads: int = RETRIES + 1) -> None:
        import sys

        import ray
        self.counter, self.retries = counter, retries
        if counter is not None and ray.get(counter.load_started.remote()) > max_loads:
            raise RuntimeError(f"the workers died {max_loads} times while loading the pipeline "
                               "(out of memory?); not tried again")
        self.process = make_process()
        if "torch" in sys.modules:  # a pipeline (a process function without torch does not load it)
            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
            sys.modules["torch"].set_num_threads(max(1, int(cpus)))  # one thread per CPU Ray gave the worker
        if counter is not None:
            ray.get(counter.load_finished.remote())
        self.options = options

    def __call__(self, batch: dict) -> dict:
        """``batch``: columns ``i``, ``src``, ``dst``; returns ``i``, ``status`` (written,
        skipped or failed), ``path`` (the output written) and ``reason`` (why it failed)."""
        import ray
        rows: dict[str, list] = {"i": [], "status": [], "path": [], "reason": []}
        for i, src, dst in zip(batch["i"], batch["src"], batch["dst"]):
            starts = ray.get(self.counter.start.remote(int(i))) if self.counter is not None else 1
            if starts > self.retries + 1:  # every earlier start of this file killed its worker
                for key, value in zip(rows, (int(i), "failed", "", died_reason(starts - 1))):
                    rows[key].append(value)
                continue
            result = run_file(self.process, str(src), str(dst), **self.options)
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
            path on every machine of the cluster, or ``s3://`` locations
            (:mod:`restore.storage`; the ``AWS_*`` settings of this process are passed on
            to the workers).
        address: the cluster (``"auto"``: the one started on this machine with ``ray start``;
            ``"ray://HOST:10001"``: a remote one); None: the one this process is already
            connected to, else a new one on this machine (shut down at the end).
        workers: number of actors (each loads the pipeline once).
        gpus_per_worker: GPUs given to each actor (fractions share one GPU); 0: CPU, one
            core per actor. Checked against the machines of the cluster when the job
            starts: one machine must have that many GPUs, and all together
            ``workers * gpus_per_worker`` (machines an autoscaling cluster would add later
            do not count).
        recursive, skip_existing, overwrite, fmt, quality, progress, on_error, max_pixels:
            as :func:`restore.pipelines.batch.run_batch`'s. With ``skip_existing`` the files
            whose output exists are skipped here, before any worker starts (a finished job
            starts none).

    Returns:
        The :class:`~restore.pipelines.batch.BatchResult`, files in input order. A file
        whose worker died ``RETRIES + 1`` times while processing it is failed with that
        reason. If the Ray job itself fails (the cluster lost, workers dying while loading
        the pipeline), the files without a result are failed with that reason. Ctrl-C
        returns the result with ``interrupted`` set.

    Raises:
        ImportError: Ray Data is not installed.
        FileNotFoundError, ValueError: as ``run_batch``; ``workers`` below 1, a negative
            ``gpus_per_worker`` or more GPUs than the cluster has.
    """
    try:
        import ray
        import ray.data
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, not {workers}")
    if gpus_per_worker < 0:
        raise ValueError(f"--gpus-per-worker must be 0 or more, not {gpus_per_worker:g}")
    inputs, outputs, input_set = plan_batch(input_path, output_dir, recursive=recursive,
                                            skip_existing=skip_existing, overwrite=overwrite, fmt=fmt)
    output_dir = storage.as_path(output_dir)
    result = BatchResult()
    result.cleaned = clean_stale_temp_files(output_dir, recursive=recursive)
    if not inputs:
        return result
    out_real = output_dir.resolve()
    # every output lands in the output folder: only the inputs there can be replaced by one
    guard = {p for p in input_set if storage.is_within(p, out_real)}
    options = dict(input_set=guard, skip_existing=skip_existing, overwrite=overwrite, fmt=fmt, quality=quality,
                   max_pixels=max_pixels)
    outcomes: dict[int, tuple[str, str]] = {}
    if skip_existing:  # the first check a worker makes, made here: a finished job starts no worker
        outcomes = {i: ("skipped", "") for i, dst in enumerate(outputs) if dst.exists()}
    if len(outcomes) < len(inputs):
        started = not ray.is_initialized()
        if started:
            ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                     log_to_driver=False)
        from tqdm.auto import tqdm
        bar = tqdm(total=len(inputs), initial=len(outcomes), disable=not progress, unit="img", desc="restore")
        try:
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False  # the bar is ours (tqdm, per file)
            ctx.print_on_execution_start = False
            logging.getLogger("ray.data").setLevel(logging.ERROR)  # its execution notes are not for users
            items = [{"i": i, "src": str(src.absolute()), "dst": str(dst.absolute())}
                     for i, (src, dst) in enumerate(zip(inputs, outputs)) if i not in outcomes]
            if gpus_per_worker:
                check_gpus(workers, gpus_per_worker)
            counter = ray.remote(num_cpus=0, max_restarts=0)(AttemptCounter).remote()
            ds = ray.data.from_items(items, override_num_blocks=len(items))
            # the actors restart and their files are given out again without Ray's own limit: the
            # counter bounds it per file (a file that keeps killing its worker fails, the rest go on)
            args = (make_process, options, counter, RETRIES, RETRIES * workers + 1)
            remote_args = {}
            if storage.is_remote(inputs[0]) or storage.is_remote(output_dir):
                # the workers reach the store as this process does: its AWS_* settings go with them
                remote_args["runtime_env"] = {"env_vars": storage.settings()}
            map_args = dict(fn_constructor_args=args, batch_size=1, **remote_args,
                            compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=0 if gpus_per_worker else 1,
                            num_gpus=gpus_per_worker or None)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # Ray >= 2.60: remote args to go in 2.64
                try:
                    ds = ds.map_batches(FileWorker, **map_args, max_restarts=-1, max_task_retries=-1)
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


def check_gpus(workers: int, gpus_per_worker: float) -> None:
    """Refuse a GPU request the cluster's machines cannot meet (Ray would wait for it forever).

    Args:
        workers: number of actors; gpus_per_worker: GPUs each, > 0.

    Raises:
        ValueError: no machine has ``gpus_per_worker`` GPUs, or all together have fewer than
            ``workers * gpus_per_worker``; the message gives what the cluster has.
    """
    import ray
    gpus = [node.get("Resources", {}).get("GPU", 0.0) for node in ray.nodes() if node.get("Alive")]
    most, total = max(gpus, default=0.0), sum(gpus)
    if most < gpus_per_worker:
        has = "has no GPU" if not total else f"has at most {most:g} GPU(s) on one machine"
        raise ValueError(f"--gpus-per-worker {gpus_per_worker:g}: the Ray cluster {has}; "
                         "use --gpus-per-worker 0 to run on CPUs")
    if total < workers * gpus_per_worker:
        raise ValueError(f"--workers {workers} x --gpus-per-worker {gpus_per_worker:g} needs "
                         f"{workers * gpus_per_worker:g} GPUs; the Ray cluster has {total:g}")
