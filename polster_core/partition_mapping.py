"""Whether an asset's partitions map to its upstream's: what ``polster check`` reports.

Polster's IO manager hands a partitioned asset the upstream partitions with the same keys
(Dagster's identity mapping) and an unpartitioned asset all of them. A partitioned asset over
an upstream partitioned differently (daily over hourly, say) needs a Dagster partition mapping
(``dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping())``) and code that handles the
keys it brings: polster reports it so that the user decides.
"""

from __future__ import annotations

from typing import Any

from .partition_specs import CUSTOM, NONE


def partition_problems(assets: Any, asset: Any, where: str) -> list:
    """Problems of ``asset``'s partitioning against each upstream asset's."""
    from .graph import Problem

    found = []
    if asset.partitions in (NONE, CUSTOM):
        return found
    for key in asset.upstream:
        up = assets.assets.get(key)
        if up is None or up.partitions == NONE:
            continue
        if up.partitions == CUSTOM:
            found.append(
                Problem(
                    where,
                    f"is {asset.partitions} partitioned but {key} has a partitions_def polster "
                    "cannot read: give both the same Daily/Hourly/Weekly/Monthly "
                    "PartitionsDefinition",
                )
            )
        elif up.partitions != asset.partitions:
            found.append(
                Problem(
                    where,
                    f"is {asset.partitions} partitioned but its upstream {key} is "
                    f"{up.partitions}: its partitions do not map one to one; partition it "
                    f"{up.partitions} too, or unpartition it (or add a "
                    "dg.TimeWindowPartitionMapping and code for the keys it maps)",
                )
            )
        elif up.partitions_start and asset.partitions_start < up.partitions_start:
            found.append(
                Problem(
                    where,
                    f"starts at {asset.partitions_start}, before its upstream {key} "
                    f"({up.partitions_start}): its first partitions have no upstream data; "
                    f"set its start_date to {up.partitions_start}",
                )
            )
    return found
