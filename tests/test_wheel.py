"""Packaging: the wheel carries the weights, and an installed wheel runs without the checkout.

The end-to-end test builds the wheel from a copy of the repository (so no ``build/`` or
``*.egg-info`` is left in the checkout), installs it with ``--no-deps`` into a fresh venv
made with ``--system-site-packages`` (torch and the other dependencies come from the test
environment instead of minutes of installing), and runs the ``restore`` console script of
that venv from a folder outside the checkout, with ``RESTORE_WEIGHTS`` unset. It asserts
that the venv's copy of ``restore`` and ``cli`` is the one imported (the checkout's editable
install also sits in the system site-packages). About 15-25 s on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restore.zoo import list_models
from restore.zoo.paths import weights_dir
from restore.zoo.registry import read_manifest

REPO = Path(__file__).resolve().parents[1]
#: What a wheel is built from (pyproject.toml's readme, license-files, py-modules, packages).
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "cli.py", "restore", "weights"]


def _pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_pyproject_lists_every_package_and_maps_the_weights():
    tool = _pyproject()["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "restore").rglob("__init__.py")}
    listed = set(tool["packages"])
    missing = sorted(on_disk - listed)
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"
    assert listed - on_disk == {"restore.weights"}
    assert tool["package-dir"] == {"restore.weights": "weights"}


def _tree(tmp_path: Path, packaged: bool, checkout: bool) -> Path:
    """A fake install: tmp/restore (the package) beside tmp/weights (a checkout's folder)."""
    pkg = tmp_path / "restore"
    for folder, present in ((pkg / "weights", packaged), (tmp_path / "weights", checkout)):
        if present:
            folder.mkdir(parents=True)
            (folder / "manifest.json").write_text("{}")
    pkg.mkdir(exist_ok=True)
    return pkg


@pytest.mark.parametrize("packaged, checkout, expected", [
    (True, True, "restore/weights"),    # an installed wheel: its package data
    (False, True, "weights"),           # a checkout (plain or editable)
    (False, False, "restore/weights"),  # nothing: the error names the install location
])
def test_weights_dir_order(tmp_path, monkeypatch, packaged, checkout, expected):
    monkeypatch.delenv("RESTORE_WEIGHTS", raising=False)
    monkeypatch.setattr("restore.zoo.paths._PACKAGE", _tree(tmp_path, packaged, checkout))
    assert weights_dir() == tmp_path / expected


def test_restore_weights_overrides_both(tmp_path, monkeypatch):
    monkeypatch.setattr("restore.zoo.paths._PACKAGE", _tree(tmp_path, True, True))
    monkeypatch.setenv("RESTORE_WEIGHTS", str(tmp_path / "mine"))
    assert weights_dir() == tmp_path / "mine"
    monkeypatch.setenv("RESTORE_WEIGHTS", "")  # empty counts as unset
    assert weights_dir() == tmp_path / "restore" / "weights"


def test_this_checkout_uses_its_weights_folder(monkeypatch):
    monkeypatch.delenv("RESTORE_WEIGHTS", raising=False)
    assert weights_dir() == REPO / "weights"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the repository's sources."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    dist = tmp / "dist"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--no-index", "-q", "-w", str(dist), str(src)],
                          capture_output=True, text=True, env=_clean_env())
    assert proc.returncode == 0, (f"pip wheel failed (the test extra needs setuptools>=77: "
                                  f"pip install -e '.[test]'):\n{proc.stdout}\n{proc.stderr}")
    (whl,) = dist.glob("restore-*.whl")
    return whl


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RESTORE_WEIGHTS", "PYTHONPATH")}
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def test_wheel_holds_every_manifest_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    manifest = read_manifest()
    expected = {f"restore/weights/{e['file']}" for e in manifest.values()} | {"restore/weights/manifest.json"}
    assert manifest and expected <= names, sorted(expected - names)
    assert "cli.py" in names and "restore/zoo/paths.py" in names
    assert not any(n.startswith(("weights/", "tests/")) for n in names)


def _noisy_pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A clean 64x64 RGB picture (gradients and discs) and it with AWGN sigma 25, uint8."""
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32)
    clean = np.stack([60 + 2 * xx, 200 - 2 * yy, 90 + xx + yy], axis=-1)
    for cy, cx, r, color in ((20, 22, 12, (230, 40, 40)), (44, 40, 14, (30, 60, 200))):
        clean[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = color
    clean = np.clip(clean, 0, 255).round().astype(np.uint8)
    noise = np.random.default_rng(seed).normal(0, 25, clean.shape)
    return clean, np.clip(clean + noise, 0, 255).round().astype(np.uint8)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0 ** 2 / np.mean((a.astype(np.float64) - b) ** 2)))


def test_installed_wheel_runs_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    # the test environment's pip installs into the venv; --ignore-installed leaves the
    # checkout's editable install in the system site-packages alone
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                           "--no-index", "--ignore-installed", "-q", str(wheel)],
                          capture_output=True, text=True, env=_clean_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    work = tmp_path / "work"  # cwd outside the checkout, RESTORE_WEIGHTS unset
    work.mkdir()

    def run(*args: str, **env: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(args, cwd=work, capture_output=True, text=True, env=_clean_env(**env))
        assert proc.returncode == 0, f"{args} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc

    where = ("import json, cli, restore; from restore.zoo.paths import weights_dir; "
             "print(json.dumps([restore.__file__, cli.__file__, str(weights_dir())]))")
    files = [Path(p).resolve() for p in json.loads(run(str(python), "-c", where).stdout)]
    for path in files:
        assert path.is_relative_to(venv.resolve()) and not path.is_relative_to(REPO), files
    assert files[2].parts[-2:] == ("restore", "weights") and (files[2] / "manifest.json").is_file()
    mine = tmp_path / "my-weights"
    assert json.loads(run(str(python), "-c", where, RESTORE_WEIGHTS=str(mine)).stdout)[2] == str(mine)

    table = run(str(bindir / "restore"), "models").stdout
    assert "missing" not in table, table
    for name in list_models():
        (row,) = [line for line in table.splitlines() if line.startswith(f"| {name} ")]
        assert " MiB |" in row, row

    clean, noisy = _noisy_pair()
    (work / "in").mkdir()
    Image.fromarray(noisy).save(work / "in" / "noisy.png")
    run(str(bindir / "restore"), "denoise", "in", "out", "--sigma", "25", "--quiet")
    out = np.asarray(Image.open(work / "out" / "noisy.png"))
    assert out.shape == noisy.shape and out.dtype == np.uint8
    assert _psnr(clean, out) > _psnr(clean, noisy) + 6, (_psnr(clean, out), _psnr(clean, noisy))
