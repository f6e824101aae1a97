"""Engines: the ray engine on a local Ray cluster started here (2 CPUs, 1 declared GPU) gives
the same files and the same summary as the local engine, names a corrupt file, survives a
worker killed mid-run, names a file that kills its worker every time, and gives its workers
the GPUs asked for or refuses up front; the local engine does not import Ray.

The workers run torch with one thread, as the test process does (conftest.py): the
outputs are compared byte for byte. About 60-120 s on 2 busy CPU cores, most of it Ray
starting and each worker importing torch and loading its model (the workers of the tests
whose process function needs no torch do not import it).
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
    # one GPU declared, none present: Ray schedules GPU workers on it (they run torch on the CPU)
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
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


def test_gpus_per_worker_is_the_actor_pools_request(cluster, tmp_path, monkeypatch):
    """The request Ray Data gets (inspected, not run): each actor asks for the GPU share
    and no CPU, the pool has --workers actors."""
    from restore.engines import run_folder
    seen = {}

    class Stop(Exception):
        pass

    def map_batches(self, fn, **kwargs):
        seen.update(kwargs, fn=fn)
        raise Stop

    monkeypatch.setattr(ray.data.Dataset, "map_batches", map_batches)
    write_image(tmp_path / "in" / "a.png", smooth(16, 16))
    with pytest.raises(Stop):
        run_folder(lambda: (lambda im, p: im), tmp_path / "in", tmp_path / "out", engine="ray", workers=2,
                   gpus_per_worker=0.5, progress=False)
    assert seen["num_gpus"] == 0.5 and seen["num_cpus"] == 0
    assert isinstance(seen["compute"], ray.data.ActorPoolStrategy)
    assert (seen["compute"].min_size, seen["compute"].max_size) == (2, 2)


def test_gpus_the_cluster_lacks_are_refused_not_awaited(cluster, tmp_path, cached_pipelines):
    import time
    write_image(tmp_path / "in" / "a.png", smooth(16, 16))
    start = time.monotonic()
    code, text = invoke("denoise", tmp_path / "in", tmp_path / "out", "--sigma", "25", "--quiet",
                        "--engine", "ray", "--gpus-per-worker", "2")
    assert code == 2 and "--gpus-per-worker 2: the Ray cluster has at most 1 GPU(s) on one machine" in text
    code, text = invoke("denoise", tmp_path / "in", tmp_path / "out", "--sigma", "25", "--quiet",
                        "--engine", "ray", "--workers", "3", "--gpus-per-worker", "0.5")
    assert code == 2 and "needs 1.5 GPUs; the Ray cluster has 1" in text
    assert time.monotonic() - start < 30 and not (tmp_path / "out").exists()


def _always_dying_process(log: str):
    """A process function that kills its worker every time it meets ``b.png``, and logs each
    call (file name and the GPUs Ray gave the worker) to ``log``."""
    import ray
    gpus = ray.get_runtime_context().get_assigned_resources().get("GPU", 0.0)

    def process(image, path):
        with open(log, "a") as f:
            f.write(f"{Path(path).name} {gpus}\n")
        if Path(path).name == "b.png":
            os._exit(1)
        return 255 - image
    return process


def test_a_file_that_keeps_killing_its_worker_fails_by_name(cluster, tmp_path, monkeypatch):
    """On a GPU worker (half the declared GPU): b.png kills its worker at every start;
    after RETRIES + 1 deaths it fails with that reason, the other files are written once."""
    import functools

    import restore.engines.ray as ray_engine
    from restore.engines import run_folder
    monkeypatch.setattr(ray_engine, "RETRIES", 1)  # two deaths, not four: each costs a worker restart
    src, log = tmp_path / "in", tmp_path / "calls.txt"
    images = {name: smooth(16, 16, seed=k) for k, name in enumerate(["a.png", "b.png", "c.png", "d.png"])}
    for name, image in images.items():
        write_image(src / name, image)
    result = run_folder(functools.partial(_always_dying_process, str(log)), src, tmp_path / "out", engine="ray",
                        workers=1, gpus_per_worker=0.5, progress=False)
    calls = [line.split() for line in log.read_text().splitlines()]
    assert {gpus for _, gpus in calls} == {"0.5"}
    names = [name for name, _ in calls]
    assert names.count("b.png") == 2 and all(names.count(n) == 1 for n in ("a.png", "c.png", "d.png"))
    assert result.exit_code == 1 and [s.name for s in result.skipped] == []
    assert [(s.name, why) for s, why in result.failed] == [("b.png", ray_engine.died_reason(2))]
    assert f"failed: {src / 'b.png'}: its worker died 2 times while processing it" in result.summary()
    assert [s.name for s, _ in result.written] == ["a.png", "c.png", "d.png"]
    assert sorted(listing(tmp_path / "out")) == ["a.png", "c.png", "d.png"]  # no temporary file left
    for name in ("a.png", "c.png", "d.png"):
        assert np.array_equal(read_image(tmp_path / "out" / name), 255 - images[name])


def test_s3_ray_matches_local(cluster, s3_bucket, tmp_path, cached_pipelines):
    """Inputs and outputs in an S3 bucket (moto's server on 127.0.0.1): the workers, which
    get this process's AWS_* settings, write the same bytes as a local run of the local engine."""
    client, bucket = s3_bucket
    src = tmp_path / "in"
    write_image(src / "a.png", smooth(24, 32, seed=4))
    write_image(src / "sub" / "b.png", smooth(20, 24, seed=5))
    (src / "sub" / "broken.png").write_bytes(b"not a png")
    for p in sorted(src.rglob("*.png")):
        client.put_object(Bucket=bucket, Key=f"in/{p.relative_to(src).as_posix()}", Body=p.read_bytes())
    args = ("--sigma", "25", "--recursive", "--format", "jpg", "--quiet")
    code_local, text_local = invoke("denoise", src, tmp_path / "local", *args)
    code_ray, text_ray = invoke("denoise", f"s3://{bucket}/in", f"s3://{bucket}/out", *args, "--engine", "ray")
    assert code_local == code_ray == 1
    assert summary_line(text_local) == summary_line(text_ray) == "2 written, 0 skipped, 1 failed"
    assert f"failed: s3://{bucket}/in/sub/broken.png: " in text_ray
    listed = client.list_objects_v2(Bucket=bucket, Prefix="out/")["Contents"]
    out = {o["Key"][4:]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}
    assert out == listing(tmp_path / "local")  # no temporary object either
