"""The zoo as a markdown table (``restore models``) and recording of bench figures."""

from __future__ import annotations

from typing import Any

from restore.zoo.registry import build_model, get_spec, list_models, read_manifest, write_manifest


def _bench_cell(bench: dict[str, Any]) -> str:
    if not bench:
        return "not measured"
    return "; ".join(f"{k}: {v['psnr']:.2f} dB / {v['ssim']:.4f}"
                     + (f" (colorfulness {100 * v['cf_ratio']:.0f}% of the originals')" if "cf_ratio" in v else "")
                     + (f" (hole {v['hole_psnr']:.2f} dB)" if "hole_psnr" in v else "")
                     + f" @ {v['s_per_mp']:.2f} s/MP" for k, v in sorted(bench.items()))


def models_table(task: str | None = None) -> str:
    """A markdown table of the zoo: name, task (for an upscaler: its scale and the inputs
    it is for), parameters, weights size, device advice, license, training data, and the
    figures ``restore bench --record`` stored."""
    rows = ["| model | task | params | size | device | license | trained on | benchmarks (PSNR / SSIM @ s/MP) |",
            "|---|---|---|---|---|---|---|---|"]
    defaults = {}
    from restore.zoo.registry import default_model
    for name in list_models(task):
        spec = get_spec(name)
        if spec.task not in defaults:
            defaults[spec.task] = default_model(spec.task)
        params = sum(p.numel() for p in build_model(spec).parameters())
        path = spec.weights_path
        size = f"{path.stat().st_size / 2**20:.1f} MiB" if path.exists() else "missing"
        label = name + (" (default)" if defaults[spec.task] == name else "")
        rows.append(f"| {label} | {_task_cell(spec)} | {params / 1e6:.2f} M | {size} | {spec.device_advice} | "
                    f"{spec.license} | {spec.trained_on} | {_bench_cell(spec.bench)} |")
    return "\n".join(rows)


def _task_cell(spec) -> str:
    """The task, and for an upscaler its scale and the inputs it is for."""
    from restore.zoo.settings import SR_INPUTS, UpscaleSettings

    if isinstance(spec.settings, UpscaleSettings):
        return f"{spec.task} x{spec.scale}, for {SR_INPUTS[spec.settings.inputs]}"
    return spec.task


def record_bench(rows: list[dict], key: str, limit: int | None = None) -> list[str]:
    """Store the figures of a bench run's zoo-model rows in the manifest under
    ``bench[key]`` (skipped for partial runs with ``limit``).

    A row is a model's when its ``model`` field names a model of the manifest (the bench
    runner sets it; baselines have None); the label is never parsed. A model with several
    rows (variants) is recorded from its first row, the default settings. Recorded:
    ``psnr`` (2 decimals), ``ssim`` (4), any of ``hf_ratio``, ``blockiness``, ``rmse``, ``frmse``,
    ``iou``, ``colorfulness``, ``cf_ratio``, ``hole_psnr``, ``hole_l1`` the row has (3),
    ``s_per_mp`` (2) and ``images``. Returns the models updated.
    """
    if limit:
        return []
    manifest = read_manifest()
    updated = []
    for row in rows:
        name = row.get("model")
        if name in manifest and name not in updated:
            fig = {"psnr": round(row["psnr"], 2), "ssim": round(row["ssim"], 4)}
            for k in ("hf_ratio", "blockiness", "rmse", "frmse", "iou", "colorfulness", "cf_ratio", "hole_psnr", "hole_l1"):
                if row.get(k) is not None:
                    fig[k] = round(row[k], 3)
            fig.update(s_per_mp=round(row["s_per_mp"], 2), images=row["images"])
            manifest[name].setdefault("bench", {})[key] = fig
            updated.append(name)
    write_manifest(manifest)
    return updated


def publish_weights(name: str, src: str, *, sidecar: str | None = None, half: bool = False) -> dict[str, Any]:
    """Copy a trained weights file (and its .json sidecar) into the weights folder as
    ``<spec.weights>`` and record its sha256 and size in the manifest. With ``half`` the
    float32 tensors are stored as float16 (half the size; loading casts them back to the
    model's dtype).

    Raises:
        KeyError: unknown model.
        FileNotFoundError: ``src`` missing.
    """
    import json
    import shutil
    from pathlib import Path

    from restore.zoo.paths import weights_dir
    from restore.zoo.registry import sha256_file

    spec = get_spec(name)
    src_p = Path(src)
    if not src_p.exists():
        raise FileNotFoundError(src_p)
    dst = weights_dir() / spec.weights
    if half:
        import torch
        from safetensors import safe_open
        from safetensors.torch import load_file, save_file
        with safe_open(str(src_p), framework="pt") as f:
            metadata = f.metadata()
        tensors = {k: v.half() if v.dtype == torch.float32 else v for k, v in load_file(str(src_p)).items()}
        save_file(tensors, str(dst), metadata=metadata)
    else:
        shutil.copyfile(src_p, dst)
    side = Path(sidecar) if sidecar else src_p.with_suffix(".json")
    entry = {"file": spec.weights, "sha256": sha256_file(dst), "bytes": dst.stat().st_size, "task": spec.task}
    if side.exists():
        shutil.copyfile(side, dst.with_suffix(".json"))
        info = json.loads(side.read_text())
        entry["training"] = {k: info[k] for k in ("steps_done", "seconds", "device", "validation") if k in info}
    manifest = read_manifest()
    entry["bench"] = {}  # figures belong to the old weights; re-run restore bench --record
    manifest[name] = entry
    write_manifest(manifest)
    return entry
