"""Data contracts on partitioned assets (issue 30): each partition is validated on its own,
so the key is unique within the partition written (not across the table), and its failing
rows are quarantined beside it; with --workers, the rule checks run in other processes."""

from __future__ import annotations

import json

import pytest

from polster_core.testing.projects import clean_env, run_python

from .assets_helpers import add, new_project
from .test_ui_partitions import rows_by_day

# Day N has ids 0..N-1: the key repeats across partitions, never within one. `id < 3` breaks
# one row on day 4 and two on day 5.
CONTRACT = """

import dataframely as dy  # noqa: E402

CONTRACT_POLICY = "{policy}"


class Contract(dy.Schema):
    id = dy.Int64(primary_key=True, max=2)
    name = dy.String()
    day = dy.String()
"""

READ = """
import json, sys
from core.storage import read
out = {}
for day in sys.argv[1:]:
    valid = read("silver", "clean_events", partition=day)
    rejected = read("silver", "clean_events__rejected", partition=day)
    out[day] = [valid.height, rejected.height, sorted(set(rejected["failed_rules"]))]
print(json.dumps(out))
"""

CHECK = """
import json
import dagster as dg
instance = dg.DagsterInstance.get()
key = dg.AssetKey("run_silver_clean_events")
out = {}
for name in ("contract_id_max", "contract_primary_key"):
    record = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(key, name), limit=1
    )[0]
    data = record.event.dagster_event.event_specific_data
    out[name] = [data.passed, data.metadata["failing_rows"].value]
print(json.dumps(out))
"""

DAYS = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]


@pytest.fixture
def events(tmp_path):
    project = new_project(tmp_path)
    add(project, "bronze", "events", "--partitions", "daily", "--start", "2026-11-01")
    add(project, "silver", "clean_events", "--deps", "events")
    rows_by_day(project)
    return project


def set_policy(project, policy: str) -> None:
    core = project / "src" / "core" / "silver_clean_events.py"
    text = core.read_text().split("\n\nimport dataframely")[0]
    core.write_text(text + CONTRACT.format(policy=policy))


def test_each_partition_is_validated_and_quarantined_on_its_own_with_workers(events):
    set_policy(events, "quarantine")
    run = run_python(
        events, "run_polster.py", "--from", DAYS[0], "--to", DAYS[-1], "--workers", "2"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    read = run_python(events, "-c", READ, *DAYS)
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == {
        "2026-11-01": [1, 0, []],
        "2026-11-02": [2, 0, []],
        "2026-11-03": [3, 0, []],
        "2026-11-04": [3, 1, ["id|max"]],
        "2026-11-05": [3, 2, ["id|max"]],
    }
    env = clean_env(PYTHONPATH=str(events / "src"), DAGSTER_HOME=str(events / ".dagster"))
    checks = run_python(events, "-c", CHECK, env=env)
    assert checks.returncode == 0, checks.stderr
    # Summed over the run's five partitions; the key holds within each partition.
    assert json.loads(checks.stdout) == {
        "contract_id_max": [False, 3],
        "contract_primary_key": [True, 0],
    }


def test_fail_names_the_partition_and_writes_nothing(events):
    set_policy(events, "fail")
    run = run_python(events, "run_polster.py", "--partition", DAYS[-1])
    assert run.returncode == 1, run.stdout + run.stderr
    assert (
        "silver/clean_events (partition 2026-11-05) breaks its contract "
        "(core.silver_clean_events.Contract, policy fail): id|max: 2 rows; nothing was written"
    ) in run.stdout
    assert not (events / "data" / "silver" / "clean_events").exists()
    assert not (events / "data" / "silver" / "clean_events__rejected").exists()


def test_infer_reads_every_partition_and_keeps_the_asset_s_own_columns(events):
    """`polster contract infer` on a partitioned table: every stored partition is read (and
    named), the key is unique within each partition (day N holds ids 0..N-1, repeated across
    days), and the hive column `date` of the folders is no contract column (the asset's
    frames do not have it): the inferred contract holds on the next run of every day."""
    from polster_core.testing.projects import run_polster

    from .assets_helpers import assert_ruff_clean

    core = events / "src" / "core" / "silver_clean_events.py"
    first = run_python(events, "run_polster.py", "--from", DAYS[0], "--to", DAYS[-1])
    assert first.returncode == 0, first.stdout + first.stderr
    inferred = run_polster("contract", "infer", "silver", "clean_events", cwd=events)
    assert inferred.returncode == 0, inferred.stdout + inferred.stderr
    assert f"Read silver/clean_events: 5 partitions, {DAYS[0]} to {DAYS[-1]}." in inferred.stdout
    assert "key candidate: id (unique within each partition)" in inferred.stdout
    text = core.read_text()
    contract = text[text.index("class Contract(dy.Schema):") :]
    declared = [line.split("=")[0].strip() for line in contract.splitlines() if " = dy." in line]
    assert declared == ["id", "name", "day"]
    assert "    id = dy.Int64(primary_key=True)\n" in contract
    assert_ruff_clean(events)

    again = run_python(events, "run_polster.py", "--from", DAYS[0], "--to", DAYS[-1])
    assert again.returncode == 0, again.stdout + again.stderr
    assert "breaks its contract" not in again.stdout + again.stderr
