"""A contract broken under ``fail`` (issue 30): the run fails at the write with one line, and
Dagster's instance still holds each rule's asset check evaluation (the broken rule failed with
its failing rows, the others passed), tied to the run that failed: what the UI shows."""

from __future__ import annotations

import json

import pytest

from polster_core.testing.projects import clean_env, run_python

from .assets_helpers import new_project
from .test_contracts import BROKEN, set_contract

CHECKS = """
import json
import dagster as dg
instance = dg.DagsterInstance.get()
key = dg.AssetKey("run_silver_example")
run = instance.get_runs(limit=1)[0]
found = {}
for name in ("contract_amount_max", "contract_primary_key", "contract_email_regex"):
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(key, name), limit=1
    )
    if not history or history[0].event is None:
        found[name] = None
        continue
    evaluation = history[0].event.dagster_event.event_specific_data
    found[name] = [evaluation.passed, evaluation.metadata["failing_rows"].value,
                   evaluation.metadata["run_id"].value, str(evaluation.severity)]
materialised = instance.fetch_materializations(key, limit=1).records
print(json.dumps({"run": run.run_id, "status": str(run.status), "checks": found,
                  "materialised": len(materialised)}))
"""


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["in-process", "workers"])
def test_a_failed_write_still_shows_each_rule_as_an_asset_check(tmp_path, workers):
    project = new_project(tmp_path)
    set_contract(project, "fail")
    result = run_python(project, "run_polster.py", *workers)
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if "FAIL  run_silver_example" in line]
    assert len(failed) == 1 and f"amount|max: {BROKEN} rows; nothing was written" in failed[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (project / "data" / "silver").exists()

    env = clean_env(PYTHONPATH=str(project / "src"), DAGSTER_HOME=str(project / ".dagster"))
    shown = run_python(project, "-c", CHECKS, env=env)
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    assert found["status"].endswith("FAILURE") and found["materialised"] == 0
    run, error = found["run"], "AssetCheckSeverity.ERROR"
    assert found["checks"] == {
        "contract_amount_max": [False, BROKEN, run, error],
        "contract_primary_key": [True, 0, run, error],
        "contract_email_regex": [True, 0, run, error],
    }


def test_a_quarantine_table_linked_out_of_the_project_is_refused(tmp_path):
    """`{name}__rejected` a link to a user's file outside the project: the write stops in one
    line before anything is written, and the user's file is as it was."""
    from polster_core.testing.projects import assert_one_line_error

    project = new_project(tmp_path)
    assert run_python(project, "src/core/bronze_example.py").returncode == 0
    set_contract(project, "quarantine")
    victim = tmp_path / "victim.parquet"
    victim.write_bytes(b"my notes")
    silver = project / "data" / "silver"
    silver.mkdir(parents=True)
    (silver / "example__rejected.parquet").symlink_to(victim)
    refused = run_python(project, "src/core/silver_example.py")
    assert_one_line_error(refused, "example__rejected.parquet leads out of the data folder")
    assert victim.read_bytes() == b"my notes"
    assert sorted(p.name for p in silver.iterdir()) == ["example__rejected.parquet"]
    assert (silver / "example__rejected.parquet").is_symlink()
