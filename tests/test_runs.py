"""Interrupted and concurrent folder runs: atomic outputs, stale temporary files, SIGKILL then
``--skip-existing``, Ctrl-C (SIGINT) with a summary and exit code 130, two runs into one
folder. The child processes run the real CLI and folder runner with a fake, fast pipeline
(tests/batch_worker.py), so they take about a second each."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from restore.io import OutputExistsError, clean_stale_temp_files, read_image, temp_path, write_image
from restore.pipelines.batch import run_batch

from batch_worker import FakePipeline, expected

WORKER = Path(__file__).with_name("batch_worker.py")
SUMMARY = re.compile(r"^(\d+) written, (\d+) skipped, (\d+) failed$", re.M)
INTERRUPTED = re.compile(r"^interrupted: (\d+) done, (\d+) failed, (\d+) not started", re.M)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def make_inputs(folder: Path, n: int, size: int = 24) -> dict[str, np.ndarray]:
    """``n`` random RGB PNGs ``00.png`` ... in ``folder``; name -> pixels."""
    rng = np.random.default_rng(n)
    images = {f"{i:02d}.png": rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for i in range(n)}
    for name, img in images.items():
        write_image(folder / name, img)
    return images


def outputs(folder: Path) -> set[str]:
    """The names an image listing sees (what a user or ``--skip-existing`` takes as outputs)."""
    return {p.name for p in folder.glob("*.png")} if folder.is_dir() else set()


def temps(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp"))


def start(inp: Path, out: Path, *flags: str, **env: str | int | float) -> subprocess.Popen:
    """The worker on IN OUT FLAGS in a child process, FAKE_* settings from ``env``."""
    child_env = {**os.environ, **{f"FAKE_{k.upper()}": str(v) for k, v in env.items()}}
    child_env.pop("RESTORE_WEIGHTS", None)
    return subprocess.Popen([sys.executable, str(WORKER), str(inp), str(out), "--quiet", *flags], env=child_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_cli(monkeypatch, inp: Path, out: Path, *flags: str) -> tuple[int, str]:
    """``restore denoise IN OUT FLAGS`` in this process, with the worker's fake pipeline."""
    from typer.testing import CliRunner

    import cli
    import restore
    monkeypatch.setattr(restore, "load_pipeline", lambda task, **kwargs: FakePipeline(0))
    result = CliRunner().invoke(cli.app, ["denoise", str(inp), str(out), *flags])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output          # stdout and stderr, with any click


def wait_for(condition, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def finish(proc: subprocess.Popen, timeout: float = 30.0) -> tuple[int, str]:
    text, _ = proc.communicate(timeout=timeout)
    return proc.returncode, text


def assert_outputs_are(out: Path, images: dict[str, np.ndarray], names: set[str], variants=(0,)) -> None:
    """Exactly ``names`` are visible, no temporary file is left, and each output decodes to
    the stand-in result of one of ``variants``."""
    assert outputs(out) == names and not temps(out), (sorted(outputs(out)), temps(out))
    for name in names:
        got = read_image(out / name)
        assert any(np.array_equal(got, expected(images[name], v)) for v in variants), name


# --- write_image: temporary names, publishing without overwrite, stale files -----------------------

def test_temp_names_are_hidden_named_by_process_and_never_images(tmp_path):
    from restore.io import is_image_path, iter_images
    t = temp_path(tmp_path / "a.png")
    assert t.parent == tmp_path and t.name.startswith(".a.png.") and t.suffix == ".tmp"
    assert f"-{os.getpid()}-" in t.name and t != temp_path(tmp_path / "a.png")
    t.write_bytes(b"partial")
    assert not is_image_path(t) and list(iter_images(tmp_path)) == []


def test_write_without_overwrite_keeps_the_existing_file(tmp_path):
    a, b = np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 200, np.uint8)
    write_image(tmp_path / "x.png", a, overwrite=False)
    with pytest.raises(OutputExistsError, match="x.png exists"):
        write_image(tmp_path / "x.png", b, overwrite=False)
    assert np.array_equal(read_image(tmp_path / "x.png"), a) and [p.name for p in tmp_path.iterdir()] == ["x.png"]
    write_image(tmp_path / "x.png", b)                                  # overwrite=True by default
    assert np.array_equal(read_image(tmp_path / "x.png"), b)


def test_clean_stale_temp_files_removes_dead_and_old_ones_only(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    mine = temp_path(tmp_path / "a.png")
    of_dead = Path(str(temp_path(tmp_path / "b.png")).replace(f"-{os.getpid()}-", f"-{dead.pid}-"))
    old = temp_path(tmp_path / "sub" / "c.png")
    unrelated = tmp_path / ".notes.tmp"
    for p in (mine, of_dead, old, unrelated, tmp_path / "d.png"):
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"x")
    os.utime(old, (time.time() - 3 * 86400,) * 2)
    assert clean_stale_temp_files(tmp_path) == [of_dead]                # a live writer's file is kept
    assert clean_stale_temp_files(tmp_path, recursive=True) == [old]    # any file older than a day
    assert clean_stale_temp_files(tmp_path / "missing") == []
    assert mine.exists() and unrelated.exists() and (tmp_path / "d.png").exists()


# --- Ctrl-C -------------------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["process", "write", "signal-while-writing"])
def test_keyboard_interrupt_stops_after_the_files_done(tmp_path, monkeypatch, where):
    """Ctrl-C in the work or in ``write_image`` (raised there: the output is dropped), or a
    real SIGINT while a file's output is being written (held until it is published)."""
    # Python's own Ctrl-C handler, as in the CLI (a library run earlier in the same process,
    # e.g. Ray in test_engines, may have left its own)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    images = make_inputs(tmp_path / "in", 6)
    calls = []

    def process(image, path):
        calls.append(path.name)
        if where == "process" and len(calls) == 3:
            raise KeyboardInterrupt
        return expected(image, 0)

    if where != "process":   # Ctrl-C while the third output is being written
        import restore.io as rio
        real, files = os.fsync, []

        def fsync(fd):
            if stat.S_ISREG(os.fstat(fd).st_mode):
                files.append(fd)
                if len(files) == 3 and where == "write":
                    raise KeyboardInterrupt
                if len(files) == 3:
                    os.kill(os.getpid(), signal.SIGINT)
            real(fd)

        monkeypatch.setattr(rio.os, "fsync", fsync)
    try:
        result = run_batch(process, tmp_path / "in", tmp_path / "out", progress=False)
    finally:
        monkeypatch.undo()
        signal.signal(signal.SIGINT, previous)
    done = 3 if where == "signal-while-writing" else 2
    names = [f"{i:02d}.png" for i in range(6)]
    assert result.interrupted and result.exit_code == 130
    assert [p.name for p, _ in result.written] == names[:done]
    assert [p.name for p in result.not_started] == names[done:]
    assert f"interrupted: {done} done, 0 failed, {6 - done} not started" in result.summary()
    assert_outputs_are(tmp_path / "out", images, set(names[:done]))


def test_sigint_stops_the_cli_with_a_summary_and_exit_code_130(tmp_path):
    images = make_inputs(tmp_path / "in", 8)
    out = tmp_path / "out"
    proc = start(tmp_path / "in", out, delay=0.25)
    wait_for(lambda: len(outputs(out)) >= 2)
    proc.send_signal(signal.SIGINT)
    code, text = finish(proc)
    assert code == 130, text
    m = INTERRUPTED.search(text)
    assert m, text
    done, failed, left = map(int, m.groups())
    assert done >= 2 and failed == 0 and done + left == 8 and "Traceback" not in text
    assert_outputs_are(out, images, {f"{i:02d}.png" for i in range(done)})


# --- SIGKILL, then --skip-existing -----------------------------------------------------------------

def test_sigkill_while_writing_then_skip_existing_finishes(tmp_path, monkeypatch):
    """Killed while the third output is half-published: two complete outputs and one hidden
    temporary file; the rerun removes the temporary file and writes the other three."""
    images = make_inputs(tmp_path / "in", 5)
    out, marker = tmp_path / "out", tmp_path / "writing"
    proc = start(tmp_path / "in", out, hang_at=3, marker=marker)
    wait_for(marker.exists)
    proc.kill()
    proc.wait(timeout=10)
    assert outputs(out) == {"00.png", "01.png"}
    assert [p.name.split(".tmp")[0].rsplit(".", 1)[0] for p in temps(out)] == [".02.png"]
    for name in outputs(out):
        assert np.array_equal(read_image(out / name), expected(images[name], 0))

    code, text = run_cli(monkeypatch, tmp_path / "in", out, "--skip-existing")   # in this process: faster
    assert code == 0, text
    assert SUMMARY.search(text).groups() == ("3", "2", "0") and "removed 1 temporary file" in text
    assert_outputs_are(out, images, set(images))


# --- two runs into one folder ----------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--overwrite", "--skip-existing", None])
def test_two_runs_into_one_folder_never_corrupt_an_output(tmp_path, flag):
    n = 30
    images = make_inputs(tmp_path / "in", n, size=64)
    out, go = tmp_path / "out", tmp_path / "go"
    flags = [flag] if flag else []
    procs = [start(tmp_path / "in", out, *flags, variant=v, go=go, ready=tmp_path / f"ready{v}") for v in (0, 1)]
    wait_for(lambda: (tmp_path / "ready0").exists() and (tmp_path / "ready1").exists())
    go.touch()                                  # both start together, on the same files in the same order
    results = [finish(p) for p in procs]
    assert_outputs_are(out, images, set(images), variants=(0, 1))
    counts = [tuple(map(int, SUMMARY.search(text).groups())) for _, text in results]
    if flag == "--overwrite":
        assert [code for code, _ in results] == [0, 0] and counts == [(n, 0, 0)] * 2
    else:   # each file written by exactly one run; the other skipped it (or, without a flag, failed it)
        assert sum(c[0] for c in counts) == n
        lost = 1 if flag == "--skip-existing" else 2
        assert all(c[lost] == n - c[0] for c in counts), counts
        assert [code for code, _ in results] == [0 if flag or c[2] == 0 else 1 for c in counts]
        if flag is None:
            fails = [line for _, text in results for line in text.splitlines() if line.startswith("  failed:")]
            assert len(fails) == n and all("exists (" in line for line in fails), fails
