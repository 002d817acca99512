"""The running pipeline in the Dagster UI: GraphQL for the definitions and metadata, and a real
headless Chromium (Playwright, Debian's chromium) for the lineage graph and an asset's page."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from polster_core.testing.tools import ToolMissing

from .ui_server import UIServer, graphql

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def ui(make_project):
    server = UIServer(make_project("dna-platform"), materialize=True)
    try:
        server.wait_ready()
        graphql(server.port, "mutation { setNuxSeen }")  # no "join the community" dialog
        yield server
    finally:
        server.stop()


ASSETS_QUERY = """{ assetNodes {
  assetKey { path } groupName description kinds automationCondition { label }
  dependencyKeys { path }
  assetChecksOrError { ... on AssetChecks { checks { name
    executionForLatestMaterialization { status } } } }
  assetMaterializations(limit: 1) { metadataEntries { label __typename
    ... on IntMetadataEntry { intValue } ... on TextMetadataEntry { text }
    ... on MarkdownMetadataEntry { mdStr } ... on BoolMetadataEntry { boolValue }
    ... on TableSchemaMetadataEntry { schema { columns { name type } } } } }
} }"""

WORKSPACE_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries {
  locationOrLoadError { ... on RepositoryLocation { repositories {
    jobs { name }
    schedules { name cronSchedule scheduleState { status } }
    sensors { name sensorState { status } } } } } } } } }"""


def assets(port: int) -> dict:
    return {n["assetKey"]["path"][-1]: n for n in graphql(port, ASSETS_QUERY)["assetNodes"]}


def test_definitions_schedule_and_sensor_are_on(ui):
    data = graphql(ui.port, WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
    repo = data[0]["locationOrLoadError"]["repositories"][0]
    assert "polster_pipeline" in {job["name"] for job in repo["jobs"]}
    assert repo["schedules"] == [
        {
            "name": "polster_pipeline_daily",
            "cronSchedule": "0 6 * * *",
            "scheduleState": {"status": "RUNNING"},
        }
    ]
    assert repo["sensors"] == [{"name": "polster_automation", "sensorState": {"status": "RUNNING"}}]


def test_assets_have_descriptions_kinds_and_automation(ui):
    nodes = assets(ui.port)
    assert set(nodes) == {"run_bronze_example", "run_silver_example", "run_gold_example"}
    assert nodes["run_silver_example"]["description"].startswith("Clean and validate customer")
    for name, node in nodes.items():
        assert set(node["kinds"]) == {"polars", "parquet"}
        expected = None if name.startswith("run_bronze") else {"label": "eager"}
        assert node["automationCondition"] == expected


def test_silver_checks_run_with_each_materialisation(ui):
    nodes = assets(ui.port)
    checks = nodes["run_silver_example"]["assetChecksOrError"]["checks"]
    assert {c["name"]: c["executionForLatestMaterialization"]["status"] for c in checks} == {
        "required_columns_present": "SUCCEEDED",
        "key_columns_not_null": "SUCCEEDED",
        "row_count_above_zero": "SUCCEEDED",
    }
    assert nodes["run_gold_example"]["assetChecksOrError"]["checks"] == []


def test_materialisations_record_rows_schema_preview_and_uri(ui):
    node = assets(ui.port)["run_silver_example"]
    entries = {e["label"]: e for e in node["assetMaterializations"][0]["metadataEntries"]}
    assert entries["dagster/row_count"]["intValue"] == 980
    assert entries["columns"]["intValue"] == 7
    columns = entries["dagster/column_schema"]["schema"]["columns"]
    assert {"name": "email", "type": "String"} in columns
    preview = entries["preview"]["mdStr"].splitlines()
    assert preview[0].startswith("| event_id | user_id | email |") and len(preview) == 7
    assert entries["uri"]["text"].endswith("data/silver/example.parquet")
    assert entries["storage_backend"]["text"] == "local"
    assert entries["fell_back_to_local"]["boolValue"] is False


def test_lineage_and_asset_page_in_a_real_browser(ui, tmp_path):
    if not os.path.exists(CHROMIUM):
        raise ToolMissing(
            "Debian's chromium is not installed: run `bash scripts/dev-env.sh` as root "
            "(it runs apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("POLSTER_SCREENSHOT_DIR") or tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1800, "height": 800})
            page.goto(f"{ui.url}/asset-groups")
            page.get_by_text("silver").first.wait_for(timeout=60_000)
            page.get_by_text("Hide navigation").click()  # room for the whole graph
            # Groups start collapsed: unfold each one.
            folded = page.locator('foreignObject.group [aria-label="unfold_more"]')
            while folded.count():
                folded.first.click()
                page.wait_for_timeout(300)
            for name in ("run_bronze_example", "run_silver_example", "run_gold_example"):
                page.get_by_text(name, exact=True).first.wait_for(timeout=30_000)
            edges = 'svg path[stroke="var(--color-lineage-edge)"]'
            # bronze -> silver -> gold: two edges drawn between the asset nodes.
            page.wait_for_function(
                f"document.querySelectorAll('{edges}').length == 2", timeout=30_000
            )
            page.wait_for_timeout(500)
            page.screenshot(path=str(shots / "ui-lineage.png"))

            page.goto(f"{ui.url}/assets/run_silver_example")
            page.get_by_text("Row count").first.wait_for(timeout=60_000)
            page.get_by_text("preview", exact=True).first.wait_for(timeout=30_000)
            page.get_by_text("user38@example.com").first.wait_for(timeout=30_000)  # preview
            body = page.inner_text("body")
            assert "980" in body.split("Row count", 1)[1][:40]
            page.screenshot(path=str(shots / "ui-asset.png"), full_page=True)
        finally:
            browser.close()
    assert (shots / "ui-lineage.png").stat().st_size > 10_000
