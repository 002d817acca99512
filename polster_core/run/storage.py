"""The Storage facade generated projects use at run time.

``Storage(settings)`` resolves ``STORAGE_BACKEND`` through the plugin manager and adds what
every backend gets from the core: ``{layer}/{name}.parquet`` paths, atomic writes (done by each
backend), a local sample of remote writes, and the fallback to local storage.

Only this module's functions import polars, and only when called.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..exceptions import PolsterError, first_line
from ..plugin_system.specs import missing_settings
from ..secrets import redact
from . import delta
from .io_errors import IO_ERROR, NOT_PARQUET, no_space, not_parquet
from .local_backend import LocalBackend

# Public here too: plugin authors stage their writes with storage.staging (docs/plugins.md).
from .local_backend import staging as staging  # noqa: E402
from .partitions import PART, damaged_partition, key_of
from .settings import Settings, load_settings

SAMPLES_DIR = "_samples"


class Backend(Protocol):
    """What a storage backend's factory returns. Every method takes a layer and a name.

    These are required; :class:`BackendExtras` lists what a backend may add."""

    name: str

    def uri(self, layer: str, name: str) -> str:
        """Where the table lives, for people: never contains a secret."""

    def write(self, frame: Any, layer: str, name: str) -> None:
        """Write a polars DataFrame (or stream a LazyFrame) atomically."""

    def read(self, layer: str, name: str) -> Any:
        """Read the table as a polars DataFrame."""

    def scan(self, layer: str, name: str) -> Any:
        """Scan the table lazily as a polars LazyFrame."""

    def exists(self, layer: str, name: str) -> bool:
        """Whether the table has been written."""


class BackendExtras(Protocol):
    """What a :class:`Backend` may have besides: each optional, probed with ``getattr`` by
    the core (:mod:`polster_core.partitions` for partitioned tables, :class:`Storage` for the
    connect timeout), with a default when it is missing. :class:`polster_core.remote.FsspecBackend`
    has them all."""

    # Seconds to connect within; set from ``{NAME}_CONNECT_TIMEOUT`` when the backend has it.
    connect_timeout: float
    # "polars": partitions are scanned in one go by polars' own reader at ``url(...)`` with
    # ``polars_options()``; anything else scans each partition through the backend.
    scan_with: str
    # An fsspec filesystem and the path of a table on it: listing and deleting a partitioned
    # table's folder default to them (without them, to fsspec on ``uri(...)``).
    fs: Any

    def path(self, layer: str, name: str) -> Any:
        """The table's path: on ``fs``, or on the local disk for the ``local`` backend."""

    def url(self, layer: str, name: str) -> str:
        """The URL polars' own reader scans (with ``scan_with == "polars"``)."""

    def polars_options(self) -> dict[str, Any]:
        """The ``storage_options`` polars' reader needs for ``url(...)``."""

    def list_folder(self, layer: str, name: str) -> list[str]:
        """The entries of a partitioned table's folder (``date=2026-11-02``, ...)."""

    def delete_folder(self, layer: str, name: str) -> None:
        """Remove a partitioned table's folder and everything in it."""

    def delete(self, layer: str, name: str) -> None:
        """Remove a table's (unpartitioned) file."""


@dataclass
class WriteResult:
    """What one write did, for logs and Dagster metadata (no secrets in any field)."""

    uri: str
    backend: str
    rows: int
    fell_back: bool = False
    sample_path: str | None = None
    seconds: float = 0.0
    error: str | None = None


class Storage:
    """Read and write a project's tables on the backend that ``STORAGE_BACKEND`` names.

    What every backend gets from here: one clear error for an unknown backend or missing
    settings; errors that name the backend, the table's URI and the cause, with secrets
    masked; a local sample of each remote write; and the fallback to local storage when
    ``{BACKEND}_FALLBACK_TO_LOCAL`` is true.
    """

    def __init__(self, settings: Settings, plugins=None):
        self.settings = settings
        self._plugins = plugins
        self._backend = None
        self._secrets: tuple[str, ...] = ()
        self.local = LocalBackend(settings.root / settings.get("LOCAL_DATA_DIR", "data"))

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            name = self.settings.storage_backend
            if name == "local":
                self._backend = self.local
            else:
                self._backend = self._make_backend(name)
        return self._backend

    def _make_backend(self, name: str) -> Backend:
        from ..plugin_system.manager import get_plugins

        plugins = self._plugins or get_plugins()
        spec = plugins.storage_backend(name)
        missing = missing_settings(spec.settings, self.settings.get)
        if missing:
            single = "one" if missing[0].startswith("one of") else "it"
            what = single if len(missing) == 1 else "them"
            raise PolsterError(
                f"storage backend '{name}' needs {' and '.join(missing)}: set {what} in .env"
            )
        values = (self.settings.get(s.name) for s in spec.settings if s.secret)
        self._secrets = tuple(value for value in values if value)
        timeout = self.settings.seconds(self.backend_setting("CONNECT_TIMEOUT", name), 0)
        try:
            backend = spec.factory(self.settings)
        except PolsterError as exc:
            failure = PolsterError(self.redact(str(exc)))
        except Exception as exc:
            failure = PolsterError(
                f"storage backend '{name}' ({spec.plugin or 'plugin'}) could not start: "
                f"{self.describe(exc)}"
            )
            failure.details = self._details(exc)
        else:
            if timeout and hasattr(backend, "connect_timeout"):
                backend.connect_timeout = timeout
            return backend
        raise failure

    @property
    def is_remote(self) -> bool:
        return self.backend is not self.local

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values of the backend's secret settings (to mask, never to show)."""
        _ = self.backend
        return self._secrets

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def describe(self, exc: BaseException) -> str:
        """The cause in one line: the exception's type and first line, secrets masked."""
        text = first_line(exc)
        if isinstance(exc, PolsterError):  # already a sentence for people
            return self.redact(text)
        if IO_ERROR in text:  # polars wraps I/O errors in parquet "out of specification" ones
            return self.redact(
                f"{text.split(IO_ERROR, 1)[1]} (an I/O error under polars' parquet "
                "reader or writer)"
            )
        if isinstance(exc, PolsterError):  # a complete sentence already
            return self.redact(text)
        return self.redact(f"{type(exc).__name__}: {text}")

    def _details(self, exc: BaseException) -> str:
        """The full cause (the traceback of the exception chain, and what the backend kept
        of its library's output), secrets masked: for --verbose and Dagster's log."""

        kept = getattr(exc, "details", "") or getattr(exc, "polster_details", "")
        text = kept or "".join(traceback.format_exception(exc)).rstrip()
        return self.redact(text)

    def _write_cause(self, exc: BaseException, backend: Backend) -> str:
        if not no_space(exc):
            return self.describe(exc)
        where = (
            "free some space there, or set LOCAL_DATA_DIR to a folder on a larger disk"
            if backend is self.local
            else "free some space on this machine's disk (a streamed table is staged there)"
        )
        return f"no space left on the device: {where}; the previous version is unchanged"

    def user_error(self, message: str, exc: BaseException) -> PolsterError:
        """The error a user sees: one line with the masked cause, and nothing chained.

        The original exception is not attached: its message (and those of its own causes)
        may carry a credential, and Dagster stores and shows every chained exception. Its
        masked traceback is the error's ``details`` instead.
        """
        failure = PolsterError(message)
        failure.details = self._details(exc)
        return failure

    def backend_setting(self, suffix: str, name: str | None = None) -> str:
        """The name of a setting the core reads for every backend: ``{NAME}_{suffix}``."""
        name = name or self.settings.storage_backend
        return f"{name.upper().replace('-', '_')}_{suffix}"

    def fallback_setting(self) -> str:
        return self.backend_setting("FALLBACK_TO_LOCAL")

    def fallback_enabled(self) -> bool:
        return self.settings.flag(self.fallback_setting())

    def write(self, frame: Any, layer: str, name: str) -> WriteResult:
        """Write a table; returns where it went and how many rows it has."""
        import polars as pl

        started = time.perf_counter()
        backend = self.backend
        fell_back = False
        error = None
        failure = None
        try:
            backend.write(frame, layer, name)
            target = backend
        except Exception as exc:
            # A lazy frame over a damaged partition fails here: the input is named, not this.
            failure = damaged_partition(exc)
            if failure is None and (not self.is_remote or not self.fallback_enabled()):
                hint = (
                    f" (set {self.fallback_setting()}=true to write locally when it fails)"
                    if self.is_remote
                    else ""
                )
                failure = self.user_error(
                    f"writing {layer}/{name} to {backend.name} at {backend.uri(layer, name)} "
                    f"failed: {self._write_cause(exc, backend)}{hint}",
                    exc,
                )
            elif failure is None:
                error = self.describe(exc)
        else:
            self._after_remote_write(layer, name)
        if failure is not None:
            # Raised here, outside the except block, so the unmasked original is not chained.
            raise failure
        if error is not None:
            try:
                self.local.write(frame, layer, name)
            except Exception as exc:
                failure = self.user_error(
                    f"writing {layer}/{name} to {backend.name} at {backend.uri(layer, name)} "
                    f"failed ({error}), and so did the fallback to local storage at "
                    f"{self.local.uri(layer, name)}: {self._write_cause(exc, self.local)}",
                    exc,
                )
            if failure is not None:
                raise failure
            _warn(
                f"WARNING: writing {layer}/{name} to {backend.name} at {backend.uri(layer, name)} "
                f"failed ({error}); the full data was written locally to "
                f"{self.local.uri(layer, name)} instead ({self.fallback_setting()}=true)"
            )
            self._fallback_marker(layer, name).write_text(backend.name, encoding="utf-8")
            target, fell_back = self.local, True
        if isinstance(frame, pl.LazyFrame):
            rows = target.scan(layer, name).select(pl.len()).collect().item()
        else:
            rows = frame.height
        sample_path = None
        if target is not self.local and self.sample_enabled():
            sample_path = self._write_sample(frame, target, layer, name)
        return WriteResult(
            uri=target.uri(layer, name),
            backend=target.name,
            rows=rows,
            fell_back=fell_back,
            sample_path=sample_path,
            seconds=time.perf_counter() - started,
            error=error,
        )

    def sample_enabled(self) -> bool:
        return not self.settings.local_sample_disabled and self.settings.sample_size > 0

    def holding_backend(self, layer: str, name: str) -> Backend:
        """The backend that holds the newest version (the local one after a fallback)."""
        if self.is_remote:
            marker = self._fallback_marker(layer, name)
            if marker.is_file() and marker.read_text(encoding="utf-8").strip() == self.backend.name:
                return self.local
        return self.backend

    # The names of Polster 0.1's projects and plugins, kept working.
    _describe = describe
    _failure = user_error
    _where = holding_backend

    def read(self, layer: str, name: str, version: int | None = None, as_of: Any = None) -> Any:
        """The table as a polars DataFrame, from wherever its newest version is (a Delta
        table's current version, or the one of ``version=`` / ``as_of=``)."""
        return self._reading("read", layer, name, version, as_of)

    def scan(self, layer: str, name: str, version: int | None = None, as_of: Any = None) -> Any:
        """The table as a polars LazyFrame (nothing is read until it is collected)."""
        return self._reading("scan", layer, name, version, as_of)

    def _reading(
        self, method: str, layer: str, name: str, version: Any = None, as_of: Any = None
    ) -> Any:
        if version is not None or as_of is not None:
            return delta.read(
                self, layer, name, lazy=method == "scan", version=version, as_of=as_of
            )
        backend = self.holding_backend(layer, name)
        failure = None
        try:
            table = getattr(backend, method)(layer, name)
            if method == "scan":  # read the footer now: a damaged file fails here, named
                table.collect_schema()
            return table
        except Exception as exc:
            failure = self._read_error(exc, backend, layer, name)
        if delta.is_delta_table(self, layer, name):  # no parquet file: its Delta table
            return delta.read(self, layer, name, lazy=method == "scan")
        raise failure  # outside the except block: the unmasked original is not chained

    def _read_error(self, exc: Exception, backend: Backend, layer: str, name: str) -> Exception:
        if isinstance(exc, PolsterError):
            return exc
        if isinstance(exc, FileNotFoundError):
            return PolsterError(
                f"no data for {layer}/{name} at {backend.uri(layer, name)} ({backend.name}): "
                f"materialise that asset first (python src/core/{layer}_{name}.py or "
                "python run_polster.py)"
            )
        cause = self.describe(exc)
        what, rerun = _table_of(layer, name)
        if not_parquet(exc):
            cause = (
                f"not a valid parquet file ({cause.split(NOT_PARQUET, 1)[-1].strip()}): "
                f"write it again by rerunning its asset, e.g. {rerun}"
            )
        return self.user_error(
            f"reading {what} from {backend.name} at {backend.uri(layer, name)} failed: {cause}",
            exc,
        )

    def exists(self, layer: str, name: str) -> bool:
        return self.holding_backend(layer, name).exists(layer, name)

    def uri(self, layer: str, name: str) -> str:
        return self.holding_backend(layer, name).uri(layer, name)

    def sample_path(self, layer: str, name: str) -> Path:
        """Where the local sample of a remote table goes: apart from the full local tables,
        ``_samples/{layer}/{name}.sample.parquet``; a partition's mirrors the partition's file,
        ``_samples/{layer}/{name}/date=KEY/data.sample.parquet``."""
        return self.local.base / SAMPLES_DIR / layer / f"{name}.sample.parquet"

    def _write_sample(self, frame: Any, target: Backend, layer: str, name: str) -> str | None:
        import polars as pl

        size = self.settings.sample_size
        try:
            if isinstance(frame, pl.LazyFrame):
                # Read the head back rather than run the query a second time.
                sample = target.scan(layer, name).head(size).collect()
            else:
                sample = frame.head(size)
            path = self.sample_path(layer, name)
            LocalBackend(self.local.base / SAMPLES_DIR).write(sample, layer, f"{name}.sample")
        except Exception as exc:  # a sample is a convenience: never fail the write for it
            _warn(
                f"WARNING: the local sample of {layer}/{name} was not written: {self.describe(exc)}"
            )
            return None
        return str(path)

    def _fallback_marker(self, layer: str, name: str) -> Path:
        return self.local.base / layer / f".{name}.fallback"

    def _after_remote_write(self, layer: str, name: str) -> None:
        """After a fallback, the next remote write makes the local full copy stale: remove it."""
        if not self.is_remote:
            return
        marker = self._fallback_marker(layer, name)
        if marker.is_file():
            self.local.path(layer, name).unlink(missing_ok=True)
            marker.unlink(missing_ok=True)


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _table_of(layer: str, name: str) -> tuple[str, str]:
    """What a read of ``layer``/``name`` reads, for people, and the run that writes it again:
    a partition's file (``bronze/events/date=2026-11-02``, ``data``) is that partition."""
    parts = layer.split("/")
    key = key_of(parts[2]) if len(parts) == 3 and name == PART else None
    if key is None:
        return f"{layer}/{name}", f"python run_polster.py --select run_{layer}_{name}"
    table = f"{parts[0]}/{parts[1]}"
    return (
        f"partition {key} of {table}",
        f"python run_polster.py --select run_{parts[0]}_{parts[1]} --partition {key}",
    )


# Kept under this name too: the tests of projects made by Polster 0.1 call _storages.clear().
_storages: dict[Path, Storage] = {}


def get_storage(root: Path | str) -> Storage:
    """The Storage of the project at ``root`` (one per process and project)."""
    root = Path(root).resolve()
    if root not in _storages:
        _storages[root] = Storage(load_settings(root))
    return _storages[root]


def clear_storages() -> None:
    """Forget the Storage of every project, so the next :func:`get_storage` reads the settings
    again (a test that changes ``STORAGE_BACKEND`` or ``LOCAL_DATA_DIR`` calls it)."""
    _storages.clear()
