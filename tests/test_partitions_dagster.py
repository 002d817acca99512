"""Partitioned assets in Dagster's own terms: one materialisation event per partition written
(with that partition's rows, schema and preview, also in a one-run backfill), and automation
conditions that keep downstream partitions in step (evaluated by Dagster, as its sensor does)."""

from __future__ import annotations

import json

import pytest

from polster_core.testing.projects import clean_env, run_python

from .assets_helpers import add, new_project
from .test_ui_partitions import rows_by_day


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    """bronze events (daily, day N has N rows) -> silver clean_events -> gold event_kpis."""
    project = new_project(tmp_path_factory.mktemp("parts-dagster"))
    add(project, "bronze", "events", "--partitions", "daily", "--start", "2026-11-01")
    add(project, "silver", "clean_events", "--deps", "events")
    add(project, "gold", "event_kpis", "--deps", "clean_events", "--partitions", "none")
    rows_by_day(project)
    return project


EVENT_LOG = """
import json
import dagster as dg
instance = dg.DagsterInstance.get()
out = {}
for key in ("run_bronze_events", "run_silver_clean_events"):
    records = instance.fetch_materializations(dg.AssetKey(key), limit=100).records
    out[key] = [
        {
            "run": r.run_id,
            "partition": r.asset_materialization.partition,
            "rows": r.asset_materialization.metadata["dagster/row_count"].value,
            "uri": r.asset_materialization.metadata["uri"].value,
            "columns": [
                c.name
                for c in r.asset_materialization.metadata["dagster/column_schema"].value.columns
            ],
            "preview": r.asset_materialization.metadata["preview"].value,
        }
        for r in records
    ]
print(json.dumps(out))
"""


def test_a_one_run_backfill_records_each_partition_with_its_own_rows(events):
    result = run_python(events, "run_polster.py", "--from", "2026-11-01", "--to", "2026-11-04")
    assert result.returncode == 0, result.stdout + result.stderr
    # The summary adds up the partitions' rows: 1 + 2 + 3 + 4.
    line = next(x for x in result.stdout.splitlines() if x.startswith("  ok    run_bronze_events"))
    assert "10 rows" in line and "(4 partition(s))" in line, line

    env = clean_env(PYTHONPATH=str(events / "src"), DAGSTER_HOME=str(events / ".dagster"))
    log = run_python(events, "-c", EVENT_LOG, env=env)
    assert log.returncode == 0, log.stderr
    seen = json.loads(log.stdout)
    days = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"]
    for key in ("run_bronze_events", "run_silver_clean_events"):
        records = sorted(seen[key], key=lambda r: r["partition"])
        assert [r["partition"] for r in records] == days
        assert len({r["run"] for r in records}) == 1  # one run wrote them all
        for record, day in zip(records, days, strict=True):
            assert record["rows"] == int(day[-2:])
            assert record["uri"].endswith(f"date={day}/data.parquet")
            assert record["columns"] == ["id", "name", "day"]
            preview = record["preview"].splitlines()
            assert len(preview) == 2 + int(day[-2:]) and preview[2].endswith(f"| {day} |")


AUTOMATION = """
import datetime as dt, json
import dagster as dg
from orchestration.definitions import defs

B, S, G = (dg.AssetKey(k) for k in ("run_bronze_events", "run_silver_clean_events",
                                    "run_gold_event_kpis"))
job = defs.resolve_job_def("polster_pipeline")
when = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.timezone.utc)
ticks, labels = [], {}
for key in (S, G):
    labels[key.to_user_string()] = defs.resolve_assets_def(key).automation_conditions_by_key[
        key].get_label()

def tick(instance, cursor):
    result = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=dg.AssetSelection.assets(B, S, G),
        cursor=cursor, evaluation_time=when)
    asked = {}
    for r in result.results:
        if r.true_subset.size:
            subset = r.true_subset
            asked[r.key.to_user_string()] = (
                sorted(subset.expensively_compute_partition_keys())
                if subset.is_partitioned else "requested")
    ticks.append(asked)
    return result.cursor

with dg.instance_for_test() as instance:
    cursor = tick(instance, None)  # nothing stored: nothing to do
    job.execute_in_process(instance=instance, partition_key="2026-11-02", asset_selection=[B])
    cursor = tick(instance, cursor)  # an old day of bronze: its silver day follows
    job.execute_in_process(instance=instance, partition_key="2026-11-02", asset_selection=[S])
    cursor = tick(instance, cursor)  # a silver day: the unpartitioned gold follows
    cursor = tick(instance, cursor)  # handled: nothing more
    job.execute_in_process(instance=instance, partition_key="2026-12-02", asset_selection=[B])
    cursor = tick(instance, cursor)
print(json.dumps({"ticks": ticks, "labels": labels}))
"""


def test_automation_keeps_downstream_partitions_in_step(events):
    """Dagster's eager() alone follows only the latest day and never runs a gold over a
    partially stored history; Polster's conditions follow every day, and gold over what is
    stored (evaluated as the automation sensor evaluates them, at 2026-12-03 10:00 UTC)."""
    result = run_python(events, "-c", AUTOMATION)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["labels"] == {
        "run_silver_clean_events": "eager (every partition)",
        "run_gold_event_kpis": "eager (stored partitions)",
    }
    assert out["ticks"] == [
        {},
        {"run_silver_clean_events": ["2026-11-02"]},
        {"run_gold_event_kpis": "requested"},
        {},
        {"run_silver_clean_events": ["2026-12-02"]},
    ]
