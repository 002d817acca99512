"""The CLI side of Delta tables (issue 29): ``add-asset``'s table options, checked in one place.

File-only: nothing here imports Dagster, polars or deltalake.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..exceptions import PolsterError
from ..project.graph import Problem
from ..project.layout import wrapper_path
from ..project.names import split_asset_key
from ..project.table_spec import (
    FORMATS,
    HARD_DELETES,
    KEYED,
    SCHEMA_POLICIES,
    STRATEGIES,
    TableSpec,
    no_delta_line,
    parse_unique_key,
    wrapper_spec,
)


def choose_table(
    project: Any,
    plugins: Any,
    incremental: str | None,
    unique_key: str | None,
    table_format: str | None,
    on_schema_change: str | None,
    partitioned: bool,
    ask=None,
    hard_deletes: str | None = None,
) -> TableSpec | None:
    """The new asset's table spec (None: a parquet table), or a one-line refusal.

    ``ask(question, convert, default)`` prompts for a unique key a strategy needs (interactive
    runs only).
    """
    default_format = project.config.get("table_format", "parquet")
    if default_format not in FORMATS:
        raise PolsterError(
            f"[tool.polster] table_format in pyproject.toml is {default_format!r}: use "
            "parquet or delta"
        )
    fmt = (table_format or "").strip().lower() or None
    if fmt is not None and fmt not in FORMATS:
        raise PolsterError(f"--format {table_format!r} is not a table format: use parquet or delta")
    strategy = (incremental or "").strip().lower()
    if strategy and strategy not in STRATEGIES:
        raise PolsterError(
            f"unknown incremental strategy '{incremental}': use {', '.join(STRATEGIES)}"
        )
    if strategy and fmt == "parquet":
        raise PolsterError(
            "--incremental keeps the table in Delta Lake: drop --format parquet (or use "
            "--format delta)"
        )
    policy = (on_schema_change or "fail").strip().lower()
    if policy not in SCHEMA_POLICIES:
        raise PolsterError(
            f"--on-schema-change {on_schema_change!r}: use {' or '.join(SCHEMA_POLICIES)}"
        )
    deletes = (hard_deletes or "ignore").strip().lower()
    if deletes not in HARD_DELETES:
        raise PolsterError(f"--hard-deletes {hard_deletes!r}: use {', '.join(HARD_DELETES)}")
    if hard_deletes and strategy != "snapshot":
        raise PolsterError(
            "--hard-deletes is for --incremental snapshot only: add it, or drop the option"
        )
    fmt = "delta" if strategy else (fmt or default_format)
    if fmt != "delta":
        if unique_key or on_schema_change:
            raise PolsterError(
                f"--{'unique-key' if unique_key else 'on-schema-change'} needs --incremental "
                f"({', '.join(STRATEGIES)}): add it, or drop the option"
            )
        return None
    if strategy == "snapshot" and partitioned:
        raise PolsterError(
            "a snapshot keeps each key's history across runs, so it cannot be partitioned: use "
            "--partitions none, or another strategy"
        )
    keys = parse_unique_key(unique_key)
    if strategy in KEYED and not keys and ask is not None:
        keys = ask(
            f"Unique key of the {strategy} (column names, comma-separated)",
            lambda value: _keys(value, strategy),
            default=None,
        )
    spec = TableSpec(
        strategy=strategy, unique_key=keys, on_schema_change=policy, hard_deletes=deletes
    )
    _check_backend(project, plugins)
    return spec


def _keys(value: str, strategy: str) -> tuple[str, ...]:
    keys = parse_unique_key(value)
    TableSpec(strategy=strategy, unique_key=keys)  # refused with its reason, and asked again
    return keys


def _check_backend(project: Any, plugins: Any) -> None:
    """A backend that cannot host Delta tables says so now, in one line."""
    name = project.storage
    try:
        spec = plugins.storage_backend(name)
    except Exception:  # an unknown backend is reported where the project's storage is checked
        return
    if not getattr(spec, "delta", False):
        raise PolsterError(no_delta_line(name))


def record_table(_: Any, answers: Any, layer: str, name: str, table: TableSpec | None) -> None:
    """Add the table's fields to the asset's entry in the record's answers."""
    if table is None:
        return
    for asset in answers.assets:
        if (asset["layer"], asset["name"]) == (layer, name):
            asset.update(table.record())


def tables(root: Any, ordered: list) -> dict[str, Any]:
    """Asset key -> its table spec (or the one-line problem with its wrapper's metadata), for
    the assets whose wrapper makes a Delta table; read off the wrappers without importing them."""

    found: dict[str, Any] = {}
    for asset in ordered:
        try:
            spec = wrapper_spec(Path(root), asset.layer, asset.name)
        except PolsterError as exc:
            found[asset.key] = str(exc)
            continue
        if spec is not None:
            found[asset.key] = spec
    return found


def table_json(spec: Any) -> dict:
    if isinstance(spec, str):
        return {"format": "delta", "problem": spec}
    return {
        "format": "delta",
        "incremental": spec.strategy or None,
        "unique_key": list(spec.unique_key),
        "on_schema_change": spec.on_schema_change,
        "hard_deletes": spec.hard_deletes,
    }


def table_problems(found: dict[str, Any]) -> list:

    problems = []
    for key, spec in found.items():
        if isinstance(spec, str):
            layer, name = split_asset_key(key)
            problems.append(
                Problem(
                    wrapper_path(layer, name),
                    f"its Delta table metadata is wrong ({spec.split(':')[0]}): fix "
                    "polster/incremental, polster/unique_key, polster/on_schema_change or "
                    "polster/hard_deletes",
                    "table",
                )
            )
    return problems


def table_lines(found: dict[str, Any]) -> list[str]:
    """``Delta tables: run_silver_customers (merge on customer_id), ...`` for ``check``."""
    shown = [f"{key} ({spec.label})" for key, spec in found.items() if not isinstance(spec, str)]
    return [f"Delta tables: {', '.join(shown)}"] if shown else []
