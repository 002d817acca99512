"""Where a Delta table lives on the project's storage backend, and opening it (issue 29).

The built-in local backend needs no credentials; a backend object with
``delta_storage_options()`` (and optionally ``delta_uri(layer, name)``) hosts Delta tables (the
adls and s3 plugins); any other says so in one line. Nothing here imports deltalake or polars
until a function needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import PolsterError
from ..project.table_spec import no_delta_line, wrapper_spec
from .local_backend import LocalBackend, leads_out


@dataclass
class Location:
    uri: str  # what delta-rs opens (may hold no secret: credentials are in options)
    shown: str  # for people
    options: dict[str, str] = field(default_factory=dict, repr=False)


def hosts_delta(backend: Any) -> bool:
    return isinstance(backend, LocalBackend) or callable(
        getattr(backend, "delta_storage_options", None)
    )


def location(storage: Any, layer: str, name: str) -> Location:
    """Where ``layer``/``name``'s Delta table is on the project's backend, with delta-rs's
    storage options (the backend's own credentials)."""
    backend = storage.backend
    if isinstance(backend, LocalBackend):
        path = backend.base / layer / name
        inside(path, backend.base)
        return Location(str(path), str(path))
    if not hosts_delta(backend):
        raise PolsterError(
            no_delta_line(getattr(backend, "name", storage.settings.storage_backend))
        )
    if callable(getattr(backend, "delta_uri", None)):
        uri = backend.delta_uri(layer, name)
    else:
        uri = _strip_parquet(backend.url(layer, name))
    shown = _strip_parquet(backend.uri(layer, name))
    options = {str(k): str(v) for k, v in (backend.delta_storage_options() or {}).items()}
    return Location(uri, shown, options)


def inside(path: Path, base: Path) -> None:
    """Refuse a local table whose folder or ``_delta_log`` leads out of the storage folder (a
    symlink a teammate committed): delta-rs would write its log, and a vacuum delete, there."""
    for part in (path, path / "_delta_log"):
        if not (part.is_symlink() or part.exists()):
            continue
        target = leads_out(part, base)
        if target is not None:
            raise PolsterError(
                f"{part} leads out of the project's data folder (to {target}): Polster never "
                "writes or deletes there; replace the link with the table's own folder"
            )
        if part.is_symlink() and part.name == "_delta_log":
            real = part.resolve()
            if path.resolve() in real.parents:
                continue
            raise PolsterError(
                f"{part} is a link to another folder ({real}): a table's log must be its "
                "own; replace the link with the folder"
            )


def _strip_parquet(uri: str) -> str:
    return uri[: -len(".parquet")] if uri.endswith(".parquet") else uri


def exists(loc: Location) -> bool:
    from deltalake import DeltaTable

    try:
        return DeltaTable.is_deltatable(loc.uri, storage_options=loc.options or None)
    except Exception:
        return False


def is_delta_table(storage: Any, layer: str, name: str) -> bool:
    """Whether a Delta table is stored at ``layer``/``name`` (False where a backend cannot
    host one). Local tables are checked without importing deltalake."""
    backend = storage.backend
    if isinstance(backend, LocalBackend):
        log = backend.base / layer / name / "_delta_log"
        if not (log.is_symlink() or log.exists()):
            return False
        inside(log.parent, backend.base)
        return log.is_dir()
    if not hosts_delta(backend):
        return False
    return exists(location(storage, layer, name))


def open_table(loc: Location) -> Any:
    """The table's current version (a ``deltalake.DeltaTable``), or None where none is."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(loc.uri, storage_options=loc.options or None)
    except TableNotFoundError:
        return None


def schema_of(table: Any) -> Any:
    """The table's schema as polars types, off the log (no data file is opened)."""
    import polars as pl
    import pyarrow as pa

    return pl.from_arrow(pa.schema(table.schema().to_arrow()).empty_table()).schema


def secrets_of(storage: Any, loc: Location) -> tuple[str, ...]:
    """The values to mask in what a failure shows: the backend's and the storage options'."""
    found = list(getattr(storage, "secrets", ()) or ())
    for key, value in loc.options.items():
        if any(word in key.lower() for word in ("key", "secret", "token", "sas", "password")):
            found.append(value)
    return tuple(v for v in found if v)


def script_spec(storage: Any, layer: str, name: str) -> Any:
    """The spec of ``layer``/``name`` for the example scripts (``python src/core/...``): the
    one in the asset's wrapper."""
    root = getattr(getattr(storage, "settings", None), "root", None)
    return None if root is None else wrapper_spec(Path(root), layer, name)


def script_reads_delta(storage: Any, layer: str, name: str) -> bool:
    """Whether the example scripts read ``layer``/``name`` as a Delta table: its wrapper says
    so, or (a table written by another project) a Delta table is stored there."""
    if script_spec(storage, layer, name) is not None:
        return True
    backend = storage.backend
    return isinstance(backend, LocalBackend) and is_delta_table(storage, layer, name)
