"""Inference precision: bf16 autocast on the CPU, its detection, and the ``precision`` option."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from restore import load_pipeline
from restore.zoo import accel
from restore.zoo.registry import get_spec


def _image(h: int = 64, w: int = 80, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, w)[None, :, None] * np.ones((h, 1, 3))
    return np.clip(base + rng.normal(0, 25, (h, w, 3)), 0, 255).astype(np.uint8)


def _conv_dtypes(pipe) -> list[torch.dtype]:
    """Record the output dtype of every convolution of ``pipe.model`` during one call."""
    seen: list[torch.dtype] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
             for m in pipe.model.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        pipe(_image(), sigma=25)
    finally:
        for h in hooks:
            h.remove()
    return seen


def test_bf16_output_close_to_fp32():
    img = _image()
    p32 = load_pipeline("denoise", "dae-s", device="cpu", precision="fp32")
    p16 = load_pipeline("denoise", "dae-s", device="cpu", precision="bf16")
    assert (p32.precision, p16.precision) == ("fp32", "bf16")
    assert set(_conv_dtypes(p16)) == {torch.bfloat16}, "bf16 must really run the convolutions in bf16"
    assert set(_conv_dtypes(p32)) == {torch.float32}
    a = p32(img, sigma=25).astype(np.int16)
    b = p16(img, sigma=25)
    assert b.dtype == np.uint8 and b.shape == img.shape
    diff = np.abs(a - b.astype(np.int16))
    # measured: at most a few levels in 255, mean well under one level
    assert diff.max() <= 8 and diff.mean() < 0.5, (diff.max(), diff.mean())
    assert np.abs(a - img.astype(np.int16)).mean() > 5 * diff.mean(), "the network must do something"


def test_auto_falls_back_to_fp32_without_native_bf16(monkeypatch):
    monkeypatch.delenv(accel.ENV_VAR, raising=False)
    spec = dataclasses.replace(get_spec("dae-s"), supports_bf16=True)
    cpu = torch.device("cpu")
    monkeypatch.setattr(accel, "cpu_features", lambda: frozenset())
    assert not accel.cpu_prefers_bf16()
    assert accel.resolve_precision("auto", cpu, True) == "fp32"
    assert load_pipeline("denoise", spec, device="cpu").precision == "fp32"
    # forced bf16 still runs (emulated) where the CPU lacks it
    assert accel.resolve_precision("bf16", cpu, True) == "bf16"
    monkeypatch.setattr(accel, "cpu_features", lambda: frozenset({"amx_bf16", "avx512_bf16"}))
    if torch.backends.mkldnn.is_available():
        assert accel.resolve_precision("auto", cpu, True) == "bf16"
        assert load_pipeline("denoise", spec, device="cpu").precision == "bf16"
    # a model whose spec opts out stays fp32 under auto, whatever the CPU
    assert accel.resolve_precision("auto", cpu, False) == "fp32"
    assert load_pipeline("denoise", dataclasses.replace(spec, supports_bf16=False), device="cpu").precision == "fp32"


def test_precision_option_and_environment(monkeypatch):
    monkeypatch.delenv(accel.ENV_VAR, raising=False)
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16"):
        load_pipeline("denoise", device="cpu", precision="fp16")
    monkeypatch.setenv(accel.ENV_VAR, "fp32")
    monkeypatch.setattr(accel, "cpu_features", lambda: frozenset({"amx_bf16"}))
    spec = dataclasses.replace(get_spec("dae-s"), supports_bf16=True)
    assert load_pipeline("denoise", spec, device="cpu").precision == "fp32"
    assert load_pipeline("denoise", spec, device="cpu", precision="bf16").precision == "bf16"  # explicit wins
    monkeypatch.setenv(accel.ENV_VAR, "bf16")
    assert load_pipeline("upscale", device="cpu").precision == "bf16"
    monkeypatch.setenv(accel.ENV_VAR, "half")
    with pytest.raises(ValueError, match=accel.ENV_VAR):
        load_pipeline("denoise", device="cpu")


def test_cpu_features_from_proc_cpuinfo(monkeypatch, tmp_path):
    accel.cpu_features.cache_clear()
    monkeypatch.setattr(torch._C, "_cpu", None, raising=False)  # no PyTorch probe: read /proc/cpuinfo
    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_tile\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda p, *a, **k: real_open(fake if p == "/proc/cpuinfo" else p, *a, **k))
    try:
        assert accel.cpu_features() == frozenset({"avx512_bf16"})
    finally:
        accel.cpu_features.cache_clear()



def test_cli_precision_option(tmp_path):
    from typer.testing import CliRunner

    import cli
    from restore.io import write_image

    src = tmp_path / "in.png"
    write_image(src, _image(32, 40))
    runner = CliRunner()
    bad = runner.invoke(cli.app, ["denoise", str(src), str(tmp_path / "out"), "--precision", "half", "--quiet"])
    assert bad.exit_code == 2 and "precision must be one of auto, fp32, bf16" in bad.output
    assert not (tmp_path / "out" / "in.png").exists()
    ok = runner.invoke(cli.app, ["denoise", str(src), str(tmp_path / "out"), "--precision", "fp32", "--quiet"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "out" / "in.png").is_file()
