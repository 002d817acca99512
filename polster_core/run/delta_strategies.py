"""How a batch is applied to a Delta table, by dbt's incremental strategies (issue 29), each in
one delta-rs commit (made by :func:`polster_core.run.delta_commit.commit`): the key and schema
checks, then ``merge``, ``append``, ``delete+insert``, ``snapshot``, a plain overwrite and a
partition's predicate overwrite. Nothing here imports polars or deltalake until needed.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from ..exceptions import PolsterError
from ..project.table_spec import SNAPSHOT_COLUMNS, TableSpec
from .delta_commit import Counts, options
from .delta_table import Location, schema_of

# A checkpoint every 10 commits: opening the table replays at most 10 log entries (a year of
# daily runs would otherwise replay up to 100).
CHECKPOINT_INTERVAL = 10
FLAG = "__polster_op"  # the column that tells a merge's source rows apart


def check_keys(frame: Any, spec: TableSpec, label: str) -> None:
    """Refuse a batch whose unique key is missing, null or (merge, snapshot) repeated."""
    import polars as pl

    if not spec.unique_key:
        return
    missing = [c for c in spec.unique_key if c not in frame.columns]
    if missing:
        raise PolsterError(
            f"{label}: unique key column '{missing[0]}' is missing from the asset's output "
            f"({rows(frame.height)}, columns {', '.join(frame.columns[:8]) or 'none'}): return "
            "it, or change polster/unique_key in the wrapper; nothing was written"
        )
    keys = list(spec.unique_key)
    nulls = frame.select(pl.col(keys).null_count()).row(0)
    for column, count in zip(keys, nulls, strict=True):
        if count:
            raise PolsterError(
                f"{label}: unique key column '{column}' is null in {rows(count)} of the "
                "batch; nothing was written"
            )
    if spec.strategy in ("merge", "snapshot"):
        duplicated = frame.height - frame.select(keys).n_unique()
        if duplicated:
            shown = "column '" + keys[0] + "'" if len(keys) == 1 else f"key ({', '.join(keys)})"
            raise PolsterError(
                f"{label}: unique key {shown} is duplicated within the batch: "
                f"{rows(duplicated)} {'repeats' if duplicated == 1 else 'repeat'} a key; "
                "deduplicate them (e.g. df.unique(subset=[...], keep='last')); nothing was written"
            )


def rows(count: int) -> str:
    return f"{count:,} row" + ("" if count == 1 else "s")


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

    target = schema_of(table)
    added = SNAPSHOT_COLUMNS + (("is_deleted",) if spec.hard_deletes == "new_record" else ())
    own = [c for c in target.names() if not (spec.strategy == "snapshot" and c in added)]
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


def arrow(frame: Any) -> Any:
    import polars as pl

    # Plain string and list types: what delta-rs maps best.
    return frame.to_arrow(compat_level=pl.CompatLevel.oldest())


def merge_counts(metrics: dict) -> Counts:
    return (
        int(metrics.get("num_target_rows_inserted", 0)),
        int(metrics.get("num_target_rows_updated", 0)),
        int(metrics.get("num_target_rows_deleted", 0)),
    )


def key_predicate(keys: tuple[str, ...], extra: str = "") -> str:
    joined = " AND ".join(f't."{k}" = s."{k}"' for k in keys)
    return f"{joined} AND {extra}" if extra else joined


def merger(table: Any, source: Any, spec: TableSpec, predicate: str) -> Any:
    """A delta-rs merge of ``source`` (aliased ``s``) into the table (``t``)."""
    return table.merge(
        arrow(source),
        predicate=predicate,
        source_alias="s",
        target_alias="t",
        merge_schema=spec.on_schema_change == "append_new_columns",
        # The batch is in memory: its statistics prune the table's files to rewrite.
        streamed_exec=False,
        **options(),
    )


def create(
    loc: Location, frame: Any, spec: TableSpec, part_column: str | None, target_bytes: int
) -> Counts:
    from deltalake import write_deltalake

    if spec.strategy == "snapshot":
        frame = opened(frame, now(), spec)
    write_deltalake(
        loc.uri,
        arrow(frame),
        mode="error",  # two first runs at once: the second must not append as version 1
        partition_by=[part_column] if part_column else None,
        storage_options=loc.options or None,
        configuration={
            "delta.targetFileSize": str(target_bytes),
            "delta.checkpointInterval": str(CHECKPOINT_INTERVAL),
        },
        **options(),
    )
    return frame.height, 0, 0


def _overwrite(table: Any, frame: Any, spec: TableSpec) -> Counts:
    from deltalake import write_deltalake

    before = count(table)
    write_deltalake(
        table, arrow(frame), mode="overwrite", schema_mode=_schema_mode(spec), **options()
    )
    return frame.height, 0, before


def _append(table: Any, frame: Any, spec: TableSpec) -> Counts:
    from deltalake import write_deltalake

    write_deltalake(
        table,
        arrow(frame),
        mode="append",
        schema_mode=_schema_mode(spec),
        **options(exclusive=False),  # an append conflicts with no other append
    )
    return frame.height, 0, 0


def _schema_mode(spec: TableSpec) -> str | None:
    return "merge" if spec.on_schema_change == "append_new_columns" else None


def _merge(table: Any, frame: Any, spec: TableSpec) -> Counts:
    builder = merger(table, frame, spec, key_predicate(spec.unique_key))
    return merge_counts(builder.when_matched_update_all().when_not_matched_insert_all().execute())


def _delete_insert(table: Any, frame: Any, spec: TableSpec) -> Counts:
    """One merge: each key of the batch once, flagged to delete the table's rows of that key,
    and the batch's rows, flagged to insert (they match nothing, by the flag)."""
    import polars as pl

    keys = list(spec.unique_key)
    deletes = frame.select(keys).unique().with_columns(pl.lit("d").alias(FLAG))
    inserts = frame.with_columns(pl.lit("i").alias(FLAG))
    source = pl.concat([inserts, deletes], how="diagonal_relaxed")
    builder = merger(table, source, spec, key_predicate(spec.unique_key, f"s.{FLAG} = 'd'"))
    metrics = (
        builder.when_matched_delete()
        .when_not_matched_insert(
            updates={f'"{c}"': f's."{c}"' for c in frame.columns}, predicate=f"s.{FLAG} = 'i'"
        )
        .execute()
    )
    return merge_counts(metrics)


def now() -> Any:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


def opened(frame: Any, moment: Any, spec: TableSpec, deleted: bool = False) -> Any:
    """The rows as current versions opened at ``moment`` (with ``is_deleted`` under
    ``hard_deletes = new_record``)."""
    import polars as pl

    columns = [
        pl.lit(moment, dtype=pl.Datetime("us")).alias("valid_from"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("valid_to"),
        pl.lit(True).alias("is_current"),
    ]
    if spec.hard_deletes == "new_record":
        columns.append(pl.lit(deleted).alias("is_deleted"))
    return frame.with_columns(columns)


def replace_partition(table: Any, frame: Any, column: str, key: str) -> Counts:
    """A partition's run: its rows replace exactly that partition's, in one transaction."""
    from deltalake import write_deltalake

    quoted = key.replace("'", "''")
    predicate = f"\"{column}\" = '{quoted}'"
    before = count(table, predicate)
    write_deltalake(table, arrow(frame), mode="overwrite", predicate=predicate, **options())
    return frame.height, 0, before


def count(table: Any, predicate: str | None = None) -> int:
    """Rows of the table (matching a ``column = 'value'`` predicate)."""
    import polars as pl

    scan = pl.scan_delta(table)
    if predicate:
        column, _, value = predicate.partition(" = ")
        scan = scan.filter(pl.col(column.strip('"')) == value.strip("'").replace("''", "'"))
    return int(scan.select(pl.len()).collect().item())


APPLY = {
    "overwrite": _overwrite,
    "append": _append,
    "merge": _merge,
    "delete+insert": _delete_insert,
}
