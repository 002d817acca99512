"""The IO manager's half for partitioned assets: Dagster partition keys and ranges to files.

Modelled on Dagster's ``UPathIOManager``: an output of one partition is a frame, an output of
a range (a single-run backfill) is a dict ``{partition_key: frame}``; each partition is
written to its own file (:mod:`polster_core.partitions`), so a partition never overwrites
another. An input annotated ``dict[str, pl.DataFrame]`` (or ``dict[str, pl.LazyFrame]``)
gets one frame per mapped partition; an input annotated ``pl.DataFrame`` or ``pl.LazyFrame``
gets the mapped partitions that are stored as one frame (for an unpartitioned downstream:
all of them, lazily).
"""

from __future__ import annotations

import typing
from typing import Any

import dagster as dg

from .partitions import PartitionedTable, collected, column_for
from .table_metadata import PREVIEW_ROWS, markdown_preview, table_schema


def partition_keys(context: Any) -> list[str]:
    """The partition keys an output or input context covers (one, or a range's)."""
    return list(context.asset_partition_keys)


def handle_partitioned_output(
    context: dg.OutputContext, obj: Any, storage: Any, layer: str, name: str
) -> dict[str, Any]:
    """Write each partition of ``obj``; returns the materialisation's metadata."""
    import polars as pl

    keys = partition_keys(context)
    asset = context.asset_key.to_user_string()
    if isinstance(obj, (pl.DataFrame, pl.LazyFrame)):
        if len(keys) != 1:
            raise dg.Failure(
                f"asset {asset} computes {len(keys)} partitions ({keys[0]} to {keys[-1]}) in one "
                "run but returned one frame: return a dict {partition_key: frame}, one frame "
                "per key of context.partition_keys (nothing was written)"
            )
        frames = {keys[0]: obj}
    elif isinstance(obj, dict):
        frames = obj
        wrong = [k for k in frames if k not in set(keys)]
        missing = [k for k in keys if k not in frames]
        if wrong or missing:
            problem = (
                f"partitions this run does not compute ({', '.join(map(str, wrong[:3]))})"
                if wrong
                else f"no frame for {', '.join(missing[:3])}"
            )
            raise dg.Failure(
                f"asset {asset} returned {problem}: return one frame per key of "
                "context.partition_keys (nothing was written)"
            )
        bad = [k for k, v in frames.items() if not isinstance(v, (pl.DataFrame, pl.LazyFrame))]
        if bad:
            raise dg.Failure(
                f"asset {asset} returned {type(frames[bad[0]]).__name__} for partition "
                f"{bad[0]}: return a polars DataFrame or LazyFrame per partition"
            )
    else:
        raise dg.Failure(
            f"asset {asset} returned {type(obj).__name__}: return a polars DataFrame (one "
            "partition) or a dict {partition_key: DataFrame}"
        )
    table = PartitionedTable(storage, layer, name)
    results = {key: table.write(frames[key], key) for key in keys}
    per_partition = {key: partition_metadata(table, key, frames[key], results[key]) for key in keys}
    common: dict[str, Any] = {
        "partitions_written": dg.MetadataValue.int(len(keys)),
        "partition_column": dg.MetadataValue.text(column_for(keys[0])),
        "storage_backend": dg.MetadataValue.text(results[keys[0]].backend),
    }
    # One materialisation event per partition (Dagster makes them), each with its own rows,
    # schema, preview and file, also when a range is written in one run.
    if all(add_partition_metadata(context, key, per_partition[key]) for key in keys):
        return common
    # No step to attach them to (an OutputContext built by hand): one summary for all.
    first = per_partition[keys[0]]
    return {
        **first,
        **common,
        "dagster/row_count": dg.MetadataValue.int(sum(r.rows for r in results.values())),
        "uri": dg.MetadataValue.text(first["uri"].value if len(keys) == 1 else table.uri()),
        "fell_back_to_local": dg.MetadataValue.bool(any(r.fell_back for r in results.values())),
        "write_seconds": dg.MetadataValue.float(round(sum(r.seconds for r in results.values()), 4)),
    }


def partition_metadata(table: PartitionedTable, key: str, frame: Any, result: Any) -> dict:
    """Rows, schema, a preview and the file of one written partition."""
    import polars as pl

    if isinstance(frame, pl.LazyFrame):
        frame = table.scan(key).head(PREVIEW_ROWS).collect()
    metadata: dict[str, Any] = {
        "dagster/row_count": dg.MetadataValue.int(result.rows),
        "dagster/column_schema": table_schema(frame.schema),
        "columns": dg.MetadataValue.int(len(frame.schema)),
        "preview": dg.MetadataValue.md(markdown_preview(frame)),
        "uri": dg.MetadataValue.text(result.uri),
        "fell_back_to_local": dg.MetadataValue.bool(result.fell_back),
        "write_seconds": dg.MetadataValue.float(round(result.seconds, 4)),
    }
    return metadata


def add_partition_metadata(context: dg.OutputContext, key: str, metadata: dict) -> bool:
    """Attach ``metadata`` to the materialisation event of partition ``key``; False when the
    context belongs to no step (Dagster's ``add_asset_metadata(partition_key=...)``)."""
    try:
        step = context.step_context
    except dg.DagsterInvariantViolationError:
        return False
    step.add_asset_metadata(metadata, asset_key=context.asset_key, partition_key=key)
    return True


def load_partitioned_input(context: dg.InputContext, storage: Any, layer: str, name: str) -> Any:
    """The upstream partitions this input maps to, as the parameter's annotation asks."""
    import polars as pl

    table = PartitionedTable(storage, layer, name)
    keys = partition_keys(context)
    wanted = getattr(context.dagster_type, "typing_type", None)
    if typing.get_origin(wanted) is dict:
        args = typing.get_args(wanted)
        lazy = len(args) == 2 and args[1] is pl.LazyFrame
        return {key: table.scan(key) if lazy else table.read(key) for key in keys}
    frame = table.scan_all(keys)
    if wanted is pl.LazyFrame:
        return frame

    return collected(frame)
