"""Training: a tiny run writes weights + sidecar, checkpoints, and resumes."""

import json

import numpy as np
import pytest
import torch

from restore.io import write_image
from restore.train.denoise import synthesize, train_denoise
from restore.zoo.archs.unet import NoiseLevelUNet
from safetensors.torch import load_file


@pytest.fixture()
def data(tmp_path):
    rng = np.random.RandomState(0)
    d = tmp_path / "data"
    for i in range(5):
        # smooth random images (low-pass noise), 256 px so validation crops fit
        img = rng.rand(32, 32, 3)
        img = np.kron(img, np.ones((8, 8, 1)))
        write_image(d / f"img{i}.png", (img * 255).astype(np.uint8))
    (d / "notes.txt").write_text("ignored")
    return d


def test_synthesize_gray_and_quantize():
    clean = torch.rand(4, 3, 16, 16)
    sigma = torch.tensor([0.0, 25.0, 25.0, 50.0])
    gray = torch.tensor([False, True, False, True])
    quant = torch.tensor([False, False, True, True])
    c, n = synthesize(clean, sigma, gray, quant, torch.Generator().manual_seed(0))
    assert torch.equal(n[0], c[0])                                         # sigma 0: no noise
    assert torch.equal(n[1, 0], n[1, 1]) and torch.equal(c[1, 0], c[1, 2])  # gray: equal channels
    assert (n[2] * 255 - (n[2] * 255).round()).abs().max() < 1e-4 and n[2].min() >= 0  # 8-bit
    assert 20 / 255 < (n[1] - c[1]).std() < 30 / 255


def test_tiny_training_run_writes_weights_sidecar_and_resumes(data, tmp_path):
    out = tmp_path / "w" / "tiny.safetensors"
    kw = dict(data=str(data), out=out, batch=2, patch=32, width=4, levels=2, n_val=1, val_every=2,
              device="cpu", log=lambda s: None)
    side = train_denoise(steps=4, **kw)
    assert out.exists() and out.with_suffix(".json").exists()
    assert side["steps_done"] == 4 and set(side["validation"]["psnr"]) == {"color25", "gray25", "color50"}
    assert json.loads(out.with_suffix(".json").read_text())["arch_kwargs"]["width"] == 4
    net = NoiseLevelUNet(channels=3, width=4, levels=2, blocks=1)
    net.load_state_dict(load_file(str(out)))
    ckpt = out.with_name("tiny.ckpt.safetensors")
    assert ckpt.exists()
    side2 = train_denoise(steps=6, resume=True, **kw)
    assert side2["steps_done"] == 6 and [h["step"] for h in side2["history"]] == [2, 4, 6]


def test_missing_data_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        train_denoise(data=str(tmp_path / "nope"), out=tmp_path / "x.safetensors", steps=1, log=lambda s: None)


def test_schedule_ticks_validation_and_stops_on_the_time_budget():
    from restore.train.loop import Schedule
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


def test_checkpoint_tolerates_a_missing_buffer_but_not_a_missing_parameter(tmp_path):
    from safetensors.torch import save_file

    from restore.train.checkpoint import load_checkpoint, save_checkpoint
    from restore.zoo.archs.unet import ColorizationUNet
    net = ColorizationUNet(width=4, levels=2, bins=5)
    opt = torch.optim.Adam(net.parameters())
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, net, opt, step=3)
    tensors = load_file(str(path))
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    older = {k: v for k, v in tensors.items() if k != "model.log_weights"}     # a checkpoint from before the buffer
    save_file(older, str(path), metadata=meta)
    fresh = ColorizationUNet(width=4, levels=2, bins=5)
    assert load_checkpoint(path, fresh, torch.optim.Adam(fresh.parameters()))["step"] == 3
    assert torch.equal(fresh.tail.weight, net.tail.weight)
    broken = {k: v for k, v in tensors.items() if k != "model.tail.weight"}
    save_file(broken, str(path), metadata=meta)
    with pytest.raises(RuntimeError, match="tail.weight"):
        load_checkpoint(path, fresh, torch.optim.Adam(fresh.parameters()))
