"""`polster add-asset`: files, registration, dependencies, layer rules, templates, refusals."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from polster_core.testing.projects import assert_one_line_error, clean_env, run_polster, tree_hash

from .assets_helpers import (
    add,
    install_plugin,
    new_project,
    polster_ok,
    run_in_terminal,
    set_same_layer,
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    """One project grown by the README's "Building Your Pipeline" steps, plus a few more."""
    project = new_project(tmp_path_factory.mktemp("add"))
    add(project, "bronze", "api_users")
    add(project, "bronze", "orders", "--template", "csv")
    add(project, "bronze", "customers")
    add(project, "bronze", "cust")
    add(project, "silver", "clean_users", "--deps", "run_bronze_api_users")
    add(project, "gold", "user_metrics", "--deps", "run_silver_clean_users")
    add(project, "silver", "orders", "--deps", "orders,cust")
    return project


def wrapper_params(project: Path, layer: str, name: str) -> list[str]:
    path = project / f"src/orchestration/assets/{layer}/run_{layer}_{name}.py"
    tree = ast.parse(path.read_text())
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    assert function.name == f"run_{layer}_{name}"
    return [a.arg for a in function.args.args]


def registry(project: Path, layer: str) -> str:
    return (project / f"src/orchestration/assets/{layer}/__init__.py").read_text()


def test_the_readme_steps_create_files_and_registrations(shop):
    assert (shop / "src/core/bronze_api_users.py").is_file()
    assert (shop / "src/orchestration/assets/bronze/run_bronze_api_users.py").is_file()
    assert "from .run_bronze_api_users import run_bronze_api_users" in registry(shop, "bronze")
    assert wrapper_params(shop, "bronze", "api_users") == []
    assert wrapper_params(shop, "silver", "clean_users") == ["run_bronze_api_users"]
    assert wrapper_params(shop, "gold", "user_metrics") == ["run_silver_clean_users"]
    core = (shop / "src/core/gold_user_metrics.py").read_text()
    assert "def aggregate(df: pl.DataFrame) -> pl.DataFrame:" in core
    assert 'read("silver", "clean_users")' in core


def test_registries_stay_sorted_and_keep_their_docstring(shop):
    text = registry(shop, "bronze")
    tree = ast.parse(text)
    assert ast.get_docstring(tree).startswith("Bronze assets of shop.")
    imported = [n.module for n in tree.body if isinstance(n, ast.ImportFrom)]
    assert imported == [
        "run_bronze_api_users",
        "run_bronze_cust",
        "run_bronze_customers",
        "run_bronze_example",
        "run_bronze_orders",
    ]
    listed = next(n for n in tree.body if isinstance(n, ast.Assign)).value
    assert [e.value for e in listed.elts] == imported


def test_short_names_resolve_and_several_deps_each_reach_the_asset(shop):
    # `orders` is both a bronze and (now) a silver name; `cust` is a prefix of `customers`.
    assert wrapper_params(shop, "silver", "orders") == ["run_bronze_orders", "run_bronze_cust"]
    core = (shop / "src/core/silver_orders.py").read_text()
    assert "bronze_orders: pl.DataFrame," in core and "bronze_cust: pl.DataFrame," in core
    assert "customers" not in core


def test_the_new_assets_show_in_list_and_check_passes(shop):
    data = json.loads(polster_ok(shop, "list", "--json"))
    by_key = {a["key"]: a for a in data["assets"]}
    assert by_key["run_bronze_cust"]["downstream"] == ["run_silver_orders"]
    assert by_key["run_bronze_customers"]["downstream"] == []
    assert by_key["run_silver_clean_users"]["downstream"] == ["run_gold_user_metrics"]
    assert polster_ok(shop, "check").startswith("OK: 10 assets")


def test_dry_run_prints_the_plan_and_writes_nothing(shop):
    before = tree_hash(shop)
    out = polster_ok(
        shop,
        "add-asset",
        "--layer",
        "bronze",
        "--name",
        "orders2",
        "--template",
        "csv",
        "--dry-run",
    )
    assert "create src/core/bronze_orders2.py" in out
    assert "create src/orchestration/assets/bronze/run_bronze_orders2.py" in out
    assert "update src/orchestration/assets/bronze/__init__.py" in out
    assert "BRONZE_ORDERS2_CSV_PATH" in out
    assert "Nothing was written" in out
    assert tree_hash(shop) == before


def test_help_lists_every_installed_template(tmp_path):
    result = run_polster("add-asset", "--help", cwd=tmp_path)
    assert result.returncode == 0
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "api, csv, database, default, excel, parquet" in text
    for option in ("--layer", "--name", "--template", "--deps", "--dry-run"):
        assert option in text


@pytest.fixture(scope="module")
def hello_env(tmp_path_factory) -> dict:
    site = install_plugin(tmp_path_factory.mktemp("hello-site"), "polster_hello")
    return clean_env(PYTHONPATH=str(site), POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)


def test_third_party_templates_are_listed(tmp_path, hello_env):
    result = run_polster("add-asset", "--help", cwd=tmp_path, env=hello_env)
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "default, excel, hello, parquet" in text
    assert "hello (bronze): Greets the world" in text


def test_a_template_that_renders_a_broken_wrapper_is_refused(shop, hello_env):
    before = tree_hash(shop)
    result = run_polster(
        "add-asset",
        "--layer",
        "bronze",
        "--name",
        "greeting",
        "--template",
        "hello",
        cwd=shop,
        env=hello_env,
    )
    assert_one_line_error(result, "asset template 'hello'", "polster-hello")
    assert tree_hash(shop) == before


# Refusals: one line, non-zero, nothing changed -----------------------------------------------

BAD_INPUTS = [
    (["--layer", "bronze", "--name", "class"], "Python keyword"),
    (["--layer", "bronze", "--name", "bad-name"], "e.g. bad_name"),
    (["--layer", "bronze", "--name", "1abc"], "not a valid asset name"),
    (["--layer", "bronze", "--name", "../x"], "is a path"),
    (["--layer", "bronze", "--name", ""], "an asset name is required"),
    (["--layer", "bronze", "--name", "Orders"], "e.g. orders"),
    (["--layer", "bronze", "--name", "a" * 41], "too long"),
    (["--layer", "bronze", "--name", "orders"], "already exists"),
    (["--layer", "platinum", "--name", "x"], "unknown layer 'platinum'"),
    (["--layer", "silver", "--name", "x", "--deps", "nope"], "unknown dependency 'nope'"),
    (["--layer", "silver", "--name", "x", "--deps", "run_bronze_nope"], "unknown dependency"),
    (["--layer", "silver", "--name", "x", "--deps", "cus"], "unknown dependency 'cus'"),
    (["--layer", "gold", "--name", "x", "--deps", "api_users"], "gold assets depend on silver"),
    (["--layer", "silver", "--name", "x", "--deps", "clean_users"], "depend on bronze assets"),
    (["--layer", "bronze", "--name", "x", "--deps", "api_users"], "bronze assets have no upstream"),
    (["--layer", "silver", "--name", "x", "--deps", "run_silver_x"], "cannot depend on itself"),
    (["--layer", "silver", "--name", "x"], "silver assets need upstream assets: pass --deps"),
    (["--layer", "silver", "--name", "x", "--deps", "bad-ref"], "is not an asset name"),
    (["--layer", "bronze", "--name", "x", "--template", "nope"], "unknown asset template 'nope'"),
    (
        ["--layer", "silver", "--name", "x", "--deps", "orders", "--template", "csv"],
        "is for bronze assets, not silver",
    ),
    (["--name", "x"], "--layer is required"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_and_changes_nothing(shop, args, message):
    before = tree_hash(shop)
    result = run_polster("add-asset", *args, cwd=shop)
    assert_one_line_error(result, message)
    assert tree_hash(shop) == before


def test_ambiguous_short_names_must_be_given_in_full(tmp_path):
    project = new_project(tmp_path, allow_same_layer=True)
    add(project, "bronze", "events")
    add(project, "silver", "events", "--deps", "events")  # the bronze one: silver is new
    before = tree_hash(project)
    result = run_polster(
        "add-asset", "--layer", "silver", "--name", "more", "--deps", "events", cwd=project
    )
    assert_one_line_error(result, "ambiguous", "run_bronze_events or run_silver_events")
    assert tree_hash(project) == before


def test_outside_a_project_nothing_is_written(tmp_path):
    before = tree_hash(tmp_path)
    for command in (
        ["add-asset", "--layer", "bronze", "--name", "x"],
        ["remove-asset", "--layer", "bronze", "--name", "x"],
        ["list"],
        ["check"],
    ):
        result = run_polster(*command, cwd=tmp_path)
        assert_one_line_error(result, "is not inside a Polster project")
    assert tree_hash(tmp_path) == before


def test_a_write_that_fails_midway_restores_every_file(tmp_path, monkeypatch):
    """The real add-asset plan (5 files), with the third move into place failing."""
    import os

    from polster_core.plugins import Plugins
    from polster_core.project import plan as plan_module
    from polster_core.project.asset_plans import add_asset_plan, load_assets
    from polster_core.project.model import load_project

    project = new_project(tmp_path)
    loaded = load_project(project)
    template = Plugins(autoload=False).asset_templates()["excel"]
    result = add_asset_plan(loaded, load_assets(loaded), "bronze", "sheet", template, [])
    assert [op.action for op in result.plan.ops] == [
        "create",
        "create",
        "update",
        "update",
        "update",
    ]
    before = tree_hash(project)
    calls = []
    real_replace = os.replace

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(plan_module.os, "replace", failing_replace)
    with pytest.raises(OSError):
        result.plan.apply()
    monkeypatch.undo()
    assert tree_hash(project) == before


def test_an_unreadable_file_is_one_line(tmp_path):
    project = new_project(tmp_path)
    example = project / ".env.example"
    example.write_bytes(example.read_bytes() + b"# caf\xe9 (saved as Latin-1)\n")
    before = tree_hash(project)
    result = run_polster(
        "add-asset", "--layer", "bronze", "--name", "x", "--template", "csv", cwd=project
    )
    assert_one_line_error(result, "not UTF-8", "nothing was changed")
    assert tree_hash(project) == before
    init = project / "src/orchestration/assets/silver/__init__.py"
    init.unlink()
    init.mkdir()  # a directory where the registry should be
    before = tree_hash(project)
    result = run_polster(
        "add-asset", "--layer", "silver", "--name", "x", "--deps", "example", cwd=project
    )
    assert_one_line_error(result, "__init__.py", "nothing was changed")
    assert tree_hash(project) == before


def test_a_broken_registry_is_refused_untouched(tmp_path):
    project = new_project(tmp_path)
    init = project / "src/orchestration/assets/bronze/__init__.py"
    init.write_text(init.read_text() + "\ndef broken(:\n")
    before = tree_hash(project)
    result = run_polster("add-asset", "--layer", "bronze", "--name", "x", cwd=project)
    assert_one_line_error(result, "cannot register run_bronze_x", "syntax error")
    assert tree_hash(project) == before


# Same-layer chains ---------------------------------------------------------------------------


def test_same_layer_chains_need_the_setting(tmp_path):
    project = new_project(tmp_path)
    add(project, "bronze", "customer_events")
    add(project, "silver", "deduplicated_events", "--deps", "customer_events")
    before = tree_hash(project)
    refused = run_polster(
        "add-asset",
        "--layer",
        "silver",
        "--name",
        "validated_emails",
        "--deps",
        "deduplicated_events",
        cwd=project,
    )
    # The refusal names the setting that allows it.
    assert_one_line_error(
        refused, "silver assets depend on bronze assets only", "allow_same_layer_deps = true"
    )
    assert tree_hash(project) == before

    set_same_layer(project, True)
    add(project, "silver", "validated_emails", "--deps", "deduplicated_events")
    add(project, "gold", "user_cohorts", "--deps", "validated_emails")
    add(project, "gold", "cohort_summary", "--deps", "run_gold_user_cohorts")
    assert wrapper_params(project, "silver", "validated_emails") == [
        "run_silver_deduplicated_events"
    ]
    assert polster_ok(project, "check").startswith("OK:")
    # Switching the setting off again makes check report the chains.
    set_same_layer(project, False)
    result = run_polster("check", cwd=project)
    assert result.returncode == 1
    assert "silver assets depend on bronze assets only" in result.stdout
    assert "gold assets depend on silver assets only" in result.stdout
    assert "set allow_same_layer_deps = true under [tool.polster]" in result.stdout


def test_a_non_boolean_setting_is_a_clear_error(tmp_path):
    project = new_project(tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "allow_same_layer_deps = false", 'allow_same_layer_deps = "y"'
        )
    )
    result = run_polster("list", cwd=project)
    assert_one_line_error(result, "allow_same_layer_deps", "must be true or false")


# Interactive ---------------------------------------------------------------------------------


def test_interactive_add_asks_layer_name_template_and_deps(tmp_path):
    project = new_project(tmp_path)
    code, out = run_in_terminal(["add-asset"], project, ["bronze", "bad-name", "raw_orders", "csv"])
    assert code == 0, out
    assert "e.g. bad_name" in out  # the bad name was refused and asked again
    assert "csv" in out and "A CSV file" in out  # the templates were offered
    assert (project / "src/core/bronze_raw_orders.py").is_file()
    assert "PATH_SETTING" in (project / "src/core/bronze_raw_orders.py").read_text()

    code, out = run_in_terminal(["add-asset"], project, ["silver", "orders", "9", "1, 2", "none"])
    assert code == 0, out
    assert "1. run_bronze_example" in out and "2. run_bronze_raw_orders" in out
    assert "9 is not in the list" in out
    assert wrapper_params(project, "silver", "orders") == [
        "run_bronze_example",
        "run_bronze_raw_orders",
    ]


def test_without_a_terminal_nothing_is_asked(tmp_path):
    project = new_project(tmp_path)
    result = run_polster("add-asset", cwd=project, input="bronze\nx\n")
    assert_one_line_error(result, "--layer is required")


def test_a_project_without_layer_package_gets_one(tmp_path):
    project = new_project(tmp_path)
    shutil.rmtree(project / "src/orchestration/assets/gold")
    for path in project.glob("src/core/gold_*.py"):
        path.unlink()
    add(project, "gold", "kpis", "--deps", "example")
    text = registry(project, "gold")
    assert "from .run_gold_kpis import run_gold_kpis" in text
    assert '__all__ = ["run_gold_kpis"]' in text
