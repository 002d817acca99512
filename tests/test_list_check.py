"""`polster list` and `polster check`: the project as its files say, hand edits included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from polster_core.testing.projects import run_polster, tree_hash

from .assets_helpers import add, new_project, polster_ok, set_same_layer


@pytest.fixture(scope="module")
def lineage(tmp_path_factory) -> Path:
    """The seed's customer analytics example, chains inside silver included."""
    project = new_project(tmp_path_factory.mktemp("lineage"), allow_same_layer=True)
    add(project, "bronze", "customer_events", "--template", "csv")
    add(project, "silver", "deduplicated_events", "--deps", "customer_events")
    add(project, "silver", "validated_emails", "--deps", "deduplicated_events")
    add(project, "gold", "daily_active_users", "--deps", "deduplicated_events")
    add(project, "gold", "user_cohorts", "--deps", "validated_emails,deduplicated_events")
    return project


def test_list_shows_layer_files_upstream_and_downstream(lineage):
    out = polster_ok(lineage, "list")
    lines = out.splitlines()
    assert lines[0].split() == ["LAYER", "ASSET", "UPSTREAM", "DOWNSTREAM", "PARTITIONS", "FILES"]
    row = next(line for line in lines[1:] if line.split()[1] == "run_silver_deduplicated_events")
    assert row.split()[0] == "silver"
    assert "run_bronze_customer_events" in row
    assert "run_gold_daily_active_users, run_gold_user_cohorts, run_silver_validated_emails" in row
    assert "src/core/silver_deduplicated_events.py" in row
    assert "src/orchestration/assets/silver/run_silver_deduplicated_events.py" in row
    assert lines[-1] == "8 assets (bronze 2, silver 3, gold 3)"


def test_list_json_is_complete(lineage):
    data = json.loads(polster_ok(lineage, "list", "--json"))
    assert data["project"] == "shop"
    by_key = {a["key"]: a for a in data["assets"]}
    cohorts = by_key["run_gold_user_cohorts"]
    assert cohorts == {
        "key": "run_gold_user_cohorts",
        "layer": "gold",
        "name": "user_cohorts",
        "core": "src/core/gold_user_cohorts.py",
        "wrapper": "src/orchestration/assets/gold/run_gold_user_cohorts.py",
        "registered": True,
        "upstream": ["run_silver_validated_emails", "run_silver_deduplicated_events"],
        "downstream": [],
        "partitions": "none",
        "partitions_start": "",
    }
    assert [a["layer"] for a in data["assets"]][:2] == ["bronze", "bronze"]


def test_graph_prints_the_lineage_as_a_tree(lineage):
    out = polster_ok(lineage, "list", "--graph")
    assert out.splitlines()[:6] == [
        "run_bronze_customer_events",
        "└── run_silver_deduplicated_events",
        "    ├── run_gold_daily_active_users",
        "    ├── run_gold_user_cohorts",
        "    └── run_silver_validated_emails",
        "        └── run_gold_user_cohorts",
    ]
    assert "run_bronze_example\n└── run_silver_example\n    └── run_gold_example" in out


def test_hand_edits_count(tmp_path):
    project = new_project(tmp_path)
    add(project, "bronze", "orders")
    add(project, "bronze", "refunds")
    wrapper = project / "src/orchestration/assets/silver/run_silver_example.py"
    # A user adds an input by hand, mapped through `ins`, plus a non-data dependency.
    text = wrapper.read_text()
    text = text.replace(
        "    description=transform.__doc__,\n",
        "    description=transform.__doc__,\n"
        '    ins={"orders": dg.AssetIn(key="run_bronze_orders")},\n'
        '    deps=[dg.AssetKey("run_bronze_refunds")],\n',
    )
    assert "run_bronze_refunds" in text
    text = text.replace(
        "    run_bronze_example: pl.DataFrame,\n",
        "    context: dg.AssetExecutionContext,\n    run_bronze_example: pl.DataFrame,\n"
        "    orders: pl.DataFrame,\n",
    )
    wrapper.write_text(text)
    data = json.loads(polster_ok(project, "list", "--json"))
    by_key = {a["key"]: a for a in data["assets"]}
    assert by_key["run_silver_example"]["upstream"] == [
        "run_bronze_example",
        "run_bronze_orders",
        "run_bronze_refunds",
    ]
    assert by_key["run_bronze_refunds"]["downstream"] == ["run_silver_example"]
    assert polster_ok(project, "check").startswith("OK:")


def test_check_passes_on_a_new_project_and_changes_nothing(example_project):
    before = tree_hash(example_project)
    assert polster_ok(example_project, "check") == "OK: 3 assets, no problems\n"
    assert tree_hash(example_project) == before


def break_everything(project: Path) -> None:
    """Every kind of problem check reports, made by hand as a user might."""
    assets = project / "src/orchestration/assets"
    core = project / "src/core"
    add(project, "bronze", "raw")
    add(project, "silver", "a", "--deps", "raw")
    add(project, "silver", "b", "--deps", "raw")
    add(project, "gold", "kpis", "--deps", "a")
    # 1. an unregistered wrapper
    init = assets / "bronze/__init__.py"
    init.write_text(
        init.read_text()
        .replace("from .run_bronze_raw import run_bronze_raw\n", "")
        .replace('"run_bronze_raw",', "")
    )
    # 2. a registration without its file
    (assets / "gold/run_gold_kpis.py").unlink()
    # 3. a wrapper without its core file
    (core / "silver_b.py").unlink()
    # 4. a core file without a wrapper
    (core / "gold_orphan.py").write_text("")
    # 5. a cycle inside silver, and 6. a dependency on an asset that does not exist
    wrapper_a = assets / "silver/run_silver_a.py"
    wrapper_a.write_text(
        wrapper_a.read_text().replace(
            "    run_bronze_raw: pl.DataFrame,\n",
            "    run_bronze_raw: pl.DataFrame,\n    run_silver_b: pl.DataFrame,\n"
            "    run_bronze_ghost: pl.DataFrame,\n",
        )
    )
    wrapper_b = assets / "silver/run_silver_b.py"
    wrapper_b.write_text(
        wrapper_b.read_text().replace("run_bronze_raw: pl.DataFrame", "run_silver_a: pl.DataFrame")
    )
    # 7. a layer-rule break: gold depends on bronze
    gold = assets / "gold/run_gold_example.py"
    gold.write_text(gold.read_text().replace("run_silver_example", "run_bronze_example"))
    # 8. names that break the conventions
    (assets / "silver/run_silver_Bad-Name.py").write_text("")
    (assets / "bronze/run_gold_misplaced.py").write_text("")
    # 9. `__all__` out of step with the imports
    silver = assets / "silver/__init__.py"
    silver.write_text(
        silver.read_text().replace('"run_silver_a",', '"run_silver_a", "run_silver_z",')
    )


def test_check_lists_every_problem(tmp_path):
    project = new_project(tmp_path)
    break_everything(project)
    before = tree_hash(project)
    result = run_polster("check", cwd=project)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    out = result.stdout
    expected = [
        "src/orchestration/assets/bronze/run_bronze_raw.py: not registered in "
        "src/orchestration/assets/bronze/__init__.py",
        "src/orchestration/assets/gold/__init__.py: registers run_gold_kpis, but "
        "src/orchestration/assets/gold/run_gold_kpis.py does not exist",
        "src/orchestration/assets/silver/run_silver_b.py: its core file src/core/silver_b.py is "
        "missing",
        "src/core/gold_orphan.py: core file without an asset wrapper",
        "dependency cycle: run_silver_a -> run_silver_b -> run_silver_a",
        "src/orchestration/assets/silver/run_silver_a.py: depends on run_bronze_ghost, which does "
        "not exist",
        "src/orchestration/assets/silver/run_silver_a.py: depends on run_silver_b: silver assets "
        "depend on bronze assets only",
        "src/orchestration/assets/gold/run_gold_example.py: depends on run_bronze_example: gold "
        "assets depend on silver assets only",
        "src/orchestration/assets/silver/run_silver_Bad-Name.py: not a valid asset file name",
        "src/orchestration/assets/bronze/run_gold_misplaced.py: a gold asset in the bronze layer",
        "src/orchestration/assets/silver/__init__.py: `__all__` lists run_silver_z, which is not "
        "imported",
    ]
    for fragment in expected:
        assert fragment in out, f"{fragment!r} missing from:\n{out}"
    problems = out.strip().splitlines()
    assert f"{len(problems)} problems in shop" in result.stderr
    assert tree_hash(project) == before
    # With same-layer chains allowed the rule break goes, the cycle stays.
    set_same_layer(project, True)
    out = run_polster("check", cwd=project).stdout
    assert "depends on run_silver_b: silver assets" not in out
    assert "dependency cycle: run_silver_a -> run_silver_b -> run_silver_a" in out
    # list still works on a broken project, and marks what is missing
    listed = polster_ok(project, "list")
    assert "MISSING src/core/silver_b.py" in listed
    assert "(not registered)" in listed
    graph = polster_ok(project, "list", "--graph")
    assert "(cycle)" in graph


def test_check_reports_unparseable_files_instead_of_crashing(tmp_path):
    project = new_project(tmp_path)
    wrapper = project / "src/orchestration/assets/bronze/run_bronze_example.py"
    wrapper.write_text("def run_bronze_example(:\n")
    init = project / "src/orchestration/assets/gold/__init__.py"
    init.write_text("from . import (\n")
    result = run_polster("check", cwd=project)
    assert result.returncode == 1
    assert "run_bronze_example.py: syntax error on line 1" in result.stdout
    assert "gold/__init__.py: syntax error on line 1" in result.stdout
    assert "Traceback" not in result.stderr


def test_check_reports_a_missing_layer_package(tmp_path):
    project = new_project(tmp_path)
    shutil.rmtree(project / "src/orchestration/assets/gold")
    result = run_polster("check", cwd=project)
    assert result.returncode == 1
    assert "src/orchestration/assets/gold: missing layer package" in result.stdout
