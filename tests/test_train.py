"""Training: the engine (schedule, checkpoints, resume, init, time budget, sidecar), each
task's recipe on a tiny run whose weights load into its zoo spec, the recipes' data and
loss pieces, and the ``restore train`` command line."""

from __future__ import annotations

import dataclasses
import json
import shutil

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

import cli
from restore.io import write_image
from restore.metrics import batch_psnr
from restore.ops.color import ab_gamut_bins, lab_to_rgb, rgb_to_lab
from restore.ops.degrade import MASK_THRESHOLD, is_held_out
from restore.train import TASKS, recipe
from restore.train.checkpoint import load_checkpoint, save_checkpoint
from restore.train.data import random_crops
from restore.train.engine import Schedule, TrainConfig
from restore.zoo import build_model, default_model, get_spec, load_model
from restore.zoo.archs.unet import ColorizationUNet, WatermarkUNet
from restore.zoo.registry import sha256_file

from helpers import SHARED_DATA, real_image, require_data, require_fonts

LOGOS = SHARED_DATA / "train" / "logos"
BINS = ab_gamut_bins()
QUIET = dict(device="cpu", log=lambda s: None)


def invoke(*args) -> tuple[int, str]:
    """Run ``restore ARGS``; the exit code and everything printed."""
    result = CliRunner().invoke(cli.app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Three real photos, 256 px and more (the validation crop), one held out with n_val=1."""
    d = tmp_path_factory.mktemp("photos")
    for i in range(3):
        write_image(d / f"p{i}.png", real_image(256, 256 + 24 * i, index=20 + i))
    (d / "notes.txt").write_text("ignored")
    return d


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """Small images with a few names that the inpainting split holds out."""
    d = tmp_path_factory.mktemp("faces")
    k = held = 0
    while held < 2 or k < 6:
        name = f"face{k}.png"
        held += is_held_out(name, "image")
        write_image(d / name, real_image(72, 72, index=k % 20))
        k += 1
    return d


@pytest.fixture(scope="module")
def logos(tmp_path_factory):
    """15 logos of the shared data, 3 of them held out."""
    require_fonts()
    d = tmp_path_factory.mktemp("logos")
    for p in sorted(require_data(LOGOS).glob("*.png"))[:15]:
        shutil.copy(p, d / p.name)
    return d


def _options(task: str, photos, faces, logos) -> dict:
    """Tiny-run options of each task (2 steps, one validation)."""
    base = dict(data=photos, steps=2, val_every=2, batch=2, **QUIET)
    return {
        "denoise": dict(base, patch=32, n_val=1),
        "upscale": dict(base, patch=8, n_val=1),
        "unwatermark": dict(base, logos=logos, patch=64, n_val=1, val_zooms=(1.0,)),
        "colorize": dict(base, patch=32, render_size=64, n_val=1),
        "inpaint": dict(base, data=faces, kind="faces", model="gan-faces-64", batch=4, n_val=2),
    }[task]


def _loads_into_spec(path, name: str) -> torch.nn.Module:
    """The weights file loaded as the zoo loads ``name``'s (sha256 checked, strict)."""
    spec = dataclasses.replace(get_spec(name), weights=str(path.resolve()), sha256=sha256_file(path))
    net, _ = load_model(spec, device="cpu")
    return net


# --- the engine ----------------------------------------------------------------------------

@pytest.mark.parametrize("task", TASKS)
def test_tiny_run_writes_weights_that_load_into_the_zoo_spec(task, photos, faces, request, tmp_path):
    logos = request.getfixturevalue("logos") if task == "unwatermark" else None
    out = tmp_path / "w" / "tiny.safetensors"
    options = _options(task, photos, faces, logos)
    side = recipe(task).run(out=out, **options)
    assert side["steps_done"] == 2 and [h["step"] for h in side["history"]] == [2]
    name = options.get("model") or default_model(task)
    assert side["model"] == name and side["task"] == task and side["arch_kwargs"] == get_spec(name).arch_kwargs
    assert json.loads(out.with_suffix(".json").read_text())["validation"] == side["validation"]
    assert json.loads(_metadata(out)["config"])["model"] == name
    _loads_into_spec(out, name)
    assert out.with_name("tiny.ckpt.safetensors").exists()


def _metadata(path) -> dict:
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as f:
        return f.metadata()


def test_every_config_field_is_a_cli_option_with_the_same_default():
    import typer
    group = typer.main.get_command(cli.app)
    import click
    ctx = click.Context(group)
    train_group = group.get_command(ctx, "train")
    assert sorted(train_group.list_commands(ctx)) == sorted(TASKS)
    for task in TASKS:
        command = train_group.get_command(ctx, task)
        params = {p.name: p for p in command.params}
        for f in dataclasses.fields(recipe(task).Config):
            p = params[f.name]
            assert p.help and f.metadata["help"] == p.help
            if f.default is dataclasses.MISSING:
                assert p.required
            else:
                default = list(f.default) if isinstance(f.default, tuple) else f.default
                assert p.default == default, (task, f.name)
    assert "--width" not in {o for p in params.values() for o in p.opts}     # the arch comes from the spec


def test_denoise_defaults_are_those_dae_s_was_trained_with_where_they_had_disagreed():
    from restore.train.denoise import DenoiseConfig
    assert DenoiseConfig(data="x", out="x.safetensors").lr == 8e-4
    from restore.train.inpaint import InpaintConfig          # the default model is gan-photos-64
    assert InpaintConfig(data="x", out="x.safetensors").kind == "patches"


def test_resume_continues_from_the_checkpoint(photos, tmp_path):
    from restore.train.denoise import train_denoise
    kw = dict(data=photos, out=tmp_path / "d.safetensors", batch=2, patch=32, n_val=1, val_every=2, **QUIET)
    first = train_denoise(steps=2, **kw)
    weights = load_file(str(tmp_path / "d.safetensors"))
    again = train_denoise(steps=2, resume=True, **kw)      # nothing left to do: the checkpoint's weights
    assert again["steps_done"] == 2 and again["history"] == first["history"]
    assert all(torch.equal(v, load_file(str(tmp_path / "d.safetensors"))[k]) for k, v in weights.items())
    more = train_denoise(steps=4, resume=True, **kw)
    assert more["steps_done"] == 4 and [h["step"] for h in more["history"]] == [2, 4]
    assert more["seconds"] >= first["seconds"]
    fresh = train_denoise(steps=2, **{**kw, "out": tmp_path / "e.safetensors"})   # the same seed, the same run
    assert all(torch.equal(v, load_file(str(tmp_path / "e.safetensors"))[k]) for k, v in weights.items())
    assert fresh["history"][0]["loss"] == first["history"][0]["loss"]


def test_bf16_precision_trains_in_autocast_and_writes_float32_weights(photos, tmp_path, monkeypatch):
    from restore.train.denoise import train_denoise
    seen = []
    real_step = __import__("restore.train.denoise", fromlist=["DenoiseRecipe"]).DenoiseRecipe.step

    def spy(self, tick):
        seen.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        return real_step(self, tick)

    monkeypatch.setattr("restore.train.denoise.DenoiseRecipe.step", spy)
    kw = dict(data=photos, batch=2, patch=32, n_val=1, val_every=2, steps=2, **QUIET)
    side = train_denoise(out=tmp_path / "b.safetensors", precision="bf16", **kw)
    assert seen == [True, True] and side["precision"] == "bf16"
    weights = load_file(str(tmp_path / "b.safetensors"))
    assert all(v.dtype == torch.float32 for v in weights.values() if v.is_floating_point())
    fp32 = train_denoise(out=tmp_path / "f.safetensors", **kw)
    assert seen[2:] == [False, False]
    # the same run in another precision: close, not equal
    assert side["history"][0]["loss"] == pytest.approx(fp32["history"][0]["loss"], rel=0.05)
    with pytest.raises(ValueError, match="precision"):
        train_denoise(out=tmp_path / "x.safetensors", precision="fp16", **kw)


def test_max_minutes_stops_the_run_and_still_writes_it(photos, tmp_path):
    from restore.train.denoise import train_denoise
    said = []
    side = train_denoise(data=photos, out=tmp_path / "d.safetensors", steps=1000, batch=2, patch=32, n_val=1,
                         max_minutes=1e-6, device="cpu", log=said.append)
    assert side["steps_done"] in (1, 2) and side["max_minutes"] == 1e-6     # the budget is checked before a step
    assert any("max_minutes" in s for s in said) and (tmp_path / "d.safetensors").exists()


def test_init_is_a_warm_start_and_a_missing_or_foreign_file_is_an_error(photos, tmp_path):
    from restore.train.denoise import train_denoise
    kw = dict(data=photos, batch=2, patch=32, n_val=1, val_every=2, **QUIET)
    train_denoise(out=tmp_path / "a.safetensors", steps=2, **kw)
    side = train_denoise(out=tmp_path / "b.safetensors", steps=1, lr=0.0, init=tmp_path / "a.safetensors", **kw)
    a, b = load_file(str(tmp_path / "a.safetensors")), load_file(str(tmp_path / "b.safetensors"))
    assert side["init"] == str(tmp_path / "a.safetensors") and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(FileNotFoundError, match="init"):
        train_denoise(out=tmp_path / "c.safetensors", steps=1, init=tmp_path / "missing.safetensors", **kw)
    with pytest.raises(RuntimeError):                       # weights of another architecture
        train_denoise(out=tmp_path / "c.safetensors", steps=1, init=get_spec("colorize-s").weights_path, **kw)


def test_missing_data_and_a_model_of_another_task_are_clear_errors(tmp_path):
    from restore.train.denoise import train_denoise
    with pytest.raises(FileNotFoundError, match="not found"):
        train_denoise(data=tmp_path / "nope", out=tmp_path / "x.safetensors", steps=1, **QUIET)
    with pytest.raises(ValueError, match="srresnet-x4 is a model for upscale"):
        train_denoise(data=tmp_path, out=tmp_path / "x.safetensors", model="srresnet-x4", **QUIET)
    with pytest.raises(KeyError, match="unknown model"):
        train_denoise(data=tmp_path, out=tmp_path / "x.safetensors", model="nope", **QUIET)
    with pytest.raises(ValueError, match="safetensors"):
        train_denoise(data=tmp_path, out=tmp_path / "x.pt", **QUIET)
    assert not (tmp_path / "x.safetensors").exists()


def test_a_recipe_config_needs_steps_and_lr():
    from restore.train.engine import Recipe

    @dataclasses.dataclass(kw_only=True)
    class Bare(TrainConfig):
        pass

    with pytest.raises(TypeError, match="steps and lr"):
        type("BareRecipe", (Recipe,), {"task": "denoise", "Config": Bare})


def test_schedule_ticks_validation_and_stops_on_the_time_budget():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = Schedule(opt, steps=10, lr=1e-3, start=2, val_every=4, warmup=0, log=lambda s: None)
    ticks = list(sched)
    assert [t.step for t in ticks] == list(range(3, 11)) and sched.step == 10
    assert [t.step for t in ticks if t.validate] == [4, 8, 10] and not any(t.out_of_time for t in ticks)
    assert opt.param_groups[0]["lr"] == ticks[-1].lr < ticks[0].lr
    said = []
    stopped = Schedule(opt, steps=10, lr=1e-3, elapsed=60.0, max_minutes=0.5, log=said.append)
    ticks = list(stopped)
    assert len(ticks) == 1 and ticks[0].validate and ticks[0].out_of_time and "max_minutes" in said[0]
    assert stopped.seconds >= 60.0


def test_checkpoint_holds_every_network_and_optimizer(tmp_path):
    nets = {"model": torch.nn.Linear(3, 2), "discriminator": torch.nn.Linear(2, 1)}
    opts = {k: torch.optim.Adam(n.parameters()) for k, n in nets.items()}
    for n, o in zip(nets.values(), opts.values()):
        n(torch.ones(1, n.in_features)).sum().backward()
        o.step()
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, nets, opts, step=7, history=[{"step": 7}], seconds=1.5)
    fresh = {"model": torch.nn.Linear(3, 2), "discriminator": torch.nn.Linear(2, 1)}
    fresh_opts = {k: torch.optim.Adam(n.parameters()) for k, n in fresh.items()}
    assert load_checkpoint(path, fresh, fresh_opts) == {"step": 7, "history": [{"step": 7}], "seconds": 1.5}
    for k in nets:
        assert torch.equal(fresh[k].weight, nets[k].weight)
        assert torch.equal(fresh_opts[k].state_dict()["state"][0]["exp_avg"], opts[k].state_dict()["state"][0]["exp_avg"])
    with pytest.raises(RuntimeError, match="discriminator"):     # a resume must restore all of them
        load_checkpoint(path, {"model": fresh["model"]}, {"model": fresh_opts["model"]})
    load_checkpoint(path, fresh["model"])                           # the weights alone, e.g. to evaluate


def test_checkpoint_tolerates_a_missing_buffer_but_not_a_missing_parameter(tmp_path):
    net = ColorizationUNet(width=4, levels=2, bins=5)
    opt = torch.optim.Adam(net.parameters())
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, net, opt, step=3)
    tensors, meta = load_file(str(path)), _metadata(path)
    older = {k: v for k, v in tensors.items() if k != "net.model.log_weights"}    # from before the buffer
    save_file(older, str(path), metadata=meta)
    fresh = ColorizationUNet(width=4, levels=2, bins=5)
    assert load_checkpoint(path, fresh, torch.optim.Adam(fresh.parameters()))["step"] == 3
    assert torch.equal(fresh.tail.weight, net.tail.weight)
    broken = {k: v for k, v in tensors.items() if k != "net.model.tail.weight"}
    save_file(broken, str(path), metadata=meta)
    with pytest.raises(RuntimeError, match="tail.weight"):
        load_checkpoint(path, fresh, torch.optim.Adam(fresh.parameters()))


def test_a_checkpoint_of_the_loops_before_the_engine_still_loads(tmp_path):
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    tensors = {f"model.{k}": v for k, v in net.state_dict().items()}
    tensors.update({f"opt.0.{k}": v for k, v in opt.state_dict()["state"][0].items()})
    tensors.update({f"opt.1.{k}": v for k, v in opt.state_dict()["state"][1].items()})
    path = tmp_path / "old.safetensors"
    save_file(tensors, str(path), metadata={"meta": json.dumps({"step": 5}),
                                            "param_groups": json.dumps(opt.state_dict()["param_groups"])})
    fresh = torch.nn.Linear(3, 2)
    fresh_opt = torch.optim.Adam(fresh.parameters())
    assert load_checkpoint(path, {"model": fresh}, {"model": fresh_opt})["step"] == 5
    assert torch.equal(fresh.bias, net.bias) and fresh_opt.state_dict()["state"][1]["exp_avg"].abs().sum() > 0


# --- denoise ------------------------------------------------------------------------------

def test_synthesize_gray_and_quantize():
    from restore.train.denoise import synthesize
    clean = torch.rand(4, 3, 16, 16)
    sigma = torch.tensor([0.0, 25.0, 25.0, 50.0])
    gray = torch.tensor([False, True, False, True])
    quant = torch.tensor([False, False, True, True])
    c, n = synthesize(clean, sigma, gray, quant, torch.Generator().manual_seed(0))
    assert torch.equal(n[0], c[0])                                         # sigma 0: no noise
    assert torch.equal(n[1, 0], n[1, 1]) and torch.equal(c[1, 0], c[1, 2])  # gray: equal channels
    assert (n[2] * 255 - (n[2] * 255).round()).abs().max() < 1e-4 and n[2].min() >= 0  # 8-bit
    assert 20 / 255 < (n[1] - c[1]).std() < 30 / 255


# --- upscale ------------------------------------------------------------------------------

def test_upscale_gan_stage_trains_a_discriminator_beside_the_zoo_generator(photos, tmp_path):
    from restore.train.upscale import train_upscale
    init = get_spec("srresnet-x4").weights_path
    kw = dict(data=photos, out=tmp_path / "gan.safetensors", stage="gan", init=init, model="srgan-x4", batch=2,
              patch=8, n_val=1, val_every=2, d_width=8, w_fft=0.1, **QUIET)
    gan = train_upscale(steps=2, **kw)
    assert gan["stage"] == "gan" and gan["init"] == str(init) and gan["d_lr"] == gan["lr"]
    assert {"pix", "fm", "adv", "fft", "d"} <= set(gan["history"][-1])
    ckpt = load_file(str(tmp_path / "gan.ckpt.safetensors"))
    assert any(k.startswith("net.discriminator.") for k in ckpt) and any(k.startswith("opt.discriminator.") for k in ckpt)
    _loads_into_spec(tmp_path / "gan.safetensors", "srgan-x4")
    resumed = train_upscale(steps=3, resume=True, **kw)
    assert resumed["steps_done"] == 3 and [h["step"] for h in resumed["history"]] == [2, 3]


def test_upscale_gan_needs_init_and_vgg_file_is_checked(photos, tmp_path):
    from restore.train.upscale import VGG19Features, train_upscale
    with pytest.raises(ValueError, match="init"):
        train_upscale(data=photos, out=tmp_path / "x.safetensors", stage="gan")
    with pytest.raises(ValueError, match="vgg19"):
        train_upscale(data=photos, out=tmp_path / "x.safetensors", init="g.safetensors", stage="gan", w_vgg=1.0)
    with pytest.raises(ValueError, match="stage"):
        train_upscale(data=photos, out=tmp_path / "x.safetensors", stage="esrgan")
    with pytest.raises(FileNotFoundError):
        VGG19Features(tmp_path / "missing.safetensors")
    save_file({"features.0.weight": torch.zeros(64, 3, 3, 3)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(KeyError, match="VGG19"):
        VGG19Features(tmp_path / "bad.safetensors")


def test_vgg19_loads_a_torchvision_style_state_dict(tmp_path):
    from restore.train.upscale import VGG19Features
    c, i = 3, 0
    sd = {}
    for v in VGG19Features.CFG:
        if v == "M":
            i += 1
            continue
        sd[f"features.{i}.weight"] = torch.randn(v, c, 3, 3) * 0.01
        sd[f"features.{i}.bias"] = torch.zeros(v)
        c, i = v, i + 2
    save_file(sd, str(tmp_path / "vgg19.safetensors"))
    vgg = VGG19Features(tmp_path / "vgg19.safetensors")
    assert vgg(torch.rand(1, 3, 32, 32)).shape == (1, 512, 2, 2)


def test_upscale_validation_measures_psnr_y_of_the_8_bit_output():
    from restore.train.upscale import validate

    class Almost(torch.nn.Module):            # the ground truth, 0.3 of an 8-bit level off
        def forward(self, x):
            return hr[:len(x)] + 0.3 / 255

    hr = torch.randint(0, 256, (2, 3, 32, 32)) / 255.0
    val = dict(scale=4, hr=hr, lr=torch.nn.functional.avg_pool2d(hr, 4))
    v = validate(Almost(), val, torch.device("cpu"))
    assert v["psnr_y"] > 100 and abs(v["hf_ratio"] - 1) < 0.01    # rounded to 8 bit: exact (unrounded: 58.6 dB)


# --- unwatermark --------------------------------------------------------------------------

def test_unwatermark_run_with_init_jpeg_and_hard_negatives(photos, logos, tmp_path):
    from restore.train.unwatermark import train_unwatermark
    side = train_unwatermark(data=photos, logos=logos, out=tmp_path / "wm.safetensors", steps=2, batch=2, patch=64,
                             n_val=1, val_every=2, val_zooms=(1.0,), jpeg=0.5, hard_negatives=0.5,
                             init=get_spec("unwatermark-s").weights_path, **QUIET)
    assert side["jpeg"] == 0.5 and side["hard_negatives"] == 0.5 and side["fonts_val"]
    assert side["zoom_min"] == 0.8 and side["jpeg_quality_max"] == 95
    assert set(side["validation"]) >= {"psnr", "psnr_input", "frmse", "frmse_input", "iou", "false_positive"}
    assert set(side["validation"]["jpeg"]) >= {"quality", "psnr", "iou", "false_positive"}
    assert "jpeg" in side["history"][0]


def test_unwatermark_validation_frmse_is_measured_inside_the_mark_only():
    from restore.train.unwatermark import validate
    clean = torch.rand(2, 3, 16, 16)
    alpha = torch.zeros(2, 1, 16, 16)
    alpha[0, :, 4:8, 4:8] = 1.0                                   # the second image has no mark
    marked = clean.clone()
    marked[0, :, 4:8, 4:8] = 1.0
    net = WatermarkUNet(width=4, levels=2)
    torch.nn.init.zeros_(net.tail.weight)
    with torch.no_grad():
        net.tail.bias[3] = -20.0                                  # finds no mark: the output is the input
    v = validate(net, dict(marked=marked, clean=clean, alpha=alpha), torch.device("cpu"))
    rmse = float(((marked[0] - clean[0])[:, 4:8, 4:8] ** 2).mean().sqrt())
    assert v["frmse"] == pytest.approx(rmse, rel=1e-5) and v["frmse"] == v["frmse_input"]
    assert v["iou"] == pytest.approx(0.5) and v["false_positive"] == 0.0   # image 2: both masks empty, IoU 1


def test_zoomed_region_enlarges_and_stays_inside_the_image():
    from restore.train.unwatermark import zoomed_region
    img = np.zeros((100, 120, 3), np.uint8)
    img[:, 60:] = 255                                     # one vertical edge
    region, zoom = zoomed_region(img, 64, 2.0, np.random.default_rng(0))
    assert region.shape == (64, 64, 3) and region.dtype == np.uint8 and zoom == 2.0
    region, zoom = zoomed_region(img, 64, 0.25, np.random.default_rng(0))   # 256 px asked, 100 there
    assert region.shape == (64, 64, 3) and zoom == pytest.approx(0.64)
    # enlarging softens the edge: more intermediate values than in the sharp original
    soft, _ = zoomed_region(np.repeat(img[:, 40:80], 2, axis=0)[:80], 80, 4.0, np.random.default_rng(1))
    assert ((soft > 10) & (soft < 245)).mean() > ((img > 10) & (img < 245)).mean()


def test_watermarked_crops_from_a_larger_canvas_hold_part_of_a_mark_or_none(tiny_bank):
    from restore.train.unwatermark import watermarked_crops
    images = [real_image(256, 256, index=i) for i in range(3)]
    rng = np.random.default_rng(0)
    marked, clean, alpha = watermarked_crops(images, tiny_bank, 48, 64, rng, clean_prob=0.0, canvas=3.0,
                                             zoom=(1.0, 2.0))
    assert marked.shape == clean.shape == (48, 3, 64, 64) and alpha.shape == (48, 1, 64, 64)
    assert marked.dtype == clean.dtype == alpha.dtype == np.float32
    assert np.allclose(marked * 255, np.round(marked * 255), atol=1e-3)          # rounded to 8 bit
    changed = np.abs(marked - clean).max(1, keepdims=True) > 1.5 / 255
    assert not (changed & (alpha == 0)).any()           # pixels change only under the mark
    share = (alpha > MASK_THRESHOLD).mean(axis=(1, 2, 3))
    assert (share == 0).any() and (share > 0).any()     # the mark fell outside some crops
    # canvas 1 (the mark drawn inside the crop): nearly every crop holds a mark
    _, _, alpha1 = watermarked_crops(images, tiny_bank, 48, 64, np.random.default_rng(0), clean_prob=0.0)
    assert (alpha1 > MASK_THRESHOLD).any(axis=(1, 2, 3)).mean() > (share > 0).mean()
    with pytest.raises(ValueError, match="canvas"):
        watermarked_crops(images, tiny_bank, 2, 64, rng, canvas=0.5)
    with pytest.raises(ValueError, match="zoom"):
        watermarked_crops(images, tiny_bank, 2, 64, rng, zoom=(2.0, 1.0))


def test_zoomed_region_around_a_point_holds_it():
    from restore.train.unwatermark import zoomed_region
    img = np.zeros((90, 130, 3), np.uint8)
    for point in [(0, 0), (89, 129), (45, 3), (7, 100)]:
        img[:] = 0
        img[point] = (255, 0, 255)                        # the only magenta pixel
        for seed in range(5):
            region, zoom, (y, x) = zoomed_region(img, 40, 1.0, np.random.default_rng(seed), point=point)
            assert region.shape == (40, 40, 3) and zoom == 1.0
            assert ((region == (255, 0, 255)).all(-1)).sum() == 1 and (region[y, x] == (255, 0, 255)).all()
            big, zoom, (y, x) = zoomed_region(img, 80, 2.0, np.random.default_rng(seed), point=point)
            assert zoom == 2.0 and big[y, x, 0] > 100 and big[y, x, 1] < 100     # enlarged: the pixel is there


def test_mine_hard_negatives_finds_the_pixels_a_network_takes_for_a_mark():
    from restore.train.unwatermark import mine_hard_negatives
    net = WatermarkUNet(width=4, levels=2).train()
    images = [real_image(50, 70, index=1), real_image(64, 33, index=2)]     # not multiples of the net's 2
    torch.nn.init.zeros_(net.tail.weight)
    with torch.no_grad():
        net.tail.bias[3] = -5.0                              # sees no mark anywhere
    assert [p.shape for p in mine_hard_negatives(net, images, torch.device("cpu"))] == [(0, 2), (0, 2)]
    with torch.no_grad():
        net.tail.bias[3] = 5.0                               # sees a mark everywhere
    points = mine_hard_negatives(net, images, torch.device("cpu"), max_points=40)
    assert net.training                                      # mode restored
    for p, img in zip(points, images):
        assert p.shape == (40, 2) and p.dtype == np.int64 and len(np.unique(p, axis=0)) == 40
        assert (p >= 0).all() and (p < img.shape[:2]).all()
    with pytest.raises(ValueError, match="threshold"):
        mine_hard_negatives(net, images, torch.device("cpu"), threshold=1.0)


def test_watermarked_crops_cut_a_share_around_hard_negatives(tiny_bank):
    from restore.train.unwatermark import watermarked_crops
    images = [real_image(256, 256, index=i) for i in range(3)]
    images[1][100, 200] = (255, 0, 255)                      # a pixel to find in the crops
    assert [(im == (255, 0, 255)).all(-1).sum() for im in images] == [0, 1, 0]
    hard = [np.zeros((0, 2), np.int64), np.array([[100, 200]]), np.zeros((0, 2), np.int64)]
    _, clean, _ = watermarked_crops(images, tiny_bank, 16, 64, np.random.default_rng(0), clean_prob=1.0,
                                    canvas=2.0, hard_negatives=hard, hard_share=1.0)
    magenta = (np.round(clean * 255).astype(int) == np.array([255, 0, 255])[:, None, None]).all(1)
    assert magenta.any(axis=(1, 2)).all()                    # every crop holds the hard pixel
    _, clean, _ = watermarked_crops(images, tiny_bank, 16, 64, np.random.default_rng(0), clean_prob=1.0,
                                    canvas=2.0, hard_negatives=hard, hard_share=0.0)
    magenta = (np.round(clean * 255).astype(int) == np.array([255, 0, 255])[:, None, None]).all(1)
    assert not magenta.any(axis=(1, 2)).all()
    with pytest.raises(ValueError, match="hard-negative share"):
        watermarked_crops(images, tiny_bank, 2, 64, np.random.default_rng(0), hard_negatives=hard, hard_share=2.0)
    with pytest.raises(ValueError, match="one array per image"):
        watermarked_crops(images, tiny_bank, 2, 64, np.random.default_rng(0), hard_negatives=hard[:2],
                          hard_share=0.5)


def test_validation_set_has_one_case_per_image_and_zoom(tiny_bank):
    from restore.train.unwatermark import validation_set
    images = [real_image(200, 240, index=i) for i in range(2)]
    case = validation_set(images, tiny_bank, size=160, zooms=(1.0, 1.5))
    assert case["marked"].shape == case["clean"].shape == (4, 3, 160, 160) and case["alpha"].shape == (4, 1, 160, 160)
    assert torch.equal(case["clean"][0], torch.from_numpy(images[0][20:180, 40:200]).permute(2, 0, 1) / 255.0)
    big = cv2.resize(images[1], None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)   # 300 x 360
    assert torch.equal(case["clean"][3], torch.from_numpy(big[70:230, 100:260]).permute(2, 0, 1) / 255.0)
    unmarked = case["alpha"].expand(-1, 3, -1, -1) == 0
    assert (case["alpha"] > 0).any() and torch.all((case["marked"] - case["clean"]).abs()[unmarked] < 1e-6)
    with pytest.raises(ValueError, match="smaller than the 256 px crop"):
        validation_set(images, tiny_bank, size=256)


def test_watermarked_crops_saved_as_jpeg_keep_marked_and_clean_in_step(tiny_bank):
    from restore.train.unwatermark import watermarked_crops
    images = [real_image(256, 256, index=i) for i in range(3)]
    plain = watermarked_crops(images, tiny_bank, 8, 64, np.random.default_rng(0), clean_prob=1.0)
    saved = watermarked_crops(images, tiny_bank, 8, 64, np.random.default_rng(0), clean_prob=1.0, jpeg=1.0,
                              jpeg_quality=(50, 50))
    # every crop went through JPEG: the clean target changed, and an unmarked crop's input is its target
    assert (np.abs(saved[1] - plain[1]).max(axis=(1, 2, 3)) > 2 / 255).all()
    assert np.array_equal(saved[0], saved[1]) and not saved[2].any()
    marked, clean, alpha = watermarked_crops(images, tiny_bank, 16, 64, np.random.default_rng(1), clean_prob=0.0,
                                             jpeg=1.0)
    # JPEG codes 16 x 16 blocks (4:2:0) on their own, with chroma smoothed across block borders on
    # decoding: a pixel more than two blocks away from the mark is the same in both
    near = np.stack([cv2.dilate((a[0] > 0).astype(np.uint8), np.ones((65, 65), np.uint8)) for a in alpha])[:, None] > 0
    far = np.broadcast_to(~near, marked.shape)
    assert (~near).any() and (alpha > MASK_THRESHOLD).any() and np.array_equal(marked[far], clean[far])
    with pytest.raises(ValueError, match="jpeg"):
        watermarked_crops(images, tiny_bank, 2, 64, np.random.default_rng(0), jpeg=1.5)
    with pytest.raises(ValueError, match="quality"):
        watermarked_crops(images, tiny_bank, 2, 64, np.random.default_rng(0), jpeg=0.5, jpeg_quality=(90, 60))


# --- colorize -----------------------------------------------------------------------------

def test_soft_encoding_sums_to_one_and_peaks_at_the_nearest_bin():
    from restore.train.colorize import soft_encode
    ab = torch.tensor([[3.0, -7.0], [41.0, 18.0]]).T.reshape(1, 2, 1, 2)
    target, nearest = soft_encode(ab, BINS)
    assert torch.allclose(target.sum(1), torch.ones(1, 1, 2))
    assert (target > 0).sum(1).eq(5).all()
    assert torch.equal(target.argmax(1), nearest)
    assert torch.equal(BINS[nearest[0, 0]], torch.tensor([[0.0, -10.0], [40.0, 20.0]]))


def test_rebalancing_weights_favour_rare_colors():
    from restore.train.colorize import rebalancing_weights
    img = np.full((64, 64, 3), 128, np.uint8)                      # mostly gray, a little red
    img[:8, :8] = (200, 30, 30)
    w, prior = rebalancing_weights([img], BINS, stride=1)
    assert abs(float((w * prior).sum()) - 1) < 1e-4
    gray_bin = int(torch.cdist(torch.zeros(1, 2), BINS).argmin())
    red = rgb_to_lab(torch.tensor([200.0, 30, 30]).view(1, 3, 1, 1) / 255)[0, 1:, 0, 0]
    red_bin = int(torch.cdist(red[None], BINS).argmin())
    assert w[red_bin] > 2 * w[gray_bin]
    w1, _ = rebalancing_weights([img], BINS, lam=1.0, stride=1)    # lambda 1: no rebalancing
    assert torch.allclose(w1, torch.ones_like(w1), atol=1e-4)


def test_colorization_crops_never_rotate():
    img = np.zeros((40, 40, 3), np.uint8)
    img[:10] = 255                                                 # bright on top stays on top
    crops = random_crops([img], 8, 32, np.random.default_rng(0), rotate=False)
    assert crops.shape == (8, 3, 32, 32)
    assert (crops[:, :, 0].mean((1, 2)) >= crops[:, :, -1].mean((1, 2))).all()


def test_tiny_network_learns_the_colors_of_a_scene():
    """The loss, the bins and the decoding work together: on one synthetic scene (blue
    sky over green grass, textured), a tiny network beats the gray image by far."""
    from restore.train.colorize import merge_chroma, rebalanced_loss
    g = torch.Generator().manual_seed(0)
    rgb = torch.zeros(1, 3, 32, 32)
    rgb[:, :, :16] = torch.tensor([0.35, 0.55, 0.9]).view(1, 3, 1, 1)
    rgb[:, :, 16:] = torch.tensor([0.25, 0.6, 0.2]).view(1, 3, 1, 1)
    rgb = (rgb * (0.8 + 0.4 * torch.rand(1, 1, 32, 32, generator=g))).clamp(0, 1)
    lab = rgb_to_lab(rgb)
    torch.manual_seed(0)
    net = ColorizationUNet(width=8, levels=2, bins=len(BINS))
    net.ab_bins.copy_(BINS)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    w = torch.ones(len(BINS))
    for _ in range(60):
        loss = rebalanced_loss(net(lab[:, :1]), lab[:, 1:], BINS, w)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = merge_chroma(lab[:, :1], net.decode(net(lab[:, :1]), 0.38))
    gray = lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(lab[:, 1:])], 1))
    assert float(batch_psnr(rgb, out)) > float(batch_psnr(rgb, gray)) + 6


def test_colorize_patch_must_fit_the_network_and_the_render_size(photos, tmp_path):
    from restore.train.colorize import train_colorize
    with pytest.raises(ValueError, match="multiple of 32"):
        train_colorize(data=photos, out=tmp_path / "c.safetensors", patch=48, **QUIET)
    with pytest.raises(ValueError, match="render_size"):
        train_colorize(data=photos, out=tmp_path / "c.safetensors", patch=320, **QUIET)


def test_colorize_run_sets_the_rebalancing_buffers(photos, tmp_path):
    from restore.train.colorize import train_colorize
    side = train_colorize(data=photos, out=tmp_path / "c.safetensors", steps=1, batch=2, patch=32, render_size=64,
                          n_val=1, **QUIET)
    assert side["model"] == "colorize-hints-s"                               # the default takes hints
    assert {"gray", "T0.38", "cf0.38", "T1p", "cf1p", "h0", "h10", "hint_err"} <= set(side["validation"])
    net = _loads_into_spec(tmp_path / "c.safetensors", "colorize-hints-s")
    assert torch.equal(net.ab_bins, BINS) and net.log_weights.std() > 0    # rebalancing undone at decoding
    side = train_colorize(data=photos, out=tmp_path / "c2.safetensors", model="colorize-s", steps=1, batch=2,
                          patch=32, render_size=64, n_val=1, **QUIET)
    assert "h10" not in side["validation"]
    _loads_into_spec(tmp_path / "c2.safetensors", "colorize-s")


# --- inpaint ------------------------------------------------------------------------------

def test_inpaint_patches_run_and_unknown_kind(photos, tmp_path):
    from restore.train.inpaint import train_inpaint
    folder = tmp_path / "photos"
    shutil.copytree(photos, folder)
    k = 0
    while not any(is_held_out(p.name, "image") for p in folder.glob("*.png")):   # one held-out name at least
        write_image(folder / f"held{k}.png", real_image(96, 96, index=k))
        k += 1
    side = train_inpaint(data=folder, out=tmp_path / "g.safetensors", steps=1, batch=4, **QUIET)
    assert side["model"] == "gan-photos-64" and side["kind"] == "patches"
    assert set(side["validation"]) >= {"hole_psnr", "telea_hole_psnr", "held_out", "cases"}
    assert np.isfinite(side["validation"]["hole_psnr"])
    with pytest.raises(ValueError, match="kind"):
        train_inpaint(data=folder, out=tmp_path / "g.safetensors", kind="cats", **QUIET)


# --- the command line ---------------------------------------------------------------------

def test_cli_trains_a_tiny_denoiser(photos, tmp_path):
    out = tmp_path / "d.safetensors"
    code, text = invoke("train", "denoise", "--data", photos, "--out", out, "--steps", 2, "--batch", 2,
                        "--patch", 32, "--n-val", 1, "--val-every", 2, "--device", "cpu")
    assert code == 0, text
    assert "step 2/2" in text and out.exists() and json.loads(out.with_suffix(".json").read_text())["lr"] == 8e-4
    build_model(get_spec("dae-s")).load_state_dict(load_file(str(out)), strict=True)


def test_cli_usage_errors_exit_2_and_write_nothing(photos, tmp_path):
    out = tmp_path / "w.safetensors"
    cases = [
        (("train", "gan", "--data", photos, "--out", out), "No such command"),
        (("train", "denoise", "--out", out), "--data"),
        (("train", "denoise", "--data", photos, "--out", tmp_path / "w.pt"), "safetensors"),
        (("train", "denoise", "--data", photos, "--out", out, "--model", "srresnet-x4"), "model for upscale"),
        (("train", "denoise", "--data", photos, "--out", out, "--model", "nope"), "unknown model"),
        (("train", "denoise", "--data", photos, "--out", out, "--width", 8), "--width"),
        (("train", "denoise", "--data", photos, "--out", out, "--init", tmp_path / "none.safetensors"), "--init"),
        (("train", "upscale", "--data", photos, "--out", out, "--stage", "gan"), "init"),
        (("train", "inpaint", "--data", photos, "--out", out, "--kind", "cats"), "kind"),
        (("train", "unwatermark", "--data", photos, "--logos", photos, "--out", out, "--zoom-min", 2,
          "--zoom-max", 1), "zoom"),
        (("train", "unwatermark", "--data", photos, "--logos", photos, "--out", out, "--jpeg", 1.5), "--jpeg"),
    ]
    for args, words in cases:
        code, text = invoke(*args)
        assert code == 2 and words in text, (args, text)
    assert not out.exists() and not (tmp_path / "w.json").exists()


def test_blind_model_trains_on_real_photo_degradations_with_a_zero_noise_map(photos, tmp_path):
    from restore.train.denoise import train_denoise
    out = tmp_path / "real.safetensors"
    side = train_denoise(model="dae-real-s", out=out, **_options("denoise", photos, None, None))
    assert side["model"] == "dae-real-s" and side["degradation"].startswith("real-photo")
    assert set(side["validation"]["psnr"]) == {"jpeg20", "jpeg40", "real", "clean"}
    _loads_into_spec(out, "dae-real-s")
    with pytest.raises(ValueError, match="blind"):
        train_denoise(model="dae-real-s", degradation="awgn", out=tmp_path / "x.safetensors",
                      **_options("denoise", photos, None, None))
    with pytest.raises(ValueError, match="degradation"):
        train_denoise(degradation="gauss", out=tmp_path / "y.safetensors", **_options("denoise", photos, None, None))


def test_degrade_real_keeps_gray_crops_gray_and_8_bit():
    from restore.train.denoise import degrade_real
    clean = torch.rand(6, 3, 32, 32)
    clean[:3] = clean[:3].mean(1, keepdim=True)
    gray = torch.tensor([True, True, True, False, False, False])
    noisy = degrade_real(clean, gray, np.random.default_rng(0))
    assert noisy.shape == clean.shape and noisy.dtype == torch.float32
    assert torch.allclose(noisy[:3, 0], noisy[:3, 1]) and torch.allclose(noisy[:3, 0], noisy[:3, 2])
    assert not torch.equal(noisy[3:], clean[3:])
    assert (noisy[3:] * 255 - (noisy[3:] * 255).round()).abs().max() < 1e-3          # 8-bit levels, as a file
