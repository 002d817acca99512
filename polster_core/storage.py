"""The Storage facade generated projects use at run time.

``Storage(settings)`` resolves ``STORAGE_BACKEND`` through the plugin manager and adds what
every backend gets from the core: ``{layer}/{name}.parquet`` paths, atomic writes (done by each
backend), a local sample of remote writes, and the fallback to local storage.

Only this module's functions import polars, and only when called.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .errors import PolsterError
from .settings import Settings, load_settings

SAMPLES_DIR = "_samples"


class Backend(Protocol):
    """What a storage backend's factory returns. Every method takes a layer and a name."""

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


class LocalBackend:
    """Parquet files under ``data/{layer}/{name}.parquet``, written to a temp file, then renamed."""

    name = "local"

    def __init__(self, base: Path):
        self.base = Path(base)

    def path(self, layer: str, name: str) -> Path:
        return self.base / layer / f"{name}.parquet"

    def uri(self, layer: str, name: str) -> str:
        return str(self.path(layer, name))

    def exists(self, layer: str, name: str) -> bool:
        return self.path(layer, name).is_file()

    def write(self, frame: Any, layer: str, name: str) -> None:
        import polars as pl

        target = self.path(layer, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".parquet.tmp", dir=target.parent)
        os.close(fd)
        try:
            if isinstance(frame, pl.LazyFrame):
                frame.sink_parquet(tmp)
            else:
                frame.write_parquet(tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, layer: str, name: str) -> Any:
        import polars as pl

        return pl.read_parquet(self._existing(layer, name))

    def scan(self, layer: str, name: str) -> Any:
        import polars as pl

        return pl.scan_parquet(self._existing(layer, name))

    def _existing(self, layer: str, name: str) -> Path:
        path = self.path(layer, name)
        if not path.is_file():
            raise PolsterError(
                f"no data for {layer}/{name} at {path}: materialise that asset first "
                f"(python src/core/{layer}_{name}.py or python run_polster.py)"
            )
        return path


class Storage:
    """Read and write a project's tables on the backend that ``STORAGE_BACKEND`` names."""

    def __init__(self, settings: Settings, plugins=None):
        self.settings = settings
        self._plugins = plugins
        self._backend = None
        self.local = LocalBackend(settings.root / settings.get("LOCAL_DATA_DIR", "data"))

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            name = self.settings.storage_backend
            if name == "local":
                self._backend = self.local
            else:
                from .plugins import get_plugins

                plugins = self._plugins or get_plugins()
                spec = plugins.storage_backend(name)
                missing = [
                    s.name for s in spec.settings if s.required and not self.settings.get(s.name)
                ]
                if missing:
                    raise PolsterError(
                        f"storage backend '{name}' needs {', '.join(missing)}: set them in .env"
                    )
                self._backend = spec.factory(self.settings)
        return self._backend

    @property
    def is_remote(self) -> bool:
        return self.backend is not self.local

    def fallback_enabled(self) -> bool:
        prefix = self.settings.storage_backend.upper().replace("-", "_")
        return self.settings.flag(f"{prefix}_FALLBACK_TO_LOCAL")

    def write(self, frame: Any, layer: str, name: str) -> WriteResult:
        """Write a table; returns where it went and how many rows it has."""
        import polars as pl

        started = time.perf_counter()
        backend = self.backend
        fell_back = False
        error = None
        try:
            backend.write(frame, layer, name)
            target = backend
            self._clear_fallback_marker(layer, name)
        except Exception as exc:
            if not self.is_remote or not self.fallback_enabled():
                raise PolsterError(
                    f"writing {layer}/{name} to {backend.name} at {backend.uri(layer, name)} "
                    f"failed: {type(exc).__name__}: {_first_line(exc)}"
                ) from exc
            error = f"{type(exc).__name__}: {_first_line(exc)}"
            print(
                f"WARNING: writing {layer}/{name} to {backend.name} failed ({error}); "
                f"the full data was written locally to {self.local.uri(layer, name)} instead",
                file=sys.stderr,
            )
            self.local.write(frame, layer, name)
            self._fallback_marker(layer, name).write_text(backend.name, encoding="utf-8")
            target, fell_back = self.local, True
        if isinstance(frame, pl.LazyFrame):
            rows = target.scan(layer, name).select(pl.len()).collect().item()
        else:
            rows = frame.height
        sample_path = None
        if target is not self.local and not self.settings.local_sample_disabled:
            sample_path = self._write_sample(frame, layer, name)
        return WriteResult(
            uri=target.uri(layer, name),
            backend=target.name,
            rows=rows,
            fell_back=fell_back,
            sample_path=sample_path,
            seconds=time.perf_counter() - started,
            error=error,
        )

    def _where(self, layer: str, name: str) -> Backend:
        """The backend that holds the newest version (the local one after a fallback)."""
        if self.is_remote and self._fallback_marker(layer, name).is_file():
            return self.local
        return self.backend

    def read(self, layer: str, name: str) -> Any:
        return self._where(layer, name).read(layer, name)

    def scan(self, layer: str, name: str) -> Any:
        return self._where(layer, name).scan(layer, name)

    def uri(self, layer: str, name: str) -> str:
        return self._where(layer, name).uri(layer, name)

    def sample_path(self, layer: str, name: str) -> Path:
        return self.local.base / SAMPLES_DIR / layer / f"{name}.sample.parquet"

    def _write_sample(self, frame: Any, layer: str, name: str) -> str:
        size = self.settings.sample_size
        sample = frame.head(size)
        if hasattr(sample, "collect"):
            sample = sample.collect()
        path = self.sample_path(layer, name)
        LocalBackend(path.parent.parent).write(sample, layer, f"{name}.sample")
        return str(path)

    def _fallback_marker(self, layer: str, name: str) -> Path:
        return self.local.base / layer / f".{name}.fallback"

    def _clear_fallback_marker(self, layer: str, name: str) -> None:
        if self.is_remote:
            self._fallback_marker(layer, name).unlink(missing_ok=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


_storages: dict[Path, Storage] = {}


def get_storage(root: Path | str) -> Storage:
    """The Storage of the project at ``root`` (one per process and project)."""
    root = Path(root).resolve()
    if root not in _storages:
        _storages[root] = Storage(load_settings(root))
    return _storages[root]
