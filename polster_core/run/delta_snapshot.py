"""The ``snapshot`` strategy (issue 29): type-2 history in one Delta merge, like dbt's
snapshots. A key whose values changed has its current row closed (``valid_to``, ``is_current =
false``) and a new one opened; a new key opens its first; unchanged rows are left alone.

Keys missing from the batch follow the spec's ``hard_deletes`` (dbt's option; meaningful only
when each batch is the whole source): ``ignore`` leaves their row current; ``invalidate``
closes it; ``new_record`` closes it and opens a row of the same values with ``is_deleted =
true`` (a key that comes back then opens a new row with ``is_deleted = false``).
"""

from __future__ import annotations

from typing import Any

from ..exceptions import PolsterError
from ..project.table_spec import DELETED_COLUMN, SNAPSHOT_COLUMNS, TableSpec
from .delta_commit import Counts
from .delta_strategies import FLAG, key_predicate, merge_counts, merger, now, opened


def snapshot(table: Any, frame: Any, spec: TableSpec) -> Counts:
    """Close the current row of each changed (or, by ``hard_deletes``, vanished) key and
    insert the new rows, in one merge."""
    import polars as pl

    keys = list(spec.unique_key)
    names = table.schema().to_arrow().names
    marks = spec.hard_deletes == "new_record"
    if marks and DELETED_COLUMN not in names:
        raise PolsterError(
            f"the snapshot table has no {DELETED_COLUMN} column, which hard_deletes = "
            "new_record needs: rebuild the table (delete its folder) or use invalidate; "
            "nothing was written"
        )
    values = [c for c in frame.columns if c not in keys]
    wanted = keys + [c for c in values if c in names] + ([DELETED_COLUMN] if marks else [])
    current = pl.scan_delta(table).filter(pl.col("is_current")).select(wanted).collect()
    changed, brand_new = _changes(frame, current, keys, values, marks)
    gone = _vanished(frame, current, keys, marks) if spec.hard_deletes != "ignore" else None
    if changed.height == 0 and brand_new.height == 0 and (gone is None or gone.height == 0):
        return 0, 0, 0
    moment = now()
    closed = [changed.select(keys)] + ([gone.select(keys)] if gone is not None else [])
    closes = pl.concat(closed).with_columns(
        pl.lit(moment, dtype=pl.Datetime("us")).alias("valid_to"), pl.lit("c").alias(FLAG)
    )
    parts = [opened(pl.concat([changed, brand_new]), moment, spec)]
    if marks and gone is not None and gone.height:
        kept = [c for c in frame.columns if c in gone.columns]
        parts.append(opened(gone.select(kept), moment, spec, deleted=True))
    inserts = pl.concat(parts, how="diagonal_relaxed").with_columns(pl.lit("i").alias(FLAG))
    source = pl.concat([inserts, closes], how="diagonal_relaxed")
    columns = [*frame.columns, *SNAPSHOT_COLUMNS] + ([DELETED_COLUMN] if marks else [])
    predicate = key_predicate(spec.unique_key, f"t.is_current AND s.{FLAG} = 'c'")
    metrics = (
        merger(table, source, spec, predicate)
        .when_matched_update(updates={"valid_to": "s.valid_to", "is_current": "false"})
        .when_not_matched_insert(
            updates={f'"{c}"': f's."{c}"' for c in columns}, predicate=f"s.{FLAG} = 'i'"
        )
        .execute()
    )
    return merge_counts(metrics)


def _changes(frame: Any, current: Any, keys: list, values: list, marks: bool) -> tuple:
    """The batch's rows whose values differ from their key's current row, and its new keys."""
    import polars as pl

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
    if marks:  # a key that comes back after its deletion was recorded
        differs = differs | pl.col(DELETED_COLUMN).fill_null(False)
    flagged = joined.with_columns(is_new.alias("__new"), differs.alias("__changed"))
    changed = flagged.filter(~pl.col("__new") & pl.col("__changed")).select(frame.columns)
    brand_new = flagged.filter(pl.col("__new")).select(frame.columns)
    return changed, brand_new


def _vanished(frame: Any, current: Any, keys: list, marks: bool) -> Any:
    """The current rows whose key is not in the batch (not yet marked deleted)."""
    import polars as pl

    live = current.filter(~pl.col(DELETED_COLUMN)) if marks else current
    return live.join(frame.select(keys), on=keys, how="anti", nulls_equal=False)
