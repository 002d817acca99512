"""The automation condition Polster gives silver and gold assets: follow the upstream.

Dagster's ``AutomationCondition.eager()`` (evaluated by the project's automation sensor while
the daemon runs), adapted to partitions so that downstream partitions keep in step:

- a partitioned asset follows every partition of its upstream, not only the latest one
  (eager without ``in_latest_time_window()``, Dagster's documented customisation), so a
  re-loaded or backfilled bronze day brings its silver day along;
- an unpartitioned asset over partitioned upstreams reads whatever partitions are stored, so
  it runs when any of them updates; it waits only while such an upstream has no partition
  at all (eager waits for *every* upstream partition, which never happens while history is
  incomplete).
"""

from __future__ import annotations

from typing import Any

import dagster as dg

EVERY_PARTITION = "eager (every partition)"
STORED_PARTITIONS = "eager (stored partitions)"


def follow_upstream(spec: dg.AssetSpec, partitioned: set[dg.AssetKey]) -> Any:
    """The condition for ``spec``, given the keys of the project's partitioned assets."""
    ac = dg.AutomationCondition
    eager = ac.eager()
    if spec.partitions_def is not None:
        return eager.without(ac.in_latest_time_window()).with_label(EVERY_PARTITION)
    upstream = [dep.asset_key for dep in spec.deps if dep.asset_key in partitioned]
    if not upstream:
        return eager
    parts = dg.AssetSelection.assets(*upstream)
    absent = ac.missing() & ~ac.will_be_requested()
    # An unpartitioned upstream must be there; a partitioned one must have some partition.
    waiting = ac.any_deps_match(absent).ignore(parts) | ~ac.all_deps_match(~absent).allow(parts)
    return eager.replace("any_deps_missing", waiting.with_label("any_deps_missing")).with_label(
        STORED_PARTITIONS
    )
