"""The Dagster glue generated projects import: Polster's IO manager and resources.

Assets are named ``run_{layer}_{name}``; their tables live at ``{layer}/{name}.parquet`` on the
project's storage backend. Each materialisation records rows, schema, a preview, the URI (no
secrets) and the backend in Dagster's metadata.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from .. import LAYERS
from ..project.names import RUN_ASSET_KEY as ASSET_KEY
from .automation import follow_upstream
from .contracts import enforce as enforce_contract
from .contracts import with_contracts
from .delta_io import NOT_DELTA  # Delta tables (issue 29)
from .delta_io import handle_output as delta_output
from .delta_io import load_input as delta_input
from .partitioned_io import handle_partitioned_output, load_partitioned_input
from .progress import each_partition as each_partition  # generated partitioned assets use it
from .storage import get_storage
from .table_metadata import PREVIEW_ROWS, markdown_preview, table_schema  # noqa: F401
from .table_metadata import full_cause_logged as _full_cause_logged


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


class _Handoff:
    """Frames written in this process during a run, handed to downstream assets of the same run
    without reading them back from storage. Bounded by ``POLSTER_HANDOFF_MB`` (default 1024;
    0 turns it off); the oldest frames go first."""

    def __init__(self) -> None:
        self.frames: dict[tuple[str, str, str], tuple[Any, int]] = {}

    def budget(self) -> int:

        return int(os.environ.get("POLSTER_HANDOFF_MB", "1024")) * 1024 * 1024

    def put(self, key: tuple[str, str, str], frame: Any) -> None:
        size = frame.estimated_size()
        budget = self.budget()
        # Frames of other runs are never read again.
        for old in [k for k in self.frames if k[0] != key[0]]:
            del self.frames[old]
        if size > budget:
            self.frames.pop(key, None)
            return
        self.frames[key] = (frame, size)
        while sum(s for _, s in self.frames.values()) > budget:
            del self.frames[next(iter(self.frames))]

    def get(self, key: tuple[str, str, str]) -> Any | None:
        entry = self.frames.get(key)
        return entry[0] if entry else None


HANDOFF = _Handoff()


class PolsterIOManager(dg.IOManager):
    """Stores each asset's polars frame through the project's Storage; loads its inputs back.

    An input written earlier in the same run and the same process is handed over in memory.
    """

    def __init__(self, project_root: Path | str):
        self.project_root = str(project_root)

    def _storage(self):
        return get_storage(Path(self.project_root))

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        import polars as pl

        if obj is None:
            return
        layer, name = layer_and_name(context.asset_key)
        storage = self._storage()
        with _full_cause_logged(context):  # the asset's data contract: see contracts.py
            obj, contract = enforce_contract(context, obj, storage, layer, name)

        if delta_output(context, obj, storage, layer, name, contract):
            return
        if context.has_asset_partitions:  # one file per partition: see partitioned_io.py
            with _full_cause_logged(context):
                context.add_output_metadata(
                    {**handle_partitioned_output(context, obj, storage, layer, name), **contract}
                )
            return
        if not isinstance(obj, (pl.DataFrame, pl.LazyFrame)):
            raise dg.Failure(
                f"asset {context.asset_key.to_user_string()} returned {type(obj).__name__}: "
                "return a polars DataFrame or LazyFrame"
            )
        with _full_cause_logged(context):
            result = storage.write(obj, layer, name)
        if isinstance(obj, pl.DataFrame):
            HANDOFF.put((context.run_id, layer, name), obj)
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
        metadata.update(contract)
        if result.fell_back:
            metadata["fallback_reason"] = dg.MetadataValue.text(result.error or "")
            context.log.warning(
                f"{layer}/{name}: remote write failed ({result.error}); full data is at "
                f"{result.uri}"
            )
        context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> Any:
        import polars as pl

        upstream = context.upstream_output
        layer, name = layer_and_name(upstream.asset_key)
        storage = self._storage()

        found = delta_input(context, storage, layer, name)
        if found is not NOT_DELTA:
            return found
        if context.has_asset_partitions:  # the mapped partitions: see partitioned_io.py
            with _full_cause_logged(context):
                return load_partitioned_input(context, storage, layer, name)
        typing_type = getattr(context.dagster_type, "typing_type", None)
        with _full_cause_logged(context):
            if typing_type is pl.LazyFrame:
                return storage.scan(layer, name)
            handed = HANDOFF.get((upstream.run_id, layer, name))
            if handed is not None:
                return handed
            return storage.read(layer, name)


def polster_resources(project_root: Path | str) -> dict[str, Any]:
    """The resources every Polster project's Definitions use.

    The IO manager is a plain ``IOManagerDefinition``: Dagster initialises resources for every
    step a worker process runs (``--workers``, Celery), and a Pythonic ``ConfigurableIOManager``
    is rebuilt through its config model three times on each (about 2 ms a step).
    """
    root = str(Path(project_root).resolve())
    return {
        "io_manager": dg.IOManagerDefinition(
            resource_fn=lambda _: PolsterIOManager(root),
            description=f"Polster's tables on the project's storage backend ({root})",
        )
    }


# Kinds the Dagster UI has icons for, by storage backend name.
STORAGE_KINDS = {"adls": "azure", "s3": "s3", "local": "parquet"}


def storage_kind(project_root: Path | str) -> str:
    """The kind tag of the project's storage backend (shown beside ``polars`` in the UI)."""
    name = get_storage(Path(project_root)).settings.storage_backend
    return STORAGE_KINDS.get(name, name)


def prepare_assets(assets: list, project_root: Path | str) -> list:
    """Polster's defaults for a project's assets, applied where the asset has not set its own.

    Each asset gets the storage backend as a kind; silver and gold assets get
    ``AutomationCondition.eager()`` (adapted to partitions: see automation.py), so a new
    upstream materialisation flows through while the Dagster daemon runs.
    """

    kind = storage_kind(project_root)
    partitioned = {
        spec.key for a in assets for spec in getattr(a, "specs", ()) if spec.partitions_def
    }

    def defaults(spec: dg.AssetSpec) -> dg.AssetSpec:
        spec = spec.merge_attributes(kinds={kind}) if kind not in spec.kinds else spec
        if spec.group_name in ("silver", "gold") and spec.automation_condition is None:
            condition = follow_upstream(spec, partitioned)
            spec = spec.replace_attributes(automation_condition=condition)
        return spec

    return with_contracts(list(dg.map_asset_specs(defaults, assets)))


QUALITY_CHECKS = {
    "required_columns_present": "Every required column is present",
    "key_columns_not_null": "No key column has a null value",
    "row_count_above_zero": "The table has at least one row",
}


def quality_check_specs(asset_key: str) -> list[dg.AssetCheckSpec]:
    """The specs of :func:`quality_checks` for ``asset_key``, for ``@dg.asset(check_specs=...)``."""
    return [
        dg.AssetCheckSpec(name=name, asset=asset_key, description=description)
        for name, description in QUALITY_CHECKS.items()
    ]


def declared_columns(function: Any) -> tuple[list[str], list[str]]:
    """``REQUIRED_COLUMNS`` and ``KEY_COLUMNS`` of the module that defines ``function``."""

    module = sys.modules.get(getattr(function, "__module__", ""), None)
    return (
        list(getattr(module, "REQUIRED_COLUMNS", None) or []),
        list(getattr(module, "KEY_COLUMNS", None) or []),
    )


def quality_checks(
    df: Any,
    required_columns: Any,
    key_columns: list[str] | None = None,
    asset_key: str | None = None,
):
    """Yield the results of the silver layer's standard checks on ``df`` (eager or lazy).

    Required columns present, key columns without nulls, at least one row. Pass the core
    function (``quality_checks(df, transform)``): the lists are its module's
    ``REQUIRED_COLUMNS`` and ``KEY_COLUMNS``, where users edit them, and empty when the module
    does not define them (a core file replaced by a bare ``transform`` still runs). Explicit
    lists (``quality_checks(df, required, keys)``) work too.
    """
    if callable(required_columns):
        required_columns, key_columns = declared_columns(required_columns)
    required_columns = list(required_columns or [])
    key_columns = list(key_columns or [])
    import polars as pl

    frame = df.lazy() if isinstance(df, pl.DataFrame) else df
    columns = frame.collect_schema().names()
    missing = [c for c in required_columns if c not in columns]
    keys = [c for c in key_columns if c in columns]
    stats = frame.select(
        pl.len().alias("__rows"), *[pl.col(c).null_count().alias(c) for c in keys]
    ).collect()
    rows = stats["__rows"][0]
    nulls = {c: stats[c][0] for c in keys if stats[c][0]}
    extra = {"asset_key": asset_key} if asset_key else {}
    yield dg.AssetCheckResult(
        check_name="required_columns_present",
        passed=not missing,
        metadata={"missing_columns": ", ".join(missing) or "none"},
        **extra,
    )
    yield dg.AssetCheckResult(
        check_name="key_columns_not_null",
        passed=not nulls and len(keys) == len(key_columns),
        metadata={"null_counts": ", ".join(f"{c}={n}" for c, n in nulls.items()) or "none"},
        **extra,
    )
    yield dg.AssetCheckResult(
        check_name="row_count_above_zero",
        passed=rows > 0,
        metadata={"rows": dg.MetadataValue.int(rows)},
        **extra,
    )


def pipeline_schedule(
    job: Any,
    assets: list,
    name: str = "polster_pipeline_daily",
    hour: int = 6,
    default_status: Any = None,
) -> Any:
    """The pipeline's one schedule, running while the Dagster daemon runs.

    Every day at ``hour``:00 when no asset is partitioned. When assets are time-partitioned,
    on their partitions' cadence (daily at ``hour``:00, weekly, monthly; hourly every hour),
    each tick materialising the last complete partition, plus every unpartitioned asset.
    """
    status = default_status or dg.DefaultScheduleStatus.RUNNING
    kinds = {
        type(a.partitions_def).__name__
        for a in assets
        if getattr(a, "partitions_def", None) is not None
    }
    if not kinds:
        return dg.ScheduleDefinition(
            name=name, job=job, cron_schedule=f"0 {hour} * * *", default_status=status
        )
    timing = {} if kinds == {"HourlyPartitionsDefinition"} else {"hour_of_day": hour}
    return dg.build_schedule_from_partitioned_job(
        job, name=name, default_status=status, minute_of_hour=0, **timing
    )
