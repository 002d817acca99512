"""The history concern's check: the private names of Dagster's SQLite storage that Polster's
quicker SQLite history (:mod:`polster_core.sqlite_history`) builds on are there, with the
shape it uses.

``sqlite_history`` subclasses Dagster's ``SqliteEventLogStorage`` (overriding the private
methods it calls for each event: ``_connect``, ``_initdb``, ``_fetch_raw_asset_rows``,
``_get_latest_materialization_records``, ``_store_asset_event``; calling ``_event_to_row``,
``_get_asset_entry_values``, ``_store_asset_event_tags`` ...) and builds Dagster's
``DagsterSqliteStorage`` without its ``__init__`` (it sets the same attributes). Every private
name it uses is imported in :mod:`.history_names`, the interface both modules import, and
nowhere else. This module checks at import the names, the parameters of the overridden
methods, the event table's columns and the attributes ``DagsterSqliteStorage.__init__`` sets,
then imports ``sqlite_history`` itself (its classes use the names at module level). When a
check fails, or ``POLSTER_DAGSTER_FALLBACK`` names ``history``, :data:`AVAILABLE` is False and
the project keeps Dagster's stock SQLite storage (``run/history_storage.py``).
"""

from __future__ import annotations

from . import check, has_attributes, has_parameters
from . import history_names as names


def _probe() -> str | None:
    if names.IMPORT_ERROR:
        return names.IMPORT_ERROR
    SqliteEventLogStorage = names.SqliteEventLogStorage
    DagsterSqliteStorage = names.DagsterSqliteStorage
    for name, params in names.METHODS.items():
        problem = has_attributes(SqliteEventLogStorage, name) or has_parameters(
            getattr(SqliteEventLogStorage, name), *params
        )
        if problem:
            return problem
    columns = tuple(column.name for column in names.SqlEventLogStorageTable.c)
    if columns != ("id", *names.EVENT_COLUMNS):
        return f"Dagster's event table has the columns {', '.join(columns)}"
    used = set(DagsterSqliteStorage.__init__.__code__.co_names)
    if not used <= names.SQLITE_STORAGE_INIT_NAMES:
        extra = ", ".join(sorted(used - names.SQLITE_STORAGE_INIT_NAMES))
        return f"DagsterSqliteStorage.__init__ refers to {extra} as well"
    problem = has_attributes(DagsterSqliteStorage, "from_local", "event_log_storage")
    if problem:
        return problem
    # sqlite_history's own module-level use of the names (its classes): it imports them, so
    # it can be imported only now that they are found.
    from .. import sqlite_history  # lazy: its import fails where the names are missing

    return has_attributes(sqlite_history, "QuickSqliteEventLogStorage", "PolsterSqliteStorage")


AVAILABLE = check("history", _probe)
