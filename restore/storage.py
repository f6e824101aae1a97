"""Object-store locations (``s3://BUCKET/KEY``) for :mod:`restore.io`, through ``pyarrow.fs``
(the file-system layer Ray Data reads with).

A :class:`RemotePath` answers the few questions the folder runner asks of a path (name,
suffix, parent, relative path, exists) and reads and writes whole objects. Nothing here is
imported by ``restore.io`` until a path starts with ``s3://``; ``pyarrow`` is needed then
(it comes with ``restore[ray]``).

Settings come from the environment, as for the AWS command-line tools: credentials from
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN`` (or the usual
AWS profile and instance-role chain), the region from ``AWS_REGION`` or
``AWS_DEFAULT_REGION``, and another S3 service (MinIO, Ceph, a local emulator) from
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (``http://HOST:PORT``).

Writes are put-once: an object is uploaded in one request (or one multipart upload, which
S3 publishes only when it is complete), so a reader sees the whole object or none, and no
temporary object is ever left. Without ``overwrite`` the key is checked just before the
upload: two runs finishing the same key in the same instant may both write it (each
whole), the one case where an object is replaced without ``overwrite``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

SCHEME = "s3://"
#: Environment variables of the S3 settings (what the ray engine passes on to its workers).
ENV_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
            "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_EC2_METADATA_DISABLED")
INSTALL_HINT = "s3:// paths need pyarrow: pip install pyarrow (it comes with restore[ray])"


def is_remote(path: object) -> bool:
    """True for a :class:`RemotePath` or a string starting with ``s3://``."""
    return isinstance(path, RemotePath) or (isinstance(path, str) and path.startswith(SCHEME))


def as_path(path: str | os.PathLike) -> Path | RemotePath:
    """``s3://...`` (a string or a :class:`RemotePath`) -> :class:`RemotePath`; anything
    else -> :class:`pathlib.Path`. Use it instead of ``Path(x)``, which turns ``s3://b/k``
    into ``s3:/b/k``."""
    return RemotePath(path) if is_remote(path) else Path(path)


def is_within(path: Path | RemotePath, folder: Path | RemotePath) -> bool:
    """``path.is_relative_to(folder)`` for two paths of either kind (False across kinds)."""
    if is_remote(path) != is_remote(folder):
        return False
    return path.is_relative_to(folder)


def settings() -> dict[str, str]:
    """The S3 settings of this process's environment (:data:`ENV_VARS` that are set)."""
    return {k: os.environ[k] for k in ENV_VARS if os.environ.get(k)}


@functools.lru_cache(maxsize=4)
def _filesystem(endpoint: str | None, region: str | None):
    try:
        import pyarrow.fs as pafs
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    kwargs: dict = {"region": region} if region else {}
    if endpoint:
        scheme, _, host = endpoint.rpartition("://")
        kwargs.update(endpoint_override=host.rstrip("/"), scheme=scheme or "https")
    return pafs.S3FileSystem(**kwargs)


def filesystem():
    """The ``pyarrow.fs.S3FileSystem`` of the environment's settings (one per process and
    settings).

    Raises:
        ImportError: pyarrow is not installed.
    """
    env = os.environ
    return _filesystem(env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None,
                       env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None)


class RemotePath:
    """An object-store location ``s3://BUCKET/KEY``: a key, or a "folder" (a key prefix).

    Path arithmetic as :class:`pathlib.PurePosixPath` (``/``, ``name``, ``stem``,
    ``suffix``, ``parent``, ``with_suffix``, ``with_name``, ``relative_to``); ``resolve``
    and ``absolute`` return the path itself. Questions to the store (``exists``,
    ``is_file``, ``is_dir``) and reads and writes go through :func:`filesystem`.

    Raises:
        ValueError: a location without a bucket, or not starting with ``s3://``.
    """

    __slots__ = ("_key",)

    def __init__(self, location: str | RemotePath) -> None:
        if isinstance(location, RemotePath):
            self._key = location._key
            return
        text = str(location)
        if not text.startswith(SCHEME) or not text[len(SCHEME):].strip("/"):
            raise ValueError(f"{text!r} is not an s3://BUCKET/KEY location")
        self._key = PurePosixPath(text[len(SCHEME):].strip("/"))

    # -- path arithmetic
    @classmethod
    def _of(cls, key: PurePosixPath) -> RemotePath:
        new = object.__new__(cls)
        new._key = key
        return new

    def __str__(self) -> str:
        return SCHEME + str(self._key)

    def __repr__(self) -> str:
        return f"RemotePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and other._key == self._key

    def __hash__(self) -> int:
        return hash((SCHEME, self._key))

    def __lt__(self, other: RemotePath) -> bool:
        return self._key < other._key

    def __truediv__(self, part: str | os.PathLike) -> RemotePath:
        return self._of(self._key / part)

    @property
    def key(self) -> str:
        """``BUCKET/KEY``, as ``pyarrow.fs`` names it."""
        return str(self._key)

    name = property(lambda self: self._key.name)
    stem = property(lambda self: self._key.stem)
    suffix = property(lambda self: self._key.suffix)
    parts = property(lambda self: self._key.parts)

    @property
    def parent(self) -> RemotePath:
        return self._of(self._key.parent) if len(self._key.parts) > 1 else self

    def with_suffix(self, suffix: str) -> RemotePath:
        return self._of(self._key.with_suffix(suffix))

    def with_name(self, name: str) -> RemotePath:
        return self._of(self._key.with_name(name))

    def relative_to(self, other: RemotePath) -> PurePosixPath:
        return self._key.relative_to(other._key)

    def is_relative_to(self, other: RemotePath) -> bool:
        return isinstance(other, RemotePath) and self._key.is_relative_to(other._key)

    def resolve(self) -> RemotePath:
        return self

    absolute = resolve

    # -- the store
    def _type(self):
        return filesystem().get_file_info(self.key).type

    def exists(self) -> bool:
        """True if the key, or a key under this prefix, exists."""
        return self._type().name != "NotFound"

    def is_file(self) -> bool:
        return self._type().name == "File"

    def is_dir(self) -> bool:
        return self._type().name == "Directory"

    def files(self, recursive: bool = False) -> Iterator[RemotePath]:
        """The objects under this prefix (one level, or all with ``recursive``), unsorted;
        none if nothing is stored under it.

        Raises:
            OSError: no access, the store unreachable.
        """
        fs = filesystem()
        import pyarrow.fs as pafs
        infos = fs.get_file_info(pafs.FileSelector(self.key, recursive=recursive, allow_not_found=True))
        return (self._of(PurePosixPath(i.path)) for i in infos if i.type == pafs.FileType.File)

    def read_bytes(self) -> bytes:
        """The whole object.

        Raises:
            OSError: missing (``FileNotFoundError``), no access, the store unreachable.
        """
        with filesystem().open_input_stream(self.key) as f:
            return f.read()

    def write_once(self, data: bytes, *, overwrite: bool) -> None:
        """Upload ``data`` as this object, put-once (see the module's notes).

        Raises:
            FileExistsError: ``overwrite`` is False and the object exists.
            OSError: the upload failed (no object is left).
        """
        if not overwrite and self.is_file():
            raise FileExistsError(f"{self} exists")
        with filesystem().open_output_stream(self.key) as f:
            f.write(data)
