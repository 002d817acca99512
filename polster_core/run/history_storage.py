"""Which history a project's instance keeps: Polster's SQLite storage (sqlite_history.py) where
the history boundary's check passed (dagster_private/history.py), else Dagster's stock one.
sqlite_history imports the boundary's private names, so it is imported only after the check."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from .dagster_private.history import AVAILABLE


def storage_data(stock: Any) -> Any:
    """The instance's default ``storage`` (``ConfigurableClassData``): Polster's SQLite storage
    in place of Dagster's ``stock`` one, or ``stock`` itself when the check failed."""
    if not AVAILABLE:
        return stock
    return stock._replace(
        module_name="polster_core.sqlite_history", class_name="PolsterSqliteStorage"
    )


def is_quick(event_log_storage: Any) -> bool:
    """Whether ``event_log_storage`` is Polster's (it stores whole batches, and takes the text
    the instance serialised)."""
    if not AVAILABLE:
        return False
    from .sqlite_history import QuickSqliteEventLogStorage  # lazy: only when the check passed

    return isinstance(event_log_storage, QuickSqliteEventLogStorage)


def held_connections() -> Any:
    """:func:`polster_core.sqlite_history.held_connections`, or nothing with Dagster's stock
    storage (which opens a connection per event)."""
    if not AVAILABLE:
        return nullcontext()
    from .sqlite_history import held_connections as held  # lazy: only when the check passed

    return held()
