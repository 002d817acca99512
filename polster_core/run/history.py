"""Dagster's history without secrets: the instance class of every Polster project.

Everything a run records goes through two doors of the Dagster instance, in every process
that runs or shows a pipeline (``run_polster.py``, its ``--workers`` processes, ``dagster dev``
with its daemon, run workers and UI): events (failures with their chained errors, log messages,
metadata, asset checks) through ``handle_new_event``, and what the steps print through the
compute log manager's ``capture_logs``. :class:`PolsterInstance` masks every secret Polster
knows (:func:`polster_core.secrets.known_secrets`) at both doors, before anything is stored,
shown in the UI or printed; the project's ``.dagster/dagster.yaml`` names it (``instance_class``).
When the project has no secret set, both doors are Dagster's own, untouched.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, deserialize_value, serialize_value

from ..secrets import SETTINGS_CACHE, Redactor, known_secrets
from .dagster_private.instance import (
    IO_TYPE_EXTENSION,
    CapturedLogContext,
    ComputeIOType,
    ConfigurableClassData,
    InstanceRef,
    LocalComputeLogManager,
    compute_logs_directory,
    ensure_file,
    touch_file,
)
from .event_text import EVENT_BATCH_SIZE, keep_serialized, take_serialized  # noqa: F401
from .history_storage import is_quick, storage_data
from .masked_output import masked_stream

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


def redact_event(event: Any, redactor: Redactor, keep: bool = False) -> Any:
    """``event`` (an ``EventLogEntry``) with every secret masked in every string it holds:
    messages, error messages and stacks of each ``cause`` and ``context``, metadata.

    Looking for secrets serialises the event, as storing it does. With ``keep``, the text of an
    event without secrets is kept for :func:`take_serialized`, so that the event log stores it
    instead of serialising the same event again."""
    if not redactor:
        return event
    text = serialize_value(event)
    if not redactor.search(text):
        if keep:
            keep_serialized(event, text)
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
        # Dagster's SQLite storage, with less work per event (sqlite_history.py), where this
        # Dagster's internals allow it (dagster_private/history.py).
        defaults["storage"] = storage_data(defaults["storage"])
        defaults["compute_logs"] = ConfigurableClassData(
            __name__,
            RedactingComputeLogManager.__name__,
            json.dumps({"base_dir": compute_logs_directory(base_dir)}),
        )
        return defaults

    @property
    def redactor(self) -> Redactor:
        return redactor_for(self.root_directory)

    def _get_event_batch_size(self) -> int:
        """Dagster stores the events it sends in batches (a run's planned assets and checks, the
        materialisations of a backfill's partitions) one by one unless DAGSTER_EVENT_BATCH_SIZE
        is set; Polster's SQLite history stores each batch in one transaction
        (``QuickSqliteEventLogStorage.store_event_batch``), so it takes them whole."""
        configured = super()._get_event_batch_size()
        if configured or not is_quick(self.event_log_storage):
            return configured
        return EVENT_BATCH_SIZE

    @cached_property
    def _keeps_serialized(self) -> bool:
        """Whether the event log takes the text redact_event made (Polster's SQLite history)."""
        return is_quick(self.event_log_storage)

    def handle_new_event(self, event, *, batch_metadata=None) -> None:
        event = redact_event(event, self.redactor, self._keeps_serialized)
        super().handle_new_event(event, batch_metadata=batch_metadata)

    def store_event(self, event) -> None:
        super().store_event(redact_event(event, self.redactor, self._keeps_serialized))


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
