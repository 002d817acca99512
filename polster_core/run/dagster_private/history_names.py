"""The history concern's interface: Dagster's private SQLite storage names that Polster's
quicker SQLite history (:mod:`polster_core.run.sqlite_history`) builds on, and the shape it
expects of them (the methods it overrides or calls, the event table's columns, what
``DagsterSqliteStorage.__init__`` refers to).

Both sides use this module: ``sqlite_history`` imports the names from here, and the check
(:mod:`.history`) compares them with what this Dagster has, then imports ``sqlite_history``.
A name missing here is :data:`IMPORT_ERROR`, not an exception: the check reports it, and
``sqlite_history`` is then never imported.
"""

# ruff: noqa: F401  (the private names are imported here for the modules behind this boundary)
from __future__ import annotations

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
    IMPORT_ERROR = None
except ImportError as exc:
    IMPORT_ERROR = f"ImportError: {exc}"

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
