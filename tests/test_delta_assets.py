"""Incremental assets end to end (issue 29): `polster add-asset --incremental`, the record, the
wrapper's metadata, `list` / `check`, real pipeline runs through Dagster that merge into a
Delta table, the materialisation's metadata, the example scripts, and refusals in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polster_core.testing.projects import (
    assert_one_line_error,
    clean_env,
    run_polster,
    run_python,
    tree_hash,
)

from .assets_helpers import add, assert_ruff_clean, new_project, polster_ok

BRONZE = '''"""Bronze raw_customers: the customers changed since the last load."""

import os

import polars as pl


def extract() -> pl.DataFrame:
    """The changed customers (CUSTOMER_IDS, CITY)."""
    ids = [int(x) for x in os.environ.get("CUSTOMER_IDS", "1,2,3").split(",")]
    city = os.environ.get("CITY", "Oslo")
    return pl.DataFrame({"customer_id": ids, "city": [city] * len(ids)})


if __name__ == "__main__":
    from core.storage import write

    write(extract(), "bronze", "raw_customers")
'''

SILVER = '''"""Silver customers: the changed rows, as they come."""

import polars as pl

REQUIRED_COLUMNS: list[str] = []
KEY_COLUMNS: list[str] = ["customer_id"]


def transform(df: pl.DataFrame) -> pl.DataFrame:
    """The new or changed customers."""
    return df


if __name__ == "__main__":
    from core.storage import read, write

    write(transform(read("bronze", "raw_customers")), "silver", "customers")
'''

EVENTS = """
import json
import dagster as dg
instance = dg.DagsterInstance.get()
records = instance.fetch_materializations(dg.AssetKey("run_silver_customers"), limit=10).records
out = []
for r in reversed(records):
    m = r.asset_materialization.metadata
    out.append({k: m[k].value for k in ("delta_version", "rows_inserted", "rows_updated",
        "rows_deleted", "dagster/row_count", "unique_key", "strategy")})
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    project = new_project(tmp_path_factory.mktemp("delta-assets"))
    add(project, "bronze", "raw_customers")
    out = add(
        project, "silver", "customers", "--deps", "raw_customers",
        "--incremental", "merge", "--unique-key", "customer_id",
    )  # fmt: skip
    assert "Added run_silver_customers (template default, merge on customer_id)" in out
    (project / "src/core/bronze_raw_customers.py").write_text(BRONZE)
    (project / "src/core/silver_customers.py").write_text(SILVER)
    return project


def run(project: Path, *args: str, **env: str):
    return run_python(
        project,
        "run_polster.py",
        *args,
        env=clean_env(PYTHONPATH=str(project / "src"), **env),
    )


def test_add_asset_records_the_strategy_and_writes_it_into_the_wrapper(shop: Path) -> None:
    wrapper = (shop / "src/orchestration/assets/silver/run_silver_customers.py").read_text()
    assert '"polster/incremental": "merge"' in wrapper
    assert '"polster/unique_key": "customer_id"' in wrapper
    record = json.loads((shop / ".polster/generated.json").read_text())
    entry = next(a for a in record["answers"]["assets"] if a["name"] == "customers")
    assert (entry["format"], entry["incremental"], entry["unique_key"]) == (
        "delta",
        "merge",
        ["customer_id"],
    )
    # The recorded wrapper is the one on disk: `polster upgrade` keeps the metadata.
    assert "".join(record["files"]["src/orchestration/assets/silver/run_silver_customers.py"]) == (
        wrapper
    )
    assert_ruff_clean(shop, "src/orchestration")


def test_list_and_check_show_strategy_and_key(shop: Path) -> None:
    listed = polster_ok(shop, "list")
    row = next(line for line in listed.splitlines() if line.startswith("silver  run_silver_cu"))
    assert "merge on customer_id" in row
    assert "parquet" in next(line for line in listed.splitlines() if "run_bronze_raw" in line)
    data = json.loads(polster_ok(shop, "list", "--json"))
    asset = next(a for a in data["assets"] if a["key"] == "run_silver_customers")
    assert asset["table"] == {
        "format": "delta",
        "incremental": "merge",
        "unique_key": ["customer_id"],
        "on_schema_change": "fail",
        "hard_deletes": "ignore",
    }
    checked = polster_ok(shop, "check", "--no-load")
    assert "Delta tables: run_silver_customers (merge on customer_id)" in checked


def test_runs_merge_into_the_table_and_record_counts(shop: Path) -> None:
    first = run(shop, "--select", "run_bronze_raw_customers,run_silver_customers")
    assert first.returncode == 0, first.stdout + first.stderr
    second = run(
        shop,
        "--select",
        "run_bronze_raw_customers,run_silver_customers",
        CUSTOMER_IDS="3,4",
        CITY="Rome",
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert (shop / "data/silver/customers/_delta_log").is_dir()
    assert not (shop / "data/silver/customers.parquet").exists()

    read = (
        "from core.storage import read\n"
        "print(sorted(read('silver', 'customers').rows()))\n"
        "print(sorted(read('silver', 'customers', version=0).rows()))\n"
    )
    out = run_python(shop, "-c", read).stdout.splitlines()
    assert out[0] == str([(1, "Oslo"), (2, "Oslo"), (3, "Rome"), (4, "Rome")])
    assert out[1] == str([(1, "Oslo"), (2, "Oslo"), (3, "Oslo")])

    env = clean_env(PYTHONPATH=str(shop / "src"), DAGSTER_HOME=str(shop / ".dagster"))
    events = json.loads(run_python(shop, "-c", EVENTS, env=env).stdout)
    assert events[-2:] == [
        {
            "delta_version": 0,
            "rows_inserted": 3,
            "rows_updated": 0,
            "rows_deleted": 0,
            "dagster/row_count": 3,
            "unique_key": "customer_id",
            "strategy": "merge",
        },
        {
            "delta_version": 1,
            "rows_inserted": 1,
            "rows_updated": 1,
            "rows_deleted": 0,
            "dagster/row_count": 4,
            "unique_key": "customer_id",
            "strategy": "merge",
        },
    ]


def test_a_duplicated_key_fails_the_run_in_one_line_and_writes_nothing(shop: Path) -> None:
    before = tree_hash(shop / "data/silver/customers")
    result = run(
        shop, "--select", "run_bronze_raw_customers,run_silver_customers", CUSTOMER_IDS="8,8,9"
    )
    assert result.returncode != 0
    shown = result.stdout + result.stderr
    assert "unique key column 'customer_id' is duplicated within the batch: 1 row repeats" in shown
    assert "Traceback" not in shown
    assert tree_hash(shop / "data/silver/customers") == before


def test_the_example_script_applies_the_strategy(shop: Path) -> None:
    env = clean_env(PYTHONPATH=str(shop / "src"), CUSTOMER_IDS="4,5", CITY="Lima")
    assert run_python(shop, "src/core/bronze_raw_customers.py", env=env).returncode == 0
    result = run_python(shop, "src/core/silver_customers.py", env=env)
    assert result.returncode == 0, result.stderr
    assert "silver/customers: merge into" in result.stdout
    assert "1 inserted, 1 updated, 0 deleted" in result.stdout


def test_generated_project_tests_pass(shop: Path) -> None:
    result = run_python(shop, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--incremental", "merge"], "the merge strategy needs a unique key"),
        (["--incremental", "upsert", "--unique-key", "id"], "unknown incremental strategy"),
        (["--incremental", "append", "--unique-key", "id"], "takes no unique key"),
        (["--unique-key", "id"], "--unique-key needs --incremental"),
        (["--incremental", "merge", "--unique-key", "id", "--format", "parquet"], "drop --format"),
        (["--format", "orc"], "is not a table format"),
        (
            [
                "--incremental",
                "snapshot",
                "--unique-key",
                "id",
                "--partitions",
                "daily",
                "--start",
                "2026-11-01",
            ],
            "cannot be partitioned",
        ),  # fmt: skip
    ],
)
def test_bad_table_options_are_one_line_and_change_nothing(tmp_path: Path, args, fragment) -> None:
    project = new_project(tmp_path)
    before = tree_hash(project)
    result = run_polster(
        "add-asset", "--layer", "silver", "--name", "c", "--deps", "example", "--no-input",
        *args, cwd=project,
    )  # fmt: skip
    assert_one_line_error(result, fragment)
    assert tree_hash(project) == before


def test_interactive_add_asset_asks_for_the_unique_key(tmp_path: Path) -> None:
    from .assets_helpers import run_in_terminal

    project = new_project(tmp_path)
    code, screen = run_in_terminal(
        ["add-asset", "--layer", "silver", "--name", "c", "--deps", "example",
         "--partitions", "none", "--incremental", "snapshot"],
        project,
        ["id; x", "id"],
    )  # fmt: skip
    assert code == 0, screen
    assert "Unique key of the snapshot" in screen
    assert "is not a column name" in screen
    wrapper = (project / "src/orchestration/assets/silver/run_silver_c.py").read_text()
    assert '"polster/incremental": "snapshot"' in wrapper
    assert '"polster/unique_key": "id"' in wrapper


def test_format_delta_makes_a_plain_delta_table(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    add(project, "silver", "plain", "--deps", "example", "--format", "delta")
    wrapper = (project / "src/orchestration/assets/silver/run_silver_plain.py").read_text()
    assert '"polster/format": "delta"' in wrapper and "polster/incremental" not in wrapper
    assert_ruff_clean(project, "src/orchestration")
    for _ in range(2):
        result = run(project, "--select", "run_bronze_example,run_silver_plain")
        assert result.returncode == 0, result.stdout + result.stderr
    log = sorted((project / "data/silver/plain/_delta_log").glob("*.json"))
    assert len(log) == 2  # each run a version; the current one is the last run's rows


def test_remove_asset_purge_data_deletes_the_whole_table_folder(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    add(project, "silver", "gone", "--deps", "example", "--format", "delta")
    result = run(project, "--select", "run_bronze_example,run_silver_gone")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "data/silver/gone/_delta_log").is_dir()
    out = polster_ok(project, "remove-asset", "--layer", "silver", "--name", "gone", "--purge-data")
    assert "data/silver/gone" in out
    assert not (project / "data/silver/gone").exists()
    assert (project / "data/silver").is_dir()  # the layer's other tables stay


def test_upkeep_compacts_and_vacuums_and_says_what_it_removed(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    add(project, "silver", "events", "--deps", "example", "--incremental", "append")
    for _ in range(3):
        result = run(project, "--select", "run_bronze_example,run_silver_events")
        assert result.returncode == 0, result.stdout + result.stderr
    folder = project / "data/silver/events"
    assert len(list(folder.glob("*.parquet"))) == 3
    rows = "from core.storage import read\nprint(read('silver', 'events').height)\n"
    before = run_python(project, "-c", rows).stdout.strip()

    dry = polster_ok(project, "upkeep", "--dry-run")
    assert "run_silver_events: would vacuum 0 file(s) older than 168 h" in dry
    assert len(list(folder.glob("*.parquet"))) == 3

    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(
        text.replace("[tool.polster]\n", "[tool.polster]\ndelta_retention_hours = -1\n")
    )
    result = run_polster("upkeep", cwd=project)
    assert_one_line_error(result, "delta_retention_hours in pyproject.toml must be a whole number")
    pyproject.write_text(
        text.replace("[tool.polster]\n", "[tool.polster]\ndelta_retention_hours = 0\n")
    )

    out = polster_ok(project, "upkeep")
    assert "run_silver_events: compacted 3 file(s) into 1, vacuumed 3 file(s) older than 0 h" in out
    assert "Removed 3 file(s) in 1 Delta table(s) (retention 0 h)" in out
    assert len(list(folder.glob("*.parquet"))) == 1
    assert run_python(project, "-c", rows).stdout.strip() == before


def test_a_partition_run_replaces_that_partition_in_one_transaction(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    add(project, "bronze", "events", "--partitions", "daily", "--start", "2026-11-01")
    out = add(
        project, "silver", "clean_events", "--deps", "events",
        "--incremental", "merge", "--unique-key", "event_id",
    )  # fmt: skip
    assert "merge on event_id" in out
    core = project / "src/core/bronze_events.py"
    core.write_text(
        core.read_text().replace(
            '"id": [1, 2, 3],', '"event_id": [f"{day}-1", f"{day}-2", f"{day}-3"],'
        )
    )
    select = ("--select", "run_bronze_events,run_silver_clean_events")
    log = project / "data/silver/clean_events/_delta_log"
    for key, versions in (("2026-11-01", 1), ("2026-11-02", 2), ("2026-11-02", 3)):
        result = run(project, *select, "--partition", key)
        assert result.returncode == 0, result.stdout + result.stderr
        assert len(list(log.glob("*.json"))) == versions  # one transaction per partition run
    counts = (
        "from core.storage import read\n"
        "t = read('silver', 'clean_events')\n"
        "print(sorted(t.group_by('date').len().rows()), t['event_id'].n_unique())\n"
        "print(read('silver', 'clean_events', partition='2026-11-02').height)\n"
    )
    out = run_python(project, "-c", counts).stdout.splitlines()
    # The rerun of 2026-11-02 replaced its 3 rows: no duplicates, 2026-11-01 untouched.
    assert out == ["[('2026-11-01', 3), ('2026-11-02', 3)] 6", "3"]


def test_a_backend_that_cannot_host_delta_tables_is_refused_at_add_asset(tmp_path: Path) -> None:
    from .assets_helpers import install_plugin

    site = install_plugin(tmp_path / "site", "polster_hello")
    env = clean_env(PYTHONPATH=str(site), POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    made = run_polster(
        "init", "shop", "--storage", "hello", "--no-git", "--no-setup", "--no-input",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    project = tmp_path / "shop"
    before = tree_hash(project)
    result = run_polster(
        "add-asset", "--layer", "silver", "--name", "c", "--deps", "example", "--no-input",
        "--incremental", "merge", "--unique-key", "id", cwd=project, env=env,
    )  # fmt: skip
    assert_one_line_error(result, "storage backend 'hello' cannot host Delta tables")
    assert tree_hash(project) == before


def test_upgrade_keeps_the_table_metadata_and_the_record_is_validated(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    add(
        project, "silver", "c", "--deps", "example",
        "--incremental", "snapshot", "--unique-key", "id,region",
    )  # fmt: skip
    wrapper = "src/orchestration/assets/silver/run_silver_c.py"
    planned = polster_ok(project, "upgrade", "--dry-run")
    assert f"unchanged  {wrapper}" in planned

    record = project / ".polster/generated.json"
    data = json.loads(record.read_text())
    entry = next(a for a in data["answers"]["assets"] if a["name"] == "c")
    assert entry["unique_key"] == ["id", "region"]
    original = record.read_text()
    for field, value, fragment in (
        ("unique_key", [], "the snapshot strategy needs a unique key"),
        ("incremental", "upsert", "not one of merge, append, delete+insert, snapshot"),
        ("unique_key", ["id; DROP"], "not a column name"),
    ):
        broken = json.loads(original)
        next(a for a in broken["answers"]["assets"] if a["name"] == "c")[field] = value
        record.write_text(json.dumps(broken))
        before = tree_hash(project)
        result = run_polster("check", "--no-load", cwd=project)
        assert_one_line_error(result, ".polster/generated.json", fragment)
        assert tree_hash(project) == before


def test_add_asset_help_shows_incremental_assets(tmp_path: Path) -> None:
    result = run_polster("add-asset", "--help", cwd=tmp_path)
    text = " ".join(result.stdout.replace("│", " ").split())
    for option in ("--incremental", "--unique-key", "--format", "--on-schema-change"):
        assert option in text
    assert "merge, append, delete+insert or snapshot" in text
    assert "--incremental merge --unique-key id" in text
