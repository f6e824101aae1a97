"""The benchmark runner: every task's methods x cases under one timing protocol, one
markdown table formatter, and the per-folder driver that the ``restore bench`` commands
call.

Timing protocol (the same for every task and every row):

1. each method is ready before any timing: a zoo model is loaded (``load_pipeline``) when
   the task builds its method list, never inside a timed region;
2. a warm-up call on the first case is made and not timed (first-call costs: lazy
   initialisation, allocator growth, caches), its output is discarded;
3. every case is then run once, each call timed with :func:`time.perf_counter`;
4. ``s_per_mp`` = the summed seconds of those calls / the summed megapixels of the cases;
   each task states whether a case's megapixels are those of its input or of its output
   (``case["mp"]``: upscale per output megapixel, the other tasks per input megapixel,
   which for them is also the output's size).

A method that does no work (the degraded input shown as a row) is marked ``timed=False``:
no warm-up, ``s_per_mp`` None, printed as "-".

The task modules (:mod:`restore.bench.denoise`, ``upscale``, ``unwatermark``, ``colorize``,
``inpaint``) keep only what is theirs: the case builders, the baselines, the per-case
scoring (through :mod:`restore.metrics`), the method list and their table columns. Nothing
here prints; progress goes to an optional callback.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: An optional ``callable(str)`` receiving one progress line at a time (the CLI prints them
#: on stderr); None for silence.
Progress = Callable[[str], None] | None


@dataclass(frozen=True)
class Method:
    """One row of a benchmark table.

    Attributes:
        label: the row's name as printed, e.g. ``"OpenCV NLM"`` or ``"restore dae-s"``.
        fn: ``fn(case) -> output``: runs the method on one case (a dict built by the
            task); the output is whatever the task's score function takes.
        model: the zoo model name of a zoo model's row (``row["model"]``, which
            :func:`restore.zoo.manifest.record_bench` reads), None for a baseline.
        timed: False for a row that does no work (the degraded input itself): it gets no
            warm-up call and ``s_per_mp`` None.
    """

    label: str
    fn: Callable[[Mapping[str, Any]], Any]
    model: str | None = None
    timed: bool = True


@dataclass(frozen=True)
class Column:
    """One figure column of a benchmark table.

    Attributes:
        header: the column header, e.g. ``"PSNR (dB)"``.
        key: the row key it shows.
        fmt: a format spec for the value (``".2f"``), or ``fmt(row) -> str`` for a cell
            that needs more than the value. A None or non-finite value prints as "-"
            (not measured: an untimed row's s/MP, PSNR against itself).
    """

    header: str
    key: str
    fmt: str | Callable[[Mapping[str, Any]], str] = ".2f"

    def cell(self, row: Mapping[str, Any]) -> str:
        if callable(self.fmt):
            return self.fmt(row)
        value = row.get(self.key)
        if value is None or (isinstance(value, float) and not np.isfinite(value)):
            return "-"
        return format(value, self.fmt)


class LazyCases(Sequence):
    """Test cases built when read, ``make(item)`` for each of ``items``: :func:`run_methods`
    reads a case before starting its clock, so the building is never timed, and a run over a
    large set holds one case at a time instead of all of them. ``make`` must give the same
    case every time it is called on an item."""

    def __init__(self, items: Sequence[Any], make: Callable[[Any], dict]):
        self._items, self._make = list(items), make

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> dict:
        return self._make(self._items[i])


def mean_scores(scores: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The mean over cases of every figure of the first case's scores; NaN (a figure
    undefined for a case, e.g. fRMSE of an image without a mark) and a figure missing
    from a case are left out; NaN where no case has a value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN slice
        return {k: float(np.nanmean([s.get(k, np.nan) for s in scores])) for k in scores[0]}


def run_methods(methods: Sequence[Method], cases: Sequence[Mapping[str, Any]],
                score: Callable[[Mapping[str, Any], Any], Mapping[str, float]], *,
                progress: Progress = None, keep_outputs: dict | None = None) -> list[dict]:
    """Run every method on every case under the timing protocol of this module; score each
    output and average the figures over the cases.

    Args:
        methods: the rows, in table order.
        cases: the test cases, each a mapping with at least ``name`` (str, unique) and
            ``mp`` (float, the megapixels the case's seconds are divided by); every method
            sees the same cases in the same order. A sequence that builds each case when
            it is read (outside the timed region) keeps memory flat on large sets.
        score: ``score(case, output) -> {figure: float}``; the figures of a method's first
            case name the figures of its row (a method whose output lacks one, e.g. no
            mask to score, gets a row without it: see ``Returns``).
        progress: gets one line per method when it is done.
        keep_outputs: if a dict is given, ``keep_outputs[label][case name]`` receives
            each output as ``fn`` returned it (for pictures).

    Returns:
        One dict per method, in order: ``method`` (the label), ``model`` (zoo model name
        or None), ``images`` (number of cases), the mean of every figure of ``score``
        (NaN cases left out), ``seconds`` (the timed calls' sum, s) and ``s_per_mp``
        (seconds / total ``mp``); both None for an untimed method.

    Raises:
        ValueError: if there is no case or no method.
    """
    if not cases:
        raise ValueError("no cases to benchmark")
    if not methods:
        raise ValueError("no methods to benchmark")
    rows = []
    for method in methods:
        if method.timed:
            method.fn(cases[0])                      # warm-up: not timed, output discarded
        scores, seconds, megapixels = [], 0.0, 0.0
        for case in cases:                           # a lazy sequence builds the case here, untimed
            t0 = time.perf_counter()
            out = method.fn(case)
            seconds += time.perf_counter() - t0
            megapixels += case["mp"]
            scores.append(score(case, out))
            if keep_outputs is not None:
                keep_outputs.setdefault(method.label, {})[case["name"]] = out
        row: dict[str, Any] = dict(method=method.label, model=method.model, images=len(cases))
        row.update(mean_scores(scores))
        row.update(seconds=seconds if method.timed else None,
                   s_per_mp=seconds / megapixels if method.timed else None)
        rows.append(row)
        if progress is not None:
            figures = ", ".join(f"{k} {row[k]:.4g}" for k in scores[0])
            timing = f", {row['s_per_mp']:.3f} s/MP" if method.timed else ""
            progress(f"{method.label}: {figures}{timing} ({len(cases)} images)")
    return rows


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], title: str | None = None) -> str:
    """A markdown table: the ``method`` column, then ``columns``, one line per row,
    optionally preceded by ``title`` and a blank line. Returns the text without a trailing
    newline."""
    lines = [title, ""] if title else []
    lines.append("| method | " + " | ".join(c.header for c in columns) + " |")
    lines.append("|---|" + "---:|" * len(columns))
    lines += ["| " + " | ".join([str(r["method"])] + [c.cell(r) for c in columns]) + " |" for r in rows]
    return "\n".join(lines)


def first_model_label(rows: Sequence[Mapping[str, Any]]) -> str:
    """The label of the first zoo-model row (a model's default settings come first), e.g.
    for the picture of a run.

    Raises:
        ValueError: if no row is a zoo model's.
    """
    for r in rows:
        if r.get("model"):
            return r["method"]
    raise ValueError("the picture needs a zoo model in the run")


def resolve_models(task: str, models: Iterable[str] | str | None) -> list[str]:
    """Model names of a bench run: ``models`` as a list (a single name is accepted), or for
    None every zoo model of ``task``, its default model first, the others by name."""
    if isinstance(models, str):
        return [models]
    if models is not None:
        return list(models)
    from restore.zoo.registry import default_model, list_models
    names = list_models(task)
    try:
        default = default_model(task)
    except KeyError:
        default = None
    return sorted(names, key=lambda m: (m != default, m))


@dataclass
class Report:
    """What one bench table run gives the caller to show.

    Attributes:
        text: markdown, the title and table(s) (and any note under them) as printed; may
            be empty for a run that only writes pictures.
        rows: the rows of its main table (:func:`run_methods`).
        wrote: pictures written.
        recorded: models whose figures went to the manifest (``record``).
    """

    text: str
    rows: list[dict] = field(default_factory=list)
    wrote: list[Path] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)


def record(rows: Sequence[Mapping[str, Any]], key: str, *, enabled: bool, limit: int | None) -> list[str]:
    """:func:`restore.zoo.manifest.record_bench` when ``enabled``, else nothing; returns the
    models recorded."""
    if not enabled:
        return []
    from restore.zoo.manifest import record_bench
    return record_bench(list(rows), key, limit=limit)


def over_folders(folders: Sequence[str | Path], run: Callable[[Path, dict | None], list[dict]], *,
                 text: Callable[[Path, list[dict]], str], key: Callable[[Path, list[dict]], str],
                 picture: str | Path | None = None, draw: Callable[[dict, list[dict]], np.ndarray] | None = None,
                 record_figures: bool = False, limit: int | None = None) -> Iterator[Report]:
    """The per-folder driver of the bench commands: one table per folder.

    Args:
        folders: the ``--data`` folders, in order.
        run: ``run(folder, outputs) -> rows``; ``outputs`` is a dict to fill with the
            outputs for the picture on the first folder (``keep_outputs``), else None.
        text: ``text(folder, rows) -> markdown`` (title and table).
        key: ``key(folder, rows) -> str``, the manifest key of the folder's figures.
        picture: path of the picture drawn from the first folder's outputs, or None.
        draw: ``draw(outputs, rows) -> H x W x 3 uint8``, the picture (with ``picture``).
        record_figures: store the zoo models' figures in the manifest
            (:func:`restore.zoo.manifest.record_bench`, which skips runs with ``limit``).
        limit: the run's ``--limit``, passed to ``record_bench``.

    Yields:
        One :class:`Report` per folder, as soon as the folder is done (its picture written).

    Raises:
        Whatever ``run`` and ``draw`` raise (FileNotFoundError, ValueError, KeyError for
        bad data, options or models).
    """
    from restore.io import write_image

    for i, folder in enumerate(Path(f) for f in folders):
        outputs: dict | None = {} if picture is not None and i == 0 else None
        rows = run(folder, outputs)
        report = Report(text(folder, rows), rows)
        if outputs is not None:
            write_image(picture, draw(outputs, rows))
            report.wrote.append(Path(picture))
        report.recorded = record(rows, key(folder, rows), enabled=record_figures, limit=limit)
        yield report
