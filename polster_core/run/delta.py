"""Delta Lake tables: incremental strategies (dbt's merge, append, delete+insert, snapshot).

An asset whose wrapper carries Polster's table metadata (``polster/format: delta``, added by
``polster add-asset --incremental STRATEGY --unique-key COLS`` or ``--format delta``) is a
Delta table at ``{layer}/{name}/`` on the project's storage backend (``_delta_log/`` inside).
The asset's core function returns the new or changed rows; :func:`write` applies them:

- ``merge``: rows whose unique key is in the table are updated, the others inserted;
- ``append``: every row is inserted;
- ``delete+insert``: rows of the table whose key is in the batch are deleted, the batch is
  inserted (the key need not be unique within the batch: dbt's semantics);
- ``snapshot``: type-2 history (:mod:`.delta_snapshot`);
- none (``--format delta``): the batch replaces the table (a full refresh kept as a version).

Each write is one Delta transaction (delta-rs, the ``deltalake`` package; the commit and its
retries: :mod:`.delta_commit`): readers see the previous version or the new one, and a run
killed in the middle leaves the previous one. The first run creates the table. A partitioned
asset's run replaces exactly that partition's rows (a predicate overwrite), so rerunning a day
is idempotent. After a commit, a table with many small files is compacted
(:mod:`.delta_upkeep`, by the project's settings: :mod:`.delta_settings`).

This module is the public face (generated code and the IO manager import it); where a table
lives: :mod:`.delta_table`; the strategies: :mod:`.delta_strategies`. Nothing here imports
polars or deltalake until a function needs it.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass
from typing import Any

from ..exceptions import PolsterError
from ..project.table_spec import (  # noqa: F401  (the spec's home; imported from here until 0.2)
    COLUMN,
    DEFAULT_RETENTION_HOURS,
    FORMAT_KEY,
    FORMATS,
    KEYED,
    SCHEMA_KEY,
    SCHEMA_POLICIES,
    SNAPSHOT_COLUMNS,
    STRATEGIES,
    STRATEGY_KEY,
    UNIQUE_KEY,
    TableSpec,
    add_metadata,
    no_delta_line,
    parse_unique_key,
    spec_from_metadata,
    spec_from_record,
    spec_problem,
    wrapper_spec,
)
from . import delta_settings, delta_strategies, delta_upkeep
from .delta_commit import COMMIT_ATTEMPTS, ROW_GROUP_ROWS, commit  # noqa: F401  (public here)
from .delta_settings import retention_hours  # noqa: F401  (public here)
from .delta_snapshot import snapshot
from .delta_strategies import CHECKPOINT_INTERVAL, check_keys, conform  # noqa: F401
from .delta_table import (  # noqa: F401  (public here)
    Location,
    exists,
    hosts_delta,
    is_delta_table,
    location,
    open_table,
    schema_of,
    script_reads_delta,
    script_spec,
)
from .delta_upkeep import UpkeepResult, vacuum_candidates  # noqa: F401  (public here)
from .local_backend import LocalBackend
from .partitions import column_for

# The default size of the data files Polster's tables are written in (the table's
# delta.targetFileSize, which merges, overwrites and compaction follow too): small enough that
# a merge of recent rows rewrites few rows besides them (bench/bench_incremental.py), large
# enough to read fast. A project sets its own: [tool.polster] delta_target_file_mb.
TARGET_FILE_BYTES = delta_settings.DEFAULTS.target_file_bytes


@dataclass
class DeltaResult:
    """What one write did, for logs and Dagster's metadata."""

    uri: str
    backend: str
    version: int
    strategy: str
    rows: int  # rows in the batch
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    seconds: float = 0.0
    created: bool = False
    compacted: int = 0  # small files compacted after the commit

    def summary(self) -> str:
        compacted = f"; compacted {self.compacted} small files" if self.compacted else ""
        return (
            f"version {self.version}: {self.inserted:,} inserted, {self.updated:,} updated, "
            f"{self.deleted:,} deleted{compacted}"
        )


def write(
    storage: Any,
    frame: Any,
    layer: str,
    name: str,
    spec: TableSpec,
    partition: str | None = None,
) -> DeltaResult:
    """Apply ``frame`` (the new or changed rows) to the table by ``spec``; one transaction.

    Refused in one line, with nothing written: a unique key column missing from the batch
    or holding nulls, a key duplicated within the batch (merge and snapshot), a schema change
    the policy does not allow. Then, when the table has more small files than the project's
    ``delta_compact_small_files`` allows, they are compacted (a version of its own).
    """
    import polars as pl

    started = time.perf_counter()
    label = f"{layer}/{name}" + (f" partition {partition}" if partition else "")
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    if not isinstance(frame, pl.DataFrame):
        raise PolsterError(
            f"{label}: the asset returned {type(frame).__name__}: return a polars DataFrame"
        )
    settings = delta_settings.of_project(getattr(storage.settings, "root", None))
    loc = location(storage, layer, name)
    part_column = None
    if partition is not None:
        part_column = column_for(partition)
        frame = frame.with_columns(pl.lit(partition, dtype=pl.String).alias(part_column))
    check_keys(frame, spec, label)
    batch = frame

    def apply(table: Any) -> delta_strategies.Counts:
        nonlocal batch
        if table is None:
            batch = frame
            target = settings.target_file_bytes
            return delta_strategies.create(loc, batch, spec, part_column, target)
        batch = conform(frame, table, spec, label)
        if partition is not None:
            return delta_strategies.replace_partition(table, batch, part_column, partition)
        if spec.strategy == "snapshot":
            return snapshot(table, batch, spec)
        return delta_strategies.APPLY[spec.strategy or "overwrite"](table, batch, spec)

    table, (inserted, updated, deleted) = commit(storage, loc, label, apply)
    created = table is None
    table = open_table(loc) if created else table
    version = table.version()
    compacted = 0 if created else delta_upkeep.auto_compact(table, settings)
    return DeltaResult(
        uri=loc.shown,
        backend=storage.backend.name,
        version=version,
        strategy=spec.strategy or "overwrite",
        rows=batch.height,
        inserted=inserted,
        updated=updated,
        deleted=deleted,
        seconds=time.perf_counter() - started,
        created=created,
        compacted=compacted,
    )


# Reading ---------------------------------------------------------------------------------------


def read(
    storage: Any,
    layer: str,
    name: str,
    *,
    lazy: bool = False,
    version: int | None = None,
    as_of: Any = None,
    partition: str | None = None,
) -> Any:
    """The table's current version, or the one of ``version`` (a number) or ``as_of`` (a
    datetime or ISO string: the version current then)."""
    import polars as pl

    if version is not None and as_of is not None:
        raise PolsterError("pass version= or as_of=, not both")
    loc = location(storage, layer, name)
    table = open_table(loc)
    label = f"{layer}/{name}"
    if table is None:
        raise PolsterError(
            f"no data for {label} at {loc.shown} ({storage.backend.name}): materialise that "
            f"asset first (python src/core/{layer}_{name}.py or python run_polster.py)"
        )
    try:
        if version is not None:
            table.load_as_version(int(version))
        elif as_of is not None:
            moment = _dt.datetime.fromisoformat(as_of) if isinstance(as_of, str) else as_of
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=_dt.timezone.utc)
            table.load_as_version(moment)
    except Exception as exc:
        text = str(exc).strip().splitlines()
        raise PolsterError(
            f"{label} has no version "
            f"{version if version is not None else as_of} at {loc.shown}: "
            f"{text[0] if text else type(exc).__name__} (its history: polster upkeep --list)"
        ) from None
    frame = _scan(storage, table)
    if partition is not None:
        frame = frame.filter(pl.col(column_for(partition)) == partition)
    return frame if lazy else frame.collect()


def table_rows(storage: Any, layer: str, name: str) -> int | None:
    """Rows of the current version, from the log's per-file counts (no data is read)."""
    try:
        table = open_table(location(storage, layer, name))
        if table is None:
            return None
        import pyarrow as pa
        import pyarrow.compute as pc

        counts = table.get_add_actions(flatten=True).column("num_records")
        return int(pc.sum(pa.array(counts.to_pylist())).as_py() or 0)
    except Exception:
        return None


def _scan(storage: Any, table: Any) -> Any:
    """A lazy frame of the loaded version. A local table that is plain parquet underneath
    (unpartitioned, reader protocol 1: no deletion vectors, no column mapping) is scanned as
    its data files, with the table's schema (files older than a new column get it as nulls):
    half the fixed cost of polars' scan_delta (bench/bench_incremental.py)."""
    import polars as pl

    plain = (
        isinstance(storage.backend, LocalBackend)
        and not table.metadata().partition_columns
        and table.protocol().min_reader_version == 1
    )
    files = table.file_uris() if plain else []
    if not files:
        return pl.scan_delta(table)
    return pl.scan_parquet(files, schema=schema_of(table), missing_columns="insert")


def version_of(storage: Any, layer: str, name: str) -> int | None:
    table = open_table(location(storage, layer, name))
    return None if table is None else table.version()


# Upkeep ----------------------------------------------------------------------------------------


def upkeep(storage: Any, layer: str, name: str, retention_hours: int) -> UpkeepResult:  # noqa: F811
    """Compact the table's small files, then vacuum files no version newer than the
    retention needs (:func:`polster_core.run.delta_upkeep.upkeep`)."""
    settings = delta_settings.of_project(getattr(storage.settings, "root", None))
    return delta_upkeep.upkeep(storage, layer, name, retention_hours, settings)
