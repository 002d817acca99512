"""The Dagster glue generated projects import: Polster's IO manager and resources.

Assets are named ``run_{layer}_{name}``; their tables live at ``{layer}/{name}.parquet`` on the
project's storage backend. Each materialisation records rows, schema, a preview, the URI (no
secrets) and the backend in Dagster's metadata.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import dagster as dg

from . import LAYERS
from .storage import get_storage

ASSET_KEY = re.compile(rf"^run_({'|'.join(LAYERS)})_(\w+)$")
PREVIEW_ROWS = 5


def layer_and_name(asset_key: dg.AssetKey) -> tuple[str, str]:
    """``run_silver_clean_users`` -> ``("silver", "clean_users")``."""
    last = asset_key.path[-1]
    match = ASSET_KEY.match(last)
    if not match:
        raise dg.Failure(
            f"asset '{last}' does not follow Polster's naming (run_{{layer}}_{{name}}, "
            f"layer one of {', '.join(LAYERS)}): rename it so its data has a place to live"
        )
    return match.group(1), match.group(2)


def markdown_preview(df: Any, rows: int = PREVIEW_ROWS) -> str:
    """The first rows as a markdown table, with ``|`` and newlines escaped."""

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")

    head = df.head(rows)
    lines = [
        "| " + " | ".join(cell(c) for c in head.columns) + " |",
        "| " + " | ".join("---" for _ in head.columns) + " |",
    ]
    for row in head.iter_rows():
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def table_schema(schema: Any) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(name=name, type=str(dtype)) for name, dtype in schema.items()]
    )


class PolsterIOManager(dg.ConfigurableIOManager):
    """Stores each asset's polars frame through the project's Storage; loads its inputs back."""

    project_root: str

    def _storage(self):
        return get_storage(Path(self.project_root))

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        import polars as pl

        if obj is None:
            return
        if not isinstance(obj, (pl.DataFrame, pl.LazyFrame)):
            raise dg.Failure(
                f"asset {context.asset_key.to_user_string()} returned {type(obj).__name__}: "
                "return a polars DataFrame or LazyFrame"
            )
        layer, name = layer_and_name(context.asset_key)
        storage = self._storage()
        result = storage.write(obj, layer, name)
        if isinstance(obj, pl.LazyFrame):
            scan = storage.scan(layer, name)
            schema = scan.collect_schema()
            preview = scan.head(PREVIEW_ROWS).collect()
        else:
            schema = obj.schema
            preview = obj
        metadata: dict[str, Any] = {
            "dagster/row_count": dg.MetadataValue.int(result.rows),
            "dagster/column_schema": table_schema(schema),
            "columns": dg.MetadataValue.int(len(schema)),
            "preview": dg.MetadataValue.md(markdown_preview(preview)),
            "uri": dg.MetadataValue.text(result.uri),
            "storage_backend": dg.MetadataValue.text(result.backend),
            "fell_back_to_local": dg.MetadataValue.bool(result.fell_back),
            "write_seconds": dg.MetadataValue.float(round(result.seconds, 4)),
        }
        if result.sample_path:
            metadata["local_sample"] = dg.MetadataValue.path(result.sample_path)
        if result.fell_back:
            metadata["fallback_reason"] = dg.MetadataValue.text(result.error or "")
            context.log.warning(
                f"{layer}/{name}: remote write failed ({result.error}); full data is at "
                f"{result.uri}"
            )
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> Any:
        import polars as pl

        layer, name = layer_and_name(context.upstream_output.asset_key)
        storage = self._storage()
        typing_type = getattr(context.dagster_type, "typing_type", None)
        if typing_type is pl.LazyFrame:
            return storage.scan(layer, name)
        return storage.read(layer, name)


def polster_resources(project_root: Path | str) -> dict[str, Any]:
    """The resources every Polster project's Definitions use."""
    return {"io_manager": PolsterIOManager(project_root=str(Path(project_root).resolve()))}
