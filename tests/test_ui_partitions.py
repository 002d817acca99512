"""Partitioned assets in the running Dagster UI (`run_polster.py --ui`, i.e. `dagster dev` with
its daemon): a backfill launched as the UI's Materialize button launches it, per-partition
metadata, and the automation sensor bringing a new bronze day's silver and gold along."""

from __future__ import annotations

import time

import polars as pl
import pytest

from .assets_helpers import add, new_project
from .ui_server import UIServer, graphql

BRONZE, SILVER, GOLD = "run_bronze_events", "run_silver_clean_events", "run_gold_event_kpis"
DAYS = ["2026-11-01", "2026-11-02", "2026-11-03"]

# What the UI's "Materialize" -> "Launch backfill" sends for partitioned assets (dagster-webserver
# 1.13: LaunchAssetChoosePartitionsDialog), from its bundled JavaScript.
LAUNCH_BACKFILL = """mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message } ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message } } }"""

BACKFILL = """query ($id: String!) { partitionBackfillOrError(backfillId: $id) {
  ... on PartitionBackfill { status runs(limit: 50) { runId status tags { key value } } } } }"""

PARTITIONS = """query ($keys: [AssetKeyInput!], $days: [String!]) {
  assetNodes(assetKeys: $keys) { assetKey { path }
    partitionStats { numMaterialized numPartitions }
    assetMaterializations(partitions: $days) { partition metadataEntries { label
      ... on IntMetadataEntry { intValue } ... on TextMetadataEntry { text }
      ... on MarkdownMetadataEntry { mdStr } } } } }"""


def rows_by_day(project) -> None:
    """Day N of the month has N rows, so each partition's row count is its own."""
    core = project / "src/core/bronze_events.py"
    text = core.read_text()
    sample = text[text.index("    return pl.DataFrame(") : text.index("\n\n\nif __name__")]
    core.write_text(
        text.replace(
            sample,
            "    n = int(day[-2:])\n"
            '    return pl.DataFrame({"id": list(range(n)), "name": ["x"] * n, "day": [day] * n})',
        )
    )


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    project = new_project(tmp_path_factory.mktemp("ui-parts"))
    add(project, "bronze", "events", "--partitions", "daily", "--start", "2026-11-01")
    add(project, "silver", "clean_events", "--deps", "events")
    add(project, "gold", "event_kpis", "--deps", "clean_events", "--partitions", "none")
    rows_by_day(project)
    server = UIServer(project, materialize=False)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def backfill(ui, assets: list[str], days: list[str], timeout: float = 300) -> dict:
    """Launch a backfill as the UI does and wait until the daemon has finished it."""
    params = {
        "tags": [],
        "assetSelection": [{"path": [key]} for key in assets],
        "partitionNames": days,
        "fromFailure": False,
    }
    launched = graphql(ui.port, LAUNCH_BACKFILL, {"backfillParams": params})
    launched = launched["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    deadline = time.monotonic() + timeout
    while True:
        state = graphql(ui.port, BACKFILL, {"id": launched["backfillId"]})
        state = state["partitionBackfillOrError"]
        if state["status"] != "REQUESTED":
            return state
        assert time.monotonic() < deadline, f"backfill still running: {state}\n{ui.output()}"
        time.sleep(2)


def folders(project, layer: str, name: str) -> list[str]:
    folder = project / "data" / layer / name
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def partition_nodes(ui, days: list[str]) -> dict:
    keys = [{"path": [key]} for key in (BRONZE, SILVER)]
    nodes = graphql(ui.port, PARTITIONS, {"keys": keys, "days": days})["assetNodes"]
    return {node["assetKey"]["path"][-1]: node for node in nodes}


def test_a_backfill_from_the_ui_runs_once_and_writes_each_partition(ui):
    state = backfill(ui, [BRONZE, SILVER, GOLD], DAYS)
    assert state["status"] == "COMPLETED_SUCCESS", (state, ui.output())
    runs = state["runs"]
    assert all(run["status"] == "SUCCESS" for run in runs), runs
    # The single-run backfill policy: the three days in one run, not a run per day.
    ranged = [
        {tag["key"]: tag["value"] for tag in run["tags"]}
        for run in runs
        if any(tag["key"] == "dagster/asset_partition_range_start" for tag in run["tags"])
    ]
    assert len(ranged) == 1, runs
    assert ranged[0]["dagster/asset_partition_range_start"] == DAYS[0]
    assert ranged[0]["dagster/asset_partition_range_end"] == DAYS[-1]
    assert len(runs) <= 2, runs  # the range, and the unpartitioned gold if run apart

    expected = [f"date={day}" for day in DAYS]
    assert folders(ui.project, "bronze", "events") == expected
    assert folders(ui.project, "silver", "clean_events") == expected
    gold = pl.read_parquet(ui.project / "data/gold/event_kpis.parquet")
    assert gold["rows"].sum() == 1 + 2 + 3

    # The assets show their partitions materialised, each with its own metadata.
    nodes = partition_nodes(ui, DAYS)
    for key in (BRONZE, SILVER):
        stats = nodes[key]["partitionStats"]
        assert stats["numMaterialized"] == 3, stats
        events = {e["partition"]: e for e in nodes[key]["assetMaterializations"]}
        assert sorted(events) == DAYS
        for day in DAYS:
            meta = {m["label"]: m for m in events[day]["metadataEntries"]}
            assert meta["dagster/row_count"]["intValue"] == int(day[-2:])
            assert meta["uri"]["text"].endswith(f"date={day}/data.parquet")
            preview = meta["preview"]["mdStr"].splitlines()
            assert preview[0] == "| id | name | day |" and len(preview) == 2 + int(day[-2:])
            assert preview[2].endswith(f"| {day} |")
            assert meta["partitions_written"]["intValue"] == 3


def test_the_automation_sensor_brings_silver_and_gold_along(ui):
    """Materialise bronze alone for a new day (from the UI); the daemon's automation sensor
    requests that day's silver, then gold, with no one asking."""
    gold = ui.project / "data/gold/event_kpis.parquet"
    before = pl.read_parquet(gold)["rows"].sum() if gold.exists() else 0
    state = backfill(ui, [BRONZE], ["2026-11-04"])
    assert state["status"] == "COMPLETED_SUCCESS", state
    assert "date=2026-11-04" not in folders(ui.project, "silver", "clean_events")
    # The sensor ticks every 30 s; silver's run, then gold's follow.
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        done = "date=2026-11-04" in folders(ui.project, "silver", "clean_events")
        if done and gold.exists() and pl.read_parquet(gold)["rows"].sum() == before + 4:
            break
        time.sleep(3)
    else:
        raise AssertionError(
            f"the automation sensor did not follow bronze 2026-11-04: silver has "
            f"{folders(ui.project, 'silver', 'clean_events')}\n{ui.output()[-3000:]}"
        )
    # Only the new day: the older silver partitions were not recomputed.
    nodes = partition_nodes(ui, DAYS + ["2026-11-04"])
    events = [e["partition"] for e in nodes[SILVER]["assetMaterializations"]]
    assert events.count("2026-11-04") == 1 and all(events.count(d) <= 1 for d in DAYS), events
