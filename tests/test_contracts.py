"""Data contracts (issue 30): a dataframely schema in an asset's core file, enforced when the
IO manager writes the asset, under the policy fail, quarantine or warn, and shown in Dagster
(one asset check per rule, the contract's columns, the quarantined rows)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polster_core.testing.projects import clean_env, run_python

from .assets_helpers import new_project

# The silver example's amounts run up to 72 (bronze_example.py): `max=40` breaks 118 rows.
CONTRACT = """

import dataframely as dy  # noqa: E402

CONTRACT_POLICY = "{policy}"


class Contract(dy.Schema):
    event_id = dy.Int64(primary_key=True, description="One event, never twice")
    user_id = dy.Int64()
    email = dy.String(regex=r"^[a-z0-9]+@example\\.com$", description="Lower case")
    event_type = dy.String()
    amount = dy.Float64(nullable=True, min=0, max={most})
    timestamp = dy.Datetime()
    date = dy.Date()
"""
BROKEN = 118  # rows of the silver example with an amount above 40
SILVER_ROWS = 980

READ = """
import json, sys
from core.storage import read
table = read(sys.argv[1], sys.argv[2])
has = set(table.columns)
print(json.dumps({"rows": table.height, "columns": table.columns,
                  "max_amount": table["amount"].max() if "amount" in has else None,
                  "rules": sorted(set(table["failed_rules"])) if "failed_rules" in has else None,
                  "runs": sorted(set(table["run_id"])) if "run_id" in has else None}))
"""

EVENT_LOG = """
import json
import dagster as dg
instance = dg.DagsterInstance.get()
key = dg.AssetKey("run_silver_example")
record = instance.fetch_materializations(key, limit=1).records[0]
metadata = record.asset_materialization.metadata
checks = {}
for name in ("contract_amount_max", "contract_primary_key", "contract_email_regex"):
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(key, name), limit=1
    )
    evaluation = history[0].event.dagster_event.event_specific_data
    checks[name] = [evaluation.passed, evaluation.metadata["failing_rows"].value]
from orchestration.definitions import defs
spec = next(iter(defs.resolve_assets_def("run_silver_example").specs))
declared = spec.metadata["dagster/column_schema"].columns
rules = sorted(
    k.name for k in defs.resolve_asset_graph().asset_check_keys
    if k.asset_key == key and k.name.startswith("contract_")
)
print(json.dumps({
    "declared": {c.name: c.description for c in declared},
    "rules": rules,
    "run": record.run_id,
    "contract": {k: v.value for k, v in metadata.items() if k.startswith("contract/")},
    "columns": [[c.name, c.type, c.description, c.constraints.nullable]
                for c in metadata["dagster/column_schema"].value.columns],
    "checks": checks,
}))
"""


def set_contract(project: Path, policy: str, most: float = 40) -> None:
    core = project / "src" / "core" / "silver_example.py"
    text = core.read_text(encoding="utf-8").split("\n\nimport dataframely")[0]
    core.write_text(text + CONTRACT.format(policy=policy, most=most), encoding="utf-8")


def read_table(project: Path, layer: str, name: str) -> dict:
    result = run_python(project, "-c", READ, layer, name)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def event_log(project: Path) -> dict:
    env = clean_env(PYTHONPATH=str(project / "src"), DAGSTER_HOME=str(project / ".dagster"))
    result = run_python(project, "-c", EVENT_LOG, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def project(tmp_path) -> Path:
    return new_project(tmp_path)


def test_fail_writes_nothing_and_names_the_broken_rule_in_one_line(project):
    set_contract(project, "fail")
    result = run_python(project, "run_polster.py")
    assert result.returncode == 1, result.stdout + result.stderr
    failed = [line for line in result.stdout.splitlines() if "FAIL  run_silver_example" in line]
    assert len(failed) == 1, result.stdout
    assert (
        f"silver/example breaks its contract (core.silver_example.Contract, policy fail): "
        f"amount|max: {BROKEN} rows; nothing was written"
    ) in failed[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (project / "data" / "silver").exists()
    assert "skip  run_gold_example" in result.stdout


def test_quarantine_writes_the_valid_rows_and_the_failing_ones_with_rule_and_run(project):
    set_contract(project, "quarantine")
    result = run_python(project, "run_polster.py")
    assert result.returncode == 0, result.stdout + result.stderr
    # The old REQUIRED_COLUMNS / KEY_COLUMNS checks of the wrapper still run, and pass.
    assert "required_columns_present failed" not in result.stdout
    assert "key_columns_not_null failed" not in result.stdout
    assert "contract_amount_max failed" in result.stdout
    # The contract's checks run as a step of their own: counted as checked, not materialised.
    assert "  check run_silver_example_contract" in result.stdout
    assert "Succeeded: 3 materialised, 1 checked, 0 failed" in result.stdout

    table = read_table(project, "silver", "example")
    assert table["rows"] == SILVER_ROWS - BROKEN and table["max_amount"] <= 40
    rejected = read_table(project, "silver", "example__rejected")
    assert rejected["rows"] == BROKEN
    assert rejected["rules"] == ["amount|max"]
    assert rejected["columns"][-2:] == ["failed_rules", "run_id"]

    seen = event_log(project)
    assert rejected["runs"] == [seen["run"]]
    assert seen["contract"]["contract/policy"] == "quarantine"
    assert seen["contract"]["contract/quarantined_rows"] == BROKEN
    assert seen["contract"]["contract/failures"]["amount|max"] == BROKEN
    assert seen["checks"] == {
        "contract_amount_max": [False, BROKEN],
        "contract_primary_key": [True, 0],
        "contract_email_regex": [True, 0],
    }
    # Before any run too: the asset's definition has the contract's columns, one check a rule.
    assert seen["declared"]["event_id"] == "One event, never twice"
    assert list(seen["declared"]) == list(columns := {c[0]: c for c in seen["columns"]})
    assert "contract_amount_max" in seen["rules"] and "contract_primary_key" in seen["rules"]
    assert len(seen["rules"]) == 12  # dataframely's rules of this contract
    assert columns["event_id"] == ["event_id", "Int64", "One event, never twice", False]
    assert columns["amount"][3] is True

    # Fixed: the next run quarantines nothing, and the checks pass again.
    set_contract(project, "quarantine", most=100)
    assert run_python(project, "run_polster.py").returncode == 0
    assert read_table(project, "silver", "example__rejected")["rows"] == 0
    assert read_table(project, "silver", "example")["rows"] == SILVER_ROWS
    assert event_log(project)["checks"]["contract_amount_max"] == [True, 0]


def test_warn_writes_the_table_as_returned_and_the_check_fails(project):
    set_contract(project, "warn")
    result = run_python(project, "run_polster.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert read_table(project, "silver", "example")["rows"] == SILVER_ROWS
    assert not (project / "data" / "silver" / "example__rejected.parquet").exists()
    assert event_log(project)["checks"]["contract_amount_max"] == [False, BROKEN]


def test_an_unknown_policy_is_one_line_and_nothing_is_written(project):
    set_contract(project, "drop")
    result = run_python(project, "run_polster.py")
    assert result.returncode == 1
    assert (
        "core.silver_example: CONTRACT_POLICY is 'drop': set it to one of fail, quarantine, warn"
        in result.stdout
    )
    assert not (project / "data" / "silver").exists()


def test_a_missing_column_fails_the_write(project):
    set_contract(project, "quarantine")
    core = project / "src" / "core" / "silver_example.py"
    core.write_text(core.read_text().replace("    date = dy.Date()", "    day = dy.Date()"))
    result = run_python(project, "run_polster.py")
    assert result.returncode == 1
    assert "1 missing columns for schema 'Contract': 'day'; nothing was written" in result.stdout
    assert not (project / "data" / "silver").exists()


def test_the_fast_path_finds_what_dataframely_filter_finds():
    """contracts.validate_eagerly (one pass of aggregates, then only the broken rules) keeps,
    counts and quarantines exactly the rows dataframely's own filter does."""
    import dataframely as dy
    import polars as pl

    from polster_core.run.contracts import validate_eagerly

    class Contract(dy.Schema):
        id = dy.Int64(primary_key=True)
        name = dy.String(nullable=True, regex=r"^[a-z]+$")
        amount = dy.Float64(min=0, max=100)

        @dy.rule()
        def name_set_when_big(cls) -> pl.Expr:
            return pl.col("amount").lt(50) | pl.col("name").is_not_null()

    class Pair(dy.Schema):
        a = dy.Int64(primary_key=True)
        b = dy.String(primary_key=True)

    frames = [
        (Contract, pl.DataFrame({"id": [1, 2, 2, 3, 4], "name": ["a", "B", None, "c", "d"],
                                 "amount": [1.0, 2.0, 70.0, -1.0, 3.0], "extra": [1] * 5})),
        (Contract, pl.DataFrame({"id": [3, 1, 2], "name": ["a", None, "b"],
                                 "amount": [1.0, 2.0, 3.0]})),
        (Pair, pl.DataFrame({"a": [1, 1, 2, 1], "b": ["x", "y", "x", "x"]})),
    ]  # fmt: skip
    for schema, frame in frames:
        assert_same_as_dataframely_filter(schema, frame)
    missing = validate_eagerly(Contract, frames[0][1].drop("name"), "fail", "")
    assert missing.schema_error == "1 missing columns for schema 'Contract': 'name'"


def test_a_core_file_run_on_its_own_enforces_its_contract_too(project):
    """`python src/core/silver_example.py` writes through core.storage.write: the same
    contract, the same policy, without Dagster."""
    assert run_python(project, "src/core/bronze_example.py").returncode == 0
    set_contract(project, "fail")
    failed = run_python(project, "src/core/silver_example.py")
    assert failed.returncode == 1
    lines = [line for line in failed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in failed.stderr, failed.stderr
    assert f"amount|max: {BROKEN} rows; nothing was written" in lines[0]
    assert not (project / "data" / "silver").exists()

    set_contract(project, "quarantine")
    done = run_python(project, "src/core/silver_example.py")
    assert done.returncode == 0, done.stderr
    assert read_table(project, "silver", "example")["rows"] == SILVER_ROWS - BROKEN
    rejected = read_table(project, "silver", "example__rejected")
    assert rejected["rows"] == BROKEN and rejected["rules"] == ["amount|max"]


def assert_same_as_dataframely_filter(schema, frame) -> None:
    """Polster's validation of ``frame`` finds, under each policy, the rows, counts, kept and
    rejected frames that dataframely's own ``filter`` finds."""
    from polster_core.run.contracts import validate_eagerly, validate_with_filter

    for policy in ("fail", "quarantine", "warn"):
        fast = validate_eagerly(schema, frame, policy, "run")
        slow = validate_with_filter(schema, frame, policy, "run")
        assert fast is not None
        assert (fast.rows, fast.failing_rows, fast.counts) == (
            slow.rows,
            slow.failing_rows,
            slow.counts,
        )
        assert fast.frame.equals(slow.frame)
        if policy == "quarantine":
            key = schema.column_names()
            assert fast.rejected.sort(key, nulls_last=True).equals(
                slow.rejected.sort(key, nulls_last=True)
            )
