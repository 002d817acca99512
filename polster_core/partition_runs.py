"""Which partitions ``run_polster.py`` materialises: ``--partition``, ``--from``/``--to``.

Without a flag, a project with partitioned assets runs their last complete partition (and
every unpartitioned asset); ``--partition KEY`` runs one; ``--from A --to B`` is a backfill
of the range in one run (the assets' ``BackfillPolicy.single_run()``; Dagster's
``dagster/asset_partition_range_start``/``_end`` tags), never a run per partition.
"""

from __future__ import annotations

from typing import Any

from .errors import PolsterError

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
    keys = None
    for key in (k for k in (partition, start, end) if k is not None):
        if not definition.has_partition_key(key):
            keys = keys or definition.get_partition_keys()
            span = f"{keys[0]} to {keys[-1]}" if keys else "none yet"
            raise PolsterError(f"'{key}' is not a partition of this project's assets ({span})")
    if start is not None:
        if definition.get_partition_keys().index(start) > definition.get_partition_keys().index(
            end
        ):
            raise PolsterError(f"--from {start} is after --to {end}: swap them")
        return {RANGE_START_TAG: start, RANGE_END_TAG: end}
    if partition is None:
        partition = definition.get_last_partition_key()
        if partition is None:
            raise PolsterError(
                "no partition is complete yet (the assets' start_date is in the future): "
                "pass --partition KEY, or move start_date back"
            )
    return {PARTITION_TAG: partition}


def describe(tags: dict) -> str:
    if RANGE_START_TAG in tags:
        return f"partitions {tags[RANGE_START_TAG]} to {tags[RANGE_END_TAG]} (one run)"
    if PARTITION_TAG in tags:
        return f"partition {tags[PARTITION_TAG]}"
    return ""
