"""Upkeep of Delta tables (issue 29): compaction after a run's commit (automatic, by the
project's ``delta_compact_small_files``), and ``polster upkeep``'s compact and vacuum.

Compaction is delta-rs's ``optimize.compact``: files under the target size are rewritten into
files of about that size, as a new version (no row changes; older versions stay readable until
vacuumed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import PolsterError
from .delta_commit import compact_writer
from .delta_settings import DeltaSettings
from .delta_table import Location, location, open_table
from .local_backend import LocalBackend

# Compaction packs small files into bins by their size on disk, which overstates the rows' size
# once rewritten together (a small file compresses worse: 365 daily files of 10.8 MB made 3
# files of 2.9 to 3.4 MB): ``polster upkeep`` packs bins of this many target sizes, so its files
# come out about the target size.
PACKING = 3


# A file is small under this share of the target size: the writer's files of a large table
# come out a little under the target, and must not count.
SMALL_SHARE = 4


def small_files(table: Any, target_bytes: int) -> int:
    """The most small files (under a quarter of ``target_bytes``) in one partition of the
    table's current version (files of different partitions are never compacted together)."""
    target_bytes //= SMALL_SHARE
    actions = table.get_add_actions(flatten=True)
    sizes = actions.column("size_bytes").to_pylist()
    parts = [n for n in actions.schema.names if n.startswith("partition.")]
    if not parts:
        return sum(1 for size in sizes if size < target_bytes)
    values = zip(*(actions.column(n).to_pylist() for n in parts), strict=True)
    per_partition = Counter(
        value for value, size in zip(values, sizes, strict=True) if size < target_bytes
    )
    return max(per_partition.values(), default=0)


def auto_compact(table: Any, settings: DeltaSettings) -> int:
    """Compact the table when it has more small files than the settings allow in a partition;
    the number of files compacted (0: not needed, turned off, or lost to a concurrent write,
    which the next run's compaction makes up for)."""
    from deltalake import CommitProperties

    limit = settings.compact_small_files
    if limit <= 0 or small_files(table, settings.target_file_bytes) <= limit:
        return 0
    try:
        metrics = table.optimize.compact(
            # Only the small files: each compaction rewrites at most about a quarter of the
            # target, and files that grew past it are left alone (half the cost of rewriting
            # everything under the target, for a year of daily appends).
            target_size=settings.target_file_bytes // SMALL_SHARE,
            writer_properties=compact_writer(),
            # A concurrent commit wins: this run's rows are committed already.
            commit_properties=CommitProperties(max_commit_retries=0),
        )
    except Exception:
        return 0
    try:
        # Readers open the compacted version from a checkpoint, replaying no commit (a
        # quarter of opening's ~4 ms on a year of daily commits).
        table.create_checkpoint()
    except Exception:
        pass  # a checkpoint only makes opening faster
    return int(metrics.get("numFilesRemoved", 0))


@dataclass
class UpkeepResult:
    label: str
    files_compacted: int = 0
    files_added: int = 0
    files_vacuumed: int = 0
    version: int = 0
    bytes_vacuumed: int = 0


def upkeep(
    storage: Any, layer: str, name: str, retention_hours: int, settings: DeltaSettings
) -> UpkeepResult:
    """Compact the table's small files, then vacuum files no version newer than the
    retention needs."""
    loc = location(storage, layer, name)
    table = open_table(loc)
    label = f"{layer}/{name}"
    if table is None:
        raise PolsterError(f"no Delta table {label} at {loc.shown}")
    metrics = table.optimize.compact(
        target_size=settings.target_file_bytes * PACKING, writer_properties=compact_writer()
    )
    doomed = table.vacuum(
        retention_hours=retention_hours, dry_run=True, enforce_retention_duration=False
    )
    size = _sizes(storage, loc, doomed)
    removed = table.vacuum(
        retention_hours=retention_hours,
        dry_run=False,
        enforce_retention_duration=False,
    )
    table.create_checkpoint()  # a reader opens the compacted version without replaying the log
    return UpkeepResult(
        label=label,
        files_compacted=int(metrics.get("numFilesRemoved", 0)),
        files_added=int(metrics.get("numFilesAdded", 0)),
        files_vacuumed=len(removed),
        version=open_table(loc).version(),
        bytes_vacuumed=size,
    )


def vacuum_candidates(storage: Any, layer: str, name: str, retention_hours: int) -> list[str]:
    """The files a vacuum with this retention would delete (nothing is deleted)."""
    table = open_table(location(storage, layer, name))
    if table is None:
        return []
    return list(
        table.vacuum(
            retention_hours=retention_hours, dry_run=True, enforce_retention_duration=False
        )
    )


def _sizes(storage: Any, loc: Location, files: list[str]) -> int:
    """Bytes of a table's ``files`` (best effort: 0 for a file whose size cannot be read)."""
    total = 0
    backend = storage.backend
    for rel in files:
        try:
            if isinstance(backend, LocalBackend):
                total += (Path(loc.uri) / rel).stat().st_size
            else:
                base = backend.path("x", "y")[: -len("x/y.parquet")]
                folder = loc.shown.split("://", 1)[-1]
                total += int(backend.fs.size(f"{folder}/{rel}" if folder else base + rel))
        except Exception:
            continue
    return total
