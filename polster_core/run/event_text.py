"""Serialised events handed from the masking of events to the SQLite event log, so that an
event without secrets is serialised once (:func:`polster_core.history.redact_event` keeps
the text it made; :class:`polster_core.sqlite_history.QuickSqliteEventLogStorage` takes it).
"""

from __future__ import annotations

import threading
from typing import Any

# Events per batch stored at once (Dagster's batches: see PolsterInstance._get_event_batch_size).
EVENT_BATCH_SIZE = 1000

# Serialised events that redact_event let through unchanged, by id (each with its event, so an
# id is not reused while it is here), until the event log takes them. Dagster stores a batch of
# events (up to EVENT_BATCH_SIZE) after it has handed them all over; beyond twice that, the
# oldest are dropped (and serialised again if they are stored after all).
_SERIALIZED: dict[int, tuple[Any, str]] = {}
_SERIALIZED_LOCK = threading.Lock()


def keep_serialized(event: Any, text: str) -> None:
    """Keep ``text``, ``event`` serialised, for :func:`take_serialized`."""
    with _SERIALIZED_LOCK:
        _SERIALIZED[id(event)] = (event, text)
        if len(_SERIALIZED) > 2 * EVENT_BATCH_SIZE:
            del _SERIALIZED[next(iter(_SERIALIZED))]


def take_serialized(event: Any) -> str | None:
    """``serialize_value(event)`` as :func:`polster_core.history.redact_event` made it, once;
    None if it did not."""
    with _SERIALIZED_LOCK:
        kept = _SERIALIZED.pop(id(event), None)
    return kept[1] if kept is not None and kept[0] is event else None
