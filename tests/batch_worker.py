"""A folder run in a child process, for tests/test_runs.py: ``restore denoise ARGS`` through
the real CLI and folder runner, with a fake, fast pipeline in place of the model.

    python tests/batch_worker.py IN OUT [--skip-existing | --overwrite] [--quiet]

Environment:
    FAKE_VARIANT   which of the two stand-in results to write (0 or 1, see :func:`expected`).
    FAKE_DELAY     seconds each image takes (default 0).
    FAKE_GO        wait until this file exists before the run (two runs start together),
                   after writing FAKE_READY (when given) to say it waits.
    FAKE_HANG_AT   the n-th output file's fsync (1-based) never returns: the process hangs
                   with that output's temporary file half-published, to be killed there;
                   FAKE_MARKER is written when it does.
"""

from __future__ import annotations

import os
import signal
import stat
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def expected(image: np.ndarray, variant: int) -> np.ndarray:
    """The stand-in result of ``image`` (H x W x C uint8): inverted (0) or halved + 10 (1)."""
    return 255 - image if variant == 0 else image // 2 + 10


class FakePipeline:
    """Quacks like a task pipeline for the CLI: ``resolve_options`` and ``__call__``."""

    def __init__(self, variant: int = 0, delay: float = 0.0):
        self.variant, self.delay = variant, delay

    def resolve_options(self, **options) -> dict:
        return {}

    def __call__(self, image: np.ndarray, **options) -> np.ndarray:
        time.sleep(self.delay)
        return expected(image, self.variant)


def _hang_at(n: int, marker: Path) -> None:
    real, count = os.fsync, [0]

    def fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            count[0] += 1
            if count[0] == n:
                marker.write_text("writing")
                time.sleep(600)
        real(fd)

    os.fsync = fsync


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(REPO))
    import restore

    import cli

    # a child started in the background may inherit SIGINT ignored; a terminal's is not
    signal.signal(signal.SIGINT, signal.default_int_handler)
    pipe = FakePipeline(int(os.environ.get("FAKE_VARIANT", "0")), float(os.environ.get("FAKE_DELAY", "0")))
    restore.load_pipeline = lambda task, **kwargs: pipe
    if os.environ.get("FAKE_HANG_AT"):
        _hang_at(int(os.environ["FAKE_HANG_AT"]), Path(os.environ["FAKE_MARKER"]))
    go = os.environ.get("FAKE_GO")
    if os.environ.get("FAKE_READY"):
        Path(os.environ["FAKE_READY"]).touch()
    while go and not Path(go).exists():
        time.sleep(0.002)
    cli.app(["denoise", *argv], prog_name="restore")


if __name__ == "__main__":
    main(sys.argv[1:])
