"""Whether an asset's partitions map to its upstream's: what ``polster check`` reports.

Polster's IO manager hands a partitioned asset the upstream partitions with the same keys
(Dagster's identity mapping) and an unpartitioned asset all of them. A partitioned asset over
an upstream partitioned differently (daily over hourly, say) needs a Dagster partition mapping
(``dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping())``) and code that handles the
keys it brings: polster reports it so that the user decides.
"""

from __future__ import annotations

from typing import Any

from .partition_keys import KeyProblem, check_start, timezone_of
from .partition_specs import CUSTOM, NONE, project_partitioning


def partition_problems(assets: Any, asset: Any) -> list[str]:
    """Problems of ``asset``'s partitioning: a definition Dagster cannot build, one that
    differs from the project's (the partitioned assets of the pipeline run in one job, and
    Dagster resolves a job only when they share one partitions definition), and upstream
    assets whose partitions it cannot read: each a sentence, said of the asset's file (the
    caller, :meth:`polster_core.project.graph.ProjectAssets.problems`, names the file)."""

    found = []
    if asset.partitions in (NONE, CUSTOM):
        return found
    mine = getattr(asset, "partitioning", None)
    if mine is not None:
        try:
            timezone_of(mine.timezone)
            check_start(mine.start_date or mine.start, "start_date")
        except KeyProblem as exc:
            return [f"its partitions definition cannot work: {exc}"]
    project = project_partitioning(assets)
    if mine is not None and project is not None and not mine.same_as(project):
        owner = next(a.key for a in assets.sorted_assets() if a.partitioning == project)
        return [
            (
                f"is partitioned {mine.describe()} but {owner} is {project.describe()}: the "
                "partitioned assets of the pipeline run in one Dagster job, which needs one "
                "partitions definition; give both the same kind, start_date and timezone, "
                "or unpartition one"
            )
        ]
    for key in asset.upstream:
        up = assets.assets.get(key)
        if up is None or up.partitions == NONE:
            continue
        if up.partitions == CUSTOM:
            found.append(
                f"is {asset.partitions} partitioned but {key} has a partitions_def polster "
                "cannot read: give both the same Daily/Hourly/Weekly/Monthly "
                "PartitionsDefinition"
            )
        elif up.partitions != asset.partitions:
            found.append(
                f"is {asset.partitions} partitioned but its upstream {key} is "
                f"{up.partitions}: its partitions do not map one to one; partition it "
                f"{up.partitions} too, or unpartition it"
            )
    return found
