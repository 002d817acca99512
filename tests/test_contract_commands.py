"""`polster add-asset --contract` and `polster contract infer` (issue 30): the contract they
write passes ruff and the project's own tests, is enforced on the next run, and a refused
command changes nothing."""

from __future__ import annotations

import json

from polster_core.testing.projects import assert_one_line_error, run_polster, run_python, tree_hash

from .assets_helpers import add, assert_ruff_clean, new_project


def test_add_asset_contract_then_infer_fills_it_from_the_stored_table(tmp_path):
    project = new_project(tmp_path)
    add(project, "silver", "orders", "--deps", "example", "--contract")
    core = project / "src" / "core" / "silver_orders.py"
    text = core.read_text()
    assert "import dataframely as dy\nimport polars as pl\n" in text
    assert 'CONTRACT_POLICY = "fail"' in text and "class Contract(dy.Schema):" in text
    assert_ruff_clean(project)
    # The record keeps the core file as the template wrote it: the contract is the user's,
    # so `polster upgrade` keeps it as it keeps any edit.
    record = json.loads((project / ".polster" / "generated.json").read_text())
    assert "Contract" not in json.dumps(record["files"]["src/core/silver_orders.py"])

    # No stored table yet: one line, nothing changed.
    before = tree_hash(project)
    refused = run_polster("contract", "infer", "silver", "orders", cwd=project)
    assert_one_line_error(refused, "silver/orders has no stored table yet", "nothing was changed")
    assert tree_hash(project) == before

    # An empty contract checks nothing: the pipeline runs.
    first = run_python(project, "run_polster.py")
    assert first.returncode == 0, first.stdout + first.stderr

    inferred = run_polster("contract", "infer", "silver", "orders", cwd=project)
    assert inferred.returncode == 0, inferred.stderr
    assert "key candidate: event_id" in inferred.stdout
    text = core.read_text()
    assert "    event_id = dy.Int64(primary_key=True)\n" in text
    assert "    email = dy.String(nullable=True)\n" in text
    assert "    timestamp = dy.String()\n" in text
    assert text.count("class Contract(dy.Schema):") == 1
    assert_ruff_clean(project)

    # Enforced on the next run, with one asset check per rule.
    again = run_python(project, "run_polster.py")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "run_silver_orders_contract" in again.stdout

    # A contract is there now: refused, nothing changed.
    before = tree_hash(project)
    refused = run_polster("contract", "infer", "silver", "orders", cwd=project)
    assert_one_line_error(refused, "src/core/silver_orders.py already declares a contract")
    assert tree_hash(project) == before

    # The project's own tests pass with the contract in place.
    tests = run_python(project, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests")
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]


def test_infer_refuses_an_asset_that_does_not_exist(tmp_path):
    project = new_project(tmp_path)
    before = tree_hash(project)
    refused = run_polster("contract", "infer", "gold", "nothing", cwd=project)
    assert_one_line_error(refused, "src/core/gold_nothing.py does not exist")
    assert tree_hash(project) == before


def test_check_reports_a_contract_column_the_transform_no_longer_produces(tmp_path):
    from .test_contracts import set_contract

    project = new_project(tmp_path)
    set_contract(project, "fail")
    core = project / "src" / "core" / "silver_example.py"
    assert run_polster("check", "--no-load", cwd=project).returncode == 0  # not knowable yet

    # The transform now ends in a select that names its columns: `user_id` and `amount`
    # (contract lines 27 and 30 of the file) are no longer produced.
    text = core.read_text()
    end = '        .with_columns(pl.col("timestamp").dt.date().alias("date"))\n    )'
    assert end in text
    core.write_text(
        text.replace(
            end,
            '        .with_columns(pl.col("timestamp").dt.date().alias("date"))\n'
            '        .select("event_id", pl.col("email"), "event_type", "timestamp", "date")\n'
            '        .filter(pl.col("event_id") > 0)\n    )',
        )
    )
    before = tree_hash(project)
    result = run_polster("check", "--no-load", cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "contract" in line]
    assert len(lines) == 2, result.stdout + result.stderr
    assert "src/core/silver_example.py:" in lines[0]
    assert "contract column 'user_id' is not produced by the transform" in lines[0]
    assert "contract column 'amount' is not produced by the transform" in lines[1]
    assert tree_hash(project) == before

    as_json = run_polster("check", "--no-load", "--json", cwd=project)
    rules = {p["rule"] for p in json.loads(as_json.stdout)["problems"]}
    assert rules == {"contract"}


def test_check_reports_a_contract_policy_polster_does_not_know(tmp_path):
    from .test_contracts import set_contract

    project = new_project(tmp_path)
    set_contract(project, "sometimes")
    before = tree_hash(project)
    result = run_polster("check", "--no-load", cwd=project)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if "CONTRACT_POLICY" in line]
    assert len(lines) == 1, result.stdout + result.stderr
    assert "src/core/silver_example.py:" in lines[0]
    assert "CONTRACT_POLICY is 'sometimes': set it to one of fail, quarantine, warn" in lines[0]
    assert tree_hash(project) == before
