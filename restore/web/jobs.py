"""The work behind the web app, without any web library: read an upload within the limits,
run a task's pipeline (loaded once per process), write the result to the app's own folder.

The calls are the CLI's: :func:`restore.load_pipeline`, ``Pipeline.resolve_options`` and
``Pipeline.__call__``, with :func:`restore.io.read_image` / :func:`restore.io.write_image`
at the edges, so that a result downloaded from the app is the file ``restore TASK`` writes
for the same image, options and mask (PNG, bit for bit).
"""

from __future__ import annotations

import itertools
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

#: Default largest image the app processes, in pixels (width x height): 16 MP.
DEFAULT_MAX_PIXELS = 16_000_000
#: Default largest upload, in bytes: 50 MB.
DEFAULT_MAX_FILE_SIZE = 50 * 1024 * 1024


class JobError(ValueError):
    """What went wrong with one request, in one line a user can act on (no stack trace)."""


def image_size(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` of an image file from its header, without decoding the pixels.

    Raises:
        JobError: the file is not an image Pillow can identify.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise JobError(f"{Path(path).name}: not an image file that can be read ({e.__class__.__name__})") from None


def read_upload(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None) -> np.ndarray:
    """Read an uploaded image within the pixel limit (checked from the header, before decoding).

    Args:
        path: the uploaded file.
        max_pixels: largest width x height accepted.
        name: the file name to show in errors (default: ``path``'s name).

    Returns:
        ``H x W x C`` uint8/uint16, as :func:`restore.io.read_image` reads it.

    Raises:
        JobError: unreadable file, or more pixels than ``max_pixels``.
    """
    from restore.io import ImageReadError, read_image

    name = name or Path(path).name
    w, h = image_size(path)
    if w * h > max_pixels:
        raise JobError(f"{name} is {w} x {h} = {w * h / 1e6:.1f} MP; this app takes images of at most "
                       f"{max_pixels / 1e6:g} MP (restore serve --max-pixels; or use the restore command line)")
    try:
        return read_image(path)
    except ImageReadError as e:
        raise JobError(f"{name}: {str(e).split(': ', 1)[-1]}") from None


def mask_from_layers(layers: list[np.ndarray], size: tuple[int, int], keep: np.ndarray | None = None) -> np.ndarray:
    """The mask painted in an image editor: a pixel is to fill where any layer is not transparent.

    Args:
        layers: ``H' x W' x 4`` RGBA uint8 arrays (the editor's layers; may be empty).
        size: ``(H, W)`` of the image; layers of another size are resized (nearest neighbour).
        keep: optional ``H x W`` or ``H x W x 1`` mask (nonzero = fill) that is part of the
            result whatever the layers hold: the mask the app put into the editor itself,
            so that painting only adds to it. (Gradio's image editor in Chromium clears
            pixels of a layer it did not paint when a brush stroke is committed, even on
            another layer; without ``keep``, such pixels of a predicted mask were lost.)

    Returns:
        ``H x W x 1`` uint8, 255 = fill, 0 = keep (the CLI's ``--mask`` convention).

    Raises:
        JobError: ``keep`` is not of the image's size.
    """
    import cv2

    h, w = size
    mask = np.zeros((h, w), bool)
    if keep is not None:
        keep = np.asarray(keep)
        if keep.shape[:2] != (h, w) or keep.ndim not in (2, 3):
            raise JobError(f"the mask to keep has shape {keep.shape}, the image is {h} x {w}")
        mask |= keep.reshape(h, w, -1).max(-1) > 0
    for layer in layers:
        if layer is None:
            continue
        a = layer[..., 3] if layer.ndim == 3 and layer.shape[2] == 4 else np.asarray(layer).reshape(
            layer.shape[0], layer.shape[1], -1).max(-1)
        if a.shape != (h, w):
            a = cv2.resize(a, (w, h), interpolation=cv2.INTER_NEAREST)
        mask |= a > 0
    return (mask * 255).astype(np.uint8)[:, :, None]


class Workspace:
    """The app's own output folder (a new temporary folder): every file it offers for download.

    Attributes:
        root: the folder.
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="restore-web-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def folder(self) -> Path:
        """A new sub-folder for one job's files."""
        with self._lock:
            n = next(self._count)
        d = self.root / f"job{n:05d}"
        d.mkdir()
        return d

    def write(self, folder: Path, name: str, image: np.ndarray) -> Path:
        """Write ``image`` as ``folder/name`` (PNG, atomically) and return the path."""
        from restore.io import write_image
        return write_image(folder / name, image, fmt="png")

    def free_name(self, folder: Path, stem: str, suffix: str = ".png") -> str:
        """``stem + suffix``, or ``stem_2 + suffix``, ``stem_3``... : the first name not used in ``folder``."""
        name, n = stem + suffix, 1
        while (folder / name).exists():
            n += 1
            name = f"{stem}_{n}{suffix}"
        return name


class Models:
    """The pipelines of the app, loaded once per process and reused; one job per model at a time.

    Args:
        device: ``auto``, ``cpu``, ``cuda`` or ``mps`` (as ``restore TASK --device``).
    """

    def __init__(self, device: str = "auto") -> None:
        self.device = device
        self._pipes: dict[tuple[str, str | None], Any] = {}
        self._locks: dict[tuple[str, str | None], threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, task: str, model: str | None) -> threading.Lock:
        """The lock held while ``model`` of ``task`` runs (a pipeline is not shared by two jobs)."""
        with self._guard:
            return self._locks.setdefault((task, model or None), threading.Lock())

    def get(self, task: str, model: str | None = None):
        """The pipeline of ``task`` with ``model`` (None: the task's default), loaded on first use.

        Raises:
            JobError: unknown model, missing or corrupt weights, unavailable device.
        """
        from restore import load_pipeline
        from restore.zoo import WeightsError

        key = (task, model or None)
        with self.lock(task, model):
            if key not in self._pipes:
                try:
                    self._pipes[key] = load_pipeline(task, model=model or None, device=self.device)
                except (KeyError, ValueError, WeightsError) as e:
                    raise JobError(f"cannot load the {task} model {model or '(default)'}: "
                                   f"{str(e).strip(chr(39) + chr(34))}") from None
            return self._pipes[key]

    def run(self, task: str, model: str | None, image: np.ndarray, *args: Any, **options: Any) -> Any:
        """``pipe(image, *args, **pipe.resolve_options(**options))`` with the model's lock held.

        Raises:
            JobError: a bad option (named as the CLI's flag), or a model error.
        """
        from restore.pipelines.base import OptionError

        if task == "denoise" and "sigma" in options:
            from restore.zoo.registry import model_for_sigma
            model = model_for_sigma(options["sigma"], None if model in (None, "", "auto") else model)
        pipe = self.get(task, model)
        try:
            opts = pipe.resolve_options(**options)
        except OptionError as e:
            raise JobError(f"{e.option.replace('_', ' ')} {e.reason}") from None
        except ValueError as e:
            raise JobError(str(e)) from None
        with self.lock(task, model):
            try:
                return pipe(image, *args, **opts)
            except (ValueError, TypeError, RuntimeError, MemoryError) as e:
                raise JobError(f"{task} failed: {str(e) or type(e).__name__}") from None


def parse_sigma(sigma: str | float) -> float | str:
    """``sigma`` as the denoise pipeline takes it: a number, or the text as given (``auto``)."""
    try:
        return float(sigma)
    except (TypeError, ValueError):
        return str(sigma).strip()



def run_uploads(models: Models, workspace: Workspace, task: str, paths: list[str | Path], model: str | None, *,
                max_pixels: int = DEFAULT_MAX_PIXELS, progress: Callable[[int, int, str], None] | None = None,
                **options: Any) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Run ``task`` on each uploaded image, one after the other, as the app's denoise,
    upscale and colorize tabs do: read within the limits (:func:`read_upload`), run with the
    model's lock held (:meth:`Models.run`), write ``<stem>_<task>.png`` into one new job
    folder of ``workspace``. A file that fails is reported and the others still run, as in
    a folder run of the command line.

    Args:
        models, workspace: the app's pipelines and output folder.
        task: ``denoise``, ``upscale`` or ``colorize``.
        paths: the uploaded files, in the order shown.
        model: zoo model name, None or ``auto``: the task's default (as :meth:`Models.run`).
        max_pixels: largest width x height accepted per image.
        progress: called as ``progress(i, n, name)`` before the i-th (0-based) of n images.
        **options: the task's options, as ``restore TASK`` takes them (``sigma=25``...).

    Returns:
        ``(done, errors)``: ``(upload, result)`` paths of each image that ran, in order, and
        one message per file that did not (:class:`JobError` text, naming the file).

    Raises:
        JobError: no file given.
    """
    paths = [Path(p) for p in paths if p]
    if not paths:
        raise JobError("upload an image first")
    folder = workspace.folder()
    done: list[tuple[Path, Path]] = []
    errors: list[str] = []
    for i, path in enumerate(paths):
        if progress is not None:
            progress(i, len(paths), path.name)
        try:
            image = read_upload(path, max_pixels)
            out = models.run(task, model, image, **options)
        except JobError as e:
            msg = str(e)
            errors.append(msg if path.name in msg else f"{path.name}: {msg}")
            continue
        done.append((path, workspace.write(folder, workspace.free_name(folder, f"{path.stem}_{task}"), out)))
    return done, errors


def hint_from_layers(layers: list[np.ndarray | None]) -> np.ndarray | None:
    """The hint image painted in an image editor: its layers merged, the upper ones over the lower.

    Args:
        layers: ``H x W x 4`` RGBA uint8 arrays (the editor's layers, bottom first; None
            entries are skipped), all the same size.

    Returns:
        ``H x W x 4`` uint8, transparent except where a color was painted (the pipeline's
        hint image, :func:`restore.pipelines.colorize.render_hints`), or None when no layer
        was given. One layer is returned as it is, not a copy.

    Raises:
        JobError: a layer that is not ``H x W x 4`` uint8, or layers of different sizes.
    """
    layers = [np.asarray(layer) for layer in layers if layer is not None]
    for layer in layers:
        if layer.ndim != 3 or layer.shape[2] != 4 or layer.dtype != np.uint8:
            raise JobError(f"the hint layer must be H x W x 4 RGBA uint8, got {layer.shape} {layer.dtype}")
    if not layers:
        return None
    if any(layer.shape != layers[0].shape for layer in layers):
        raise JobError(f"the hint layers differ in size: {', '.join(str(la.shape[:2]) for la in layers)}")
    hint = layers[0]
    for layer in layers[1:]:
        hint = np.where(layer[..., 3:] > 0, layer, hint)
    return hint


def run_hints(models: Models, workspace: Workspace, path: str | Path, hint: np.ndarray | None, model: str | None,
              *, max_pixels: int = DEFAULT_MAX_PIXELS, **options: Any) -> tuple[Path, Path, Path]:
    """Colorize one uploaded photo guided by a hint image, as the app's "Colorize with hints"
    tab does and as ``restore colorize PHOTO OUT --hint HINT.png`` does: the hint image is
    passed to the pipeline as it is (``pipe(image, hint, **options)``) and written next to
    the result, so the run can be repeated from the command line.

    Args:
        models, workspace: the app's pipelines and output folder.
        path: the uploaded photo.
        hint: ``H' x W' x 4`` RGBA uint8, transparent except the dots or strokes of the
            colors wanted (only their chroma counts); the photo's size, or any size of its
            shape (it is scaled). None or all transparent: colored without hints.
        model: a colorize model that takes hints; None or ``auto``: the first that does
            (:func:`restore.zoo.registry.model_for_hints`).
        max_pixels: largest width x height accepted, for the photo and the hint image.
        **options: the colorize options (``saturation``, ``render_size``...).

    Returns:
        ``(upload, result, hint_file)``: the photo, ``<stem>_colorize.png`` and
        ``<stem>_hints.png`` (the hint image used), the last two in a new job folder.

    Raises:
        JobError: no photo, an unreadable or too large photo or hint image, a model
            without hint inputs, a bad option or a model error (one line).
    """
    from restore.zoo.registry import model_for_hints

    if not path:
        raise JobError("upload a photo first")
    path = Path(path)
    image = read_upload(path, max_pixels)
    if hint is None:
        hint = np.zeros(image.shape[:2] + (4,), np.uint8)
    hint = hint_from_layers([hint])
    h, w = hint.shape[:2]
    if h * w > max_pixels:
        raise JobError(f"the hint image is {w} x {h} = {w * h / 1e6:.1f} MP; this app takes at most "
                       f"{max_pixels / 1e6:g} MP")
    try:
        model = model_for_hints(True, None if model in (None, "", "auto") else model)
    except (KeyError, ValueError) as e:
        raise JobError(str(e).strip("'\"")) from None
    out = models.run("colorize", model, image, hint, **options)
    folder = workspace.folder()
    result = workspace.write(folder, f"{path.stem}_colorize.png", out)
    return path, result, workspace.write(folder, f"{path.stem}_hints.png", hint)
