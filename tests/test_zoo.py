"""The model zoo: every registered arch builds and runs; shipped weights match the manifest."""

import dataclasses
import json
import re

import pytest
import torch

from restore import TASKS
from restore.zoo import (WeightsError, build_model, default_model, get_spec, list_models, load_model, model_for_scale,
                         register_model)
from restore.zoo.paths import weights_dir
from restore.zoo.registry import read_manifest, save_weights, sha256_file

from helpers import BROKEN_WEIGHTS, break_weights


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


@pytest.mark.parametrize("task", TASKS)
def test_every_task_has_a_registered_default_of_that_task(task):
    name = default_model(task)
    assert name in list_models(task) and get_spec(name).task == task


def test_registering_a_name_twice_or_a_second_default_is_an_error(monkeypatch):
    from restore.zoo import registry
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_DEFAULTS", dict(registry._DEFAULTS))
    spec = get_spec("dae-s")
    with pytest.raises(ValueError, match="registered twice"):
        register_model(lambda: spec)
    other = dataclasses.replace(spec, name="dae-other")
    with pytest.raises(ValueError, match="default denoise model.*dae-real-s"):
        register_model(default=True)(lambda: other)
    assert "dae-other" not in list_models() and default_model("denoise") == "dae-real-s"
    register_model(lambda: other)                        # not the default: fine
    assert "dae-other" in list_models("denoise") and default_model("denoise") == "dae-real-s"


@pytest.mark.parametrize("name", list_models())
def test_spec_carries_the_settings_its_pipeline_reads(name):
    from restore import _pipeline_class
    spec = get_spec(name)
    cls = _pipeline_class(spec.task)
    assert cls.settings_type is None or isinstance(spec.settings, cls.settings_type)
    if spec.tiling and spec.task != "inpaint":
        assert spec.tile and spec.tile % spec.multiple_of == 0 and 0 <= spec.overlap < spec.tile
    pipe = cls(None, spec, torch.device("cpu"))         # the defaults, without loading weights
    assert (pipe.tile, pipe.overlap) == (spec.tile, spec.overlap)
    assert cls(None, spec, torch.device("cpu"), tile=0, overlap=5).tile is None
    if cls.settings_type is not None:
        with pytest.raises(ValueError, match=f"has no {cls.settings_type.__name__}"):
            cls(None, dataclasses.replace(spec, settings=None), torch.device("cpu"))


def test_tile_auto_takes_the_models_tile_and_settings_are_read_only():
    from restore.pipelines.base import tile_and_overlap
    spec = dataclasses.replace(get_spec("dae-s"), tile=100, overlap=10)
    assert tile_and_overlap(spec) == (100, 10)
    assert tile_and_overlap(spec, 0, 3) == (None, 3) and tile_and_overlap(spec, None) == (None, 10)
    for bad in (dict(tile=-1), dict(overlap=-1), dict(tile="big")):
        with pytest.raises(ValueError):
            tile_and_overlap(spec, **bad)
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_spec("unwatermark-s").settings.min_confidence = 0.5


def test_model_for_scale():
    assert model_for_scale("upscale", 4) == default_model("upscale") == "real-srgan-x4"
    assert model_for_scale("upscale", 2) == "real-srresnet-x2"          # the default's kind: real photos
    assert model_for_scale("upscale", 4, "srgan-x4") == "srgan-x4"
    assert model_for_scale("upscale", 2, "srresnet-x2") == "srresnet-x2"
    with pytest.raises(ValueError, match="no upscale model of scale 3; scales in the zoo: \\[2, 4\\]"):
        model_for_scale("upscale", 3)
    with pytest.raises(ValueError, match="srgan-x4 is x4, not x2"):
        model_for_scale("upscale", 2, "srgan-x4")
    with pytest.raises(ValueError, match="denoise model"):
        model_for_scale("upscale", 1, "dae-s")
    with pytest.raises(KeyError, match="unknown model"):
        model_for_scale("upscale", 4, "no-such-model")


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
    with pytest.raises(WeightsError, match="dae-s.safetensors: .*damaged.*sha256 does not match"):
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


# --- broken weights: one line naming the file and what to do ------------------------------------

@pytest.mark.parametrize("case", BROKEN_WEIGHTS)
def test_broken_weights_give_one_line_naming_the_file_and_the_remedy(tmp_path, monkeypatch, case):
    expect = break_weights(tmp_path / "w", case)
    monkeypatch.setenv("RESTORE_WEIGHTS", str(tmp_path / "w"))
    with pytest.raises(WeightsError) as info:
        load_model("dae-s", device="cpu")
    message = str(info.value)
    assert re.match(expect, message), message
    assert "\n" not in message and "RESTORE_WEIGHTS" in message      # what to do, where they come from
    if case != "bad-manifest":
        assert "restore train denoise --model dae-s" in message


def test_weights_remedy_names_how_the_weights_came(tmp_path, monkeypatch):
    from restore.zoo import paths
    from restore.zoo.registry import weights_remedy
    monkeypatch.delenv("RESTORE_WEIGHTS", raising=False)
    for kind, marker in (("checkout", ".git"), ("wheel", None)):
        package = tmp_path / kind / "restore"
        weights = (package / "weights") if marker is None else (package.parent / "weights")
        weights.mkdir(parents=True)
        (weights / "manifest.json").write_text("{}")
        if marker:
            (package.parent / marker).mkdir()
        monkeypatch.setattr(paths, "_PACKAGE", package)
        text = weights_remedy("x.safetensors")
        if kind == "checkout":
            assert text == f"restore the shipped file with `git checkout -- weights/x.safetensors` in {package.parent}"
        else:
            assert "reinstall restore" in text and "git" not in text


def test_arch_mismatch_is_counted_and_exemplified():
    from restore.zoo.registry import state_dict_mismatch
    a = {"x.weight": torch.zeros(4, 3), "y": torch.zeros(2)}
    assert state_dict_mismatch(a, dict(a)) == ""
    text = state_dict_mismatch(a, {"x.weight": torch.zeros(8, 3), "z": torch.zeros(1)})
    assert text == "1 tensor(s) missing, e.g. y; 1 unexpected, e.g. z; 1 of another shape, e.g. x.weight 8x3 instead of 4x3"


def test_model_for_sigma_keeps_a_given_model_and_avoids_a_blind_default_for_a_number(monkeypatch):
    from restore.zoo import registry
    from restore.zoo.registry import model_for_sigma
    assert model_for_sigma(25.0, "dae-real-s") == "dae-real-s"
    monkeypatch.setitem(registry._DEFAULTS, "denoise", "dae-real-s")
    assert model_for_sigma("auto") == "dae-real-s"
    assert model_for_sigma(25.0) == "dae-s"
    monkeypatch.setitem(registry._DEFAULTS, "denoise", "dae-s")
    assert model_for_sigma(25.0) == "dae-s" and model_for_sigma("auto") == "dae-s"
