"""The ``restore`` command line: task commands over files and folders, ``models``, ``bench``, ``train``.

The only module that prints or exits. Exit codes: 0 ok, 1 some files failed, 2 bad usage.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Image restoration with deep generative models: denoise (more tasks to come).")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmark a task's zoo models against classical baselines.")
train_app = typer.Typer(no_args_is_help=True, help="Train a task's model on a folder of clean images.")
app.add_typer(bench_app, name="bench")
app.add_typer(train_app, name="train")

USAGE, FAILED = 2, 1


def _usage_error(msg: str) -> typer.Exit:
    typer.secho(f"error: {msg}", err=True, fg=typer.colors.RED)
    return typer.Exit(USAGE)


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s")


def _parse_sigma(sigma: str) -> float | str:
    if sigma == "auto":
        return sigma
    try:
        return float(sigma)
    except ValueError:
        raise _usage_error(f"--sigma must be a number (0-255 scale) or 'auto', got {sigma!r}") from None


def _run_folder(process, input_path: Path, output: Path, *, recursive: bool, skip_existing: bool,
                overwrite: bool, fmt: Optional[str], quality: Optional[int], quiet: bool) -> None:
    from restore.pipelines.batch import run_batch

    def on_error(path: Path, reason: str) -> None:
        from tqdm.auto import tqdm
        tqdm.write(f"failed: {path}: {reason}", file=__import__("sys").stderr)

    try:
        result = run_batch(process, input_path, output, recursive=recursive, skip_existing=skip_existing,
                           overwrite=overwrite, fmt=fmt, quality=quality, progress=not quiet, on_error=on_error)
    except (FileNotFoundError, ValueError) as e:
        raise _usage_error(str(e)) from None
    if not result.written and not result.skipped and not result.failed:
        typer.secho(f"no images found in {input_path}", err=True, fg=typer.colors.YELLOW)
    typer.echo(result.summary(), err=bool(result.failed))
    if result.exit_code:
        raise typer.Exit(FAILED)


def _load(task: str, model: Optional[str], device: str, tile: int, overlap: int):
    from restore import load_pipeline
    from restore.zoo import WeightsError
    try:
        return load_pipeline(task, model=model, device=device, tile=tile or None, overlap=overlap)
    except (KeyError, ValueError) as e:
        raise _usage_error(str(e).strip("'\"")) from None
    except WeightsError as e:
        typer.secho(f"error: {e}", err=True, fg=typer.colors.RED)
        raise typer.Exit(FAILED) from None


# Shared options of the task commands.
InputArg = typer.Argument(..., help="An image file or a folder of images.", exists=True)
OutputArg = typer.Argument(..., help="Output folder (created).")
ModelOpt = typer.Option(None, "--model", "-m", help="Zoo model (see `restore models`); default: the task's default.")
DeviceOpt = typer.Option("auto", "--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda or mps.")
TileOpt = typer.Option(768, "--tile", help="Tile side in pixels for large images; 0 = whole image at once.")
OverlapOpt = typer.Option(64, "--overlap", help="Overlap between tiles in pixels.")
RecursiveOpt = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders, mirroring the tree.")
SkipOpt = typer.Option(False, "--skip-existing", help="Skip files whose output exists.")
OverwriteOpt = typer.Option(False, "--overwrite", help="Replace existing outputs (never an input).")
FormatOpt = typer.Option(None, "--format", "-f", help="Output format: png, jpg, tif, bmp, webp (default: the input's).")
QualityOpt = typer.Option(None, "--quality", "-q", min=1, max=100, help="JPEG/WebP quality 1-100 (default 95).")
QuietOpt = typer.Option(False, "--quiet", help="No progress bar or info messages.")


@app.command()
def denoise(input_path: Path = InputArg, output: Path = OutputArg,
            sigma: str = typer.Option("auto", "--sigma", "-s",
                                      help="Noise level on the 0-255 scale (0-75), or 'auto' to estimate it per image."),
            model: Optional[str] = ModelOpt, device: str = DeviceOpt, tile: int = TileOpt,
            overlap: int = OverlapOpt, recursive: bool = RecursiveOpt, skip_existing: bool = SkipOpt,
            overwrite: bool = OverwriteOpt, fmt: Optional[str] = FormatOpt, quality: Optional[int] = QualityOpt,
            quiet: bool = QuietOpt) -> None:
    """Remove noise from the images in INPUT_PATH and write them to OUTPUT."""
    _setup_logging(quiet)
    s = _parse_sigma(sigma)
    if isinstance(s, float) and not 0 <= s <= 75:
        raise _usage_error(f"--sigma {s} is outside the models' range 0-75 (0-255 scale)")
    pipe = _load("denoise", model, device, tile, overlap)
    _run_folder(lambda image, path: pipe(image, sigma=s), input_path, output, recursive=recursive,
                skip_existing=skip_existing, overwrite=overwrite, fmt=fmt, quality=quality, quiet=quiet)


@app.command()
def models(task: Optional[str] = typer.Option(None, "--task", help="Only this task's models.")) -> None:
    """List the model zoo: name, task, parameters, size, device advice, license, data, benchmarks."""
    from restore.zoo.manifest import models_table
    typer.echo(models_table(task))


@bench_app.command("denoise")
def bench_denoise_cmd(
        data: Path = typer.Option(..., "--data", help="Folder of clean images (or polyu pairs with --real).", exists=True),
        sigma: list[float] = typer.Option([25.0], "--sigma", "-s", help="AWGN level(s), 0-255 scale; repeatable."),
        real: bool = typer.Option(False, "--real", help="Real-noise pairs (*_real / *_mean): models use sigma auto."),
        files: bool = typer.Option(False, "--files", help="Also time the user's path: noisy 8-bit PNG files "
                                   "denoised by a folder run (model load included)."),
        model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Zoo models to run (default: all denoise models)."),
        baseline: Optional[list[str]] = typer.Option(None, "--baseline", help="noisy, nlm, bm3d (default: all)."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N images."),
        device: str = DeviceOpt,
        record: bool = typer.Option(False, "--record", help="Store the zoo models' figures in weights/manifest.json."),
        quiet: bool = QuietOpt) -> None:
    """Print a markdown table: PSNR, SSIM and seconds per megapixel of each method, from one run."""
    _setup_logging(quiet)
    from restore.bench.denoise import bench_denoise, bench_denoise_files, bench_denoise_real, format_table
    from restore.zoo.registry import list_models as zoo_models
    models_ = list(model) if model else zoo_models("denoise")
    baselines = tuple(baseline) if baseline else ("noisy", "nlm", "bm3d")
    progress = None if quiet else (lambda msg: typer.echo(msg, err=True))
    runs = [("real", None)] if real else [("awgn", s) for s in sigma]
    for kind, s in runs:
        try:
            if kind == "real":
                rows = bench_denoise_real(data, models=models_, device=device, baselines=baselines, limit=limit,
                                          progress=progress)
                title = f"{data.name}, real noise, models with sigma auto"
            else:
                rows = bench_denoise(data, sigma=s, models=models_, device=device, baselines=baselines,
                                     limit=limit, progress=progress)
                title = f"{data.name}, AWGN sigma {s:g}"
                if files:
                    rows += bench_denoise_files(data, sigma=s, models=models_, device=device, limit=limit,
                                                progress=progress)
        except (KeyError, ValueError, FileNotFoundError, ImportError) as e:
            raise _usage_error(str(e)) from None
        typer.echo(format_table(rows, title=title))
        typer.echo("")
        if record:
            from restore.zoo.manifest import record_bench
            key = f"{data.name} real" if kind == "real" else f"{data.name} sigma{s:g}"
            record_bench(rows, key, limit=limit)


@train_app.command("denoise")
def train_denoise_cmd(
        data: list[Path] = typer.Option(..., "--data", help="Folder(s) of clean training images; repeatable.", exists=True),
        out: Path = typer.Option(..., "--out", help="Weights file to write (*.safetensors); a .json sidecar goes beside it."),
        steps: int = typer.Option(5000, "--steps"), batch: int = typer.Option(16, "--batch"),
        patch: int = typer.Option(96, "--patch"), lr: float = typer.Option(8e-4, "--lr"),
        width: int = typer.Option(32, "--width"), levels: int = typer.Option(4, "--levels"),
        blocks: int = typer.Option(1, "--blocks"), sigma_max: float = typer.Option(75.0, "--sigma-max"),
        val_every: int = typer.Option(250, "--val-every"), seed: int = typer.Option(0, "--seed"),
        max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Stop early after this much training time."),
        device: str = DeviceOpt, resume: bool = typer.Option(False, "--resume", help="Continue from <out>.ckpt.safetensors."),
) -> None:
    """Train the noise-level-conditioned denoising autoencoder (AWGN synthesized on the fly)."""
    _setup_logging(False)
    if out.suffix != ".safetensors":
        raise _usage_error("--out must end in .safetensors")
    from restore.train.denoise import train_denoise
    try:
        train_denoise(data=[str(d) for d in data], out=out, steps=steps, batch=batch, patch=patch, lr=lr,
                      width=width, levels=levels, blocks=blocks, sigma_max=sigma_max, val_every=val_every,
                      seed=seed, device=device, resume=resume, max_minutes=max_minutes, log=typer.echo)
    except (FileNotFoundError, ValueError) as e:
        raise _usage_error(str(e)) from None


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
