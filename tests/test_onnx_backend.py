"""The optional ONNX Runtime backend (``backend="onnx"``): same outputs as the torch backend,
the export cached in the user cache folder, clear errors. The tests that run ONNX Runtime
skip when the ``onnx`` extra is not installed."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from restore import load_pipeline
from restore.zoo import onnx_backend


def _have_onnx() -> bool:
    try:
        onnx_backend.require_onnxruntime()
        return True
    except ImportError:
        return False


needs_onnx = pytest.mark.skipif(not _have_onnx(), reason="the onnx extra is not installed (pip install 'restore[onnx]')")


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    """A fresh cache folder for the module's exports (each model is exported once here)."""
    root = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(onnx_backend.CACHE_ENV, str(root))
        yield root / "onnx"


def _photo(shared_data, h: int, w: int) -> np.ndarray:
    """A held-out training photo's top-left crop, ``h x w x 3`` uint8."""
    from restore.io import read_image, to_rgb8
    path = sorted((shared_data / "train" / "imagenet-samples").glob("*.JPEG"))[7]
    img = to_rgb8(read_image(path))
    assert img.shape[0] >= h and img.shape[1] >= w
    return np.ascontiguousarray(img[:h, :w])


def _torch_forbidden(pipe) -> None:
    """Make ``pipe``'s torch network raise if called: what runs after this is ONNX Runtime."""
    def forward(*a, **k):
        raise AssertionError("the torch network ran under backend='onnx'")
    pipe.model.forward = forward


@needs_onnx
def test_denoise_onnx_equals_torch(shared_data, onnx_cache):
    from restore.ops.degrade import jpeg_roundtrip
    # odd size and a small tile: tiles and edge tiles of several sizes run on the one exported file
    noisy = jpeg_roundtrip(_photo(shared_data, 150, 203), 20).astype(np.float32) / 255
    ref = load_pipeline("denoise", "dae-real-s", device="cpu", precision="fp32", tile=96, overlap=16)
    ort = load_pipeline("denoise", "dae-real-s", device="cpu", backend="onnx", tile=96, overlap=16)
    assert (ort.backend, ort.precision) == ("onnx", "fp32")
    ort(noisy[:40, :40])  # exports (from the torch network)
    _torch_forbidden(ort)
    a, b = ref(noisy), ort(noisy)
    assert b.shape == a.shape == noisy.shape and b.dtype == np.float32
    assert np.abs(a - b).max() < 1e-3, np.abs(a - b).max()
    assert np.abs(a - noisy).mean() > 100 * np.abs(a - b).mean(), "the network must change the image"
    files = list(onnx_cache.glob("dae-real-s-c3-*.onnx"))
    assert len(files) == 1, files
    # batched tensor input (dynamic batch) and a whole image at once (no tiling)
    x = torch.from_numpy(noisy).permute(2, 0, 1)[None].repeat(2, 1, 1, 1)
    whole = load_pipeline("denoise", "dae-real-s", device="cpu", backend="onnx", tile=0)
    _torch_forbidden(whole)  # the file is cached: no export
    yb = whole(x)
    assert yb.shape == x.shape
    ya = load_pipeline("denoise", "dae-real-s", device="cpu", precision="fp32", tile=0)(x)
    assert (yb - ya).abs().max().item() < 1e-3


@needs_onnx
def test_unwatermark_onnx_equals_torch(shared_data, onnx_cache):
    from restore.ops.degrade import load_watermark_bank, synthesize_watermark
    photo = _photo(shared_data, 240, 320)
    bank = load_watermark_bank([shared_data / "train" / "logos", shared_data / "train" / "watermarks-real"], "val")
    marked, _, _ = synthesize_watermark(photo, np.random.default_rng(3), bank)
    marked = np.clip(marked, 0, 1).astype(np.float32)
    ref = load_pipeline("unwatermark", "unwatermark-s", device="cpu", precision="fp32", tile=128)
    ort = load_pipeline("unwatermark", "unwatermark-s", device="cpu", backend="onnx", tile=128)
    ort(marked[:32, :32])  # exports
    _torch_forbidden(ort)
    (a, ma), (b, mb) = ref(marked, return_mask=True), ort(marked, return_mask=True)
    assert (ma > 0).mean() > 0.005, "the mark must be found, else the comparison says nothing"
    assert np.abs(a - b).max() < 1e-3, np.abs(a - b).max()
    assert ((ma > 0) == (mb > 0)).mean() > 0.999
    assert len(list(onnx_cache.glob("unwatermark-s-c3-*.onnx"))) == 1


@needs_onnx
def test_export_is_cached(shared_data, onnx_cache, monkeypatch):
    pipe = load_pipeline("denoise", "dae-real-s", device="cpu", backend="onnx")
    img = _photo(shared_data, 64, 72)
    pipe(img)  # exported now or by the test above
    assert list(onnx_cache.glob("dae-real-s-c3-*.onnx"))

    def no_export(*a, **k):
        raise AssertionError("exported again although the file is cached")

    monkeypatch.setattr(onnx_backend, "export_onnx", no_export)
    again = load_pipeline("denoise", "dae-real-s", device="cpu", backend="onnx")
    np.testing.assert_array_equal(again(img), pipe(img))
    # other weights: another file name (the digest covers the weights)
    with torch.no_grad():
        again.model.tail.bias.add_(0.01)
    assert again.onnx_model.path(3, 1) != pipe.onnx_model.path(3, 1)


@needs_onnx
def test_cli_backend_onnx(shared_data, onnx_cache, tmp_path):
    import cv2
    from typer.testing import CliRunner

    import cli
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), _photo(shared_data, 64, 72)[..., ::-1])
    runner = CliRunner()
    for backend in ("torch", "onnx"):
        r = runner.invoke(cli.app, ["denoise", str(src), str(tmp_path / backend), "--backend", backend, "--quiet",
                                    "--device", "cpu"])
        assert r.exit_code == 0, r.output
    a = cv2.imread(str(tmp_path / "torch" / "a.png")).astype(int)
    b = cv2.imread(str(tmp_path / "onnx" / "a.png")).astype(int)
    assert np.abs(a - b).max() <= 1  # uint8 rounding of outputs within 1e-3


def test_backend_errors():
    with pytest.raises(ValueError, match="backend must be one of"):
        load_pipeline("denoise", "dae-real-s", device="cpu", backend="tensorrt")
    with pytest.raises(ValueError, match="not available for colorize"):
        load_pipeline("colorize", device="cpu", backend="onnx")
    with pytest.raises(ValueError, match="float32"):
        load_pipeline("denoise", "dae-real-s", device="cpu", backend="onnx", precision="bf16")


def test_missing_extra_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime raises ImportError
    with pytest.raises(ImportError, match=r"restore\[onnx\]"):
        load_pipeline("denoise", "dae-real-s", device="cpu", backend="onnx")


def test_cli_missing_extra(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import cli
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    src = tmp_path / "a.png"
    import cv2
    cv2.imwrite(str(src), np.zeros((16, 16, 3), np.uint8))
    r = CliRunner().invoke(cli.app, ["denoise", str(src), str(tmp_path / "out"), "--backend", "onnx", "--quiet"])
    assert r.exit_code == 1 and "restore[onnx]" in r.output, r.output
    r = CliRunner().invoke(cli.app, ["colorize", str(src), str(tmp_path / "out"), "--backend", "onnx"])
    assert r.exit_code == 2  # colorize has no --backend


@needs_onnx
def test_unwatermark_onnx_runs_the_jpeg_partner_on_jpeg_inputs(shared_data, onnx_cache):
    """On a JPEG-saved photo unwatermark-s runs unwatermark-jpeg-s's weights; under ONNX Runtime
    that is the partner's own exported network, not the first one with other weights."""
    from restore.ops.degrade import jpeg_roundtrip, load_watermark_bank, synthesize_watermark
    photo = _photo(shared_data, 240, 320)
    bank = load_watermark_bank([shared_data / "train" / "logos", shared_data / "train" / "watermarks-real"], "val")
    marked, _, _ = synthesize_watermark(photo, np.random.default_rng(5), bank)
    lossless = (np.clip(marked, 0, 1) * 255 + 0.5).astype(np.uint8)
    saved = jpeg_roundtrip(lossless, 85)
    ref = load_pipeline("unwatermark", "unwatermark-s", device="cpu", precision="fp32", tile=128)
    ort = load_pipeline("unwatermark", "unwatermark-s", device="cpu", backend="onnx", tile=128)
    assert ref.uses_jpeg_weights(saved) and not ref.uses_jpeg_weights(lossless)
    for image in (lossless, saved, lossless):
        a, b = ref(image, return_mask=True), ort(image, return_mask=True)
        # the same within rounding (a mask pixel at its threshold may flip, and Telea spreads it a little)
        assert (np.abs(a[0].astype(int) - b[0].astype(int)) <= 1).mean() > 0.999
        assert ((a[1] > 0) == (b[1] > 0)).mean() > 0.999
    assert len(list(onnx_cache.glob("unwatermark-jpeg-s-c3-*.onnx"))) == 1
    partner = load_pipeline("unwatermark", "unwatermark-jpeg-s", device="cpu", precision="fp32", tile=128)
    assert (np.abs(partner(saved).astype(int) - ort(saved).astype(int)) <= 1).mean() > 0.999
