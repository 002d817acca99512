"""Dagster's history without secrets: the instance class of every Polster project.

Everything a run records goes through two doors of the Dagster instance, in every process
that runs or shows a pipeline (``run_polster.py``, its ``--workers`` processes, ``dagster dev``
with its daemon, run workers and UI): events (failures with their chained errors, log messages,
metadata, asset checks) through ``handle_new_event``, and what the steps print through the
compute log manager's ``capture_logs``. :class:`PolsterInstance` masks every secret Polster
knows (:func:`polster_core.secrets.known_secrets`) at both doors, before anything is stored,
shown in the UI or printed; the project's ``.dagster/dagster.yaml`` names it (``instance_class``).
When the project has no secret set, both doors are Dagster's own, untouched.

Without ``DAGSTER_POSTGRES_URL`` the history is Dagster's own SQLite files in ``.dagster/history``,
kept by :class:`PolsterSqliteStorage`: Dagster's SQLite storages, the same tables and files,
except that each process keeps its SQLAlchemy engines (one per file, a few run files at most)
instead of building a new one for every statement. Dagster builds about ten per asset; building
them (and compiling every statement again, since the statement cache lives in the engine) was
half of a small asset's run time.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, deserialize_value, serialize_value
from dagster._core.instance.ref import InstanceRef, compute_logs_directory
from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.local_compute_log_manager import (
    IO_TYPE_EXTENSION,
    LocalComputeLogManager,
)
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from dagster._utils import ensure_file, touch_file

from .masked_output import masked_stream
from .secrets import SETTINGS_CACHE, Redactor, known_secrets

_REDACTORS: dict[str, Redactor] = {}
_LOCK = threading.Lock()


def redactor_for(home: str | os.PathLike | None) -> Redactor:
    """The secrets of the project whose Dagster home is ``home`` (its ``.env`` included) and of
    this process's environment; prepared once per process."""
    key = os.path.abspath(home or os.environ.get("DAGSTER_HOME") or ".")
    with _LOCK:
        if key not in _REDACTORS:
            cache = Path(key) / SETTINGS_CACHE if os.path.isdir(key) else None
            values = known_secrets(Path(key).parent, cache=cache)
            if Path.cwd() != Path(key).parent:
                values += known_secrets(Path.cwd())
            _REDACTORS[key] = Redactor(values)
        return _REDACTORS[key]


def redact_event(event: Any, redactor: Redactor) -> Any:
    """``event`` (an ``EventLogEntry``) with every secret masked in every string it holds:
    messages, error messages and stacks of each ``cause`` and ``context``, metadata."""
    if not redactor:
        return event
    text = serialize_value(event)
    if not redactor.search(text):
        return event
    return deserialize_value(json.dumps(_redact_tree(json.loads(text), redactor)), type(event))


def _redact_tree(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        return redactor(value)
    if isinstance(value, list):
        return [_redact_tree(item, redactor) for item in value]
    if isinstance(value, dict):
        return {redactor(k): _redact_tree(v, redactor) for k, v in value.items()}
    return value


class PolsterInstance(DagsterInstance):
    """Dagster's instance, with the project's secrets masked in every event it stores or hands
    to listeners, and in every step's captured output (:class:`RedactingComputeLogManager`)."""

    @classmethod
    def config_schema(cls) -> dict:
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> dict:
        defaults = dict(InstanceRef.config_defaults(base_dir))
        defaults["storage"] = ConfigurableClassData(
            __name__, PolsterSqliteStorage.__name__, json.dumps({"base_dir": base_dir})
        )
        defaults["compute_logs"] = ConfigurableClassData(
            __name__,
            RedactingComputeLogManager.__name__,
            json.dumps({"base_dir": compute_logs_directory(base_dir)}),
        )
        return defaults

    @property
    def redactor(self) -> Redactor:
        return redactor_for(self.root_directory)

    def handle_new_event(self, event, *, batch_metadata=None) -> None:
        super().handle_new_event(redact_event(event, self.redactor), batch_metadata=batch_metadata)

    def store_event(self, event) -> None:
        super().store_event(redact_event(event, self.redactor))


class RedactingComputeLogManager(LocalComputeLogManager):
    """Dagster's local compute logs, with secrets masked in what steps print.

    The step's stdout and stderr (file descriptors 1 and 2: ``print``, logging
    handlers, C extensions and child processes alike) go through a pipe to a thread that masks
    them, then writes them both to the log file and to where they went before.
    """

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> RedactingComputeLogManager:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def capture_logs(self, log_key: Sequence[str]) -> Iterator[CapturedLogContext]:
        # Dagster's own capture starts two ``tail`` processes to mirror the log files to the
        # terminal: a tenth of a second per step for a worker that runs step after step. A pipe
        # and a thread do the same, masking on the way.
        redactor = redactor_for(Path(self._base_dir).parent)
        with ExitStack() as stack:
            for stream, io_type in (
                (sys.stdout, ComputeIOType.STDOUT),
                (sys.stderr, ComputeIOType.STDERR),
            ):
                path = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[io_type])
                ensure_file(path)
                stack.enter_context(masked_stream(stream, path, redactor))
            yield CapturedLogContext(log_key)
        touch_file(self.complete_artifact_path(log_key))


_ALL_ENGINES: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_engines() -> None:
    """Close the kept connections as the process ends: the last close of a SQLite database
    checkpoints its write-ahead log into it and removes the ``-wal`` file."""
    for engines in list(_ALL_ENGINES):
        if engines._pid == os.getpid():
            engines.dispose()


class _Engines:
    """This process's SQLAlchemy engines, one per SQLite file, the ``size`` most recently used
    kept. Dagster's SQLite storages build a new engine (``NullPool``) for every statement; a kept
    engine keeps one connection open and its compiled statements. A forked child starts afresh:
    a connection is never shared between processes."""

    def __init__(self, size: int = 8):
        self.size = size
        self._pid = os.getpid()
        self._engines: OrderedDict[str, Any] = OrderedDict()
        _ALL_ENGINES.add(self)

    def get(self, conn_string: str) -> tuple[Any, bool]:
        """The engine for ``conn_string``, and whether it was just made."""
        if self._pid != os.getpid():
            self._engines, self._pid = OrderedDict(), os.getpid()
        engine = self._engines.pop(conn_string, None)
        made = engine is None
        if made:
            engine = create_engine(
                conn_string, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
            )
        self._engines[conn_string] = engine
        while len(self._engines) > self.size:
            self._engines.popitem(last=False)[1].dispose()
        return engine, made

    def dispose(self) -> None:
        while self._engines:
            self._engines.popitem()[1].dispose()


class PolsterSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log (one file per run and an index), with kept engines."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines = _Engines()
        self._tables: set[str] = set()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PolsterSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Any]:
        with self._db_lock:
            engine, _ = self._engines.get(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        # Asked before each asset check event; a table, once there, stays.
        if table_name not in self._tables:
            if not super().has_table(table_name):
                return False
            self._tables.add(table_name)
        return True

    def wipe(self) -> None:
        with self._db_lock:
            self._engines.dispose()
        super().wipe()

    def dispose(self) -> None:
        with self._db_lock:
            self._engines.dispose()
        super().dispose()


class PolsterSqliteRunStorage(SqliteRunStorage):
    """Dagster's SQLite run storage (``runs.db``), with a kept engine."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None):
        self._engines = _Engines(size=1)
        self._engines_lock = threading.Lock()
        super().__init__(conn_string, inst_data)

    @contextmanager
    def connect(self) -> Iterator[Any]:
        with self._engines_lock:
            engine, _ = self._engines.get(self._conn_string)
        with engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        with self._engines_lock:
            self._engines.dispose()
        super().dispose()


class PolsterSqliteStorage(DagsterSqliteStorage):
    """The project's history in ``.dagster/history`` when no ``DAGSTER_POSTGRES_URL`` is set:
    Dagster's SQLite run, event log and schedule storages, with kept engines."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self.base_dir = base_dir
        self._run_storage = PolsterSqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = PolsterSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PolsterSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
