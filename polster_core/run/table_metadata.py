"""What Dagster shows of a written table: its first rows as markdown, its column schema."""

from __future__ import annotations

from typing import Any

import dagster as dg

from ..exceptions import FULL_CAUSE, PolsterError

PREVIEW_ROWS = 5


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
    """A polars schema as Dagster's column schema (each column's name and dtype)."""
    return dg.TableSchema(
        columns=[dg.TableColumn(name=name, type=str(dtype)) for name, dtype in schema.items()]
    )


class full_cause_logged:
    """Puts the full cause of a storage error (``PolsterError.details``, secrets masked) in
    Dagster's log, where the UI shows it and ``run_polster.py --verbose`` prints it."""

    def __init__(self, context: Any):
        self.context = context

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, tb) -> bool:
        if isinstance(error, PolsterError) and error.details:
            try:
                self.context.log.error(f"{FULL_CAUSE}\n{error.details}")
            except Exception:  # no log outside a run (a direct IO manager call): nothing lost
                pass
        return False
