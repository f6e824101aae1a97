"""restore: image restoration with deep generative models.

Public API::

    from restore import load_pipeline, list_models
    pipe = load_pipeline("denoise")            # default model, device "auto"
    clean = pipe(noisy, sigma=25)              # numpy/PIL/tensor in -> same kind out
    big = load_pipeline("upscale", "srgan-x4")(image)   # 4x the size
    clean, mask = load_pipeline("unwatermark")(image, return_mask=True)
    color = load_pipeline("colorize")(gray, saturation=1.1)   # gray/sepia in -> RGB out
    filled = load_pipeline("inpaint", "gan-faces-64")(face, mask)   # mask: white = fill
"""

from __future__ import annotations

__version__ = "0.1.0"

TASKS = ("denoise", "colorize", "upscale", "inpaint", "unwatermark")


def _pipeline_class(task: str):
    if task == "denoise":
        from restore.pipelines.denoise import DenoisePipeline
        return DenoisePipeline
    if task == "upscale":
        from restore.pipelines.upscale import UpscalePipeline
        return UpscalePipeline
    if task == "colorize":
        from restore.pipelines.colorize import ColorizePipeline
        return ColorizePipeline
    if task == "unwatermark":
        from restore.pipelines.unwatermark import UnwatermarkPipeline
        return UnwatermarkPipeline
    if task == "inpaint":
        from restore.pipelines.inpaint import InpaintPipeline
        return InpaintPipeline
    if task in TASKS:
        raise NotImplementedError(f"the {task} pipeline is not in this version of restore yet")
    raise KeyError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")


def load_pipeline(task: str, model=None, device: str = "auto", **kwargs):
    """Load the pipeline of ``task`` with a zoo model.

    Args:
        task: ``denoise``, ``colorize``, ``upscale``, ``inpaint`` or ``unwatermark``.
        model: zoo model name, or a ``restore.zoo.ModelSpec`` (e.g. a zoo spec whose
            inference settings were replaced with ``dataclasses.replace``); default: the
            task's default (see :func:`list_models`).
        device: ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda`` or ``mps``.
        **kwargs: passed to ``from_pretrained`` (``tile``, ``overlap``, ``half``; by
            default the model's: ``tile="auto"`` takes its ``spec.tile``).

    Raises:
        KeyError: unknown task or model.
        NotImplementedError: a task not implemented yet.
        restore.zoo.WeightsError: missing or corrupt weights.
    """
    return _pipeline_class(task).from_pretrained(model=model, device=device, **kwargs)


def list_models(task: str | None = None) -> list[str]:
    """Names of the zoo models, optionally of one task, sorted."""
    from restore.zoo.registry import list_models as _list
    return _list(task)


__all__ = ["TASKS", "list_models", "load_pipeline", "__version__"]
