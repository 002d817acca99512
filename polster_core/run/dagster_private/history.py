"""The history concern: Dagster's private SQLite storage names that Polster's quicker SQLite
history (:mod:`polster_core.sqlite_history`) builds on, and the check that they are there.

``sqlite_history`` subclasses Dagster's ``SqliteEventLogStorage`` (overriding the private
methods it calls for each event: ``_connect``, ``_initdb``, ``_fetch_raw_asset_rows``,
``_get_latest_materialization_records``, ``_store_asset_event``; calling ``_event_to_row``,
``_get_asset_entry_values``, ``_store_asset_event_tags`` ...) and builds Dagster's
``DagsterSqliteStorage`` without its ``__init__`` (it sets the same attributes). Every private
name it uses is imported here, nowhere else, and checked at import: the names, the
parameters of the overridden methods, the event table's columns, and the attributes Dagster's
``DagsterSqliteStorage.__init__`` sets. When a check fails, or ``POLSTER_DAGSTER_FALLBACK``
names ``history``, :func:`storage_data` leaves Dagster's stock SQLite storage in place.
"""

# ruff: noqa: F401  (the private names are imported here for the modules behind this boundary)
from __future__ import annotations

import importlib
from typing import Any

from . import check, has_attributes, has_parameters

try:
    from dagster._core.assets import AssetDetails
    from dagster._core.definitions.events import AssetKey
    from dagster._core.errors import DagsterInvariantViolationError
    from dagster._core.event_api import EventLogRecord
    from dagster._core.events import (
        ASSET_CHECK_EVENTS,
        ASSET_EVENTS,
        EVENT_TYPE_TO_PIPELINE_RUN_STATUS,
        DagsterEventType,
    )
    from dagster._core.storage.asset_check_execution_record import (
        AssetCheckExecutionRecordStatus,
    )
    from dagster._core.storage.event_log.migration import ASSET_KEY_INDEX_COLS
    from dagster._core.storage.event_log.schema import (
        AssetCheckExecutionsTable,
        AssetKeyTable,
        SqlEventLogStorageMetadata,
        SqlEventLogStorageTable,
    )
    from dagster._core.storage.event_log.sqlite import sqlite_event_log
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
        INDEX_SHARD_NAME,
        SqliteEventLogStorage,
    )
    from dagster._core.storage.runs import SqliteRunStorage
    from dagster._core.storage.schedules import SqliteScheduleStorage
    from dagster._core.storage.sql import get_alembic_config, safe_commit
    from dagster._core.storage.sqlite import create_db_conn_string
    from dagster._core.storage.sqlite_storage import (
        DagsterSqliteStorage,
    )
    from dagster._core.storage.sqlite_storage import _event_logs_directory as event_logs_directory
    from dagster._core.storage.sqlite_storage import _runs_directory as runs_directory
    from dagster._core.storage.sqlite_storage import _schedule_directory as schedule_directory
    from dagster._serdes import deserialize_value

    # Dagster 1.13.x before it had one: Python's sqlite3 would wait 5 s; Dagster's later is 30.
    SQLITE_BUSY_TIMEOUT_SECONDS = getattr(sqlite_event_log, "SQLITE_BUSY_TIMEOUT_SECONDS", 30)
    _IMPORTED = None
except ImportError as exc:
    _IMPORTED = f"ImportError: {exc}"

# The event row Dagster writes (SqlEventLogStorage._event_to_row), after its ``id``.
EVENT_COLUMNS = (
    "run_id",
    "event",
    "dagster_event_type",
    "timestamp",
    "step_key",
    "asset_key",
    "partition",
)

# What Dagster's DagsterSqliteStorage.__init__ refers to (dagster 1.13): sqlite_history builds
# the storage without it, setting the same attributes. A name beyond these (a new attribute,
# another storage) is a Dagster whose __init__ does more: the check fails.
SQLITE_STORAGE_INIT_NAMES = {
    "ConfigurableClassData",
    "SqliteEventLogStorage",
    "SqliteRunStorage",
    "SqliteScheduleStorage",
    "__init__",
    "_event_log_storage",
    "_event_logs_directory",
    "_inst_data",
    "_run_storage",
    "_runs_directory",
    "_schedule_directory",
    "_schedule_storage",
    "base_dir",
    "check",
    "from_local",
    "opt_inst_param",
    "str_param",
    "super",
}

# The private methods sqlite_history overrides or calls, with the parameters it passes.
METHODS = {
    "_initdb": ("engine", "for_index_shard"),
    "_connect": ("shard",),
    "_event_to_row": ("event",),
    "_event_insert_timestamp": ("event",),
    "_store_asset_event": ("conn", "event", "event_id"),
    "_store_asset_event_tags": ("conn", "events", "event_ids"),
    "_get_asset_entry_values": ("event", "event_id", "has_asset_key_index_cols"),
    "_has_asset_key_index_cols_on_connection": ("conn",),
    "_has_asset_key_col_on_connection": ("conn", "column_name"),
    "_fetch_raw_asset_rows": ("asset_keys", "prefix", "limit", "cursor", "key_only"),
    "_get_latest_materialization_records": ("raw_asset_rows",),
    "store_asset_check_event": ("event", "event_id"),
    "store_event_batch": ("events",),
    "has_secondary_index": ("name",),
    "has_table": ("table_name",),
    "has_asset_key_col": ("column_name",),
    "conn_string_for_shard": ("shard_name",),
    "path_for_shard": ("run_id",),
    "run_connection": ("run_id",),
    "index_connection": (),
    "index_transaction": (),
    "can_read_asset_status_cache": (),
}


def _probe() -> str | None:
    if _IMPORTED:
        return _IMPORTED
    for name, params in METHODS.items():
        problem = has_attributes(SqliteEventLogStorage, name) or has_parameters(
            getattr(SqliteEventLogStorage, name), *params
        )
        if problem:
            return problem
    columns = tuple(column.name for column in SqlEventLogStorageTable.c)
    if columns != ("id", *EVENT_COLUMNS):
        return f"Dagster's event table has the columns {', '.join(columns)}"
    names = set(DagsterSqliteStorage.__init__.__code__.co_names)
    if not names <= SQLITE_STORAGE_INIT_NAMES:
        extra = ", ".join(sorted(names - SQLITE_STORAGE_INIT_NAMES))
        return f"DagsterSqliteStorage.__init__ refers to {extra} as well"
    problem = has_attributes(DagsterSqliteStorage, "from_local", "event_log_storage")
    if problem:
        return problem
    # Its own module-level use of the names above; by name, as sqlite_history imports this
    # module (the boundary), so the static import graph has no circle.
    importlib.import_module("polster_core.run.sqlite_history")

    return None


AVAILABLE = check("history", _probe)
