"""Which partitions ``run_polster.py`` materialises: ``--partition``, ``--from``/``--to``.

Without a flag, a project with partitioned assets runs their last complete partition (and
every unpartitioned asset); ``--partition KEY`` runs one; ``--from A --to B`` is a backfill
of the range in one run (the assets' ``BackfillPolicy.single_run()``; Dagster's
``dagster/asset_partition_range_start``/``_end`` tags), never a run per partition.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import PolsterError
from ..project.partition_keys import DAY_FORMAT, HOUR_FORMAT, TimePartitions, shown

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def add_arguments(parser: Any) -> None:
    """``--partition``, ``--from`` and ``--to`` of run_polster.py."""
    parser.add_argument(
        "--partition",
        metavar="KEY",
        help="materialise this partition of the partitioned assets, e.g. 2026-11-02 "
        "(default: the last complete one)",
    )
    parser.add_argument(
        "--from",
        dest="partition_from",
        metavar="KEY",
        help="backfill partitions from KEY (with --to; one run for the whole range)",
    )
    parser.add_argument(
        "--to", dest="partition_to", metavar="KEY", help="backfill partitions up to KEY, included"
    )


def partitions_def_of(job: Any) -> Any | None:
    """The partitions definition the job's partitioned assets share (None if none is)."""
    return job.partitions_def


def run_tags(job: Any, partition: str | None, start: str | None, end: str | None) -> dict:
    """The run's partition tags (``{}`` for a project without partitioned assets)."""
    if (start is None) != (end is None):
        raise PolsterError(
            "--from and --to go together: pass both (e.g. --from 2026-11-01 --to 2026-11-30)"
        )
    if partition is not None and start is not None:
        raise PolsterError("pass either --partition or --from/--to, not both")
    definition = partitions_def_of(job)
    if definition is None:
        if partition is not None or start is not None:
            raise PolsterError(
                "no asset of this project is partitioned: drop --partition/--from/--to "
                "(add one with polster add-asset --partitions daily)"
            )
        return {}
    for key in (k for k in (partition, start, end) if k is not None):
        check_key(definition, key)
    if start is not None:
        if _start_of(definition, start) > _start_of(definition, end):
            raise PolsterError(f"--from {start} is after --to {end}: swap them")
        return {RANGE_START_TAG: start, RANGE_END_TAG: end}
    if partition is None:
        partition = _dagster(definition.get_last_partition_key)
        if partition is None:
            raise PolsterError(
                "no partition is complete yet (the assets' start_date is in the future): "
                "pass --partition KEY, or move start_date back"
            )
    return {PARTITION_TAG: partition}


def contains(definition: Any, key: str) -> bool:
    """Whether ``definition`` has partition ``key``: Dagster's ``has_partition_key``, and for a
    time partitioning also that the key names the start of its own window (Dagster's check
    takes ``2026-11-01-00:30`` for the hour from 01:00, and an hour the clocks skip for the
    next one)."""
    if not _dagster(definition.has_partition_key, key):
        return False
    if not hasattr(definition, "time_window_for_partition_key"):
        return True
    import dagster as dg

    try:
        keys = definition.get_partition_keys_in_range(dg.PartitionKeyRange(key, key))
    except Exception:  # a key Dagster cannot place in a window
        return False
    return list(keys) == [key]


def model_of(definition: Any) -> Any | None:
    """The plain-datetime twin of a Daily/Hourly/Weekly/MonthlyPartitionsDefinition (for
    messages that name a valid neighbour), or None for any other definition."""

    kinds = {
        ("0 * * * *", HOUR_FORMAT): "hourly",
        ("0 0 * * *", DAY_FORMAT): "daily",
        ("0 0 * * 0", DAY_FORMAT): "weekly",
        ("0 0 1 * *", DAY_FORMAT): "monthly",
    }
    schedule = getattr(definition, "cron_schedule", None)
    fmt = getattr(definition, "fmt", None)
    kind = kinds.get((schedule, fmt))
    if kind is None or getattr(definition, "end", None) is not None:
        return None
    if getattr(definition, "end_offset", 0) or getattr(definition, "exclusions", None):
        return None
    start = definition.start.strftime(HOUR_FORMAT if kind == "hourly" else DAY_FORMAT)
    return TimePartitions(kind, start, definition.timezone or "UTC")


def check_key(definition: Any, key: str) -> None:
    """PolsterError, in one line naming a valid neighbour, unless ``definition`` has ``key``."""

    if contains(definition, key):
        return
    model = model_of(definition)
    problem = model.problem(key) if model is not None else None
    if problem:
        raise PolsterError(problem)
    first = _dagster(definition.get_first_partition_key)
    last = _dagster(definition.get_last_partition_key)
    span = f"{first} to {last}" if first and last else "none yet"
    raise PolsterError(f"'{shown(key)}' is not a partition of this project's assets ({span})")


def _start_of(definition: Any, key: str) -> Any:
    """Where partition ``key`` stands, to order two keys without listing those between."""
    window = getattr(definition, "time_window_for_partition_key", None)
    if window is not None:
        return _dagster(window, key).start.timestamp()
    return definition.get_partition_keys().index(key)  # a static or dynamic list


def _dagster(method: Any, *args: Any) -> Any:
    """Call a partitions definition's method; a date it cannot represent is one line."""
    try:
        return method(*args)
    except (OverflowError, ValueError) as exc:
        raise PolsterError(
            f"the assets' partitions definition cannot compute its partitions ({exc}): move "
            "its start_date into the years 1000 to 9998 (polster check names the file)"
        ) from None


def describe(tags: dict) -> str:
    if RANGE_START_TAG in tags:
        return f"partitions {tags[RANGE_START_TAG]} to {tags[RANGE_END_TAG]} (one run)"
    if PARTITION_TAG in tags:
        return f"partition {tags[PARTITION_TAG]}"
    return ""
