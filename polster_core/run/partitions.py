"""Partitioned tables: a folder per table, one atomically written parquet file per partition.

A partitioned table lives at ``{layer}/{name}/{column}={key}/data.parquet`` on the project's
storage backend (hive-style names, so polars, DuckDB or Spark read the folder as one table).
Each partition is written through the backend's own atomic ``write`` (the partition's folder
is passed as the layer), so every backend, built-in or third-party, gets partitions without
new code; the only new things a backend may provide, listing and deleting a table's folder
(``list_folder`` / ``delete_folder``) and deleting its file (``delete``), default to fsspec on
the backend's ``fs`` and ``path`` (or its URI).

The column is the partition key's kind, read off the key itself, so the IO manager and the
example scripts name the same folders: ``date`` (daily, weekly and monthly keys,
``2026-11-02``), ``hour`` (hourly keys, ``2026-11-02-13:00``, and the hour that repeats when
the clocks go back, ``2026-10-25-02:00+0100``) and ``partition`` (any other key). The folder
holds the key itself, %-escaped as Hive escapes it (``hour=2026-11-02-13%3A00``), so every
hive reader (polars, DuckDB, Spark) reads the key back as the column's value.

A key the example scripts pass is checked against the asset's partitions definition, read
off its wrapper without importing Dagster (:mod:`polster_core.project.partition_keys`); any key must
make a folder name a file system can hold.

Like :mod:`polster_core.storage`, nothing here imports polars until a function needs it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from ..exceptions import PolsterError, exception_chain
from ..project.partition_keys import shown
from .io_errors import not_parquet

PART = "data"  # each partition's file: {column}={key}/data.parquet


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


_HOUR = re.compile(r"^\d{4}-\d{2}-\d{2}-\d{2}:\d{2}([+-]\d{4})?$")


NAME_BYTES = 255  # the longest file name of common file systems (ext4, APFS, NTFS)


_FOLDER = re.compile(r"^(\w+)=(.+)$")


def column_for(key: str) -> str:
    """The hive column of a partition key: ``date``, ``hour`` or ``partition``."""
    if _DAY.match(key):
        return "date"
    if _HOUR.match(key):
        return "hour"
    return "partition"


def folder_name(key: str) -> str:
    """``2026-11-02`` -> ``date=2026-11-02`` (characters a path cannot hold are %-escaped)."""
    return f"{column_for(key)}={quote(key, safe='-_.')}"


def key_of(folder: str) -> str | None:
    """The partition key a folder name holds (``date=2026-11-02`` -> ``2026-11-02``), or None."""
    match = _FOLDER.match(folder)
    return unquote(match.group(2)) if match else None


def partition_layer(layer: str, name: str, key: str) -> str:
    """The "layer" a backend writes a partition's file under: ``bronze/events/date=2026-11-02``."""
    if not key or "/" in key or key in (".", "..") or not key.isprintable():
        raise PolsterError(f"'{shown(key)}' is not a valid partition key: use e.g. 2026-11-02")
    folder = folder_name(key)
    if len(folder.encode()) > NAME_BYTES:
        raise PolsterError(
            f"partition key '{shown(key)}' is too long: its folder name would have "
            f"{len(folder.encode())} bytes, and file systems hold {NAME_BYTES}"
        )
    return f"{layer}/{name}/{folder}"


class PartitionedTable:
    """One partitioned table of a project's :class:`~polster_core.storage.Storage`."""

    def __init__(self, storage: Any, layer: str, name: str):
        self.storage = storage
        self.layer = layer
        self.name = name

    @property
    def label(self) -> str:
        return f"{self.layer}/{self.name}"

    # Where things are ---------------------------------------------------------------------

    def uri(self, key: str | None = None) -> str:
        """The folder's URI, or one partition's file's."""
        backend = self.storage.backend
        if key is not None:
            return backend.uri(partition_layer(self.layer, self.name, key), PART)
        return _strip_parquet(backend.uri(self.layer, self.name)) + "/"

    def keys(self) -> list[str]:
        """The partition keys stored, sorted."""
        found = set()
        for folder in list_folder(self.storage.backend, self.layer, self.name):
            key = key_of(folder)
            # Only the folder a key is written to (an older release named the repeated hour
            # of a DST fall-back partition=...: that folder is no longer read).
            if key is not None and folder == folder_name(key):
                found.add(key)
        return sorted(found)

    def unpartitioned_exists(self) -> bool:
        """Whether an unpartitioned version (``{layer}/{name}.parquet``) is stored too."""
        try:
            return bool(self.storage.backend.exists(self.layer, self.name))
        except Exception:
            return False

    # Writing ------------------------------------------------------------------------------

    def write(self, frame: Any, key: str) -> Any:
        """Write one partition atomically; the others are untouched. Returns the WriteResult."""
        if self.unpartitioned_exists():
            warn_once(
                f"NOTE: {self.label} is partitioned now; its earlier unpartitioned table "
                f"{self.storage.backend.uri(self.layer, self.name)} is kept as it was and no "
                "longer read: delete it when you no longer need it"
            )
        return self.storage.write(frame, partition_layer(self.layer, self.name, key), PART)

    def delete(self) -> int:
        """Remove every partition (the folder); returns how many there were."""
        count = len(self.keys())
        delete_folder(self.storage.backend, self.layer, self.name)
        return count

    # Reading ------------------------------------------------------------------------------

    def read(self, key: str) -> Any:
        return self._one("read", key)

    def scan(self, key: str) -> Any:
        return self._one("scan", key)

    def _one(self, method: str, key: str) -> Any:
        layer = partition_layer(self.layer, self.name, key)
        if not self.storage.exists(layer, PART):
            stored = self.keys()
            have = f"stored: {_span(stored)}" if stored else "none is stored yet"
            raise PolsterError(
                f"no partition {key} of {self.label} at {self.uri(key)} ({have}): "
                f"materialise it first (python run_polster.py --partition {key})"
            )
        return getattr(self.storage, method)(layer, PART)

    def scan_all(self, keys: list[str] | None = None) -> Any:
        """The stored partitions (those of ``keys`` only, when given) as one LazyFrame, with
        the partition column added unless the data has a column of that name already."""
        import polars as pl

        stored = self.keys()
        wanted = stored if keys is None else [k for k in stored if k in set(keys)]
        if not wanted:
            raise PolsterError(
                f"no partitions of {self.label} stored at {self.uri()}: materialise some "
                "first (python run_polster.py, or --partition KEY)"
            )
        files, options = self._files(wanted)
        if files:
            # A damaged file would fail the whole scan later, without its name: read it alone
            # now, through the Storage, whose error names the partition and its file.
            for key in _damaged_files(wanted, files, options):
                self.scan(key)
            if not options:
                _SCANNED.append((self, wanted, files))
                del _SCANNED[:-SCANS_KEPT]
            column = column_for(wanted[0])
            names = pl.scan_parquet(files[0], **options).collect_schema().names()
            if column in names or len({column_for(k) for k in wanted}) > 1:
                return pl.scan_parquet(files, hive_partitioning=False, **options)
            return pl.scan_parquet(
                files, hive_partitioning=True, hive_schema={column: pl.String}, **options
            )
        frames = []
        for key in wanted:
            frame = self.scan(key)
            column = column_for(key)
            if column not in frame.collect_schema().names():
                frame = frame.with_columns(pl.lit(key, dtype=pl.String).alias(column))
            frames.append(frame)
        return pl.concat(frames, how="diagonal_relaxed")

    def _files(self, keys: list[str]) -> tuple[list[str], dict[str, Any]]:
        """Paths or URLs polars can scan in one go (local files, or a backend that scans
        with polars' own cloud reader), with its options; ``[]`` when the backend reads
        through file objects (then each partition is scanned through the Storage)."""
        backend = self.storage.backend
        layers = [partition_layer(self.layer, self.name, k) for k in keys]
        if self.storage.is_remote and any(
            self.storage.holding_backend(la, PART) is not backend for la in layers[:1]
        ):
            return [], {}
        if getattr(backend, "name", "") == "local" and hasattr(backend, "path"):
            return [str(backend.path(la, PART)) for la in layers], {}
        if getattr(backend, "scan_with", None) == "polars" and hasattr(backend, "url"):
            return [backend.url(la, PART) for la in layers], dict(backend.polars_options())
        return [], {}


# The local partitions scanned lately (table, keys, files), newest last: when a scan fails
# later with a damaged file that passed the quick look, damaged_partition finds which.
_SCANNED: list[tuple[PartitionedTable, list[str], list[str]]] = []


SCANS_KEPT = 16


def damaged_partition(exc: BaseException) -> PolsterError | None:
    """For an error saying a parquet file is damaged, raised while a scan of partitions ran
    (their file's end looked right, what is inside is not): the error that names the first
    damaged partition scanned lately, its file and the run that writes it again; else None."""
    if not any(not_parquet(e) for e in exception_chain(exc)) or not _SCANNED:
        return None
    import polars as pl

    for table, keys, files in reversed(_SCANNED):
        for key, file in zip(keys, files, strict=True):
            try:
                pl.read_parquet_schema(file)
            except Exception:
                try:
                    table.scan(key)
                except PolsterError as named:
                    return named
    return None


def collected(frame: Any) -> Any:
    """``frame.collect()``, a damaged partition it scans named (:func:`damaged_partition`)."""
    try:
        return frame.collect()
    except Exception as exc:
        named = damaged_partition(exc)
        if named is None:
            raise
    raise named


def _damaged_files(keys: list[str], files: list[str], options: dict) -> list[str]:
    """The keys whose local file does not end as a parquet file does (its footer's length and
    ``PAR1``, or ``PARE`` when encrypted): a truncated or overwritten file. Eight bytes a file;
    remote files are not read twice (their scan reports a damaged one)."""
    if options:
        return []
    damaged = []
    for key, file in zip(keys, files, strict=True):
        try:
            with open(file, "rb") as handle:
                size = handle.seek(0, 2)
                handle.seek(max(size - 8, 0))
                tail = handle.read(8)
        except OSError:
            damaged.append(key)
            continue
        length = int.from_bytes(tail[:4], "little") if len(tail) == 8 else size
        if tail[4:] not in (b"PAR1", b"PARE") or length + 12 > size:
            damaged.append(key)
    return damaged


def _strip_parquet(text: str) -> str:
    return text[: -len(".parquet")] if text.endswith(".parquet") else text


def _folder(backend: Any, layer: str, name: str) -> tuple[Any, str]:
    """An fsspec filesystem and the path of the table's folder on it."""
    fs = getattr(backend, "fs", None)
    if fs is not None and hasattr(backend, "path"):
        return fs, _strip_parquet(str(backend.path(layer, name)))
    if hasattr(backend, "path"):
        path = Path(_strip_parquet(str(backend.path(layer, name))))
        if path.is_absolute() or getattr(backend, "name", "") == "local":
            from fsspec.implementations.local import LocalFileSystem

            return LocalFileSystem(), str(path)
    from fsspec.core import url_to_fs

    return url_to_fs(_strip_parquet(backend.uri(layer, name)))


def list_folder(backend: Any, layer: str, name: str) -> list[str]:
    """Names of the entries of a table's folder (``date=2026-11-02``, ...); [] if it has none.

    A backend may define ``list_folder(layer, name)`` itself; the default uses fsspec.
    """
    own = getattr(backend, "list_folder", None)
    if own is not None:
        return list(own(layer, name))
    if getattr(backend, "name", "") == "local" and hasattr(backend, "path"):
        folder = Path(_strip_parquet(str(backend.path(layer, name))))
        if not folder.is_dir():
            return []
        return [p.name for p in folder.iterdir() if (p / f"{PART}.parquet").is_file()]
    fs, path = _folder(backend, layer, name)
    try:
        try:
            entries = fs.ls(path, detail=False, refresh=True)
        except TypeError:  # a filesystem without listings cache (sftp) takes no refresh=
            entries = fs.ls(path, detail=False)
    except FileNotFoundError:
        return []
    names = [str(e).rstrip("/").rpartition("/")[2] for e in entries]
    return [n for n in names if _FOLDER.match(n)]


def delete_folder(backend: Any, layer: str, name: str) -> None:
    """Remove a table's folder and everything in it (``delete_folder`` of the backend, or
    fsspec's recursive ``rm``)."""
    own = getattr(backend, "delete_folder", None)
    if own is not None:
        own(layer, name)
        return
    fs, path = _folder(backend, layer, name)
    try:
        if fs.exists(path):
            fs.rm(path, recursive=True)
    except FileNotFoundError:
        pass


def delete_file(backend: Any, layer: str, name: str) -> None:
    """Remove a table's unpartitioned file (``delete`` of the backend, or fsspec's ``rm``)."""
    own = getattr(backend, "delete", None)
    if own is not None:
        own(layer, name)
        return
    fs, path = _folder(backend, layer, name)
    try:
        fs.rm(f"{path}.parquet")
    except FileNotFoundError:
        pass


def _span(keys: list[str]) -> str:
    if len(keys) <= 3:
        return ", ".join(keys)
    return f"{len(keys)} from {keys[0]} to {keys[-1]}"


_warned: set[str] = set()


def warn_once(message: str) -> None:
    """Print ``message`` on stderr, once per process."""
    if message not in _warned:
        _warned.add(message)
        print(message, file=sys.stderr, flush=True)
