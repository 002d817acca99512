"""Delta Lake tables: incremental strategies (dbt's merge, append, delete+insert, snapshot).

An asset whose wrapper carries Polster's table metadata (``polster/format: delta``, added by
``polster add-asset --incremental STRATEGY --unique-key COLS`` or ``--format delta``) is a
Delta table at ``{layer}/{name}/`` on the project's storage backend (``_delta_log/`` inside).
The asset's core function returns the new or changed rows; :func:`write` applies them:

- ``merge``: rows whose unique key is in the table are updated, the others inserted;
- ``append``: every row is inserted;
- ``delete+insert``: rows of the table whose key is in the batch are deleted, the batch is
  inserted (the key need not be unique within the batch: dbt's semantics);
- ``snapshot``: type-2 history; a row whose values changed closes its current version
  (``valid_to``, ``is_current = false``) and opens a new one; new keys open their first;
- none (``--format delta``): the batch replaces the table (a full refresh kept as a version).

Each write is one Delta transaction (delta-rs, the ``deltalake`` package): readers see the
previous version or the new one, and a run killed in the middle leaves the previous one. The
first run creates the table. A partitioned asset's run replaces exactly that partition's rows
(a predicate overwrite), so rerunning a day is idempotent.

Storage backends hand delta-rs their credentials: the built-in local backend needs none; a
backend object with ``delta_storage_options()`` (and optionally ``delta_uri(layer, name)``)
hosts Delta tables (the adls and s3 plugins); any other says so in one line.

Nothing here imports polars or deltalake until a function needs it.

Long: one table format's whole life (write by strategy with its key and schema checks, the
retries of a lost commit, reads by version, upkeep); its spec is in project/table_spec.py.
"""

from __future__ import annotations

import datetime as _dt
import random as _random
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
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
from ..secrets import redact
from .local_backend import LocalBackend
from .partitions import column_for


def script_spec(storage: Any, layer: str, name: str) -> TableSpec | None:
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


# Where a table lives ---------------------------------------------------------------------------


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
        return (backend.base / layer / name / "_delta_log").is_dir()
    if not hosts_delta(backend):
        return False
    return exists(location(storage, layer, name))


# Writing ---------------------------------------------------------------------------------------


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

    def summary(self) -> str:
        return (
            f"version {self.version}: {self.inserted:,} inserted, {self.updated:,} updated, "
            f"{self.deleted:,} deleted"
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
    the policy does not allow.
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
    loc = location(storage, layer, name)
    part_column = None
    if partition is not None:
        part_column = column_for(partition)
        frame = frame.with_columns(pl.lit(partition, dtype=pl.String).alias(part_column))
    check_keys(frame, spec, label)
    batch = frame
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        table = _open(loc)
        created = table is None
        batch = frame if created else conform(frame, table, spec, label)
        failure = None
        try:
            if created:
                counts = _create(loc, batch, spec, part_column)
            elif partition is not None:
                counts = _replace_partition(table, batch, part_column, partition)
            else:
                counts = _APPLY[spec.strategy or "overwrite"](table, batch, spec)
            break
        except PolsterError:
            raise
        except Exception as exc:
            if attempt < COMMIT_ATTEMPTS and _lost_to_another_writer(exc):
                # Another run committed first: its version is read again and the batch applied
                # to it (what this attempt wrote is in no version; upkeep vacuums it).
                time.sleep(_random.uniform(0.05, 0.2) * attempt)
                continue
            failure = _write_error(exc, storage, loc, label)
        raise failure  # outside the except block: the unmasked original is not chained
    version = (table if table is not None else _open(loc)).version()
    inserted, updated, deleted = counts
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
    )


# The size of the data files Polster's tables are written in (the table's delta.targetFileSize,
# which merges, overwrites and compaction follow too): small enough that a merge of recent
# rows rewrites few rows besides them (bench/bench_incremental.py), large enough to read fast.
TARGET_FILE_BYTES = 4 * 1024 * 1024
CHECKPOINT_INTERVAL = 10
# Row groups of about polars' own size: a reader decodes a file's row groups in parallel.
ROW_GROUP_ROWS = 128 * 1024
COMMIT_ATTEMPTS = 8  # tries of one write while concurrent runs keep committing first


def _lost_to_another_writer(exc: Exception) -> bool:
    """Whether a write failed only because another writer committed the same version first
    (or created the table first)."""
    from deltalake.exceptions import CommitFailedError

    text = str(exc).lower()
    return isinstance(exc, CommitFailedError) or any(
        words in text
        for words in (
            "already exists",
            "concurrent",
            "conflict",
            "version 0",
            "max_retries",
            "commit failed",
            "transaction failed",
        )
    )


def _write_error(exc: Exception, storage: Any, loc: Location, label: str) -> PolsterError:
    text = str(exc).strip().splitlines()
    cause = redact(f"{type(exc).__name__}: {text[0] if text else ''}", _secrets(storage, loc))
    if "CommitFailed" in cause or "concurrent" in cause.lower() or "conflict" in cause.lower():
        cause += " (another run changed the table at the same time: run this one again)"
    failure = PolsterError(
        f"writing {label} to the Delta table at {loc.shown} failed: {cause}; the previous "
        "version is unchanged"
    )
    failure.details = redact(
        "".join(traceback.format_exception(exc)).rstrip(), _secrets(storage, loc)
    )
    return failure


def _secrets(storage: Any, loc: Location) -> tuple[str, ...]:
    found = list(getattr(storage, "secrets", ()) or ())
    for key, value in loc.options.items():
        if any(word in key.lower() for word in ("key", "secret", "token", "sas", "password")):
            found.append(value)
    return tuple(v for v in found if v)


def check_keys(frame: Any, spec: TableSpec, label: str) -> None:
    """Refuse a batch whose unique key is missing, null or (merge, snapshot) repeated."""
    import polars as pl

    if not spec.unique_key:
        return
    missing = [c for c in spec.unique_key if c not in frame.columns]
    if missing:
        raise PolsterError(
            f"{label}: unique key column '{missing[0]}' is missing from the asset's output "
            f"({_rows(frame.height)}, columns {', '.join(frame.columns[:8]) or 'none'}): return "
            "it, or change polster/unique_key in the wrapper; nothing was written"
        )
    keys = list(spec.unique_key)
    nulls = frame.select(pl.col(keys).null_count()).row(0)
    for column, count in zip(keys, nulls, strict=True):
        if count:
            raise PolsterError(
                f"{label}: unique key column '{column}' is null in {_rows(count)} of the "
                "batch; nothing was written"
            )
    if spec.strategy in ("merge", "snapshot"):
        duplicated = frame.height - frame.select(keys).n_unique()
        if duplicated:
            shown = "column '" + keys[0] + "'" if len(keys) == 1 else f"key ({', '.join(keys)})"
            raise PolsterError(
                f"{label}: unique key {shown} is duplicated within the batch: "
                f"{_rows(duplicated)} {'repeats' if duplicated == 1 else 'repeat'} a key; "
                "deduplicate them (e.g. df.unique(subset=[...], keep='last')); nothing was written"
            )


def _rows(count: int) -> str:
    return f"{count:,} row" + ("" if count == 1 else "s")


def _open(loc: Location) -> Any:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(loc.uri, storage_options=loc.options or None)
    except TableNotFoundError:
        return None


def _family(dtype: Any) -> str:
    """A type's family for schema comparison: Int64 vs Int32 differ, a time unit does not."""
    import polars as pl

    if isinstance(dtype, pl.Datetime):
        return f"Datetime[{dtype.time_zone is not None}]"
    if dtype in (pl.String, pl.Categorical, pl.Enum):
        return "String"
    return str(dtype.base_type()) if not dtype.is_nested() else str(dtype)


def conform(frame: Any, table: Any, spec: TableSpec, label: str) -> Any:
    """The batch made to fit the table, or a one-line refusal under ``on_schema_change``."""
    import polars as pl

    target = _schema(table)
    own = [c for c in target.names() if not (spec.strategy == "snapshot" and c in SNAPSHOT_COLUMNS)]
    new = [c for c in frame.columns if c not in target]
    gone = [c for c in own if c not in frame.columns]
    changed = [
        c for c in frame.columns if c in target and _family(frame.schema[c]) != _family(target[c])
    ]
    if changed:
        column = changed[0]
        raise PolsterError(
            f"{label}: column '{column}' changed type from {target[column]} to "
            f"{frame.schema[column]} (no on_schema_change policy changes a type): cast it back "
            "in the core function, or rebuild the table; nothing was written"
        )
    if (new or gone) and spec.on_schema_change == "fail":
        what = (
            f"new column(s) {', '.join(new)}"
            if new
            else f"no column(s) {', '.join(gone)} the table has"
        )
        raise PolsterError(
            f"{label}: the batch has {what} and on_schema_change is fail: set "
            "polster/on_schema_change to append_new_columns in the wrapper, or return the "
            "table's columns; nothing was written"
        )
    if gone:  # append_new_columns keeps the table's columns: null in the new rows
        frame = frame.with_columns(pl.lit(None, dtype=target[c]).alias(c) for c in gone)
    return frame.with_columns(
        pl.col(c).cast(target[c]) for c in frame.columns if c in target and c not in new
    )


def _arrow(frame: Any) -> Any:
    return frame.to_arrow(compat_level=_compat())


def _compat() -> Any:
    import polars as pl

    return pl.CompatLevel.oldest()  # plain string and list types: what delta-rs maps best


def _merge_counts(metrics: dict) -> tuple[int, int, int]:
    return (
        int(metrics.get("num_target_rows_inserted", 0)),
        int(metrics.get("num_target_rows_updated", 0)),
        int(metrics.get("num_target_rows_deleted", 0)),
    )


def _key_predicate(keys: tuple[str, ...], extra: str = "") -> str:
    joined = " AND ".join(f't."{k}" = s."{k}"' for k in keys)
    return f"{joined} AND {extra}" if extra else joined


def _create(loc: Location, frame: Any, spec: TableSpec, part_column: str | None):
    from deltalake import write_deltalake

    if spec.strategy == "snapshot":
        frame = _opened(frame, _now())
    write_deltalake(
        loc.uri,
        _arrow(frame),
        mode="error",
        partition_by=[part_column] if part_column else None,
        storage_options=loc.options or None,
        writer_properties=_writer(),
        # Two first runs at once: the second must not append its rows as version 1.
        commit_properties=_exclusive(),
        configuration={
            "delta.targetFileSize": str(TARGET_FILE_BYTES),
            # A checkpoint every 10 commits: opening the table replays at most 10 log entries
            # (a year of daily runs would otherwise replay up to 100).
            "delta.checkpointInterval": str(CHECKPOINT_INTERVAL),
        },
    )
    return frame.height, 0, 0


def _overwrite(table: Any, frame: Any, spec: TableSpec):
    from deltalake import write_deltalake

    before = _count(table)
    write_deltalake(
        table,
        _arrow(frame),
        mode="overwrite",
        schema_mode=_schema_mode(spec),
        writer_properties=_writer(),
        commit_properties=_exclusive(),
    )
    return frame.height, 0, before


def _append(table: Any, frame: Any, spec: TableSpec):
    from deltalake import write_deltalake

    write_deltalake(
        table,
        _arrow(frame),
        mode="append",
        schema_mode=_schema_mode(spec),
        writer_properties=_writer(),
    )
    return frame.height, 0, 0


def _exclusive() -> Any:
    """Commit only on the version the rows were applied to: delta-rs would otherwise commit a
    merge on top of a concurrent one it finds no conflict with, and two merges inserting the
    same new key would both insert it. A lost commit is retried by :func:`write` instead,
    which applies the rows again to the new version."""
    from deltalake import CommitProperties

    return CommitProperties(max_commit_retries=0)


def _writer() -> Any:
    """Parquet in zstd (level 1: a merge rewrites files at about delta-rs's default speed) in
    row groups of ~128k rows, as polars writes parquet."""
    from deltalake import WriterProperties

    return WriterProperties(
        compression="ZSTD", compression_level=1, max_row_group_size=ROW_GROUP_ROWS
    )


def _schema_mode(spec: TableSpec) -> str | None:
    return "merge" if spec.on_schema_change == "append_new_columns" else None


def _merge(table: Any, frame: Any, spec: TableSpec):
    metrics = (
        table.merge(
            _arrow(frame),
            predicate=_key_predicate(spec.unique_key),
            source_alias="s",
            target_alias="t",
            merge_schema=spec.on_schema_change == "append_new_columns",
            # The batch is in memory: its statistics prune the table's files to rewrite.
            streamed_exec=False,
            writer_properties=_writer(),
            commit_properties=_exclusive(),
        )
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .execute()
    )
    return _merge_counts(metrics)


def _delete_insert(table: Any, frame: Any, spec: TableSpec):
    """One merge: each key of the batch once, flagged to delete the table's rows of that key,
    and the batch's rows, flagged to insert (they match nothing, by the flag)."""
    import polars as pl

    keys = list(spec.unique_key)
    flag = "__polster_op"
    deletes = frame.select(keys).unique().with_columns(pl.lit("d").alias(flag))
    inserts = frame.with_columns(pl.lit("i").alias(flag))
    source = pl.concat([inserts, deletes], how="diagonal_relaxed")
    columns = [c for c in frame.columns]
    metrics = (
        table.merge(
            _arrow(source),
            predicate=_key_predicate(spec.unique_key, f"s.{flag} = 'd'"),
            source_alias="s",
            target_alias="t",
            merge_schema=spec.on_schema_change == "append_new_columns",
            # The batch is in memory: its statistics prune the table's files to rewrite.
            streamed_exec=False,
            writer_properties=_writer(),
            commit_properties=_exclusive(),
        )
        .when_matched_delete()
        .when_not_matched_insert(
            updates={f'"{c}"': f's."{c}"' for c in columns}, predicate=f"s.{flag} = 'i'"
        )
        .execute()
    )
    return _merge_counts(metrics)


def _now() -> Any:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def _opened(frame: Any, now: Any) -> Any:
    import polars as pl

    return frame.with_columns(
        pl.lit(now, dtype=pl.Datetime("us")).alias("valid_from"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("valid_to"),
        pl.lit(True).alias("is_current"),
    )


def _snapshot(table: Any, frame: Any, spec: TableSpec):
    """Type-2 history in one merge: close the current version of each changed key, and insert
    the new versions (of changed and new keys); unchanged rows are left alone."""
    import polars as pl

    keys = list(spec.unique_key)
    values = [c for c in frame.columns if c not in keys]
    current = (
        pl.scan_delta(table)
        .filter(pl.col("is_current"))
        .select(keys + [c for c in values if c in table.schema().to_arrow().names])
        .collect()
    )
    joined = frame.join(current, on=keys, how="left", suffix="__old", nulls_equal=False)
    old = current.columns
    known = joined.select(keys).join(current.select(keys), on=keys, how="semi")
    is_new = ~pl.struct(keys).is_in(known.select(pl.struct(keys)).to_series().implode())
    differs = pl.lit(False)
    for c in values:
        if c in old:
            differs = differs | pl.col(c).ne_missing(pl.col(f"{c}__old"))
        else:  # a new column (append_new_columns): a value there is a change
            differs = differs | pl.col(c).is_not_null()
    flagged = joined.with_columns(is_new.alias("__new"), differs.alias("__changed"))
    changed = flagged.filter(~pl.col("__new") & pl.col("__changed")).select(frame.columns)
    brand_new = flagged.filter(pl.col("__new")).select(frame.columns)
    if changed.height == 0 and brand_new.height == 0:
        return 0, 0, 0
    now = _now()
    flag = "__polster_op"
    closes = changed.select(keys).with_columns(
        pl.lit(now, dtype=pl.Datetime("us")).alias("valid_to"), pl.lit("c").alias(flag)
    )
    inserts = _opened(pl.concat([changed, brand_new]), now).with_columns(pl.lit("i").alias(flag))
    source = pl.concat([inserts, closes], how="diagonal_relaxed")
    columns = [*frame.columns, *SNAPSHOT_COLUMNS]
    metrics = (
        table.merge(
            _arrow(source),
            predicate=_key_predicate(spec.unique_key, f"t.is_current AND s.{flag} = 'c'"),
            source_alias="s",
            target_alias="t",
            merge_schema=spec.on_schema_change == "append_new_columns",
            # The batch is in memory: its statistics prune the table's files to rewrite.
            streamed_exec=False,
            writer_properties=_writer(),
            commit_properties=_exclusive(),
        )
        .when_matched_update(updates={"valid_to": "s.valid_to", "is_current": "false"})
        .when_not_matched_insert(
            updates={f'"{c}"': f's."{c}"' for c in columns}, predicate=f"s.{flag} = 'i'"
        )
        .execute()
    )
    return _merge_counts(metrics)


def _replace_partition(table: Any, frame: Any, column: str, key: str):
    """A partition's run: its rows replace exactly that partition's, in one transaction."""
    from deltalake import write_deltalake

    quoted = key.replace("'", "''")
    predicate = f"\"{column}\" = '{quoted}'"
    before = _count(table, predicate)
    write_deltalake(
        table,
        _arrow(frame),
        mode="overwrite",
        predicate=predicate,
        writer_properties=_writer(),
        commit_properties=_exclusive(),
    )
    return frame.height, 0, before


def _count(table: Any, predicate: str | None = None) -> int:
    """Rows of the table (matching a ``column = 'value'`` predicate): from the log's
    statistics where they are complete, else a count."""
    import polars as pl

    scan = pl.scan_delta(table)
    if predicate:
        column, _, value = predicate.partition(" = ")
        scan = scan.filter(pl.col(column.strip('"')) == value.strip("'").replace("''", "'"))
    return int(scan.select(pl.len()).collect().item())


_APPLY = {
    "overwrite": _overwrite,
    "append": _append,
    "merge": _merge,
    "delete+insert": _delete_insert,
    "snapshot": _snapshot,
}


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
    table = _open(loc)
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
        table = _open(location(storage, layer, name))
        if table is None:
            return None
        import pyarrow.compute as pc

        actions = table.get_add_actions(flatten=True)
        counts = actions.column("num_records")
        import pyarrow as pa

        return int(pc.sum(pa.array(counts.to_pylist())).as_py() or 0)
    except Exception:
        return None


def _schema(table: Any) -> Any:
    """The table's schema as polars types, off the log (no data file is opened)."""
    import polars as pl
    import pyarrow as pa

    return pl.from_arrow(pa.schema(table.schema().to_arrow()).empty_table()).schema


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
    return pl.scan_parquet(files, schema=_schema(table), missing_columns="insert")


def version_of(storage: Any, layer: str, name: str) -> int | None:
    table = _open(location(storage, layer, name))
    return None if table is None else table.version()


# Upkeep ----------------------------------------------------------------------------------------


@dataclass
class UpkeepResult:
    label: str
    files_compacted: int = 0
    files_added: int = 0
    files_vacuumed: int = 0
    version: int = 0
    bytes_vacuumed: int = 0


def upkeep(storage: Any, layer: str, name: str, retention_hours: int) -> UpkeepResult:
    """Compact the table's small files, then vacuum files no version newer than the
    retention needs."""
    loc = location(storage, layer, name)
    table = _open(loc)
    label = f"{layer}/{name}"
    if table is None:
        raise PolsterError(f"no Delta table {label} at {loc.shown}")
    metrics = table.optimize.compact(writer_properties=_writer())
    doomed = table.vacuum(
        retention_hours=retention_hours, dry_run=True, enforce_retention_duration=False
    )
    size = _sizes(storage, loc, doomed)
    removed = table.vacuum(
        retention_hours=retention_hours,
        dry_run=False,
        enforce_retention_duration=False,
    )
    table.create_checkpoint()  # a reader opens the compacted version without replaying the log
    return UpkeepResult(
        label=label,
        files_compacted=int(metrics.get("numFilesRemoved", 0)),
        files_added=int(metrics.get("numFilesAdded", 0)),
        files_vacuumed=len(removed),
        version=_open(loc).version(),
        bytes_vacuumed=size,
    )


def vacuum_candidates(storage: Any, layer: str, name: str, retention_hours: int) -> list[str]:
    """The files a vacuum with this retention would delete (nothing is deleted)."""
    table = _open(location(storage, layer, name))
    if table is None:
        return []
    return list(
        table.vacuum(
            retention_hours=retention_hours, dry_run=True, enforce_retention_duration=False
        )
    )


def _sizes(storage: Any, loc: Location, files: list[str]) -> int:
    """Bytes of a table's ``files`` (best effort: 0 for a file whose size cannot be read)."""
    total = 0
    backend = storage.backend
    for rel in files:
        try:
            if isinstance(backend, LocalBackend):
                total += (Path(loc.uri) / rel).stat().st_size
            else:
                base = backend.path("x", "y")[: -len("x/y.parquet")]
                folder = loc.shown.split("://", 1)[-1]
                total += int(backend.fs.size(f"{folder}/{rel}" if folder else base + rel))
        except Exception:
            continue
    return total


def retention_hours(config: dict) -> int:
    """``[tool.polster] delta_retention_hours`` (default 168: Delta's 7 days)."""
    value = config.get("delta_retention_hours", DEFAULT_RETENTION_HOURS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolsterError(
            "[tool.polster] delta_retention_hours in pyproject.toml must be a whole number of "
            f"hours (0 or more), not {value!r}: fix it"
        )
    return value
