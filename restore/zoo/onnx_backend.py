"""ONNX Runtime as an optional CPU backend for the networks of the zoo.

``backend="onnx"`` (``from_pretrained``, ``load_pipeline``, CLI ``--backend onnx``) runs a
pipeline's network with ONNX Runtime's CPUExecutionProvider instead of eager PyTorch. The
network is exported once with ``torch.onnx.export(dynamo=True)``, with dynamic batch, height
and width (height and width multiples of the spec's ``multiple_of``, as the tiler pads them),
so tiles of any size run on one file. The file is cached in the user's cache folder
(:func:`cache_dir`), keyed by a digest of the architecture, its arguments, the weights and
the input channels, so a changed model is exported again and nothing is written into the
package. On a 2-core AMD EPYC (no AMX) the networks of dae-real-s and unwatermark-s ran
1.4-1.5x faster than eager float32 channels-last PyTorch, with outputs within 1e-6 on the
image (``docs/onnx_speed.py``; docs/benchmarks.md, speed section). Where ``precision="auto"``
runs bf16 (AMX, or AMD's ``avx512_bf16``: :mod:`restore.zoo.accel`) the default PyTorch path
is faster than this float32 backend; it pays off on CPUs without native bf16.

Needs the ``onnx`` extra: ``pip install 'restore[onnx]'`` (onnx, onnxruntime, and onnxscript,
which the exporter of PyTorch 2.x uses) and PyTorch >= 2.6.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from restore.zoo.registry import ModelSpec

log = logging.getLogger("restore")

#: The values of ``backend`` (``from_pretrained``, ``load_pipeline``, CLI ``--backend``).
BACKENDS = ("torch", "onnx")
#: Environment variable naming the cache folder of the exported networks (default below).
CACHE_ENV = "RESTORE_CACHE_DIR"
#: Bumped when the export changes in a way the digest of the model cannot see.
EXPORT_VERSION = 1
_INSTALL = "pip install 'restore[onnx]' (onnx, onnxruntime, onnxscript)"


def require_onnxruntime():
    """Import and return ``onnxruntime``, checking that the exporter's packages are there too.

    Raises:
        ImportError: when ``onnxruntime``, ``onnx`` or ``onnxscript`` is not installed, naming
            the extra to install, or PyTorch is older than 2.6 (its exporter lacks what the
            export uses; tested with 2.13).
    """
    if torch.torch_version.TorchVersion(torch.__version__) < "2.6":
        raise ImportError(f"backend 'onnx' needs torch >= 2.6 (this is {torch.__version__})")
    missing = []
    for name in ("onnxruntime", "onnx", "onnxscript"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(f"backend 'onnx' needs {', '.join(missing)}: {_INSTALL}")
    import onnxruntime
    return onnxruntime


def cache_dir() -> Path:
    """The folder of the exported networks: ``$RESTORE_CACHE_DIR/onnx`` if set, else
    ``$XDG_CACHE_HOME/restore/onnx``, else ``~/.cache/restore/onnx`` (not created here)."""
    root = os.environ.get(CACHE_ENV)
    if root:
        return Path(root).expanduser() / "onnx"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "restore" / "onnx"


def model_digest(model: torch.nn.Module, spec: ModelSpec, in_channels: int, n_extra: int) -> str:
    """A hex digest (16 characters) of what the exported file depends on: the architecture
    and its arguments, every tensor of ``model``'s state (names, shapes, values), the input
    channels, the number of extra inputs, the spec's ``multiple_of``, the torch version and
    :data:`EXPORT_VERSION`."""
    h = hashlib.sha256()
    arch = spec.arch if isinstance(spec.arch, type) else type(model)
    h.update(repr((arch.__module__, arch.__qualname__, sorted(spec.arch_kwargs.items()), in_channels, n_extra,
                   spec.multiple_of, torch.__version__, EXPORT_VERSION)).encode())
    for name, t in model.state_dict().items():
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()[:16]


def export_onnx(model: torch.nn.Module, path: str | Path, in_channels: int, extra: tuple[torch.Tensor, ...] = (),
                multiple_of: int = 1) -> None:
    """Export ``model`` to the ONNX file ``path`` with dynamic batch, height and width.

    The file is written next to ``path`` and renamed into place, so a reader never sees
    half a file (two processes exporting at once both succeed). ``model`` is not changed
    (a copy in contiguous memory format is exported).

    Args:
        model: the network, float32, called as ``model(x, *extra)``.
        path: where the file goes; its folder is created.
        in_channels: channels of ``x``.
        extra: example extra inputs, each (1, k, 1, 1) float32 (e.g. a noise level); their
            batch dimension is dynamic too.
        multiple_of: height and width are multiples of it in every call (the tiler pads them).

    Raises:
        ImportError: the exporter's packages are missing (:func:`require_onnxruntime`).
        RuntimeError: the exporter failed (its message).
    """
    require_onnxruntime()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = copy.deepcopy(model).to("cpu", torch.float32, memory_format=torch.contiguous_format).eval()
    m = max(int(multiple_of), 1)
    side = m * max(2, -(-16 // m))  # an example side of at least 16 px and 2 multiples (no size-1 specialisation)
    x = torch.rand(2, in_channels, side, side, generator=torch.Generator().manual_seed(0))
    extra = tuple(e[:1].to("cpu", torch.float32).expand(2, *e.shape[1:]).contiguous() for e in extra)
    batch = torch.export.Dim("batch", min=1, max=4096)
    h, w = torch.export.Dim("h", min=1, max=65536 // m), torch.export.Dim("w", min=1, max=65536 // m)
    shapes = ({0: batch, 2: m * h, 3: m * w},) + tuple({0: batch} for _ in extra)
    names = ["image"] + [f"extra{i}" for i in range(len(extra))]
    fd, tmp = tempfile.mkstemp(suffix=".onnx.tmp", dir=path.parent)
    os.close(fd)
    try:
        with _quiet_exporter(), torch.no_grad():
            torch.onnx.export(net, (x, *extra), tmp, dynamo=True, dynamic_shapes=shapes, input_names=names,
                              output_names=["out"], optimize=True, external_data=False, verbose=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except Exception as e:
        raise RuntimeError(f"exporting {type(model).__name__} to ONNX failed: {e}") from e
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def _quiet_exporter():
    """Keep the exporter's progress lines, info logs and warnings out of the user's terminal."""
    loggers = [logging.getLogger(n) for n in ("onnxscript", "onnx_ir", "torch.onnx", "torch.export", "torch._dynamo",
                                               "torch.fx.experimental.symbolic_shapes")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


class OnnxNetwork:
    """A zoo network run by ONNX Runtime on the CPU, called like the module: ``net(x, *extra)``.

    The network is exported on the first call for each number of input channels (and
    found in :func:`cache_dir` on later runs); one ONNX Runtime session per file, with
    ``intra_op_num_threads`` = ``threads`` and all graph optimizations.

    Args:
        model: the float32 network (its weights are read once per export).
        spec: its zoo spec (``multiple_of``, the architecture for the digest).
        threads: ONNX Runtime's intra-op threads; default: ``torch.get_num_threads()`` (so
            ``OMP_NUM_THREADS`` and ``torch.set_num_threads`` count for both backends).

    Raises:
        ImportError: the ``onnx`` extra is not installed (:func:`require_onnxruntime`).
    """

    def __init__(self, model: torch.nn.Module, spec: ModelSpec, threads: int | None = None) -> None:
        self.ort = require_onnxruntime()
        self.model, self.spec = model, spec
        self.threads = threads
        self._sessions: dict[tuple[int, int], object] = {}

    def path(self, in_channels: int, n_extra: int) -> Path:
        """The cached file of this network for ``in_channels`` input channels and ``n_extra`` extra inputs."""
        return cache_dir() / f"{self.spec.name}-c{in_channels}-{model_digest(self.model, self.spec, in_channels, n_extra)}.onnx"

    def session(self, in_channels: int, extra: tuple[torch.Tensor, ...] = ()):
        """The ONNX Runtime session for this input, exported first if not cached."""
        key = (in_channels, len(extra))
        if key not in self._sessions:
            path = self.path(in_channels, len(extra))
            if not path.is_file():
                log.info("exporting %s to ONNX (once; cached as %s)", self.spec.name, path)
                export_onnx(self.model, path, in_channels, extra, self.spec.multiple_of)
            so = self.ort.SessionOptions()
            so.intra_op_num_threads = self.threads or torch.get_num_threads()
            so.inter_op_num_threads = 1
            so.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self._sessions[key] = self.ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        return self._sessions[key]

    def __call__(self, x: torch.Tensor, *extra: torch.Tensor) -> torch.Tensor:
        """Run the network.

        Args:
            x: (B, C, H, W) float on the CPU, H and W multiples of ``spec.multiple_of``.
            extra: the network's extra inputs, each (B, k, 1, 1) (or (1, k, 1, 1), repeated).

        Returns:
            The network's output, float32 on the CPU, as the module returns it.
        """
        if x.device.type != "cpu":
            raise ValueError(f"backend 'onnx' runs on the CPU; the input is on {x.device}")
        session = self.session(x.shape[1], extra)
        feeds = {"image": np.ascontiguousarray(x.detach().float().numpy())}
        for i, e in enumerate(extra):
            e = e.detach().float().cpu()
            if e.shape[0] != x.shape[0]:
                e = e.expand(x.shape[0], *e.shape[1:])
            feeds[f"extra{i}"] = np.ascontiguousarray(e.numpy())
        return torch.from_numpy(session.run(None, feeds)[0])
