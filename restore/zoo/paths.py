"""Where the shipped weights are: one function, :func:`weights_dir`.

The weights (``*.safetensors``, their ``*.json`` sidecars and ``manifest.json``) live in the
repository's top-level ``weights/`` folder. A wheel built from the repository carries that
folder as package data, installed as ``restore/weights/`` beside the code
(``[tool.setuptools.package-dir]`` maps the package ``restore.weights`` to ``weights/`` in
pyproject.toml). This module imports nothing from ``restore``, so any module may use it.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming a weights folder; it overrides the shipped one.
ENV_VAR = "RESTORE_WEIGHTS"
#: The file that marks a weights folder (the record of its files and figures).
MANIFEST = "manifest.json"

_PACKAGE = Path(__file__).resolve().parents[1]  # .../restore


def weights_dir() -> Path:
    """The folder that holds the zoo's weights files and ``manifest.json``.

    Looked up at every call, in this order:

    1. ``$RESTORE_WEIGHTS``, when set and not empty (``~`` expanded), whether or not it
       exists yet: a folder you choose, e.g. for weights kept outside the install;
    2. ``restore/weights/`` inside the installed package, when it holds ``manifest.json``
       (an installed wheel: ``pip install .``);
    3. the checkout's top-level ``weights/`` beside the ``restore/`` package, when it holds
       ``manifest.json`` (plain source tree or ``pip install -e .``).

    When neither 2 nor 3 exists, returns the package location (2), so that a missing-file
    error names where an install should have put the weights.

    Returns:
        An absolute path (not checked for existence in case 1).
    """
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser().absolute()
    packaged = _PACKAGE / "weights"
    if (packaged / MANIFEST).is_file():
        return packaged
    checkout = _PACKAGE.parent / "weights"
    if (checkout / MANIFEST).is_file():
        return checkout
    return packaged
