"""Delta Lake tables' spec: the incremental strategies, formats and schema policies Polster
records, parsed from the command line, the record and an asset wrapper's metadata (files only;
:mod:`polster_core.run.delta` writes and reads the tables)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import PolsterError

STRATEGIES = ("merge", "append", "delete+insert", "snapshot")
SCHEMA_POLICIES = ("fail", "append_new_columns")
FORMATS = ("parquet", "delta")
KEYED = ("merge", "delete+insert", "snapshot")  # the strategies that need a unique key
SNAPSHOT_COLUMNS = ("valid_from", "valid_to", "is_current")
# dbt's hard_deletes for snapshots: what becomes of a current row whose key left the source.
HARD_DELETES = ("ignore", "invalidate", "new_record")
DELETED_COLUMN = "is_deleted"  # added by hard_deletes = new_record (dbt's dbt_is_deleted)
DEFAULT_RETENTION_HOURS = 168  # Delta's own default: 7 days

# The keys of an asset's definition metadata (shown in the Dagster UI, read by the IO manager
# and, without importing Dagster, by the example scripts).
FORMAT_KEY = "polster/format"
STRATEGY_KEY = "polster/incremental"
UNIQUE_KEY = "polster/unique_key"
SCHEMA_KEY = "polster/on_schema_change"
HARD_DELETES_KEY = "polster/hard_deletes"
COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


@dataclass(frozen=True)
class TableSpec:
    """How an asset's rows are applied to its Delta table."""

    strategy: str = ""  # "" : a plain Delta table, replaced on each run
    unique_key: tuple[str, ...] = ()
    on_schema_change: str = "fail"
    hard_deletes: str = "ignore"  # snapshots only

    def __post_init__(self) -> None:
        problem = spec_problem(
            self.strategy, self.unique_key, self.on_schema_change, self.hard_deletes
        )
        if problem:
            raise PolsterError(problem)

    @property
    def label(self) -> str:
        """``merge on customer_id`` / ``delta`` for ``polster list``."""
        if not self.strategy:
            return "delta"
        key = f" on {', '.join(self.unique_key)}" if self.unique_key else ""
        deletes = f", hard deletes {self.hard_deletes}" if self.hard_deletes != "ignore" else ""
        return f"{self.strategy}{key}{deletes}"

    def metadata(self) -> dict[str, str]:
        data = {FORMAT_KEY: "delta"}
        if self.strategy:
            data[STRATEGY_KEY] = self.strategy
        if self.unique_key:
            data[UNIQUE_KEY] = ",".join(self.unique_key)
        data[SCHEMA_KEY] = self.on_schema_change
        if self.hard_deletes != "ignore":
            data[HARD_DELETES_KEY] = self.hard_deletes
        return data

    def record(self) -> dict[str, Any]:
        """The fields of the asset's entry in ``.polster/generated.json``."""
        data: dict[str, Any] = {"format": "delta"}
        if self.strategy:
            data["incremental"] = self.strategy
        if self.unique_key:
            data["unique_key"] = list(self.unique_key)
        if self.on_schema_change != "fail":
            data["on_schema_change"] = self.on_schema_change
        if self.hard_deletes != "ignore":
            data["hard_deletes"] = self.hard_deletes
        return data


def spec_problem(
    strategy: str, unique_key: tuple[str, ...], on_schema_change: str, hard_deletes: str = "ignore"
) -> str | None:
    """Why these settings make no table, or None."""
    if not all(isinstance(v, str) for v in (strategy, on_schema_change, hard_deletes, *unique_key)):
        return "the incremental strategy, unique key, on_schema_change and hard_deletes are text"
    if strategy and strategy not in STRATEGIES:
        return f"unknown incremental strategy '{strategy}': use {', '.join(STRATEGIES)}"
    if on_schema_change not in SCHEMA_POLICIES:
        return f"unknown on_schema_change '{on_schema_change}': use {' or '.join(SCHEMA_POLICIES)}"
    bad = [c for c in unique_key if not COLUMN.match(c)]
    if bad:
        return f"'{bad[0]}' is not a column name a unique key can use (letters, digits and _)"
    if len(set(unique_key)) != len(unique_key):
        return "--unique-key names a column twice: name each once"
    if strategy in KEYED and not unique_key:
        return f"the {strategy} strategy needs a unique key: pass --unique-key COLUMN[,COLUMN]"
    if strategy == "append" and unique_key:
        return "the append strategy takes no unique key: drop --unique-key"
    if not strategy and unique_key:
        return "--unique-key needs --incremental merge, delete+insert or snapshot"
    if hard_deletes not in HARD_DELETES:
        return f"unknown hard_deletes '{hard_deletes}': use {', '.join(HARD_DELETES)}"
    if hard_deletes != "ignore" and strategy != "snapshot":
        return "--hard-deletes is for the snapshot strategy only: drop it"
    clash = [c for c in unique_key if c in (*SNAPSHOT_COLUMNS, DELETED_COLUMN)]
    if strategy == "snapshot" and clash:
        return f"'{clash[0]}' is a column the snapshot strategy adds: use another unique key"
    return None


def parse_unique_key(text: str | None) -> tuple[str, ...]:
    """``"a, b"`` -> ``("a", "b")``."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def spec_from_metadata(metadata: Any) -> TableSpec | None:
    """The asset's table spec from its definition metadata, or None for a parquet asset."""
    if not metadata:
        return None
    value = _plain(metadata.get(FORMAT_KEY))
    if value in (None, "", "parquet"):
        return None
    if value != "delta":
        raise PolsterError(f"{FORMAT_KEY} is '{value}': use delta or parquet")
    return TableSpec(
        strategy=_plain(metadata.get(STRATEGY_KEY)) or "",
        unique_key=parse_unique_key(_plain(metadata.get(UNIQUE_KEY))),
        on_schema_change=_plain(metadata.get(SCHEMA_KEY)) or "fail",
        hard_deletes=_plain(metadata.get(HARD_DELETES_KEY)) or "ignore",
    )


def _plain(value: Any) -> Any:
    """A metadata value as written (Dagster wraps raw values in MetadataValue objects)."""
    return getattr(value, "value", value) if value is not None else None


def spec_from_record(asset: dict) -> TableSpec | None:
    if asset.get("format") != "delta":
        return None
    return TableSpec(
        strategy=asset.get("incremental", ""),
        unique_key=tuple(asset.get("unique_key", ())),
        on_schema_change=asset.get("on_schema_change", "fail"),
        hard_deletes=asset.get("hard_deletes", "ignore"),
    )


# The wrapper: where the spec lives -------------------------------------------------------------


def add_metadata(wrapper: str, asset_key: str, spec: TableSpec) -> str:
    """The wrapper with the table's metadata as a keyword of its ``@dg.asset(...)`` call.

    Works on any template's wrapper: the keyword goes before the decorator's closing
    parenthesis, one entry a line (ruff's format keeps it so).
    """
    tree = ast.parse(wrapper)
    call = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == asset_key:
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and _is_asset(decorator.func):
                    call = decorator
    if call is None or any(k.arg == "metadata" for k in call.keywords):
        raise PolsterError(
            f"the wrapper of {asset_key} has no @dg.asset(...) call Polster can add its table "
            "metadata to (or sets metadata= itself): use the default template"
        )
    lines = wrapper.splitlines(keepends=True)
    end_line = call.end_lineno - 1  # the line of the closing parenthesis
    closing = lines[end_line]
    indent = " " * (len(lines[call.lineno - 1]) - len(lines[call.lineno - 1].lstrip()) + 4)
    entries = "".join(f'{indent}    "{k}": "{v}",\n' for k, v in spec.metadata().items())
    block = (
        f"{indent}# Polster's Delta table: how each run's rows are applied (docs/assets.md).\n"
        f"{indent}metadata={{\n{entries}{indent}}},\n"
    )
    if closing.strip() == ")":
        lines.insert(end_line, block)
        return "".join(lines)
    # A one-line decorator: @dg.asset(group_name="silver")
    head, _, tail = closing.rpartition(")")
    head = head.rstrip().rstrip(",")
    lines[end_line] = f"{head},\n{block}{indent[:-4]}){tail}"
    return "".join(lines)


def _is_asset(func: ast.expr) -> bool:
    return (isinstance(func, ast.Attribute) and func.attr == "asset") or (
        isinstance(func, ast.Name) and func.id == "asset"
    )


def wrapper_spec(root: Path, layer: str, name: str) -> TableSpec | None:
    """The table spec written in the asset's wrapper, read without importing it (the
    example scripts use it); None for a parquet asset or a project without that wrapper."""
    path = Path(root) / "src" / "orchestration" / "assets" / layer / f"run_{layer}_{name}.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _is_asset(node.func):
            for keyword in node.keywords:
                if keyword.arg == "metadata":
                    try:
                        value = ast.literal_eval(keyword.value)
                    except ValueError:
                        return None
                    return spec_from_metadata(value) if isinstance(value, dict) else None
    return None


def no_delta_line(backend: str) -> str:
    return (
        f"storage backend '{backend}' cannot host Delta tables (it has no "
        "delta_storage_options()): use --format parquet without --incremental, or a backend "
        "that can (local, adls, s3)"
    )
