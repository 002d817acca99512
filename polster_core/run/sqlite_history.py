"""Dagster's SQLite history with less work per event: the storage of every Polster project.

Dagster's SQLite event log (a database per run, plus an index database of asset events) does,
for every event it stores: a new SQLAlchemy engine per connection, a new engine and a schema
lookup to learn whether the tags table exists, a column listing of the asset table, and an
insert of the asset's row that fails (the row exists after the first event) before the update.
A run stores several events per asset and per partition (planned, materialised, checks): a
single-run backfill of 365 daily partitions through three assets stores about 1,900, and that
overhead was half of their cost (``bench/bench_partitions.py``). And before it first uses each
database (runs, schedules, the index, each run's), it asks alembic whether the database is set
up, which reads Dagster's 90 migration scripts every time: about 45 ms a database, a quarter of
a second at every start of ``run_polster.py`` and of each of its worker processes.

:class:`QuickSqliteEventLogStorage` does the same writes with the answers kept: one engine per
database (still a connection per event, opened and closed as Dagster does, so the run's file
changes as before and the UI's live view follows it), the tables and columns it found (they
are never removed), and the asset row updated first, inserted when there is none. A database
already set up (its tables there and an alembic revision stamped: all Dagster checks) is used
as it is; a new one gets Dagster's tables and the head revision, the scripts read once per
process. :class:`PolsterSqliteStorage` is Dagster's ``DagsterSqliteStorage`` (same files and
schema; runs, schedules and sensors untouched) with that event log and that check;
``PolsterInstance`` (:mod:`polster_core.history`) makes it the default storage of every
project, so a project whose ``dagster.yaml`` names a ``storage:`` of its own (PostgreSQL) keeps
it.

Long: one storage class and the private Dagster names it overrides, kept in one module on
purpose (one boundary per concern; docs name it).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from functools import cache
from typing import Any, NamedTuple

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy import exc as db_exc
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool, StaticPool

# Dagster's private names, from the history boundary's interface; its check
# (dagster_private/history.py) imports this module only when they have the shape used here
# (see docs/dagster-upgrades.md).
from .dagster_private.history_names import (
    ASSET_CHECK_EVENTS,
    ASSET_EVENTS,
    ASSET_KEY_INDEX_COLS,
    EVENT_COLUMNS,
    EVENT_TYPE_TO_PIPELINE_RUN_STATUS,
    INDEX_SHARD_NAME,
    SQLITE_BUSY_TIMEOUT_SECONDS,
    AssetCheckExecutionRecordStatus,
    AssetCheckExecutionsTable,
    AssetDetails,
    AssetKey,
    AssetKeyTable,
    DagsterEventType,
    DagsterInvariantViolationError,
    DagsterSqliteStorage,
    EventLogRecord,
    SqlEventLogStorageMetadata,
    SqlEventLogStorageTable,
    SqliteEventLogStorage,
    SqliteRunStorage,
    SqliteScheduleStorage,
    create_db_conn_string,
    deserialize_value,
    event_logs_directory,
    get_alembic_config,
    runs_directory,
    safe_commit,
    schedule_directory,
    sqlite_event_log,
)
from .event_text import take_serialized

ENGINES_KEPT = 32  # a long-lived process (the UI, the daemon) sees many runs' databases

# Whether this process's first event row made from the instance's text was Dagster's own row.
_ROW_MATCHES: bool | None = None

_HOLDING = threading.Event()
_STORAGES: weakref.WeakSet = weakref.WeakSet()


@contextmanager
def held_connections() -> Iterator[None]:
    """While it lasts, each event log of this process keeps one open connection per database
    (still a transaction per use, committed at its end) instead of opening and closing one for
    every event: about half a millisecond saved per use, a thousand uses in a 93-asset run.

    Only for a run in the terminal (``run_polster.py``), which already keeps each database's
    write-ahead log open until it ends (``runner.quick_history``): other processes see every
    committed event as before, and the log is checkpointed when the connections close.
    """
    _HOLDING.set()
    try:
        yield
    finally:
        _HOLDING.clear()
        for storage in list(_STORAGES):
            storage.release_held()


def _found_once(found: set[str], name: str, look: Any) -> bool:
    """``look()``, asked until it is true for ``name``, then remembered in ``found``."""
    if name in found:
        return True
    if look():
        found.add(name)
        return True
    return False


def set_up(path: str, tables: set[str]) -> bool:
    """Whether the SQLite database at ``path`` has ``tables`` and an alembic revision stamped:
    what Dagster's storages check before they use a database (through alembic, which reads
    Dagster's migration scripts each time), answered by reading the database alone."""
    if not os.path.isfile(path):
        return False
    try:
        with closing(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS)) as db:
            found = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            if not tables | {"alembic_version"} <= found:
                return False
            return db.execute("SELECT 1 FROM alembic_version").fetchone() is not None
    except sqlite3.Error:
        return False


@cache
def _migration_scripts() -> ScriptDirectory:
    """Dagster's alembic scripts, read once per process (about 45 ms)."""
    return ScriptDirectory.from_config(get_alembic_config(sqlite_event_log.__file__))


# Rows written through the database driver, without building and compiling a SQLAlchemy
# statement for each (most of the cost of a small write): the SQL is made from the column names,
# and each value goes through its column type's own bind processor, as SQLAlchemy would send it.
_PROCESSORS: dict[tuple[str, str], Any] = {}


def _driver_values(conn: Connection, table: Any, values: dict[str, Any]) -> list[Any]:
    bound = []
    for name, value in values.items():
        key = (table.name, name)  # SQLite only: one dialect
        if key not in _PROCESSORS:
            column_type = table.c[name].type.dialect_impl(conn.dialect)
            _PROCESSORS[key] = column_type.bind_processor(conn.dialect)
        processor = _PROCESSORS[key]
        bound.append(processor(value) if processor else value)
    return bound


def _driver(conn: Connection) -> sqlite3.Connection:
    """The driver's connection, in the transaction SQLAlchemy began (committed at its end)."""
    return conn.connection.dbapi_connection  # type: ignore[return-value]


def insert_row(conn: Connection, table: Any, values: dict[str, Any]) -> int:
    """``INSERT INTO table`` one row of ``values``; returns its id."""
    names = ", ".join(f'"{name}"' for name in values)
    marks = ", ".join("?" for _ in values)
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
    return _driver(conn).execute(sql, _driver_values(conn, table, values)).lastrowid


def update_rows(conn: Connection, table: Any, values: dict[str, Any], where: dict) -> int:
    """``UPDATE table SET values`` where each column of ``where`` is (``IS``, so None matches
    NULL) its value; returns how many rows changed."""
    sets = ", ".join(f'"{name}" = ?' for name in values)
    match = " AND ".join(f'"{name}" IS ?' for name in where)
    sql = f'UPDATE "{table.name}" SET {sets} WHERE {match}'
    bound = _driver_values(conn, table, values) + _driver_values(conn, table, where)
    return _driver(conn).execute(sql, bound).rowcount


def _synced_normally_in_wal(engine: Any) -> None:
    """A held connection that ``runner.quick_history`` opened on a database Dagster was still
    creating has syncing off (nothing to lose before its tables exist); the database is in WAL
    mode now, and the connection lasts the whole run: it commits with ``synchronous=NORMAL``,
    as every other connection of the run does, not with syncing off to the end."""
    with engine.connect() as conn:
        driver = _driver(conn)
        off = driver.execute("PRAGMA synchronous").fetchone()[0] == 0
        if off and driver.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            driver.execute("PRAGMA synchronous=NORMAL")


class QuickSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, keeping what it would look up again for every event."""

    def __init__(self, base_dir: str, inst_data: Any = None):
        # Set before Dagster's __init__, which may create the index database through them.
        self._engines: OrderedDict[str, Any] = OrderedDict()
        self._held: OrderedDict[str, Any] = OrderedDict()
        self._tables_found: set[str] = set()
        self._asset_cols_found: set[str] = set()
        self._indexes_found: set[str] = set()
        # The open transaction of each database while store_event_batch runs in that thread.
        self._batch: dict[str, Connection] = {}
        self._batch_thread: int | None = None
        super().__init__(base_dir, inst_data)
        self._db_lock = threading.RLock()  # store_event_batch holds it around store_event
        _STORAGES.add(self)

    def release_held(self) -> None:
        with self._db_lock:
            for engine in self._held.values():
                engine.dispose()
            self._held.clear()

    def _engine(self, shard: str) -> Any:
        """The shard's engine: one held connection while :func:`held_connections` lasts, else
        a connection per use. The most recently used ``ENGINES_KEPT`` of each are kept."""
        held = _HOLDING.is_set()
        engines = self._held if held else self._engines
        engine = engines.get(shard)
        if engine is not None:
            engines.move_to_end(shard)
            return engine
        if held:  # one connection, used under self._db_lock
            pool = {"poolclass": StaticPool}
            connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False}
        else:  # a connection per use, closed after it, as Dagster's
            pool = {"poolclass": NullPool}
            connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        engine = create_engine(self.conn_string_for_shard(shard), connect_args=connect_args, **pool)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        if held:
            _synced_normally_in_wal(engine)
        engines[shard] = engine
        while len(engines) > ENGINES_KEPT:
            engines.popitem(last=False)[1].dispose()
        return engine

    def _initdb(self, engine: Any, for_index_shard: bool = False) -> None:
        """Dagster's ``_initdb``: nothing to do for a database already set up; a new one gets
        Dagster's tables, WAL mode and the head revision, as Dagster's own does, with the
        migration scripts read once per process. Anything else (an older database, another
        process creating the same one) goes to Dagster's, which handles it."""
        path = engine.url.database
        if set_up(path, {SqlEventLogStorageTable.name}):
            return
        if os.path.isfile(path) and os.path.getsize(path):
            super()._initdb(engine, for_index_shard)
            return
        try:
            with engine.connect() as connection:
                SqlEventLogStorageMetadata.create_all(engine)
                connection.execute(text("PRAGMA journal_mode=WAL;"))
                MigrationContext.configure(connection).stamp(_migration_scripts(), "head")
                safe_commit(connection)
        except (db_exc.DatabaseError, sqlite3.DatabaseError):
            super()._initdb(engine, for_index_shard)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        if self._batch_thread == threading.get_ident() and shard in self._batch:
            yield self._batch[shard]  # in store_event_batch's transaction, committed at its end
            return
        with self._db_lock:
            with self._engine(shard).connect() as conn:
                sqlite = conn.connection.dbapi_connection
                changes = sqlite.total_changes
                with conn.begin():
                    yield conn
                wrote = sqlite.total_changes != changes
            if wrote and shard != INDEX_SHARD_NAME:
                # Dagster's UI follows a run by watching its database file change, which in WAL
                # mode happens only when the log is checkpointed: when the last connection
                # closes, never while one is held (or an idle one keeps the log open). Marking
                # the file after each write tells the UI's watch either way.
                with suppress(OSError):
                    os.utime(self.path_for_shard(shard))

    def store_event(self, event: Any) -> None:
        """Dagster's ``SqliteEventLogStorage.store_event``: the same rows in the same databases
        and transactions (the run's, and the index's for asset, check and run status events),
        written by the driver directly, the event serialised once."""
        row = self._row(event)
        if tuple(row) != EVENT_COLUMNS:  # a Dagster whose event row is not the one above
            super().store_event(event)
            return
        kind = event.dagster_event_type if event.is_dagster_event else None
        with self.run_connection(event.run_id) as conn:
            insert_row(conn, SqlEventLogStorageTable, row)
        if kind in ASSET_EVENTS:
            with self.index_transaction() as conn:
                event_id = insert_row(conn, SqlEventLogStorageTable, row)
                self._store_asset_event_tags(conn, [event], [event_id])
                self._store_asset_event(conn, event, event_id)
        if kind in ASSET_CHECK_EVENTS:
            with self.index_connection() as conn:
                event_id = insert_row(conn, SqlEventLogStorageTable, row)
            self._store_check_event(event, event_id, row["event"])
        if kind in EVENT_TYPE_TO_PIPELINE_RUN_STATUS:
            with self.index_connection() as conn:
                insert_row(conn, SqlEventLogStorageTable, row)

    def _row(self, event: Any) -> dict[str, Any]:
        """Dagster's ``_event_to_row``, with the event's text as the instance serialised it
        when it looked for secrets (:func:`polster_core.run.event_text.take_serialized`), when
        it did.
        The first such row in a process is checked against Dagster's own; if they differ (a
        Dagster that builds its row otherwise), Dagster's is used from then on."""
        global _ROW_MATCHES
        text = take_serialized(event)
        if text is None or _ROW_MATCHES is False:
            return self._event_to_row(event)
        kind = asset_key = partition = None
        step_key = event.step_key
        if event.is_dagster_event:
            dagster_event = event.get_dagster_event()
            kind = dagster_event.event_type_value
            step_key = dagster_event.step_key
            if dagster_event.asset_key:
                asset_key = dagster_event.asset_key.to_string()
            if dagster_event.partition:
                partition = dagster_event.partition
        row = {
            "run_id": event.run_id,
            "event": text,
            "dagster_event_type": kind,
            "timestamp": self._event_insert_timestamp(event),
            "step_key": step_key,
            "asset_key": asset_key,
            "partition": partition,
        }
        if _ROW_MATCHES is None:
            dagsters = self._event_to_row(event)
            _ROW_MATCHES = row == dagsters
            return dagsters
        return row

    def store_event_batch(self, events: Any) -> None:
        """Dagster's batches (a run's planned assets and checks, a backfill's materialisations
        of each partition): the rows of :meth:`store_event` for each event, in one transaction
        per database while connections are held, instead of one per event and database (in WAL
        mode a commit costs several times an insert). Otherwise one by one, as Dagster's."""
        run_ids = {event.run_id for event in events}
        if not _HOLDING.is_set() or len(run_ids) != 1:
            super().store_event_batch(events)
            return
        (run_id,) = run_ids
        with self._db_lock, self._connect(INDEX_SHARD_NAME) as index, self._connect(run_id) as run:
            self._batch, self._batch_thread = (
                {INDEX_SHARD_NAME: index, run_id: run},
                threading.get_ident(),
            )
            try:
                for event in events:
                    self.store_event(event)
            finally:
                self._batch, self._batch_thread = {}, None

    def _store_check_event(self, event: Any, event_id: int, serialized: str) -> None:
        """Dagster's ``store_asset_check_event`` for a run's unpartitioned check: the planned
        check's row, then its evaluation in that row (a new row if none was planned). The
        others (partitioned, outside a run) are stored by Dagster's own code."""
        data = event.dagster_event.event_specific_data
        planned = event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
        if (
            not event.run_id
            or not self.supports_asset_checks
            or (planned and data.partitions_subset is not None)
        ):
            self.store_asset_check_event(event, event_id)
            return
        row = {
            "asset_key": data.asset_key.to_string(),
            "check_name": data.check_name,
            "run_id": event.run_id,
        }
        timestamp = self._event_insert_timestamp(event)
        with self.index_connection() as conn:
            if planned:
                row.update(
                    partition=None,
                    execution_status=AssetCheckExecutionRecordStatus.PLANNED.value,
                    evaluation_event=serialized,
                    evaluation_event_timestamp=timestamp,
                    evaluation_event_storage_id=event_id,
                )
                insert_row(conn, AssetCheckExecutionsTable, row)
                return
            status = AssetCheckExecutionRecordStatus.SUCCEEDED
            if not data.passed:
                status = AssetCheckExecutionRecordStatus.FAILED
            target = data.target_materialization_data
            values = {
                "execution_status": status.value,
                "evaluation_event": serialized,
                "evaluation_event_timestamp": timestamp,
                "evaluation_event_storage_id": event_id,
                "materialization_event_storage_id": target.storage_id if target else None,
                "partition": data.partition,
            }
            updated = update_rows(
                conn, AssetCheckExecutionsTable, values, {**row, "partition": data.partition}
            )
            if not updated:  # none planned (a step launcher's evaluation)
                insert_row(conn, AssetCheckExecutionsTable, {**row, **values})
        if updated > 1:
            raise DagsterInvariantViolationError(
                f"Updated {updated} rows for asset check evaluation {data.asset_check_key} "
                "as a result of duplicate AssetCheckPlanned events."
            )

    # Tables, asset columns and completed data migrations are never removed: once found, kept.
    def has_table(self, table_name: str) -> bool:
        parent = super().has_table
        return _found_once(self._tables_found, table_name, lambda: parent(table_name))

    def has_asset_key_col(self, column_name: str) -> bool:
        # Dagster opens an index connection for the lookup below, found or not.
        return column_name in self._asset_cols_found or super().has_asset_key_col(column_name)

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        parent = super()._has_asset_key_col_on_connection
        return _found_once(self._asset_cols_found, column_name, lambda: parent(conn, column_name))

    def has_secondary_index(self, name: str) -> bool:
        parent = super().has_secondary_index
        return _found_once(self._indexes_found, name, lambda: parent(name))

    def _fetch_raw_asset_rows(
        self,
        asset_keys: Any = None,
        *,
        prefix: Any = None,
        limit: Any = None,
        cursor: Any = None,
        key_only: bool = False,
    ) -> tuple[Any, bool, str | None]:
        """Dagster's, for the rows of given assets (what each step with inputs asks), by the
        driver: the same query, the same columns, rows as mappings. Other lookups (all assets,
        a prefix, pages, or a history not yet migrated) are Dagster's own."""
        if (
            asset_keys is None
            or prefix
            or limit
            or cursor
            or key_only
            or not self.has_secondary_index(ASSET_KEY_INDEX_COLS)
        ):
            return super()._fetch_raw_asset_rows(
                asset_keys, prefix=prefix, limit=limit, cursor=cursor, key_only=key_only
            )
        if not asset_keys:
            return [], False, None
        names = ["id", "asset_key", "last_materialization", "last_run_id", "asset_details"]
        if self.can_read_asset_status_cache():
            names.append("cached_status_data")
        marks = ", ".join("?" for _ in asset_keys)
        sql = (
            f"SELECT {', '.join(names)} FROM {AssetKeyTable.name} WHERE asset_key IN ({marks}) "
            "AND (wipe_timestamp IS NULL OR last_materialization_timestamp > wipe_timestamp) "
            "ORDER BY asset_key ASC"
        )
        with self.index_connection() as conn:
            found = _driver(conn).execute(sql, [key.to_string() for key in asset_keys])
            rows = [dict(zip(names, row, strict=True)) for row in found]
        return rows, False, None

    def _get_latest_materialization_records(self, raw_asset_rows: Any) -> dict:
        """Dagster's: each asset row's stored latest materialization. Dagster then queries the
        event table for the rows without a usable one (an old format, or a record older than
        the asset's last wipe), and does so even when there are none: about 1.5 ms for each
        step with inputs (their data versions), asked here only when a row needs it."""
        results: dict[AssetKey, EventLogRecord] = {}
        for row in raw_asset_rows:
            asset_key = AssetKey.from_db_string(row["asset_key"])
            if not asset_key:
                continue
            details = AssetDetails.from_db_string(row["asset_details"])
            wiped = details.last_wipe_timestamp if details else None
            stored = row["last_materialization"]
            record = deserialize_value(stored, NamedTuple) if stored else None  # type: ignore[arg-type]
            if not isinstance(record, EventLogRecord) or (
                wiped is not None and record.event_log_entry.timestamp <= wiped
            ):
                return super()._get_latest_materialization_records(raw_asset_rows)
            results[asset_key] = record
        return results

    def _store_asset_event(self, conn: Connection, event: Any, event_id: int) -> None:
        if not (event.dagster_event and event.dagster_event.asset_key):
            return
        values = self._get_asset_entry_values(
            event, event_id, self._has_asset_key_index_cols_on_connection(conn)
        )
        if not values:
            return
        key = {"asset_key": event.dagster_event.asset_key.to_string()}
        if update_rows(conn, AssetKeyTable, values, key):
            return
        try:
            insert_row(conn, AssetKeyTable, {**key, **values})
        except sqlite3.IntegrityError:  # another process inserted it meanwhile
            update_rows(conn, AssetKeyTable, values, key)


class PolsterSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage whose event log is :class:`QuickSqliteEventLogStorage`, and
    whose run and schedule databases, once set up, are opened without asking alembic."""

    def __init__(self, base_dir: str, inst_data: Any = None):
        self.base_dir = base_dir
        self._run_storage = _sqlite_storage(
            SqliteRunStorage, runs_directory(base_dir), "runs", {"runs", "instance_info"}
        )
        self._event_log_storage = QuickSqliteEventLogStorage(event_logs_directory(base_dir))
        self._schedule_storage = _sqlite_storage(
            SqliteScheduleStorage, schedule_directory(base_dir), "schedules", {"job_ticks"}
        )
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> PolsterSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)


def _sqlite_storage(kind: Any, base_dir: str, name: str, tables: set[str]) -> Any:
    """Dagster's ``kind.from_local(base_dir)``, which sets the database up; one already set up is
    opened as it is."""
    if set_up(os.path.join(base_dir, f"{name}.db"), tables):
        return kind(create_db_conn_string(base_dir, name))
    return kind.from_local(base_dir)
