"""Engines: the ray engine on a local Ray cluster started here (2 CPUs) gives the same files
and the same summary as the local engine, names a corrupt file, and survives a worker
killed mid-run; the local engine does not import Ray.

The workers run torch with one thread, as the test process does (conftest.py): the
outputs are compared byte for byte. About 40-60 s on 2 busy CPU cores, most of it Ray
starting and each worker importing torch and loading its model.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import cli
from restore.io import read_image, write_image
from restore.ops.degrade.masks import center_mask

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster for this module; the functions defined here travel by value."""
    import logging

    import ray.cloudpickle
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield
    ray.shutdown()


def invoke(*args) -> tuple[int, str]:
    """``restore ARGS``: the exit code and what it printed (stdout and stderr)."""
    result = CliRunner().invoke(cli.app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes is not None else "")


def listing(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden temporary files included) by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def smooth(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    """A smooth noisy image, H x W x C uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = 128 + 60 * np.sin(x[..., None] / 5.0 + y[..., None] / 7.0 + np.arange(c))
    return np.clip(base + rng.normal(0, 20, (h, w, c)), 0, 255).astype(np.uint8)


def summary_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.endswith(" failed") and " written, " in line)


def test_local_engine_does_not_import_ray(tmp_path):
    write_image(tmp_path / "in" / "a.png", smooth(16, 16))
    code = ("import sys, numpy as np; from restore.engines import run_folder; "
            f"r = run_folder(lambda: (lambda im, p: 255 - im), {str(tmp_path / 'in')!r}, {str(tmp_path / 'out')!r}, "
            "progress=False); assert len(r.written) == 1; assert 'ray' not in sys.modules, 'ray imported'")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(Path(cli.__file__).parent)})


def test_ray_options_need_the_ray_engine(tmp_path):
    write_image(tmp_path / "in" / "a.png", smooth(16, 16))
    code, text = invoke("denoise", tmp_path / "in", tmp_path / "out", "--workers", "2", "--quiet")
    assert code == 2 and "--workers" in text and "--engine ray" in text


def test_denoise_ray_matches_local_and_names_the_corrupt_file(cluster, tmp_path, cached_pipelines):
    src = tmp_path / "in"
    write_image(src / "a.png", smooth(24, 32, seed=1))
    write_image(src / "sub" / "b.png", smooth(20, 24, seed=2))
    write_image(src / "c.png", smooth(16, 16, c=4, seed=3))        # alpha: --format jpg writes png
    (src / "sub" / "broken.png").write_bytes(b"not a png")
    args = ("--sigma", "25", "--recursive", "--format", "jpg", "--quality", "90", "--quiet")
    code_local, text_local = invoke("denoise", src, tmp_path / "local", *args)
    code_ray, text_ray = invoke("denoise", src, tmp_path / "ray", *args, "--engine", "ray", "--workers", "2")
    assert code_local == code_ray == 1
    assert summary_line(text_local) == summary_line(text_ray) == "3 written, 0 skipped, 1 failed"
    assert f"failed: {src / 'sub' / 'broken.png'}: " in text_ray
    local, ray_out = listing(tmp_path / "local"), listing(tmp_path / "ray")
    assert sorted(local) == ["a.jpg", "c.png", "sub/b.jpg"]
    assert local == ray_out


def test_inpaint_masks_ray_matches_local(cluster, tmp_path, cached_pipelines):
    src, masks = tmp_path / "in", tmp_path / "masks"
    m = (center_mask(64, 64) * 255).astype(np.uint8)
    for k in range(3):
        write_image(src / f"x{k}.png", smooth(64, 64, seed=10 + k))
    write_image(masks / "x0.png", m)
    write_image(masks / "deep" / "x1.bmp", m)                        # paired by stem, any folder
    write_image(src / "nomask.png", smooth(64, 64, seed=20))
    args = ("--masks", masks, "--model", "gan-faces-64", "--steps", "3", "--save-raw", "--quiet")
    code_local, text_local = invoke("inpaint", src, tmp_path / "local", *args)
    code_ray, text_ray = invoke("inpaint", src, tmp_path / "ray", *args, "--engine", "ray", "--workers", "2")
    assert code_local == code_ray == 1
    assert summary_line(text_local) == summary_line(text_ray) == "2 written, 0 skipped, 2 failed"
    assert "nomask.png" in text_ray and "x2.png" in text_ray and "no mask" in text_ray
    local, ray_out = listing(tmp_path / "local"), listing(tmp_path / "ray")
    assert sorted(local) == ["x0.png", "x0_raw.png", "x1.png", "x1_raw.png"]
    assert local == ray_out


def _dying_process(marker: str, log: str):
    """A process function that kills its worker process the first time it meets ``b.png``
    (once: ``marker`` remembers it), and logs every call to ``log``."""
    def process(image, path):
        with open(log, "a") as f:
            f.write(Path(path).name + "\n")
        if Path(path).name == "b.png" and not os.path.exists(marker):
            Path(marker).touch()
            os._exit(1)  # the worker dies in the middle of the file
        return 255 - image
    return process


def test_killed_worker_loses_nothing_and_rerun_skips_everything(cluster, tmp_path):
    import functools

    from restore.engines import run_folder
    src = tmp_path / "in"
    images = {name: smooth(16, 16, seed=k) for k, name in enumerate(["a.png", "b.png", "c.png", "d.png", "e.png"])}
    for name, image in images.items():
        write_image(src / name, image)
    marker, log = tmp_path / "killed", tmp_path / "calls.txt"
    make = functools.partial(_dying_process, str(marker), str(log))
    result = run_folder(make, src, tmp_path / "out", engine="ray", workers=2, progress=False)
    assert marker.exists(), "the worker was not killed"
    assert log.read_text().split().count("b.png") == 2           # died once, then retried
    assert not result.failed and result.exit_code == 0
    assert [s.name for s, _ in result.written] == sorted(images)  # each once, in input order
    assert sorted(listing(tmp_path / "out")) == sorted(images)   # no temporary file left
    for name, image in images.items():
        assert np.array_equal(read_image(tmp_path / "out" / name), 255 - image)
    before = listing(tmp_path / "out")
    again = run_folder(make, src, tmp_path / "out", engine="ray", workers=2, progress=False, skip_existing=True)
    assert (len(again.written), len(again.skipped), len(again.failed)) == (0, 5, 0)
    assert listing(tmp_path / "out") == before
