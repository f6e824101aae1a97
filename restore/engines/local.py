"""The local engine: the folder job in this process, one file after another
(:func:`restore.pipelines.batch.run_batch`). The default; imports nothing beyond restore."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from restore.pipelines.batch import BatchResult, run_batch


def run(make_process: Callable[[], Callable], input_path: str | Path, output_dir: str | Path,
        **options) -> BatchResult:
    """Build the process function once and run the folder job with it here.

    Args:
        make_process: returns ``(image, path) -> result`` (see ``run_batch``).
        input_path, output_dir, **options: as :func:`restore.pipelines.batch.run_batch`'s.

    Returns:
        The job's :class:`~restore.pipelines.batch.BatchResult`.
    """
    return run_batch(make_process(), input_path, output_dir, **options)
