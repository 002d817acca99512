"""One Delta commit, with its retries (issue 29): every strategy's write goes through
:func:`commit`, which opens the current version, applies the rows to it, and, when another run
committed first, opens the new version and applies them again.

A commit is made only on the version the rows were applied to (:func:`options`: delta-rs would
otherwise commit a merge on top of a concurrent one it finds no conflict with, and two merges
inserting the same new key would both insert it).
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable
from typing import Any

from ..exceptions import PolsterError
from ..secrets import redact
from .delta_table import Location, open_table, secrets_of

COMMIT_ATTEMPTS = 8  # tries of one write while concurrent runs keep committing first
# Row groups of about polars' own size: a reader decodes a file's row groups in parallel.
ROW_GROUP_ROWS = 128 * 1024

Counts = tuple[int, int, int]  # rows inserted, updated, deleted


def commit(
    storage: Any, loc: Location, label: str, apply: Callable[[Any], Counts]
) -> tuple[Any, Counts]:
    """``apply(table)`` (``table`` None: there is none yet) on the table's current version
    until it commits, up to :data:`COMMIT_ATTEMPTS` times while other runs commit first.

    Returns the table it committed on (None when it created it) and ``apply``'s counts. A
    :class:`PolsterError` from ``apply`` (a refused batch) passes through; any other failure
    is one line (secrets masked, the whole cause in its ``details``).
    """
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        table = open_table(loc)
        failure = None
        try:
            return table, apply(table)
        except PolsterError:
            raise
        except Exception as exc:
            if attempt < COMMIT_ATTEMPTS and lost_to_another_writer(exc):
                # Another run committed first: its version is read again and the batch applied
                # to it (what this attempt wrote is in no version; upkeep vacuums it).
                time.sleep(random.uniform(0.05, 0.2) * attempt)
                continue
            failure = write_error(exc, storage, loc, label)
        raise failure  # outside the except block: the unmasked original is not chained
    raise AssertionError("unreachable")  # pragma: no cover


def options(exclusive: bool = True) -> dict[str, Any]:
    """The keywords of every delta-rs write: Polster's parquet settings and, for a write that
    must not land on a version it did not read (all but an append), no silent rebase."""
    from deltalake import CommitProperties

    found: dict[str, Any] = {"writer_properties": writer()}
    if exclusive:
        found["commit_properties"] = CommitProperties(max_commit_retries=0)
    return found


def writer() -> Any:
    """Parquet in zstd (level 1: a merge rewrites files at about delta-rs's default speed) in
    row groups of ~128k rows, as polars writes parquet."""
    from deltalake import WriterProperties

    return WriterProperties(
        compression="ZSTD", compression_level=1, max_row_group_size=ROW_GROUP_ROWS
    )


def compact_writer() -> Any:
    """The parquet of compacted files, which are read for long: zstd level 3, with dictionary
    pages of at most 16 KiB. A column of few distinct values (a city, a date) stays
    dictionary-encoded, which polars decodes fastest; one of unique values (a key, a name)
    falls back to plain pages after its first 16 KiB. delta-rs's default (1 MiB) kept unique
    columns in dictionaries (3x polars' file size, slower to read); no dictionaries at all made
    the low-cardinality columns 30% slower to read. With 16 KiB a compacted table reads as
    fast as polars' own file of the same rows (bench/NOTES.md, 2026-12-08). Merges keep
    :func:`writer`'s, with which their rewrites of a large table's files stay smallest."""
    from deltalake import WriterProperties

    return WriterProperties(
        compression="ZSTD",
        compression_level=3,
        max_row_group_size=ROW_GROUP_ROWS,
        dictionary_page_size_limit=16 * 1024,
    )


def lost_to_another_writer(exc: Exception) -> bool:
    """Whether a write failed only because another writer committed the same version first
    (or created the table first)."""
    from deltalake.exceptions import CommitFailedError

    text = str(exc).lower()
    return isinstance(exc, CommitFailedError) or any(
        words in text
        for words in (
            "already exists",
            "concurrent",
            "conflict",
            "version 0",
            "max_retries",
            "commit failed",
            "transaction failed",
        )
    )


def write_error(exc: Exception, storage: Any, loc: Location, label: str) -> PolsterError:
    text = str(exc).strip().splitlines()
    masked = secrets_of(storage, loc)
    cause = redact(f"{type(exc).__name__}: {text[0] if text else ''}", masked)
    if "CommitFailed" in cause or "concurrent" in cause.lower() or "conflict" in cause.lower():
        cause += " (another run changed the table at the same time: run this one again)"
    failure = PolsterError(
        f"writing {label} to the Delta table at {loc.shown} failed: {cause}; the previous "
        "version is unchanged"
    )
    failure.details = redact("".join(traceback.format_exception(exc)).rstrip(), masked)
    return failure
