"""The model zoo: every registered arch builds and runs; shipped weights match the manifest."""

import dataclasses
import json

import pytest
import torch

from restore.zoo import WeightsError, build_model, get_spec, list_models, load_model
from restore.zoo.paths import weights_dir
from restore.zoo.registry import read_manifest, save_weights, sha256_file


def small_kwargs(spec):
    """Tiny widths so every arch runs in milliseconds on CPU."""
    kw = dict(spec.arch_kwargs)
    if "width" in kw:
        kw["width"] = 8
    return kw


@pytest.mark.parametrize("name", list_models())
def test_forward_small(name):
    spec = get_spec(name)
    net = build_model(spec, **small_kwargs(spec)).eval()
    if spec.task == "inpaint":  # fixed-size windows: masked image + mask -> G(E(...))
        s = spec.arch_kwargs["size"]
        with torch.no_grad():
            y = net(torch.rand(2, 3, s, s), (torch.rand(2, 1, s, s) > 0.7).float())
        assert y.shape == (2, 3, s, s) and 0 <= y.min() and y.max() <= 1
        return
    m = spec.multiple_of
    x = torch.rand(2, spec.in_channels, 4 * m, 3 * m)
    extra = (torch.full((2, 1, 1, 1), 25 / 255),) if spec.task == "denoise" else ()
    with torch.no_grad():
        y = net(x, *extra)
    if spec.task == "colorize":  # logits over the chroma bins, at half resolution
        assert y.shape == (2, spec.arch_kwargs["bins"], 2 * m, 3 * m // 2)
        assert net.decode(y).shape == (2, 2, 2 * m, 3 * m // 2)
    else:
        assert y.shape == (2, spec.out_channels, 4 * m * spec.scale, 3 * m * spec.scale)
    assert y.dtype == torch.float32 and torch.isfinite(y).all()


def test_every_task_default_is_registered():
    from restore.zoo import default_model
    assert default_model("denoise") in list_models("denoise")
    assert default_model("upscale") in list_models("upscale")
    assert default_model("unwatermark") in list_models("unwatermark")
    assert default_model("colorize") in list_models("colorize")


@pytest.mark.parametrize("name", sorted(read_manifest()))
def test_manifest_entry_file_and_sha256(name):
    entry = read_manifest()[name]
    path = weights_dir() / entry["file"]
    assert path.exists(), f"{path} listed in the manifest is missing"
    assert sha256_file(path) == entry["sha256"]
    assert path.stat().st_size == entry["bytes"]
    assert path.stat().st_size < 50 * 2**20, "weights files stay small (tens of MB at most)"


@pytest.mark.parametrize("name", list_models())
def test_registered_model_has_weights_and_loads(name):
    net, spec = load_model(name, device="cpu")
    assert not net.training and all(not p.requires_grad for p in net.parameters())


def _spec_with(tmp_path, monkeypatch, net, sha):
    spec = get_spec("dae-s")
    monkeypatch.setenv("RESTORE_WEIGHTS", str(tmp_path))
    return dataclasses.replace(spec, sha256=sha, arch_kwargs={**spec.arch_kwargs, "width": 8})


def test_save_load_round_trip(tmp_path, monkeypatch):
    spec = get_spec("dae-s")
    net = build_model(spec, width=8)
    path = save_weights(net, tmp_path / spec.weights, metadata={"config": json.dumps({"a": 1})})
    spec2 = _spec_with(tmp_path, monkeypatch, net, sha256_file(path))
    loaded, _ = load_model(spec2, device="cpu")
    for (k, a), (k2, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)


def test_sha256_mismatch_is_a_clear_error(tmp_path, monkeypatch):
    spec = get_spec("dae-s")
    net = build_model(spec, width=8)
    save_weights(net, tmp_path / spec.weights)
    spec2 = _spec_with(tmp_path, monkeypatch, net, "0" * 64)
    with pytest.raises(WeightsError, match="sha256 mismatch.*dae-s.safetensors"):
        load_model(spec2, device="cpu")


def test_missing_weights_is_a_clear_error(tmp_path, monkeypatch):
    spec2 = _spec_with(tmp_path, monkeypatch, None, "0" * 64)
    with pytest.raises(WeightsError, match="not found.*dae-s.safetensors"):
        load_model(spec2, device="cpu")


def test_unknown_model_and_device():
    from restore.zoo import resolve_device
    with pytest.raises(KeyError, match="unknown model"):
        get_spec("no-such-model")
    with pytest.raises(ValueError):
        resolve_device("tpu")
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    assert resolve_device("cpu") == torch.device("cpu")


def test_publish_weights_in_half_precision_loads_back(tmp_path, monkeypatch):
    from safetensors.torch import load_file

    from restore.zoo.manifest import publish_weights
    spec = get_spec("colorize-s")
    kw = {**spec.arch_kwargs, "width": 4, "levels": 2}
    net = build_model(spec, **kw)
    src = save_weights(net, tmp_path / "src" / "c.safetensors")
    monkeypatch.setenv("RESTORE_WEIGHTS", str(tmp_path / "w"))
    (tmp_path / "w").mkdir()
    entry = publish_weights("colorize-s", str(src), half=True)
    stored = load_file(str(tmp_path / "w" / spec.weights))
    assert all(v.dtype == torch.float16 for v in stored.values())
    assert entry["bytes"] < src.stat().st_size
    loaded, _ = load_model(dataclasses.replace(spec, arch_kwargs=kw, sha256=entry["sha256"]), device="cpu")
    for (k, a), (_, b) in zip(net.state_dict().items(), loaded.state_dict().items()):
        assert b.dtype == torch.float32 and torch.allclose(a, b, atol=1e-3, rtol=1e-3), k
