"""Partitioned assets in the running Dagster UI (`run_polster.py --ui`, i.e. `dagster dev` with
its daemon): a backfill launched as the UI's Materialize button launches it, per-partition
metadata, and the automation sensor bringing a new bronze day's silver and gold along."""

from __future__ import annotations

import os
import time

import polars as pl
import pytest

from polster_core.testing.tools import ToolMissing

from .assets_helpers import add, new_project
from .test_ui import CHROMIUM, CHROMIUM_ARGS
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

LATEST_BACKFILLS = """{ partitionBackfillsOrError(limit: 10) { ... on PartitionBackfills {
  results { id status partitionNames assetSelection { path } tags { key value }
    runs(limit: 50) { status tags { key value } } } } } }"""

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


def test_the_materialize_button_launches_a_one_run_backfill(ui):
    """In a real browser: the asset's Materialize... button, a custom range of days, Launch
    backfill. The daemon runs it as one run over the range."""
    if not os.path.exists(CHROMIUM):
        raise ToolMissing(
            "Debian's chromium is not installed: run `bash scripts/dev-env.sh` as root "
            "(it runs apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    graphql(ui.port, "mutation { setNuxSeen }")  # no "join the community" dialog
    days = ["2026-11-05", "2026-11-06"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{ui.url}/assets/{BRONZE}")
            page.get_by_role("button", name="Materialize…").click(timeout=60_000)
            dialog = page.get_by_role("dialog")
            ranges = dialog.get_by_role("textbox").first  # the partition range box
            ranges.wait_for(timeout=60_000)
            ranges.fill(f"[{days[0]}...{days[-1]}]")
            ranges.press("Enter")
            dialog.get_by_text("2 partitions", exact=True).wait_for(timeout=30_000)
            dialog.get_by_role("button", name="Launch backfill").click()
            dialog.wait_for(state="hidden", timeout=30_000)
        finally:
            browser.close()

    deadline = time.monotonic() + 300
    while True:
        found = graphql(ui.port, LATEST_BACKFILLS)["partitionBackfillsOrError"]["results"]
        mine = [
            b
            for b in found
            if b["partitionNames"] == days and b["assetSelection"] == [{"path": [BRONZE]}]
        ]
        if mine and mine[0]["status"] != "REQUESTED":
            break
        assert time.monotonic() < deadline, f"no finished backfill from the UI: {found}"
        time.sleep(2)
    assert mine[0]["status"] == "COMPLETED_SUCCESS", mine
    (run,) = mine[0]["runs"]
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert tags["dagster/from_ui"] == "true"
    assert (
        tags["dagster/asset_partition_range_start"],
        tags["dagster/asset_partition_range_end"],
    ) == (
        days[0],
        days[-1],
    )
    bronze = folders(ui.project, "bronze", "events")
    assert {f"date={day}" for day in days} <= set(bronze)
