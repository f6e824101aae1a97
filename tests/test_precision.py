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


def test_auto_bf16_by_vendor(monkeypatch):
    """avx512_bf16 without AMX counts on AMD (measured faster there), not on Intel (measured slower)."""
    if not torch.backends.mkldnn.is_available():
        pytest.skip("no oneDNN in this PyTorch")
    monkeypatch.setattr(accel, "cpu_features", lambda: frozenset({"avx512_bf16"}))
    monkeypatch.setattr(accel, "cpu_vendor", lambda: "AuthenticAMD")
    assert accel.cpu_prefers_bf16()
    monkeypatch.setattr(accel, "cpu_vendor", lambda: "GenuineIntel")
    assert not accel.cpu_prefers_bf16()
    monkeypatch.setattr(accel, "cpu_features", lambda: frozenset({"amx_bf16", "avx512_bf16"}))
    assert accel.cpu_prefers_bf16()
    monkeypatch.setattr(accel, "cpu_vendor", lambda: "")
    assert accel.cpu_prefers_bf16()


def test_cpu_vendor_from_proc_cpuinfo(monkeypatch, tmp_path):
    accel.cpu_vendor.cache_clear()
    fake = tmp_path / "cpuinfo"
    fake.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx512_bf16\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda p, *a, **k: real_open(fake if p == "/proc/cpuinfo" else p, *a, **k))
    try:
        assert accel.cpu_vendor() == "AuthenticAMD"
    finally:
        accel.cpu_vendor.cache_clear()


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


def _conv_dtypes_by_name(model: torch.nn.Module, run) -> dict[str, set[torch.dtype]]:
    """The dtypes each named convolution of ``model`` computes in during ``run()``: the input
    dtype of the ATen convolution it calls, after autocast has cast it (the module's own input
    or output dtype would not tell: a kept module casts both)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    seen: dict[str, set[torch.dtype]] = {}
    current: list[str] = []
    convs = (torch.ops.aten.conv2d, torch.ops.aten.convolution, torch.ops.aten.conv_transpose2d)

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.overloadpacket in convs and current:
                seen.setdefault(current[-1], set()).add(args[0].dtype)
            return func(*args, **(kwargs or {}))

    hooks = [m.register_forward_pre_hook(lambda _m, _i, n=n: current.append(n))
             for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    try:
        with Record():
            run()
    finally:
        for h in hooks:
            h.remove()
    return seen


def test_keep_float32_runs_named_modules_in_fp32():
    from restore.zoo.archs.unet import WatermarkUNet

    torch.manual_seed(0)
    net = WatermarkUNet(width=8, levels=3).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        ref = net(x)
    accel.keep_float32(net, ("head", "enc.0", "dec.1", "tail"))
    accel.keep_float32(net, ("head",))  # a second call changes nothing
    with torch.inference_mode():
        assert torch.equal(net(x), ref), "outside autocast the network must be unchanged"

    def run():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return net(x)

    seen = _conv_dtypes_by_name(net, run)
    kept = {n for n in seen if n.split(".")[0] in ("head", "tail") or n.startswith(("enc.0.", "dec.1."))}
    # a kept module hands its output on in bf16, so what follows it runs as without keep_float32
    out_dtypes = {}

    def record(name):
        def hook(module, args, output):
            out_dtypes[name] = output.dtype
        return hook

    hooks = [net.get_submodule(n).register_forward_hook(record(n)) for n in ("head", "enc.0")]
    run()
    for h in hooks:
        h.remove()
    assert out_dtypes == {"head": torch.bfloat16, "enc.0": torch.bfloat16}
    assert kept >= {"head", "tail", "enc.0.0.conv1", "dec.1.0.conv2"}
    assert all(seen[n] == {torch.float32} for n in kept), {n: seen[n] for n in kept}
    assert all(seen[n] == {torch.bfloat16} for n in set(seen) - kept), "the rest must run in bf16"
    assert run().dtype == torch.float32
    with pytest.raises(AttributeError):
        accel.keep_float32(net, ("no_such_layer",))


def test_unwatermark_bf16_keeps_its_head_conv_fp32(monkeypatch):
    monkeypatch.delenv(accel.ENV_VAR, raising=False)
    spec = get_spec("unwatermark-s")
    assert spec.supports_bf16 and spec.fp32_modules
    p16 = load_pipeline("unwatermark", device="cpu", precision="bf16")
    img = _image(48, 64)
    seen = _conv_dtypes_by_name(p16.model, lambda: p16(img, tta=False))
    kept = {n for n in seen if any(n == k or n.startswith(k + ".") for k in spec.fp32_modules)}
    assert kept and all(seen[n] == {torch.float32} for n in kept)
    assert {d for n in set(seen) - kept for d in seen[n]} == {torch.bfloat16}
    # the default denoiser and unwatermark model run bf16 under auto on a CPU with AMX
    monkeypatch.setattr(accel, "cpu_features", lambda: frozenset({"amx_bf16"}))
    if torch.backends.mkldnn.is_available():
        assert load_pipeline("denoise", device="cpu").precision == "bf16"
        assert load_pipeline("unwatermark", device="cpu").precision == "bf16"


def test_mirrored_pass_batches_same_size_boxes_with_the_same_numbers():
    from restore.pipelines.unwatermark import _same_shape_batches, confident_components, tta_boxes

    boxes = [(0, (0, 30, 0, 20)), (0, (40, 70, 0, 22)), (0, (0, 30, 50, 70)), (1, (0, 10, 0, 10))]
    # 30x20 and 30x22 both pad to 32x24 with multiple_of 8; the 10x10 box pads to 16x16
    assert _same_shape_batches(boxes, 8, 10_000) == [boxes[:3], boxes[3:]]
    assert _same_shape_batches(boxes, 8, 32 * 24 * 2) == [boxes[:2], boxes[2:3], boxes[3:]]
    assert _same_shape_batches(boxes, 8, 0) == [[b] for b in boxes]

    pipe = load_pipeline("unwatermark", device="cpu", precision="fp32")
    torch.manual_seed(0)
    x = torch.rand(1, 3, 128, 160)
    pred = pipe.run_model(x).clone()
    pred[:, 3:4] = -8.0
    for y0, x0 in ((24, 24), (24, 104), (88, 24), (88, 104)):  # four confident blobs of one size
        pred[:, 3:4, y0:y0 + 16, x0:x0 + 16] = 8.0
    out = pipe.tta_average(x, pred)
    # the reference: each box alone, as run_model runs it
    d = pipe.spec.settings
    keep = confident_components(torch.sigmoid(pred[:, 3:4]), d.mask_ramp[0], d.min_confidence)
    found = tta_boxes(keep[0, 0].numpy(), d.tta_margin)
    assert len(found) == 4 and len({(b[1] - b[0], b[3] - b[2]) for b in found}) == 1
    ref = pred.clone()
    for y0, y1, x0, x1 in found:
        mirrored = pipe.run_model(x[:, :, y0:y1, x0:x1].flip(-1)).flip(-1)
        ref[:, :, y0:y1, x0:x1] = (ref[:, :, y0:y1, x0:x1] + mirrored) / 2
    assert not torch.equal(out, pred), "the mirrored pass must change the boxes"
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
