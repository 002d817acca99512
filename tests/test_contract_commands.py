"""`polster add-asset --contract` and `polster contract infer` (issue 30): the contract they
write passes ruff and the project's own tests, is enforced on the next run, and a refused
command changes nothing."""

from __future__ import annotations

import json

from .assets_helpers import add, assert_ruff_clean, new_project, run_python
from .conftest import assert_one_line_error, run_polster, tree_hash


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
