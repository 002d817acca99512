"""The IO manager's half for Delta tables (issue 29): an asset whose definition metadata says
``polster/format: delta`` is written by :func:`polster_core.run.delta.write` (its strategy), and
read back as its current version. Called from :class:`polster_core.runtime.PolsterIOManager`.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from . import delta
from .partitions import column_for
from .table_metadata import PREVIEW_ROWS, full_cause_logged, markdown_preview, table_schema

NOT_DELTA = object()


def spec_of(context: Any) -> delta.TableSpec | None:
    """The table spec in an output's (or an input's upstream output's) definition metadata."""
    metadata = getattr(context, "definition_metadata", None) or {}
    try:
        return delta.spec_from_metadata(metadata)
    except Exception as exc:  # a hand-edited wrapper: say which asset, in one line
        raise dg.Failure(f"asset {context.asset_key.to_user_string()}: {exc}") from None


def handle_output(
    context: Any, obj: Any, storage: Any, layer: str, name: str, extra: dict | None = None
) -> bool:
    """Write ``obj`` into the asset's Delta table; False when the asset is not a Delta table.
    ``extra`` is more metadata of the materialisation (the data contract's)."""
    import polars as pl

    spec = spec_of(context)
    if spec is None:
        return False

    if context.has_asset_partitions:
        keys = list(context.asset_partition_keys)
        frames = obj if isinstance(obj, dict) else {keys[0]: obj}
        missing = [k for k in keys if k not in frames]
        if missing:
            raise dg.Failure(
                f"asset {context.asset_key.to_user_string()} returned no frame for partition "
                f"{missing[0]}: return a dict {{partition_key: frame}} (nothing was written)"
            )
        pairs = [(key, frames[key]) for key in keys]
    else:
        if isinstance(obj, dict):
            raise dg.Failure(
                f"asset {context.asset_key.to_user_string()} returned a dict: return a polars "
                "DataFrame of the new or changed rows"
            )
        pairs = [(None, obj)]
    results = []
    with full_cause_logged(context):
        for key, frame in pairs:
            if not isinstance(frame, (pl.DataFrame, pl.LazyFrame)):
                raise dg.Failure(
                    f"asset {context.asset_key.to_user_string()} returned "
                    f"{type(frame).__name__}: return a polars DataFrame or LazyFrame"
                )
            results.append(delta.write(storage, frame, layer, name, spec, partition=key))
    last = results[-1]
    batch = pairs[-1][1]
    batch = batch.head(PREVIEW_ROWS).collect() if isinstance(batch, pl.LazyFrame) else batch
    metadata: dict[str, Any] = {
        "delta_version": dg.MetadataValue.int(last.version),
        "strategy": dg.MetadataValue.text(last.strategy),
        "rows_inserted": dg.MetadataValue.int(sum(r.inserted for r in results)),
        "rows_updated": dg.MetadataValue.int(sum(r.updated for r in results)),
        "rows_deleted": dg.MetadataValue.int(sum(r.deleted for r in results)),
        "rows_in_batch": dg.MetadataValue.int(sum(r.rows for r in results)),
        "dagster/column_schema": table_schema(batch.schema),
        "preview": dg.MetadataValue.md(markdown_preview(batch)),
        "uri": dg.MetadataValue.text(last.uri),
        "storage_backend": dg.MetadataValue.text(last.backend),
        "write_seconds": dg.MetadataValue.float(round(sum(r.seconds for r in results), 4)),
    }
    if spec.unique_key:
        metadata["unique_key"] = dg.MetadataValue.text(", ".join(spec.unique_key))
    rows = delta.table_rows(storage, layer, name)
    if rows is not None:
        metadata["dagster/row_count"] = dg.MetadataValue.int(rows)
    context.add_output_metadata({**metadata, **(extra or {})})
    for result in results:
        context.log.info(f"{layer}/{name}: {result.strategy} -> {result.summary()}")
    return True


def load_input(context: Any, storage: Any, layer: str, name: str) -> Any:
    """The upstream Delta table's current version (its mapped partitions, for a partitioned
    input), or :data:`NOT_DELTA`."""
    import polars as pl

    upstream = context.upstream_output
    if spec_of(upstream) is None:
        return NOT_DELTA

    typing_type = getattr(context.dagster_type, "typing_type", None)
    lazy = typing_type is pl.LazyFrame
    with full_cause_logged(context):
        if context.has_asset_partitions:
            keys = list(context.asset_partition_keys)
            if getattr(typing_type, "__origin__", None) is dict or typing_type is dict:
                return {
                    key: delta.read(storage, layer, name, partition=key, lazy=lazy) for key in keys
                }
            scan = delta.read(storage, layer, name, lazy=True)
            scan = scan.filter(pl.col(column_for(keys[0])).is_in(keys))
            return scan if lazy else scan.collect()
        return delta.read(storage, layer, name, lazy=lazy)
