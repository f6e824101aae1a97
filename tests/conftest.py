"""Shared fixtures: the repo root on sys.path (for ``import cli``), the shared data folder,
and one cached denoise pipeline for the CLI tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from helpers import SHARED_DATA as DATA  # noqa: E402
from helpers import require_fonts  # noqa: E402

# The tests run tiny images, where intra-op threads buy nothing and only compete with
# whatever else the machine runs (2 cores in CI).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; skips the test when it is absent."""
    if not DATA.is_dir():
        pytest.skip(f"shared data not found at {DATA} (see ../shared/data/README.md)")
    return DATA


@pytest.fixture(scope="session")
def cbsd68(shared_data: Path) -> Path:
    """The CBSD68 benchmark folder; skips the test when it is absent."""
    path = shared_data / "bench" / "denoise" / "CBSD68"
    if not path.is_dir() or not any(path.glob("*.png")):
        pytest.skip(f"benchmark images not found at {path} (see ../shared/data/README.md)")
    return path


@pytest.fixture(scope="session")
def cached_pipelines():
    """Make ``restore.load_pipeline`` load each (task, model, device, options) once per
    session: the CLI loads its model on every invocation (checksum + build, ~2 s), which
    would dominate the CLI tests. Behaviour is unchanged, the same object is reused; a
    load that fails is not cached, and the key includes the weights folder."""
    import restore
    from restore.zoo.paths import weights_dir

    real = restore.load_pipeline
    cache: dict = {}

    def load_pipeline(task, model=None, device="auto", **kwargs):
        # the weights folder too: a test pointing RESTORE_WEIGHTS at broken weights must load them;
        # and RESTORE_PRECISION, which sets what precision="auto" loads
        key = (task, model, device, str(weights_dir()), os.environ.get("RESTORE_PRECISION", ""),
               tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = real(task, model=model, device=device, **kwargs)
        return cache[key]

    mp = pytest.MonkeyPatch()
    mp.setattr(restore, "load_pipeline", load_pipeline)
    yield cache
    mp.undo()


@pytest.fixture(scope="module")
def tiny_bank():
    """A watermark bank of two synthetic logos and one font: no shared data needed."""
    from restore.io import find_fonts
    from restore.ops.degrade import WatermarkBank, logo_alpha

    require_fonts()
    square = np.zeros((40, 40, 4), np.float32)
    square[8:32, 8:32] = (1.0, 0.2, 0.2, 1.0)
    ring = np.ones((30, 60, 3), np.float32)             # no alpha: white background keyed out
    ring[10:20, 10:50] = 0.0
    return WatermarkBank((square, logo_alpha((ring * 255).astype(np.uint8))), (find_fonts()[0].read_bytes(),))


@pytest.fixture(scope="session")
def s3_endpoint():
    """An S3 service on 127.0.0.1 (moto's server, in a thread): its ``http://HOST:PORT``.
    Skips the test when moto (the ``test`` extra) is not installed."""
    moto_server = pytest.importorskip("moto.server")
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch, request):
    """A fresh bucket on :func:`s3_endpoint`, with the ``AWS_*`` environment pointing at it:
    ``(boto3 client, bucket name)``."""
    boto3 = pytest.importorskip("boto3")
    env = dict(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
               AWS_ENDPOINT_URL=s3_endpoint, AWS_EC2_METADATA_DISABLED="true")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(key, raising=False)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    name = "t-" + "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:50].strip("-")
    client.create_bucket(Bucket=name)
    return client, name
