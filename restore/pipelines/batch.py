"""The folder runner shared by every task: files in, files out, errors per file, and the
pairing of each input with its side input (an inpainting mask).

Orchestration only: reading and writing go through :mod:`restore.io`, the work through a
``process`` callable (a pipeline call). Nothing here prints; the CLI reports.

Interrupted and concurrent runs: every output is written atomically (a hidden temporary
file, then its name), the main output of a file last, so an output that exists is complete
and ``skip_existing`` resumes a killed run; the temporary files a killed run left are
removed at the start of the next one. Without ``overwrite`` an output is published only if
its name is still free at that moment, so two runs into one folder never replace each
other's files. Ctrl-C (``KeyboardInterrupt``) ends the run after the files done so far.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from restore.io import (FORMATS, MAX_PIXELS, ImageReadError, OutputExistsError, clean_stale_temp_files, is_image_path,
                        iter_images, output_format, read_image, write_image)
from restore.storage import as_path, is_within


@dataclasses.dataclass
class BatchResult:
    """What a folder run did.

    Attributes:
        written: (input, output) paths written.
        skipped: inputs skipped because their output existed (``skip_existing``).
        failed: (input, reason) for every file that could not be processed.
        interrupted: the run was stopped by Ctrl-C (``KeyboardInterrupt``) before its end.
        not_started: inputs left without an output by the interruption, in run order (the
            file in progress when it came included: its output was not written).
        cleaned: temporary files of earlier killed runs removed from the output folder.
    """

    written: list[tuple[Path, Path]] = dataclasses.field(default_factory=list)
    skipped: list[Path] = dataclasses.field(default_factory=list)
    failed: list[tuple[Path, str]] = dataclasses.field(default_factory=list)
    interrupted: bool = False
    not_started: list[Path] = dataclasses.field(default_factory=list)
    cleaned: list[Path] = dataclasses.field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """130 if interrupted (the shell's code for Ctrl-C), else 1 if any file failed, else 0."""
        return 130 if self.interrupted else 1 if self.failed else 0

    def summary(self) -> str:
        """One line of counts, then the failed files and why, then (interrupted) one line of
        what is left."""
        line = f"{len(self.written)} written, {len(self.skipped)} skipped, {len(self.failed)} failed"
        line += "".join(f"\n  failed: {p}: {why}" for p, why in self.failed)
        if self.interrupted:
            line += (f"\ninterrupted: {len(self.written) + len(self.skipped)} done, {len(self.failed)} failed, "
                     f"{len(self.not_started)} not started (run again with --skip-existing to finish)")
        return line


def plan_outputs(inputs: list[Path], root: Path, output_dir: Path, fmt: str | None) -> list[Path]:
    """The output path of each input: ``output_dir`` / path relative to ``root`` (the input
    folder; for a single input file, its name), extension changed when ``fmt`` is given."""
    outs, single = [], root.is_file()
    for p in inputs:
        rel = Path(p.name) if single else p.relative_to(root)
        out = output_dir / rel
        if fmt:
            out = out.with_suffix("." + FORMATS["." + fmt.lower().lstrip(".")])
        outs.append(out)
    return outs


def plan_batch(input_path: str | Path, output_dir: str | Path, *, recursive: bool = False,
               skip_existing: bool = False, overwrite: bool = False,
               fmt: str | None = None) -> tuple[list[Path], list[Path], set[Path]]:
    """Check a folder run's arguments and list its work, as every engine does first.

    Args:
        input_path, output_dir, recursive, skip_existing, overwrite, fmt: as :func:`run_batch`'s.

    Returns:
        ``(inputs, outputs, input_set)``: the input files in run order (those inside
        ``output_dir`` left out), the output path planned for each (:func:`plan_outputs`),
        and the resolved input paths, which no output may replace.

    Raises:
        FileNotFoundError: if ``input_path`` does not exist.
        ValueError: for ``skip_existing`` with ``overwrite``, an unknown ``fmt``, an input file
            that is not an image, or an output folder that is the input folder.
    """
    if skip_existing and overwrite:
        raise ValueError("--skip-existing and --overwrite exclude each other")
    if fmt is not None and "." + fmt.lower().lstrip(".") not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(sorted(set(FORMATS.values())))}")
    root, output_dir = as_path(input_path), as_path(output_dir)
    if root.is_file() and not is_image_path(root):
        raise ValueError(f"{root} is not an image file (known extensions: {', '.join(sorted(FORMATS))})")
    source_dir = root.parent if root.is_file() else root
    if output_dir.resolve() == source_dir.resolve():
        raise ValueError(f"the output folder {output_dir} is the input folder; choose another one "
                         "(inputs are never overwritten)")
    inputs = list(iter_images(root, recursive=recursive))
    out_resolved = output_dir.resolve()
    if is_within(out_resolved, root.resolve()) and out_resolved != root.resolve() and root.is_dir():
        inputs = [p for p in inputs if not is_within(p.resolve(), out_resolved)]
    input_set = {p.resolve() for p in inputs}
    outputs = plan_outputs(inputs, root, output_dir, fmt)
    return inputs, outputs, input_set


def run_batch(process: Callable[[np.ndarray, Path], np.ndarray | dict[str, np.ndarray]], input_path: str | Path,
              output_dir: str | Path, *, recursive: bool = False, skip_existing: bool = False,
              overwrite: bool = False, fmt: str | None = None, quality: int | None = None,
              progress: bool = True, on_error: Callable[[Path, str], Any] | None = None,
              max_pixels: int | None = MAX_PIXELS) -> BatchResult:
    """Run ``process`` over every image of ``input_path`` and write the results.

    Args:
        process: ``(image, input path) -> result``; the image is ``H x W x C`` uint8/uint16
            as read by :func:`restore.io.read_image`; the result is an array, or a dict of
            arrays keyed by a file-name suffix (``""`` is the main output, e.g.
            ``{"": out, "_mask": mask}`` writes ``name.png`` and ``name_mask.png``).
        input_path: an image file or a folder.
        output_dir: folder for the outputs (created); the input tree is mirrored when
            ``recursive``.
        recursive: descend into sub-folders.
        skip_existing: leave files whose output already exists (also when another run
            writes it meanwhile): rerunning an interrupted run this way finishes it.
        overwrite: replace existing outputs. With neither flag an existing output is an
            error for that file, so nothing is replaced by accident.
        fmt: output format (png, jpg, tif, bmp, webp); default: the input's. An image with
            alpha asked for jpg/bmp is written as png instead.
        quality: jpg/webp quality 1-100.
        progress: show a tqdm bar.
        on_error: called with (path, reason) as each file fails (e.g. to print it).
        max_pixels: an input larger than this (width x height, read from its header) fails
            before it is decoded (:func:`restore.io.read_image`); 0 or None: no limit.

    Returns:
        A :class:`BatchResult`. A file whose output would be an input file is refused.
        On Ctrl-C (``KeyboardInterrupt``) the file in progress is abandoned (no output,
        no temporary file) and the result returned with ``interrupted`` set, instead of
        the exception.

    Raises:
        FileNotFoundError: if ``input_path`` does not exist.
        ValueError: for ``skip_existing`` with ``overwrite``, or an unknown ``fmt``.
    """
    inputs, outputs, input_set = plan_batch(input_path, output_dir, recursive=recursive,
                                            skip_existing=skip_existing, overwrite=overwrite, fmt=fmt)
    output_dir = as_path(output_dir)
    result = BatchResult()
    from tqdm.auto import tqdm

    def fail(path: Path, reason: str) -> None:
        reason = reason.removeprefix(f"{path}: ")
        result.failed.append((path, reason))
        if on_error is not None:
            on_error(path, reason)

    result.cleaned = clean_stale_temp_files(output_dir, recursive=recursive)
    bar = tqdm(list(zip(inputs, outputs)), disable=not progress, unit="img", desc="restore")
    try:
        for src, dst in bar:
            _run_one(process, src, dst, result, fail, input_set=input_set, skip_existing=skip_existing,
                     overwrite=overwrite, fmt=fmt, quality=quality, max_pixels=max_pixels)
    except KeyboardInterrupt:
        result.interrupted = True
        result.not_started = inputs[len(result.written) + len(result.skipped) + len(result.failed):]
    finally:
        bar.close()
    return result


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that comes within the block until its end, then raise it as
    ``KeyboardInterrupt``: the outputs of a file, a fraction of a second to write, are then
    either published and counted in the result or not written at all. Only where Python's
    own SIGINT handler is in place in the main thread; elsewhere the block runs as is."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    held: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if held:  # also when the block failed: the run stops, that file counts as not started
            raise KeyboardInterrupt


def _run_one(process, src: Path, dst: Path, result: BatchResult, fail: Callable[[Path, str], None], *,
             input_set: set[Path], skip_existing: bool, overwrite: bool, fmt: str | None,
             quality: int | None, max_pixels: int | None) -> None:
    """One input of :func:`run_batch`: exactly one of ``result.written``, ``skipped`` or
    ``failed`` gets an entry for it (that count is how an interruption knows what is left)."""
    if dst.exists():
        if skip_existing:
            result.skipped.append(src)
            return
        if not overwrite:
            fail(src, f"output {dst} exists (use --overwrite or --skip-existing)")
            return
    try:
        image = read_image(src, max_pixels=max_pixels)
        # an image with alpha asked for jpg/bmp is written as png: its earlier output is that png
        alt = dst.with_suffix("." + output_format(dst, image, fmt))
        if skip_existing and alt != dst and alt.exists():
            result.skipped.append(src)
            return
        out = process(image, src)
        parts = out if isinstance(out, dict) else {"": out}
        targets = []
        for suffix, arr in parts.items():
            target = dst.with_name(dst.stem + suffix + dst.suffix)
            final = target.with_suffix("." + output_format(target, arr, fmt))
            if final.resolve() in input_set:
                raise ValueError(f"refusing to write over the input file {final}")
            # a side output without its main output is what an interrupted run left: redone
            if final != dst and final.exists() and not (overwrite or skip_existing):
                raise ValueError(f"output {final} exists (use --overwrite or --skip-existing)")
            targets.append((target, arr))
        # side outputs first, the main one last: a main output that exists means a whole result
        targets.sort(key=lambda t: not suffix_of(t[0], dst))
        with _ctrl_c_deferred():  # published and counted, or neither
            for target, arr in targets:
                main = not suffix_of(target, dst)
                try:
                    written = write_image(target, arr, fmt=fmt, quality=quality,
                                          overwrite=overwrite or (skip_existing and not main))
                except OutputExistsError:
                    if main and skip_existing:  # another run wrote it meanwhile
                        result.skipped.append(src)
                        return
                    raise
                if main:
                    result.written.append((src, written))
    except OutputExistsError as e:
        fail(src, f"{e} (written meanwhile by another run; use --overwrite or --skip-existing)")
    except (ImageReadError, ValueError, TypeError, RuntimeError, OSError, MemoryError) as e:
        fail(src, str(e) or type(e).__name__)


def run_file(process: Callable[[np.ndarray, Path], np.ndarray | dict[str, np.ndarray]], src: Path, dst: Path, *,
             input_set: set[Path], skip_existing: bool = False, overwrite: bool = False, fmt: str | None = None,
             quality: int | None = None, max_pixels: int | None = MAX_PIXELS) -> BatchResult:
    """One input of a folder run, exactly as :func:`run_batch` runs it, in a result of its
    own: what a worker of another engine (:mod:`restore.engines`) does per file.

    Args:
        process, skip_existing, overwrite, fmt, quality, max_pixels: as :func:`run_batch`'s.
        src: the input file; dst: its planned output (:func:`plan_batch`).
        input_set: resolved input paths that no output may replace (those of
            :func:`plan_batch`, or the part of them inside the output folder).

    Returns:
        A :class:`BatchResult` with one entry in ``written``, ``skipped`` or ``failed``.
    """
    result = BatchResult()

    def fail(path: Path, reason: str) -> None:
        result.failed.append((path, reason.removeprefix(f"{path}: ")))

    _run_one(process, as_path(src), as_path(dst), result, fail, input_set=input_set, skip_existing=skip_existing,
             overwrite=overwrite, fmt=fmt, quality=quality, max_pixels=max_pixels)
    return result


def suffix_of(target: Path, dst: Path) -> str:
    """The suffix a side output adds to the main output's stem ("" for the main output)."""
    return target.stem[len(dst.stem):]


def pair_finder(input_path: str | Path, source: str | Path, *, kind: str = "mask",
                max_pixels: int | None = MAX_PIXELS) -> Callable[[Path], np.ndarray]:
    """The side input of each image of a folder run (e.g. its inpainting mask), as a function.

    ``source`` is one image file, used for every input, or a folder of images paired with
    the inputs by file stem: for ``input_path/a/b.png`` the first of ``source/a/b.*`` (same
    relative folder) and then ``source/**/b.*`` (any sub-folder, sorted), whatever their
    image format.

    Args:
        input_path: the run's input, an image file or a folder (as :func:`run_batch`'s).
        source: an image file or a folder of images.
        kind: what is paired, in words, for the error messages (``"mask"``).
        max_pixels: pixel limit of the side inputs, as :func:`restore.io.read_image`'s.

    Returns:
        ``find(path) -> image``: the side input of the input ``path``, as
        :func:`restore.io.read_image` reads it (``H x W x C`` uint8/uint16). It raises
        ``FileNotFoundError`` for an input with no pair (that file fails, the run goes
        on), and :class:`restore.io.ImageReadError` for an unreadable pair.

    Raises:
        FileNotFoundError: if ``source`` does not exist.
        ValueError: ``source`` is a file that is not a readable image, or a folder inside
            the input folder (its images would be processed as inputs).
    """
    input_path, source = as_path(input_path), as_path(source)
    if not source.exists():
        raise FileNotFoundError(f"{kind} {source} does not exist")
    if source.is_file():
        if not is_image_path(source):
            raise ValueError(f"{kind} {source} is not an image file")
        try:
            one = read_image(source, max_pixels=max_pixels)
        except Exception as e:  # noqa: BLE001 - any unreadable file is an error of the whole run
            raise ValueError(f"cannot read {kind} {source}: {e}") from None
        return lambda path: one
    root = (input_path if input_path.is_dir() else input_path.parent).absolute()
    if input_path.is_dir() and is_within(source.resolve(), input_path.resolve()):
        raise ValueError(f"the {kind} folder {source} is inside the input folder; keep {kind}s in their own folder")
    by_rel: dict[str, Path] = {}
    by_stem: dict[str, Path] = {}
    for p in sorted(iter_images(source, recursive=True)):
        by_rel.setdefault(p.relative_to(source).with_suffix("").as_posix(), p)
        by_stem.setdefault(p.stem, p)

    def find(path: Path) -> np.ndarray:
        path = as_path(path).absolute()  # the same pairing whichever working folder (an engine's worker)
        rel = path.relative_to(root).with_suffix("").as_posix() if is_within(path, root) else path.stem
        found = by_rel.get(rel) or by_stem.get(path.stem)
        if found is None:
            raise FileNotFoundError(f"no {kind} for {path.name} in {source} ({kind}s are paired by file stem)")
        return read_image(found, max_pixels=max_pixels)

    return find
