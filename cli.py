"""The ``restore`` command line: task commands over files and folders, ``models``, ``bench``, ``train``.

The only module that prints or exits. Exit codes: 0 ok, 1 some files failed or the model
could not be loaded, 2 bad usage, 130 interrupted (Ctrl-C).
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

USAGE, FAILED, INTERRUPTED = 2, 1, 130


def _usage_error(msg: str) -> typer.Exit:
    typer.secho(f"error: {msg}", err=True, fg=typer.colors.RED)
    return typer.Exit(USAGE)


def _option_error(e: ValueError) -> typer.Exit:
    """A library error about an option as a usage error; a pipeline's ``OptionError``
    names the option as its flag (``min_confidence`` -> ``--min-confidence``)."""
    from restore.pipelines.base import OptionError
    if isinstance(e, OptionError):
        return _usage_error(f"--{e.option.replace('_', '-')} {e.reason}")
    return _usage_error(str(e).strip("'\""))


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s")
    import warnings

    def one_line(message, category, filename, lineno, file=None, line=None) -> None:
        """A Python warning (numpy, scikit-image, torch) as one log line, not a traceback-like block."""
        logging.getLogger("restore").warning("warning: %s", str(message).splitlines()[0] if str(message) else category.__name__)

    warnings.showwarning = one_line


def _parse_sigma(sigma: str) -> float | str:
    """A number, or the text as given ('auto'; the pipeline refuses any other text)."""
    try:
        return float(sigma)
    except ValueError:
        return sigma


def _run_folder(job, pipe, input_path: Path, output: Path, *, recursive: bool, skip_existing: bool,
                overwrite: bool, fmt: Optional[str], quality: Optional[int], quiet: bool, max_pixels: int,
                engine: dict, find=None) -> None:
    """Run ``job`` (a :class:`restore.engines.PipelineJob`) over the folder on ``engine``
    (the ``--engine`` options): locally with the pipeline ``pipe`` loaded here (and the side
    input finder ``find``), on Ray by loading it again on each worker."""
    from restore.engines import run_folder

    def on_error(path: Path, reason: str) -> None:
        from tqdm.auto import tqdm
        tqdm.write(f"failed: {path}: {reason}", file=__import__("sys").stderr)

    try:
        make_process = (lambda: job.process(pipe, find)) if engine["engine"] == "local" else job
        result = run_folder(make_process, input_path, output, **engine, recursive=recursive,
                            skip_existing=skip_existing, overwrite=overwrite, fmt=fmt, quality=quality,
                            progress=not quiet, on_error=on_error, max_pixels=max_pixels)
    except (FileNotFoundError, ValueError, ImportError) as e:
        raise _usage_error(str(e)) from None
    except KeyboardInterrupt:  # before the first file (listing the folder)
        raise _interrupted() from None
    if result.cleaned and not quiet:
        typer.echo(f"removed {len(result.cleaned)} temporary file(s) left by an interrupted run in {output}", err=True)
    if not result.written and not result.skipped and not result.failed and not result.interrupted:
        typer.secho(f"no images found in {input_path}", err=True, fg=typer.colors.YELLOW)
    typer.echo(result.summary(), err=bool(result.failed or result.interrupted))
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def _interrupted() -> typer.Exit:
    """Ctrl-C before any file was processed (e.g. while the model loads)."""
    typer.echo("interrupted before any file was processed", err=True)
    return typer.Exit(INTERRUPTED)


def _load(task: str, model: Optional[str], device: str, tile: Optional[int], overlap: Optional[int],
          precision: str = "auto", backend: str = "torch"):
    from restore import load_pipeline
    extra = {} if backend == "torch" else {"backend": backend}  # the default: the call of every release before
    try:
        return load_pipeline(task, model=model, device=device, tile="auto" if tile is None else (tile or None),
                             overlap=overlap, precision=precision, **extra)
    except (KeyError, ValueError) as e:
        raise _usage_error(str(e).strip("'\"")) from None
    except ImportError as e:  # an optional extra (backend onnx) not installed
        raise _weights_error(e) from None
    except RuntimeError as e:
        from restore.zoo import WeightsError  # imported here: restore.zoo imports torch
        if isinstance(e, WeightsError):
            raise _weights_error(e) from None
        raise
    except KeyboardInterrupt:
        raise _interrupted() from None


def _weights_error(e: Exception) -> typer.Exit:
    """A weights or manifest problem, or a missing extra: its one line (file or package, and
    remedy), exit code 1."""
    typer.secho(f"error: {e}", err=True, fg=typer.colors.RED)
    return typer.Exit(FAILED)


def _task(task: str, model: Optional[str], device: str, tile: Optional[int], overlap: Optional[int],
          precision: str = "auto", backend: str = "torch", **options):
    """The task's pipeline and its options checked, with the model's defaults filled in
    (``Pipeline.resolve_options``): a bad option is a usage error before any file is read."""
    pipe = _load(task, model, device, tile, overlap, precision, backend)
    try:
        return pipe, pipe.resolve_options(**options)
    except ValueError as e:
        raise _option_error(e) from None


def _pick_model(pick, *args) -> Optional[str]:
    """``pick(*args)``, a zoo rule that chooses the model for an option (``model_for_scale``,
    ``model_for_sigma``): a bad choice is a usage error, an unreadable manifest one line."""
    from restore.zoo.registry import WeightsError
    try:
        return pick(*args)
    except (KeyError, ValueError) as e:
        raise _option_error(e) from None
    except WeightsError as e:
        raise _weights_error(e) from None


def _job(task: str, model: Optional[str], device: str, tile: Optional[int], overlap: Optional[int], options: dict,
         precision: str = "auto", backend: str = "torch", **kwargs):
    """The picklable recipe of the task's process (what ``--engine ray`` sends to its
    workers), with the pipeline loaded as ``_load`` loads it and the options checked."""
    from restore.engines import PipelineJob
    load = dict(model=model, device=device, tile="auto" if tile is None else (tile or None), overlap=overlap,
                precision=precision)
    if backend != "torch":
        load["backend"] = backend
    return PipelineJob(task, load=load, options=options, **kwargs)


# Shared options of the task commands.
def _input_location(value: str):
    """INPUT_PATH: a local file or folder (must exist) or an ``s3://`` location (checked when listed)."""
    from restore.storage import as_path, is_remote
    if not is_remote(value) and not Path(value).exists():
        raise typer.BadParameter(f"Path '{value}' does not exist.")
    return as_path(value)


def _output_location(value: str):
    from restore.storage import as_path
    return as_path(value)


InputArg = typer.Argument(..., help="An image file or a folder of images (or s3://BUCKET/PREFIX).",
                          parser=_input_location)
OutputArg = typer.Argument(..., help="Output folder, created (or s3://BUCKET/PREFIX).", parser=_output_location)
ModelOpt = typer.Option(None, "--model", "-m", help="Zoo model (see `restore models`); default: the task's default.")
DeviceOpt = typer.Option("auto", "--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda or mps.")
TileOpt = typer.Option(None, "--tile", min=0,
                       help="Tile side in input pixels for large images; 0 = whole image at once "
                            "(default: the model's: 768 for dae-s, 192 for the x4 models, 512 for unwatermark-s).")
OverlapOpt = typer.Option(None, "--overlap", min=0,
                          help="Overlap between tiles in input pixels (default: the model's: 64, x4 models 32).")
RecursiveOpt = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders, mirroring the tree.")
SkipOpt = typer.Option(False, "--skip-existing", help="Skip files whose output exists (finishes an interrupted run).")
OverwriteOpt = typer.Option(False, "--overwrite", help="Replace existing outputs (never an input).")
FormatOpt = typer.Option(None, "--format", "-f", help="Output format: png, jpg, tif, bmp, webp (default: the input's).")
QualityOpt = typer.Option(None, "--quality", "-q", min=1, max=100, help="JPEG/WebP quality 1-100 (default 95).")
QuietOpt = typer.Option(False, "--quiet", help="No progress bar or info messages.")
MaxPixelsOpt = typer.Option(100_000_000, "--max-pixels", min=0,
                            help="Refuse images larger than this many pixels (width x height, read from the file "
                                 "header before decoding); 0 = no limit.")
EngineOpt = typer.Option("local", "--engine", help="Where the folder job runs: local (this process) or ray (the "
                                                    "workers of a Ray cluster; needs pip install 'restore[ray]').")
AddressOpt = typer.Option(None, "--address", help="Ray cluster to use: auto (the one started with `ray start` on "
                                                  "this machine) or ray://HOST:10001; default: a new one on this "
                                                  "machine. --engine ray only.")
WorkersOpt = typer.Option(None, "--workers", min=1, help="Ray workers, each with its own copy of the model "
                                                         "(default 1). --engine ray only.")
GpusOpt = typer.Option(None, "--gpus-per-worker", min=0.0, help="GPUs per Ray worker; a fraction shares a GPU "
                                                                "(default 0: one CPU core each). --engine ray only.")

PrecisionOpt = typer.Option("auto", "--precision",
                            help="auto (bf16 on a CPU with AMX or an AMD one with avx512_bf16, for the models "
                                 "that keep their quality in it, else fp32), fp32 or bf16 (CPU only).")

BackendOpt = typer.Option("torch", "--backend",
                          help="torch, or onnx: the network run by ONNX Runtime on the CPU in float32 (faster "
                               "than torch on the CPUs measured in docs/benchmarks.md; exported once into "
                               "~/.cache/restore/onnx; needs pip install 'restore[onnx]').")


def _engine(engine: str, address: Optional[str], workers: Optional[int], gpus_per_worker: Optional[float]) -> dict:
    """The ``--engine`` options as :func:`restore.engines.run_folder` takes them."""
    return dict(engine=engine, address=address, workers=workers, gpus_per_worker=gpus_per_worker)


# Shared option and helper of the bench commands.
RecordOpt = typer.Option(False, "--record", help="Store the zoo models' figures in weights/manifest.json.")


def _progress(quiet: bool):
    """The bench progress callback: one line per method on stderr, none with --quiet."""
    return None if quiet else (lambda msg: typer.echo(msg, err=True))


@app.command()
def denoise(input_path: Path = InputArg, output: Path = OutputArg,
            sigma: str = typer.Option("auto", "--sigma", "-s",
                                      help="Noise level on the 0-255 scale (0-75): runs dae-s, the model that "
                                           "takes one. 'auto' (default): the default model, blind dae-real-s (or, "
                                           "with --model dae-s, a level estimated per image)."),
            model: Optional[str] = ModelOpt, device: str = DeviceOpt, tile: Optional[int] = TileOpt,
            overlap: Optional[int] = OverlapOpt, recursive: bool = RecursiveOpt, skip_existing: bool = SkipOpt,
            overwrite: bool = OverwriteOpt, fmt: Optional[str] = FormatOpt, quality: Optional[int] = QualityOpt,
            quiet: bool = QuietOpt, max_pixels: int = MaxPixelsOpt, precision: str = PrecisionOpt,
            backend: str = BackendOpt, engine: str = EngineOpt, address: Optional[str] = AddressOpt,
            workers: Optional[int] = WorkersOpt, gpus_per_worker: Optional[float] = GpusOpt) -> None:
    """Remove noise from the images in INPUT_PATH and write them to OUTPUT."""
    _setup_logging(quiet)
    sigma = _parse_sigma(sigma)
    from restore.zoo.registry import model_for_sigma
    model = _pick_model(model_for_sigma, sigma, model)
    pipe, opts = _task("denoise", model, device, tile, overlap, precision, backend, sigma=sigma)
    _run_folder(_job("denoise", model, device, tile, overlap, opts, precision, backend), pipe, input_path, output, recursive=recursive,
                skip_existing=skip_existing, overwrite=overwrite, fmt=fmt, quality=quality, quiet=quiet,
                max_pixels=max_pixels, engine=_engine(engine, address, workers, gpus_per_worker))


@app.command()
def upscale(input_path: Path = InputArg, output: Path = OutputArg,
            scale: Optional[int] = typer.Option(None, "--scale", "-s",
                                                help="Model scale, 2 or 4: picks the default model of that scale "
                                                     "(for real photos: real-srgan-x4, real-srresnet-x2)."),
            outscale: Optional[float] = typer.Option(None, "--outscale",
                                                     help="Final size as a multiple of the input (default: the model's scale)."),
            strength: Optional[float] = typer.Option(None, "--strength", min=0.0, max=1.0,
                                                     help="Detail against fidelity, 0-1, for real-srgan-x4 (the default model) "
                                                          "and srgan-x4: 0 = their PSNR model (smooth, faithful), 1 = "
                                                          "sharpest; default 0.5 for real-srgan-x4, 1 for srgan-x4."),
            model: Optional[str] = ModelOpt, device: str = DeviceOpt, tile: Optional[int] = TileOpt,
            overlap: Optional[int] = OverlapOpt, recursive: bool = RecursiveOpt, skip_existing: bool = SkipOpt,
            overwrite: bool = OverwriteOpt, fmt: Optional[str] = FormatOpt, quality: Optional[int] = QualityOpt,
            quiet: bool = QuietOpt, max_pixels: int = MaxPixelsOpt, precision: str = PrecisionOpt,
            engine: str = EngineOpt, address: Optional[str] = AddressOpt, workers: Optional[int] = WorkersOpt,
            gpus_per_worker: Optional[float] = GpusOpt) -> None:
    """Upscale the images in INPUT_PATH with SRGAN / SRResNet and write them to OUTPUT."""
    _setup_logging(quiet)
    if scale is not None:
        from restore.zoo.registry import model_for_scale
        model = _pick_model(model_for_scale, "upscale", scale, model)
    pipe, opts = _task("upscale", model, device, tile, overlap, precision, outscale=outscale, strength=strength)
    _run_folder(_job("upscale", model, device, tile, overlap, opts, precision), pipe, input_path, output, recursive=recursive,
                skip_existing=skip_existing, overwrite=overwrite, fmt=fmt, quality=quality, quiet=quiet,
                max_pixels=max_pixels, engine=_engine(engine, address, workers, gpus_per_worker))


@app.command()
def unwatermark(input_path: Path = InputArg, output: Path = OutputArg,
                save_mask: bool = typer.Option(False, "--save-mask",
                                               help="Also write the predicted watermark mask as <name>_mask.<ext>."),
                refine: Optional[str] = typer.Option(
                    None, "--refine", help="Fill opaque parts of the mark: telea (OpenCV inpainting), inpaint (the "
                                           "inpainting pipeline's default model; slower) or none (default: the "
                                           "model's, telea)."),
                opaque_alpha: Optional[float] = typer.Option(
                    None, "--opaque-alpha", help="Predicted opacity above which a mark is taken as opaque and refined "
                                                 "(0-1; default: the model's, 0.3 for unwatermark-s)."),
                min_confidence: Optional[float] = typer.Option(
                    None, "--min-confidence", help="Keep a connected part of the mask only if one of its pixels is more "
                                                   "probable than this (0.25-1; default: the model's, 0.995 for "
                                                   "unwatermark-s; 0.25 keeps every part)."),
                tta: bool = typer.Option(True, "--tta/--no-tta",
                                         help="Run the mirrored image again around the detected marks and average "
                                              "(fewer false detections; about 1.4 times the time)."),
                jpeg: Optional[bool] = typer.Option(
                    None, "--jpeg/--no-jpeg",
                    help="Run the weights trained on JPEG-saved marks (--jpeg) or the model's own (--no-jpeg) on every "
                         "image (default: the JPEG-trained ones on images that show a JPEG history; only for a model "
                         "with such a partner, as the default unwatermark-s)."),
                model: Optional[str] = ModelOpt, device: str = DeviceOpt, tile: Optional[int] = TileOpt,
                overlap: Optional[int] = OverlapOpt, recursive: bool = RecursiveOpt, skip_existing: bool = SkipOpt,
                overwrite: bool = OverwriteOpt, fmt: Optional[str] = FormatOpt, quality: Optional[int] = QualityOpt,
                quiet: bool = QuietOpt, max_pixels: int = MaxPixelsOpt, precision: str = PrecisionOpt,
                backend: str = BackendOpt, engine: str = EngineOpt, address: Optional[str] = AddressOpt,
                workers: Optional[int] = WorkersOpt, gpus_per_worker: Optional[float] = GpusOpt) -> None:
    """Remove visible watermarks (text, logos, tiled patterns) from the images in INPUT_PATH."""
    _setup_logging(quiet)
    pipe, opts = _task("unwatermark", model, device, tile, overlap, precision, backend, return_mask=save_mask, refine=refine,
                       opaque_alpha=opaque_alpha, min_confidence="auto" if min_confidence is None else min_confidence,
                       tta=tta, jpeg=jpeg)
    job = _job("unwatermark", model, device, tile, overlap, opts, precision, backend, outputs=("", "_mask") if save_mask else ("",))
    _run_folder(job, pipe, input_path, output, recursive=recursive, skip_existing=skip_existing,
                overwrite=overwrite, fmt=fmt, quality=quality, quiet=quiet, max_pixels=max_pixels,
                engine=_engine(engine, address, workers, gpus_per_worker))


@app.command()
def colorize(input_path: Path = InputArg, output: Path = OutputArg,
             render_size: Optional[int] = typer.Option(
                 None, "--render-size", help="Short side (pixels) the network sees; the colors are upsampled to the "
                                             "full image. Larger: finer color detail, slower (default: the model's, "
                                             "256 for colorize-s)."),
             saturation: Optional[float] = typer.Option(
                 None, "--saturation", help="Factor on the decoded chroma: 0 = gray, above the default = more vivid "
                                            "(default: the model's calibrated value, see docs/models.md)."),
             temperature: Optional[float] = typer.Option(
                 None, "--temperature", help="Annealed-mean temperature in (0, 1]: lower is more vivid, 1 the safe "
                                             "mean (default: the calibrated value, see docs/models.md)."),
             chroma_spread: Optional[float] = typer.Option(
                 None, "--chroma-spread", help="Automatic mode: factor on each pixel's color minus the photo's mean "
                                               "color, >= 0; above 1 the colors move apart (less of one overall "
                                               "tint), 1 = as decoded (default: the model's, see docs/models.md)."),
             tta: Optional[bool] = typer.Option(
                 None, "--tta/--no-tta", help="Average the network over the photo and its mirror image (twice "
                                              "the network's time; default: the model's)."),
             hints: Optional[Path] = typer.Option(
                 None, "--hints", exists=True,
                 help="Folder of color-hint images paired with the photos by file stem: PNG with transparency, "
                      "transparent except dots or strokes of the colors wanted (their chroma is used)."),
             hint: Optional[Path] = typer.Option(None, "--hint", exists=True,
                                                 help="One color-hint image for every photo."),
             reference: Optional[Path] = typer.Option(
                 None, "--reference", exists=True, dir_okay=False,
                 help="A color photo whose palette guides the colors of every photo (its a*b* histogram as "
                      "the network's color prior, then a partial match of its a*b* mean and spread); "
                      "combines with --hints/--hint. Any model."),
             reference_strength: Optional[float] = typer.Option(
                 None, "--reference-strength",
                 help="How strongly --reference's palette weighs on the network's colors, >= 0; 1: the "
                      "reference's color frequencies replace the training set's; above about 1.25 colors turn "
                      "garish (default: the model's, 1.0 for colorize-hints-s, 0.75 for colorize-s)."),
             model: Optional[str] = ModelOpt, device: str = DeviceOpt, recursive: bool = RecursiveOpt,
             skip_existing: bool = SkipOpt, overwrite: bool = OverwriteOpt, fmt: Optional[str] = FormatOpt,
             quality: Optional[int] = QualityOpt, quiet: bool = QuietOpt,
             max_pixels: int = MaxPixelsOpt, precision: str = PrecisionOpt,
             engine: str = EngineOpt, address: Optional[str] = AddressOpt, workers: Optional[int] = WorkersOpt,
             gpus_per_worker: Optional[float] = GpusOpt) -> None:
    """Colorize the gray, faded or sepia photos in INPUT_PATH (output RGB, alpha kept), automatically,
    guided by color hints (--hints, --hint) and/or by a reference photo's palette (--reference)."""
    _setup_logging(quiet)
    from restore.pipelines.batch import pair_finder
    from restore.zoo.registry import model_for_hints
    if hints is not None and hint is not None:
        raise _usage_error("give --hints FOLDER (hint images paired by file stem) or --hint FILE (one for all), "
                           "not both")
    if hints is not None and not hints.is_dir():
        raise _usage_error(f"--hints {hints} is not a folder (use --hint for one hint image for every photo)")
    if hint is not None and hint.is_dir():
        raise _usage_error(f"--hint {hint} is a folder (use --hints for hint images paired by file stem)")
    source = hints or hint
    model = _pick_model(model_for_hints, source is not None, model)
    find = None
    if source is not None:
        try:
            find = pair_finder(input_path, source, kind="hint image", max_pixels=max_pixels)
        except (FileNotFoundError, ValueError) as e:
            raise _usage_error(str(e)) from None
    pipe, opts = _task("colorize", model, device, None, None, precision, render_size=render_size, saturation=saturation,
                       temperature=temperature, reference=None if reference is None else str(reference),
                       reference_strength=reference_strength, chroma_spread=chroma_spread, tta=tta)
    pair = None if source is None else (str(input_path.absolute()), str(source.absolute()), "hint image")
    _run_folder(_job("colorize", model, device, None, None, opts, precision, pair=pair, max_pixels=max_pixels), pipe,
                input_path, output, recursive=recursive, skip_existing=skip_existing, overwrite=overwrite, fmt=fmt,
                quality=quality, quiet=quiet, max_pixels=max_pixels,
                engine=_engine(engine, address, workers, gpus_per_worker), find=find)


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
                                                  help="Overlap of the windows of a windowed model (default: the "
                                                       "model's, 16 for gan-photos-64)."),
            recursive: bool = RecursiveOpt, skip_existing: bool = SkipOpt, overwrite: bool = OverwriteOpt,
            fmt: Optional[str] = FormatOpt, quality: Optional[int] = QualityOpt, quiet: bool = QuietOpt,
            max_pixels: int = MaxPixelsOpt,
            engine: str = EngineOpt, address: Optional[str] = AddressOpt, workers: Optional[int] = WorkersOpt,
            gpus_per_worker: Optional[float] = GpusOpt) -> None:
    """Fill the masked parts of the images in INPUT_PATH (GAN latent optimization + Poisson blending)."""
    _setup_logging(quiet)
    from restore.pipelines.batch import pair_finder
    if (masks is None) == (mask is None):
        raise _usage_error("give either --masks FOLDER (masks paired by file stem) or --mask FILE (one for all)")
    if masks is not None and not masks.is_dir():
        raise _usage_error(f"--masks {masks} is not a folder (use --mask for one mask for every image)")
    if mask is not None and mask.is_dir():
        raise _usage_error(f"--mask {mask} is a folder (use --masks for masks paired by file stem)")
    try:
        find_mask = pair_finder(input_path, masks or mask, kind="mask", max_pixels=max_pixels)
    except (FileNotFoundError, ValueError) as e:
        raise _usage_error(str(e)) from None
    pipe, opts = _task("inpaint", model, device, None, overlap, method=method, init=init, steps=steps,
                       restarts=restarts, lambda_prior=lambda_prior, seed=seed, return_raw=save_raw)
    job = _job("inpaint", model, device, None, overlap, opts, outputs=("", "_raw") if save_raw else ("",),
               pair=(str(input_path.absolute()), str((masks or mask).absolute()), "mask"), max_pixels=max_pixels)
    _run_folder(job, pipe, input_path, output, recursive=recursive, skip_existing=skip_existing,
                overwrite=overwrite, fmt=fmt, quality=quality, quiet=quiet, max_pixels=max_pixels,
                engine=_engine(engine, address, workers, gpus_per_worker), find=find_mask)


@app.command()
def models(task: Optional[str] = typer.Option(None, "--task", help="Only this task's models.")) -> None:
    """List the model zoo: name, task, parameters, size, device advice, license, data, benchmarks."""
    from restore.zoo import WeightsError
    from restore.zoo.manifest import models_table
    try:
        typer.echo(models_table(task))
    except WeightsError as e:  # an unreadable manifest
        raise _weights_error(e) from None


@app.command()
def serve(host: str = typer.Option("127.0.0.1", "--host", help="Address to bind: 127.0.0.1 is this computer only; "
                                                               "0.0.0.0 opens the app to the network."),
          port: int = typer.Option(7860, "--port", min=1, max=65535, help="TCP port."),
          device: str = DeviceOpt,
          max_pixels: float = typer.Option(16.0, "--max-pixels", min=0.01,
                                           help="Largest image processed, in megapixels (width x height / 1e6)."),
          max_upload: float = typer.Option(50.0, "--max-upload", min=0.01, help="Largest upload, in MB."),
          quiet: bool = QuietOpt) -> None:
    """Start the local web app (one tab per task, masks painted by hand); needs `pip install 'restore[web]'`."""
    _setup_logging(quiet)
    from restore.web import INSTALL_HINT, serve as serve_app
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise _usage_error(INSTALL_HINT) from None
    from restore.zoo.registry import resolve_device
    try:
        resolve_device(device)
    except ValueError as e:
        raise _usage_error(str(e)) from None
    typer.echo(f"restore web app on http://{host}:{port} (Ctrl+C stops it)",
               err=True)
    serve_app(host=host, port=port, device=device, max_pixels=int(max_pixels * 1e6),
              max_file_size=int(max_upload * 1024 * 1024), quiet=quiet)


def _print_reports(reports) -> None:
    """Print the tables of a bench run as each is done; bad data, options or models are usage
    errors."""
    try:
        for report in reports:
            if report.text:
                typer.echo(report.text)
                typer.echo("")
            for path in report.wrote:
                typer.echo(f"wrote {path}", err=True)
    except (KeyError, ValueError, FileNotFoundError, ImportError) as e:
        raise _usage_error(str(e).strip("'\"")) from None
    except RuntimeError as e:
        from restore.zoo import WeightsError
        if isinstance(e, WeightsError):
            raise _weights_error(e) from None
        raise


@bench_app.command("denoise")
def bench_denoise_cmd(
        data: Path = typer.Option(..., "--data", help="Folder of clean images (or polyu pairs with --real).", exists=True),
        sigma: list[float] = typer.Option([25.0], "--sigma", "-s", help="AWGN level(s), 0-255 scale; repeatable."),
        real: bool = typer.Option(False, "--real", help="Real-noise pairs (*_real / *_mean): models use sigma auto."),
        files: bool = typer.Option(False, "--files", help="Also time the user's path, cold: noisy 8-bit PNG files "
                                   "denoised by a folder run (model load included), in a second table."),
        jpeg: Optional[list[int]] = typer.Option(None, "--jpeg", help="JPEG quality (1-100): the clean images saved as "
                                                 "JPEG, models with sigma auto, instead of AWGN; repeatable. "
                                                 "Baselines default to the JPEG input alone.", min=1, max=100),
        clean: bool = typer.Option(False, "--clean", help="Clean images as input: how much each model changes "
                                   "them (output against input), instead of AWGN."),
        model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Zoo models to run (default: all denoise models)."),
        baseline: Optional[list[str]] = typer.Option(None, "--baseline", help="noisy, nlm, bm3d (default: all)."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N images."),
        device: str = DeviceOpt,
        record: bool = RecordOpt,
        quiet: bool = QuietOpt) -> None:
    """Print a markdown table: PSNR, SSIM and seconds per megapixel of each method, from one run."""
    _setup_logging(quiet)
    from restore.bench.denoise import BASELINES, reports
    if baseline:
        baselines = tuple(baseline)
    else:
        baselines = ("noisy",) if jpeg else BASELINES
    _print_reports(reports(data, sigmas=sigma, real=real, files=files, jpeg=jpeg or (), clean=clean,
                           models=model or None, device=device, baselines=baselines, limit=limit, record=record,
                           progress=_progress(quiet)))


@bench_app.command("upscale")
def bench_upscale_cmd(
        data: list[Path] = typer.Option(..., "--data", help="Folder of *_HR / *_LR pairs (Set5, Set14), or of clean photos "
                                        "with --realistic (Kodak24, CBSD68); repeatable.", exists=True),
        model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Zoo models (default: all of the pairs' scale)."),
        baseline: Optional[list[str]] = typer.Option(None, "--baseline", help="bicubic, lanczos (default: both)."),
        limit: Optional[int] = typer.Option(None, "--limit", help="Only the first N pairs."),
        picture: Optional[Path] = typer.Option(None, "--picture", help="Write a comparison grid (HR | bicubic | models) of the "
                                               "most detailed 96 px crop of each image of the first --data folder."),
        realistic: bool = typer.Option(False, "--realistic", help="Make the LR inputs from clean photos with the realistic "
                                       "degradation model (blur, resize, noise, JPEG; fixed seed per image) and add a "
                                       "JPEG blockiness column."),
        scale: Optional[int] = typer.Option(None, "--scale", "-s", help="Scale of the realistic test set (2 or 4; default 4), "
                                            "or of the pairs: another scale than the given *_LR files' makes the LR "
                                            "from *_HR by MATLAB-style bicubic downsampling (e.g. Set5 x2)."),
        seed: int = typer.Option(0, "--seed", help="Seed of the realistic test set."),
        strength: Optional[list[float]] = typer.Option(None, "--strength", min=0.0, max=1.0,
                                                       help="Also run each model with a strength control at this "
                                                            "strength (repeatable: a row per strength)."),
        lr_cache: Optional[Path] = typer.Option(None, "--lr-cache", help="Keep the realistic LR files in this folder and "
                                                "read them from there next time (default: made again, identically)."),
        device: str = DeviceOpt,
        record: bool = RecordOpt,
        quiet: bool = QuietOpt) -> None:
    """Print a markdown table per folder: PSNR-Y, SSIM-Y, HF ratio (and blockiness with --realistic) and seconds per
    output megapixel."""
    _setup_logging(quiet)
    from restore.bench.upscale import BASELINES, reports
    _print_reports(reports(data, models=model or None, device=device,
                           baselines=tuple(baseline) if baseline else BASELINES, limit=limit, picture=picture,
                           record=record, progress=_progress(quiet), realistic=realistic, scale=scale, seed=seed,
                           cache=lr_cache, strengths=strength or None))


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
    from restore.bench.unwatermark import BASELINES, reports
    _print_reports(reports(data, logos=list(logos), models=model or None, device=device,
                           baselines=tuple(baseline) if baseline else BASELINES, seed=seed, jpeg=jpeg, limit=limit,
                           picture=picture, picture_rows=picture_rows, record=record, progress=_progress(quiet)))


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
        hints: Optional[list[int]] = typer.Option(None, "--hints", min=1,
                                                  help="Also a table of the models with hint inputs given N random "
                                                       "ground-truth hints per image; repeatable (e.g. --hints 1 "
                                                       "--hints 10 --hints 50)."),
        reference_self: bool = typer.Option(False, "--reference-self",
                                            help="Also run each model with the color original as its --reference "
                                                 "photo (rows 'reference = original')."),
        device: str = DeviceOpt,
        record: bool = RecordOpt,
        quiet: bool = QuietOpt) -> None:
    """Print a markdown table per folder: PSNR, SSIM, colorfulness (and its share of the
    originals') and seconds per megapixel, with the gray image as baseline."""
    _setup_logging(quiet)
    from restore.bench.colorize import reports
    _print_reports(reports(data, models=model or None, device=device, variants=variants, limit=limit, picture=picture,
                           picture_rows=picture_rows, old_photos=old_photos, old_photos_picture=old_photos_picture,
                           old_photos_count=old_photos_count, detail_picture=detail_picture, record=record,
                           hints=tuple(hints or ()), progress=_progress(quiet), reference_self=reference_self))


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
    from restore.bench.inpaint import BASELINES, reports
    _print_reports(reports(data, mask_kind=mask_kind, models=model or None, device=device,
                           baselines=tuple(baseline) if baseline else BASELINES,
                           inits=tuple(init) if init else ("encoder", "random"), seed=seed, size=size,
                           held_out=held_out, limit=limit, with_convergence=convergence, picture=picture,
                           picture_rows=picture_rows, record=record, progress=_progress(quiet)))


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
