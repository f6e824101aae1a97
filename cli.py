"""The ``restore`` command line: task commands over files and folders, ``models``, ``bench``, ``train``.

The only module that prints or exits. Exit codes: 0 ok, 1 some files failed, 2 bad usage.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Image restoration with deep generative models: denoise, colorize, upscale, inpaint, unwatermark.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmark a task's zoo models against classical baselines.")
app.add_typer(bench_app, name="bench")

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


def _load(task: str, model: Optional[str], device: str, tile: Optional[int], overlap: Optional[int]):
    from restore import load_pipeline
    from restore.zoo import WeightsError
    try:
        return load_pipeline(task, model=model, device=device, tile="auto" if tile is None else (tile or None),
                             overlap=overlap)
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
TileOpt = typer.Option(None, "--tile", min=0,
                       help="Tile side in input pixels for large images; 0 = whole image at once "
                            "(default: the task's, 768 for denoise, 192 for upscale, 512 for unwatermark).")
OverlapOpt = typer.Option(None, "--overlap", min=0, help="Overlap between tiles in input pixels (default: 64, upscale 32).")
RecursiveOpt = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders, mirroring the tree.")
SkipOpt = typer.Option(False, "--skip-existing", help="Skip files whose output exists.")
OverwriteOpt = typer.Option(False, "--overwrite", help="Replace existing outputs (never an input).")
FormatOpt = typer.Option(None, "--format", "-f", help="Output format: png, jpg, tif, bmp, webp (default: the input's).")
QualityOpt = typer.Option(None, "--quality", "-q", min=1, max=100, help="JPEG/WebP quality 1-100 (default 95).")
QuietOpt = typer.Option(False, "--quiet", help="No progress bar or info messages.")

# Shared option and helper of the bench commands.
RecordOpt = typer.Option(False, "--record", help="Store the zoo models' figures in weights/manifest.json.")


def _progress(quiet: bool):
    """The bench progress callback: one line per method on stderr, none with --quiet."""
    return None if quiet else (lambda msg: typer.echo(msg, err=True))


@app.command()
def denoise(input_path: Path = InputArg, output: Path = OutputArg,
            sigma: str = typer.Option("auto", "--sigma", "-s",
                                      help="Noise level on the 0-255 scale (0-75), or 'auto' to estimate it per image."),
            model: Optional[str] = ModelOpt, device: str = DeviceOpt, tile: Optional[int] = TileOpt,
            overlap: Optional[int] = OverlapOpt, recursive: bool = RecursiveOpt, skip_existing: bool = SkipOpt,
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
def upscale(input_path: Path = InputArg, output: Path = OutputArg,
            scale: Optional[int] = typer.Option(None, "--scale", "-s",
                                                help="Model scale: picks the default model of that scale (4)."),
            outscale: Optional[float] = typer.Option(None, "--outscale",
                                                     help="Final size as a multiple of the input (default: the model's scale)."),
            model: Optional[str] = ModelOpt, device: str = DeviceOpt, tile: Optional[int] = TileOpt,
            overlap: Optional[int] = OverlapOpt, recursive: bool = RecursiveOpt, skip_existing: bool = SkipOpt,
            overwrite: bool = OverwriteOpt, fmt: Optional[str] = FormatOpt, quality: Optional[int] = QualityOpt,
            quiet: bool = QuietOpt) -> None:
    """Upscale the images in INPUT_PATH with SRGAN / SRResNet and write them to OUTPUT."""
    _setup_logging(quiet)
    from restore.zoo.registry import default_model, get_spec, list_models as zoo_models
    if outscale is not None and outscale <= 0:
        raise _usage_error(f"--outscale must be > 0, got {outscale}")
    if model is None and scale is not None:
        matching = [m for m in zoo_models("upscale") if get_spec(m).scale == scale]
        if not matching:
            scales = sorted({get_spec(m).scale for m in zoo_models("upscale")})
            raise _usage_error(f"no upscale model of scale {scale}; scales in the zoo: {scales}")
        model = default_model("upscale") if default_model("upscale") in matching else matching[0]
    pipe = _load("upscale", model, device, tile, overlap)
    if scale is not None and pipe.scale != scale:
        raise _usage_error(f"model {pipe.spec.name} is x{pipe.scale}, not x{scale} (use --outscale for other sizes)")
    _run_folder(lambda image, path: pipe(image, outscale=outscale), input_path, output, recursive=recursive,
                skip_existing=skip_existing, overwrite=overwrite, fmt=fmt, quality=quality, quiet=quiet)


@app.command()
def unwatermark(input_path: Path = InputArg, output: Path = OutputArg,
                save_mask: bool = typer.Option(False, "--save-mask",
                                               help="Also write the predicted watermark mask as <name>_mask.<ext>."),
                refine: str = typer.Option("telea", "--refine",
                                           help="Fill opaque parts of the mark: telea (OpenCV inpainting), inpaint "
                                                "(the inpainting pipeline's default model; slower) or none."),
                opaque_alpha: Optional[float] = typer.Option(
                    None, "--opaque-alpha", help="Predicted opacity above which a mark is taken as opaque and refined "
                                                 "(0-1; default: the pipeline's OPAQUE_ALPHA)."),
                min_confidence: Optional[float] = typer.Option(
                    None, "--min-confidence", help="Keep a connected part of the mask only if one of its pixels is more "
                                                   "probable than this (0.25-1; default: the pipeline's "
                                                   "MIN_CONFIDENCE; 0.25 keeps every part)."),
                tta: bool = typer.Option(True, "--tta/--no-tta",
                                         help="Run the mirrored image again around the detected marks and average "
                                              "(fewer false detections; about 1.4 times the time)."),
                model: Optional[str] = ModelOpt, device: str = DeviceOpt, tile: Optional[int] = TileOpt,
                overlap: Optional[int] = OverlapOpt, recursive: bool = RecursiveOpt, skip_existing: bool = SkipOpt,
                overwrite: bool = OverwriteOpt, fmt: Optional[str] = FormatOpt, quality: Optional[int] = QualityOpt,
                quiet: bool = QuietOpt) -> None:
    """Remove visible watermarks (text, logos, tiled patterns) from the images in INPUT_PATH."""
    _setup_logging(quiet)
    from restore.pipelines.unwatermark import MIN_CONFIDENCE, OPAQUE_ALPHA, REFINE
    from restore.zoo.archs.unet import MASK_RAMP
    if refine not in REFINE:
        raise _usage_error(f"--refine must be one of {', '.join(REFINE)}, got {refine!r}")
    if opaque_alpha is not None and not 0 < opaque_alpha <= 1:
        raise _usage_error(f"--opaque-alpha must be in (0, 1], got {opaque_alpha}")
    if min_confidence is not None and not MASK_RAMP[0] <= min_confidence <= 1:
        raise _usage_error(f"--min-confidence must be in [{MASK_RAMP[0]}, 1], got {min_confidence}")
    opts = {"refine": refine, "opaque_alpha": OPAQUE_ALPHA if opaque_alpha is None else opaque_alpha,
            "min_confidence": MIN_CONFIDENCE if min_confidence is None else min_confidence, "tta": tta}
    pipe = _load("unwatermark", model, device, tile, overlap)

    def process(image, path):
        if not save_mask:
            return pipe(image, **opts)
        out, mask = pipe(image, return_mask=True, **opts)
        return {"": out, "_mask": mask}

    _run_folder(process, input_path, output, recursive=recursive, skip_existing=skip_existing,
                overwrite=overwrite, fmt=fmt, quality=quality, quiet=quiet)

@app.command()
def colorize(input_path: Path = InputArg, output: Path = OutputArg,
             render_size: int = typer.Option(256, "--render-size",
                                             help="Short side (pixels) the network sees; the colors are upsampled "
                                                  "to the full image. Larger: finer color detail, slower."),
             saturation: Optional[float] = typer.Option(
                 None, "--saturation", help="Factor on the decoded chroma: 0 = gray, above the default = more vivid "
                                            "(default: the model's calibrated value, see docs/models.md)."),
             temperature: Optional[float] = typer.Option(
                 None, "--temperature", help="Annealed-mean temperature in (0, 1]: lower is more vivid, 1 the safe "
                                             "mean (default: the calibrated value, see docs/models.md)."),
             model: Optional[str] = ModelOpt, device: str = DeviceOpt, recursive: bool = RecursiveOpt,
             skip_existing: bool = SkipOpt, overwrite: bool = OverwriteOpt, fmt: Optional[str] = FormatOpt,
             quality: Optional[int] = QualityOpt, quiet: bool = QuietOpt) -> None:
    """Colorize the gray, faded or sepia photos in INPUT_PATH (output RGB, alpha kept)."""
    _setup_logging(quiet)
    if render_size < 16:
        raise _usage_error(f"--render-size must be >= 16 pixels, got {render_size}")
    if saturation is not None and saturation < 0:
        raise _usage_error(f"--saturation must be >= 0, got {saturation}")
    if temperature is not None and not 0 < temperature <= 1:
        raise _usage_error(f"--temperature must be in (0, 1], got {temperature}")
    pipe = _load("colorize", model, device, None, None)

    def process(image, path):
        return pipe(image, render_size=render_size, saturation=saturation, temperature=temperature)

    _run_folder(process, input_path, output, recursive=recursive, skip_existing=skip_existing,
                overwrite=overwrite, fmt=fmt, quality=quality, quiet=quiet)


def _mask_finder(input_path: Path, masks: Optional[Path], mask: Optional[Path]):
    """``path -> mask array`` for the inpaint command: one mask for every image, or the
    mask of the same stem (same relative folder first) in the masks folder."""
    from restore.io import is_image_path, iter_images, read_image
    if (masks is None) == (mask is None):
        raise _usage_error("give either --masks FOLDER (masks paired by file stem) or --mask FILE (one for all)")
    if mask is not None:
        if not is_image_path(mask):
            raise _usage_error(f"--mask {mask} is not an image file")
        try:
            one = read_image(mask)
        except Exception as e:  # noqa: BLE001 - any unreadable mask is a usage error
            raise _usage_error(f"cannot read --mask {mask}: {e}") from None
        return lambda path: one
    if not masks.is_dir():
        raise _usage_error(f"--masks {masks} is not a folder")
    root = input_path if input_path.is_dir() else input_path.parent
    if input_path.is_dir() and masks.resolve().is_relative_to(input_path.resolve()):
        raise _usage_error(f"--masks {masks} is inside the input folder; keep masks in their own folder")
    index: dict[str, Path] = {}
    for p in sorted(iter_images(masks, recursive=True)):
        rel = p.relative_to(masks).with_suffix("")
        index.setdefault(rel.as_posix(), p)
        index.setdefault(p.stem, p)

    def find(path: Path):
        rel = path.relative_to(root).with_suffix("").as_posix() if path.is_relative_to(root) else path.stem
        found = index.get(rel) or index.get(path.stem)
        if found is None:
            raise FileNotFoundError(f"no mask for {path.name} in {masks} (masks are paired by file stem)")
        return read_image(found)

    return find


@app.command()
def inpaint(input_path: Path = InputArg, output: Path = OutputArg,
            masks: Optional[Path] = typer.Option(None, "--masks", exists=True,
                                                 help="Folder of masks paired with the images by file stem (any "
                                                      "image format; white = fill; resized with nearest neighbour)."),
            mask: Optional[Path] = typer.Option(None, "--mask", exists=True, help="One mask for every image."),
            method: str = typer.Option("gan", "--method", help="gan (latent search, default), or a classical "
                                                                "method for comparison: telea, ns, biharmonic."),
            init: str = typer.Option("encoder", "--init", help="Start of the latent search: encoder or random "
                                                                "(the paper's random restarts)."),
            steps: Optional[int] = typer.Option(None, "--steps", min=0, help="Latent-search steps (default: the model's)."),
            restarts: Optional[int] = typer.Option(None, "--restarts", min=1, help="Latents searched per image/window."),
            lambda_prior: Optional[float] = typer.Option(None, "--lambda-prior", min=0.0,
                                                         help="Weight of the discriminator prior (default 0.003)."),
            seed: int = typer.Option(0, "--seed", help="Seed of the search: same seed, same output."),
            save_raw: bool = typer.Option(False, "--save-raw", help="Also write G(z*) before blending as <name>_raw.<ext>."),
            model: Optional[str] = ModelOpt, device: str = DeviceOpt,
            overlap: Optional[int] = typer.Option(None, "--overlap", min=0,
                                                  help="Overlap of the windows of a windowed model (default 16)."),
            recursive: bool = RecursiveOpt, skip_existing: bool = SkipOpt, overwrite: bool = OverwriteOpt,
            fmt: Optional[str] = FormatOpt, quality: Optional[int] = QualityOpt, quiet: bool = QuietOpt) -> None:
    """Fill the masked parts of the images in INPUT_PATH (GAN latent optimization + Poisson blending)."""
    _setup_logging(quiet)
    from restore.pipelines.inpaint import INITS, METHODS
    if method not in METHODS:
        raise _usage_error(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if init not in INITS:
        raise _usage_error(f"--init must be one of {', '.join(INITS)}, got {init!r}")
    find_mask = _mask_finder(input_path, masks, mask)
    pipe = _load("inpaint", model, device, None, overlap)

    def process(image, path):
        out = pipe(image, find_mask(path), method=method, init=init, steps=steps, restarts=restarts,
                   lambda_prior=lambda_prior, seed=seed, return_raw=save_raw)
        return {"": out[0], "_raw": out[1]} if save_raw else out

    _run_folder(process, input_path, output, recursive=recursive, skip_existing=skip_existing,
                overwrite=overwrite, fmt=fmt, quality=quality, quiet=quiet)


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
        record: bool = RecordOpt,
        quiet: bool = QuietOpt) -> None:
    """Print a markdown table: PSNR, SSIM and seconds per megapixel of each method, from one run."""
    _setup_logging(quiet)
    from restore.bench.denoise import bench_denoise, bench_denoise_files, bench_denoise_real, format_table
    from restore.zoo.registry import list_models as zoo_models
    models_ = list(model) if model else zoo_models("denoise")
    baselines = tuple(baseline) if baseline else ("noisy", "nlm", "bm3d")
    progress = _progress(quiet)
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


def _bench_folders(data: list[Path], run, *, table, key, picture: Optional[Path], make_picture, record: bool,
                   limit: Optional[int]) -> None:
    """The per-folder part of the bench commands: ``run(folder, outputs)`` gives the rows
    (``outputs`` is a dict to fill for the picture on the first folder, else None);
    ``table(folder, rows)`` prints them; ``make_picture(outputs, rows)`` draws the picture
    written to ``picture``; with ``record`` the rows go to the manifest under
    ``key(folder, rows)``."""
    from restore.io import write_image
    for i, folder in enumerate(data):
        outputs: dict | None = {} if picture is not None and i == 0 else None
        try:
            rows = run(folder, outputs)
        except (KeyError, ValueError, FileNotFoundError) as e:
            raise _usage_error(str(e).strip("'\"")) from None
        typer.echo(table(folder, rows))
        typer.echo("")
        if outputs is not None:
            write_image(picture, make_picture(outputs, rows))
            typer.echo(f"wrote {picture}", err=True)
        if record:
            from restore.zoo.manifest import record_bench
            record_bench(rows, key(folder, rows), limit=limit)


def _first_model(rows: list[dict]) -> str:
    """The method label of the first zoo-model row of a bench run (for its --picture)."""
    ours = next((r["method"] for r in rows if r["method"].startswith("restore ")), None)
    if ours is None:
        raise _usage_error("--picture needs a model")
    return ours


@bench_app.command("upscale")
def bench_upscale_cmd(
        data: list[Path] = typer.Option(..., "--data", help="Folder of *_HR / *_LR pairs (Set5, Set14); repeatable.", exists=True),
        model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Zoo models (default: all of the pairs' scale)."),
        baseline: Optional[list[str]] = typer.Option(None, "--baseline", help="bicubic, lanczos (default: both)."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N pairs."),
        picture: Optional[Path] = typer.Option(None, "--picture", help="Write a comparison grid (HR | bicubic | models) of the "
                                               "most detailed 96 px crop of each image of the first --data folder."),
        device: str = DeviceOpt,
        record: bool = RecordOpt,
        quiet: bool = QuietOpt) -> None:
    """Print a markdown table per folder: PSNR-Y, SSIM-Y, HF ratio and seconds per output megapixel."""
    _setup_logging(quiet)
    from restore.bench.upscale import BASELINES, bench_upscale, comparison_picture, detail_crop, format_table
    progress = _progress(quiet)
    baselines = tuple(baseline) if baseline else BASELINES

    def make_picture(outputs: dict, rows: list[dict]):
        methods = ["HR"] + [r["method"] for r in rows if not r["method"].startswith("lanczos")]
        crops = [(name, *detail_crop(hr)) for name, hr in outputs["HR"].items()]
        return comparison_picture(outputs, methods, crops)

    _bench_folders(
        data, lambda folder, outputs: bench_upscale(folder, models=list(model) if model else None, device=device,
                                                    baselines=baselines, limit=limit, progress=progress,
                                                    keep_outputs=outputs),
        table=lambda folder, rows: format_table(rows, title=f"{folder.name}, x{rows[0]['scale']}, given LR inputs; "
                                                            f"Y channel, border {rows[0]['scale']} px cropped"),
        key=lambda folder, rows: f"{folder.name} x{rows[0]['scale']}", picture=picture, make_picture=make_picture,
        record=record, limit=limit)


@bench_app.command("unwatermark")
def bench_unwatermark_cmd(
        data: list[Path] = typer.Option(..., "--data", help="Folder of clean images (CBSD68, Kodak24); repeatable.", exists=True),
        logos: list[Path] = typer.Option(..., "--logos", exists=True,
                                         help="Logo folder(s); only the held-out logos (and font) make the test marks."),
        model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Zoo models (default: all unwatermark models)."),
        baseline: Optional[list[str]] = typer.Option(None, "--baseline", help="input, telea (default: both)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the synthetic test set."),
        jpeg: Optional[int] = typer.Option(None, "--jpeg", min=1, max=100,
                                           help="Save the watermarked images as JPEG at this quality after marking "
                                                "(the clean references too), as photos on the web are."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N images."),
        picture: Optional[Path] = typer.Option(None, "--picture", help="Write a grid (watermarked | mask | ours | "
                                               "true mask + Telea | clean) of the first --data folder's first images."),
        picture_rows: int = typer.Option(6, "--picture-rows", min=1, help="Images in the --picture grid."),
        device: str = DeviceOpt,
        record: bool = RecordOpt,
        quiet: bool = QuietOpt) -> None:
    """Print a markdown table per folder: PSNR, SSIM, RMSE, fRMSE, mask IoU and seconds per megapixel."""
    _setup_logging(quiet)
    from restore.bench.unwatermark import BASELINES, bench_unwatermark, format_table, picture_grid
    from restore.ops.degrade import load_watermark_bank
    progress = _progress(quiet)
    baselines = tuple(baseline) if baseline else BASELINES
    if picture is not None and "telea" not in baselines:
        raise _usage_error("--picture needs the telea baseline")
    try:
        bank = load_watermark_bank([str(d) for d in logos], "val")   # once for all folders
    except (FileNotFoundError, ValueError) as e:
        raise _usage_error(str(e)) from None

    def make_picture(outputs: dict, rows: list[dict]):
        return picture_grid(outputs, _first_model(rows), sorted(outputs["clean"])[:picture_rows])

    saved = "" if jpeg is None else f", saved as JPEG quality {jpeg} (clean reference too)"
    key_jpeg = "" if jpeg is None else f" JPEG q{jpeg}"
    _bench_folders(
        data, lambda folder, outputs: bench_unwatermark(folder, logos=bank, models=list(model) if model else None,
                                                        device=device, baselines=baselines, seed=seed, limit=limit,
                                                        jpeg=jpeg, progress=progress, keep_outputs=outputs),
        table=lambda folder, rows: format_table(rows, title=f"{folder.name}, synthetic watermarks (held-out logos and "
                                                            f"font, seed {seed}){saved}; RGB, RMSE on the 0-255 scale"),
        key=lambda folder, rows: f"{folder.name} watermarks{key_jpeg}", picture=picture, make_picture=make_picture,
        record=record, limit=limit)


@bench_app.command("colorize")
def bench_colorize_cmd(
        data: list[Path] = typer.Option(..., "--data", help="Folder of color images (Kodak24, CBSD68), converted to "
                                                            "gray (L*) for the test; repeatable.", exists=True),
        model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Zoo models (default: all colorize models)."),
        variants: bool = typer.Option(True, "--variants/--no-variants",
                                      help="Also run each model decoded as its posterior mean and as Zhang et al. "
                                           "decode, and with bilinear chroma upsampling."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N images."),
        picture: Optional[Path] = typer.Option(None, "--picture", help="Write a grid (gray | ours | original) of the "
                                               "first --data folder's first images."),
        picture_rows: int = typer.Option(6, "--picture-rows", min=1, help="Images in the --picture grid."),
        old_photos: Optional[Path] = typer.Option(None, "--old-photos", exists=True,
                                                  help="Folder of historical photos (no ground truth) to colorize for "
                                                       "--old-photos-picture."),
        old_photos_picture: Optional[Path] = typer.Option(None, "--old-photos-picture",
                                                          help="Write a grid (photo | ours) of --old-photos."),
        old_photos_count: int = typer.Option(12, "--old-photos-count", min=1,
                                             help="Photos in that grid, evenly spaced over the sorted folder."),
        detail_picture: Optional[Path] = typer.Option(None, "--detail-picture",
                                                      help="Also write 1:1 (full-resolution) 256 px centre crops "
                                                           "of the three largest photos of that grid, photo | ours."),
        device: str = DeviceOpt,
        record: bool = RecordOpt,
        quiet: bool = QuietOpt) -> None:
    """Print a markdown table per folder: PSNR, SSIM, colorfulness (and its share of the
    originals') and seconds per megapixel, with the gray image as baseline."""
    _setup_logging(quiet)
    from restore.bench.colorize import bench_colorize, format_table, pair_grid, picture_grid
    progress = _progress(quiet)
    if (old_photos is None) != (old_photos_picture is None):
        raise _usage_error("--old-photos and --old-photos-picture go together")
    if detail_picture is not None and old_photos is None:
        raise _usage_error("--detail-picture needs --old-photos")

    def make_picture(outputs: dict, rows: list[dict]):
        return picture_grid(outputs, _first_model(rows), sorted(outputs["original"])[:picture_rows])

    _bench_folders(
        data, lambda folder, outputs: bench_colorize(folder, models=list(model) if model else None, device=device,
                                                     variants=variants, limit=limit, progress=progress,
                                                     keep_outputs=outputs),
        table=lambda folder, rows: format_table(rows, title=f"{folder.name}, gray (L*) input, RGB; colorfulness of "
                                                            "Hasler & Suesstrunk on the 0-255 scale"),
        key=lambda folder, rows: f"{folder.name} colorize", picture=picture, make_picture=make_picture,
        record=record, limit=limit)
    if old_photos is not None:
        import numpy as np

        from restore import load_pipeline
        from restore.io import iter_images, read_image, to_rgb8, write_image
        paths = sorted(iter_images(old_photos))
        if not paths:
            raise _usage_error(f"no images in {old_photos}")
        idx = np.unique(np.linspace(0, len(paths) - 1, min(old_photos_count, len(paths))).round().astype(int))
        pipe = load_pipeline("colorize", model=model[0] if model else None, device=device)
        pairs = []
        for i in idx:
            img = read_image(paths[i])
            pairs.append((to_rgb8(img), to_rgb8(pipe(img))))
        write_image(old_photos_picture, pair_grid(pairs, ("photo", "restore")))
        typer.echo(f"wrote {old_photos_picture}", err=True)
        if detail_picture is not None:
            from restore.bench.colorize import center_crop
            largest = sorted(pairs, key=lambda p: -p[0].shape[0] * p[0].shape[1])[:3]
            crops = [(center_crop(a, 256), center_crop(b, 256)) for a, b in largest]
            write_image(detail_picture, pair_grid(crops, ("photo (1:1 crop)", "restore")))
            typer.echo(f"wrote {detail_picture}", err=True)


@bench_app.command("inpaint")
def bench_inpaint_cmd(
        data: list[Path] = typer.Option(..., "--data", help="Folder of clean images; repeatable.", exists=True),
        mask_kind: str = typer.Option("center", "--mask-kind", help="center (25% of the area), boxes or strokes (5%)."),
        model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Zoo models (default: the default inpaint model)."),
        baseline: Optional[list[str]] = typer.Option(None, "--baseline", help="telea, ns, biharmonic (default: all)."),
        init: Optional[list[str]] = typer.Option(None, "--init", help="Latent-search starts: encoder, random (default: both, the encoder first)."),
        size: Optional[int] = typer.Option(None, "--size", min=4, help="Resize every image to SIZE x SIZE first (64 for the face model)."),
        held_out: bool = typer.Option(False, "--held-out", help="Only the images held out of GAN training (1 in 16, by file name)."),
        convergence: bool = typer.Option(True, "--convergence/--no-convergence",
                                         help="Also print the steps each latent-search start needs (first model)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the masks and the search."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N images."),
        picture: Optional[Path] = typer.Option(None, "--picture", help="Write a grid (masked | Telea | biharmonic | "
                                               "ours | original) of the first --data folder's first images."),
        picture_rows: int = typer.Option(6, "--picture-rows", min=1, help="Images in the --picture grid."),
        device: str = DeviceOpt,
        record: bool = RecordOpt,
        quiet: bool = QuietOpt) -> None:
    """Print a markdown table per folder: PSNR, SSIM, hole PSNR, hole L1 and seconds per image."""
    _setup_logging(quiet)
    from restore.bench.inpaint import (BASELINES, bench_inpaint, format_convergence, format_table,
                                       picture_grid)
    from restore.bench.inpaint import convergence as run_convergence
    progress = _progress(quiet)
    baselines = tuple(baseline) if baseline else BASELINES
    inits = tuple(init) if init else ("encoder", "random")
    if picture is not None and not {"telea", "biharmonic"} <= set(baselines):
        raise _usage_error("--picture needs the telea and biharmonic baselines")
    opts = dict(mask_kind=mask_kind, seed=seed, size=size, held_out=held_out, limit=limit)

    def make_picture(outputs: dict, rows: list[dict]):
        ours = [r["method"] for r in rows if r["method"].startswith("restore ")]
        if not ours:
            raise _usage_error("--picture needs a model")
        return picture_grid(outputs, ours[0], sorted(outputs["clean"])[:picture_rows])   # the default start

    def run(folder: Path, outputs):
        rows = bench_inpaint(folder, models=list(model) if model else None, device=device, baselines=baselines,
                             inits=inits, progress=progress, keep_outputs=outputs, **opts)
        if convergence:
            from restore.zoo.registry import default_model
            conv = run_convergence(model[0] if model else default_model("inpaint"), folder, device=device, **opts)
            rows[0]["convergence"] = format_convergence(conv)
        return rows

    def table(folder: Path, rows: list[dict]) -> str:
        what = f"{folder.name}{' (held-out images)' if held_out else ''}{f' at {size}x{size}' if size else ''}"
        text = format_table(rows, title=f"{what}, {mask_kind} masks (seed {seed}); RGB, hole L1 on the 0-255 scale")
        return text + ("\n\n" + rows[0]["convergence"] if "convergence" in rows[0] else "")

    # a --limit run is recorded too, under a key that says so (the face set is a subset by design)
    _bench_folders(data, run, table=table,
                   key=lambda folder, rows: f"{folder.name} {mask_kind}" + (f" (first {limit})" if limit else ""),
                   picture=picture, make_picture=make_picture, record=record, limit=None)


class _TrainGroup(typer.core.TyperGroup):
    """``restore train``: one command per task, made from the task's recipe config
    (:mod:`restore.train`) when it is asked for, so that other commands do not import them."""

    def list_commands(self, ctx) -> list[str]:
        from restore.train import TASKS
        return list(TASKS)

    def get_command(self, ctx, name: str):
        from restore.train import TASKS
        if name not in TASKS:
            return None
        one = typer.Typer(add_completion=False)
        one.command(name)(_train_command(name))
        return typer.main.get_command(one)


def _train_option(f, hint):
    """The ``typer.Option`` and annotation of one recipe config field (its metadata: help,
    min/max, path/exists, name)."""
    import dataclasses
    import typing

    meta = f.metadata
    kwargs = {k: meta[k] for k in ("min", "max", "exists") if k in meta}
    names = (meta.get("name", "--" + f.name.replace("_", "-")),)
    default = ... if f.default is dataclasses.MISSING else f.default
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple:                          # repeatable
        hint, default = list[Path if meta.get("path") else args[0]], (default if default is ... else list(default))
    elif meta.get("path"):
        hint = Optional[Path] if type(None) in args else Path
    return typer.Option(default, *names, help=meta.get("help"), show_default=default is not None, **kwargs), hint


def _train_command(task: str):
    """``restore train TASK``: its options are the fields of the recipe's config dataclass,
    defaults and help included (declared there once)."""
    import dataclasses
    import inspect
    import typing

    from restore.train import recipe
    from restore.train.engine import TrainConfig, train

    cls = recipe(task)
    hints = typing.get_type_hints(cls.Config)
    run_options = {f.name for f in dataclasses.fields(TrainConfig)} - {"model"}
    params, annotations = [], {}
    # the required options, --model, the task's hyperparameters, then how the run goes (--resume, --device, ...)
    for f in sorted(dataclasses.fields(cls.Config),
                    key=lambda f: 0 if f.default is dataclasses.MISSING else 1 + (f.name in run_options)):
        default, annotations[f.name] = _train_option(f, hints[f.name])
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=annotations[f.name]))

    def command(**options) -> None:
        _setup_logging(False)
        try:
            train(cls, cls.Config(**options), log=typer.echo)
        except (FileNotFoundError, ValueError, KeyError) as e:
            raise _usage_error(e.args[0] if isinstance(e, KeyError) and e.args else str(e)) from None

    command.__signature__ = inspect.Signature(params)
    command.__annotations__ = annotations
    command.__doc__ = inspect.getdoc(cls).split("\n\n")[0]
    return command


train_app = typer.Typer(cls=_TrainGroup, no_args_is_help=True,
                        help="Train the architecture of a task's zoo model on a folder of clean images.")
app.add_typer(train_app, name="train")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
