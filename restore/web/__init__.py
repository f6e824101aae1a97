"""The local web app, ``restore serve``: every task in the browser, masks painted by hand.

An optional extra (``pip install 'restore[web]'``, which installs Gradio). ``import
restore.web`` does not import Gradio; :func:`serve` does. The work itself (limits, model
cache, output files) is in :mod:`restore.web.jobs`, which needs no web library.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from restore.web.jobs import DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_PIXELS, JobError

INSTALL_HINT = "the web app needs Gradio: pip install 'restore[web]'"


def serve(*, host: str = "127.0.0.1", port: int = 7860, device: str = "auto", max_pixels: int = DEFAULT_MAX_PIXELS,
          max_file_size: int = DEFAULT_MAX_FILE_SIZE, quiet: bool = False) -> None:
    """Start the web app on ``host:port`` and serve until interrupted.

    Args:
        host: address to bind; 127.0.0.1 (this computer only) unless told otherwise.
        port: TCP port.
        device: where the models run: ``auto``, ``cpu``, ``cuda`` or ``mps``.
        max_pixels: largest image (width x height) processed; larger uploads are refused.
        max_file_size: largest upload in bytes.
        quiet: no start-up banner.

    Raises:
        ImportError: Gradio is not installed (message: :data:`INSTALL_HINT`).
    """
    root = Path(tempfile.mkdtemp(prefix="restore-web-"))
    # Gradio reads its cache folder (uploads, files it serves) when imported: ours, in our folder.
    os.environ["GRADIO_TEMP_DIR"] = str(root / "uploads")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    from restore.web.app import serve as _serve
    from restore.web.jobs import Workspace
    _serve(host=host, port=port, device=device, max_pixels=max_pixels, max_file_size=max_file_size, quiet=quiet,
           workspace=Workspace(root / "results"))


__all__ = ["DEFAULT_MAX_FILE_SIZE", "DEFAULT_MAX_PIXELS", "INSTALL_HINT", "JobError", "serve"]
