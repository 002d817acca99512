"""Partitioned assets, as the issue's commands use them: add-asset --partitions, a backfill in
one run, one partition, the example scripts, list/check, --purge-data, and no silent overwrite."""

from __future__ import annotations

import polars as pl
import pytest

from polster_core.testing.projects import assert_one_line_error, run_polster, run_python, tree_hash

from .assets_helpers import add, assert_ruff_clean, new_project, polster_ok


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    """bronze events (daily from 2026-11-01) -> silver clean_events -> gold event_kpis."""
    project = new_project(tmp_path_factory.mktemp("parts"))
    add(project, "bronze", "events", "--partitions", "daily", "--start", "2026-11-01")
    out = add(project, "silver", "clean_events", "--deps", "events")
    assert "Partitioned daily like its upstream run_bronze_events" in out
    add(project, "gold", "event_kpis", "--deps", "clean_events", "--partitions", "none")
    return project


def partitions(project, layer, name):
    folder = project / "data" / layer / name
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_generated_code_is_partitioned_and_clean(events):
    wrapper = (events / "src/orchestration/assets/silver/run_silver_clean_events.py").read_text()
    assert 'dg.DailyPartitionsDefinition(start_date="2026-11-01")' in wrapper
    assert "BackfillPolicy.single_run()" in wrapper
    assert "run_bronze_events: dict[str, pl.DataFrame]" in wrapper
    core = (events / "src/core/bronze_events.py").read_text()
    assert "def extract(day: str)" in core
    gold = (events / "src/orchestration/assets/gold/run_gold_event_kpis.py").read_text()
    assert "run_silver_clean_events: pl.LazyFrame" in gold
    assert "PARTITIONS" not in gold
    assert_ruff_clean(events)
    listing = polster_ok(events, "list")
    assert "daily from 2026-11-01" in listing
    assert "OK" in polster_ok(events, "check")


def test_backfill_partition_and_scripts(events):
    result = run_python(events, "run_polster.py", "--from", "2026-11-01", "--to", "2026-11-03")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "partitions 2026-11-01 to 2026-11-03 (one run)" in result.stdout
    assert "(3 partition(s))" in result.stdout
    expected = ["date=2026-11-01", "date=2026-11-02", "date=2026-11-03"]
    assert partitions(events, "bronze", "events") == expected
    assert partitions(events, "silver", "clean_events") == expected
    assert (
        pl.read_parquet(events / "data/bronze/events/date=2026-11-02/data.parquet")[
            "loaded_at"
        ].to_list()
        == ["2026-11-02"] * 3
    )
    # polars reads the folder as one hive-partitioned table.
    table = pl.read_parquet(events / "data/silver/clean_events/", hive_partitioning=True)
    assert table.height == 9 and "date" in table.columns
    gold = pl.read_parquet(events / "data/gold/event_kpis.parquet")
    assert gold["rows"].sum() == 9

    # Re-materialising one partition replaces that partition only.
    other = events / "data/bronze/events/date=2026-11-01/data.parquet"
    before = other.stat().st_mtime_ns
    result = run_python(events, "run_polster.py", "--partition", "2026-11-02")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(1 partition(s))" in result.stdout
    assert other.stat().st_mtime_ns == before
    assert partitions(events, "bronze", "events") == expected

    # The example scripts take the partition on the command line.
    result = run_python(events, "src/core/bronze_events.py", "2026-11-05")
    assert result.returncode == 0, result.stderr
    result = run_python(events, "src/core/silver_clean_events.py", "2026-11-05")
    assert result.returncode == 0, result.stderr
    assert "date=2026-11-05" in partitions(events, "silver", "clean_events")
    result = run_python(events, "src/core/gold_event_kpis.py")
    assert result.returncode == 0, result.stderr
    assert pl.read_parquet(events / "data/gold/event_kpis.parquet")["rows"].sum() == 12
    result = run_python(events, "src/core/bronze_events.py")
    assert result.returncode == 1 and "pass the day to load" in result.stderr


def test_bad_partition_flags_are_one_line(events):
    before = tree_hash(events / "data") if (events / "data").exists() else {}
    for args, fragment in (
        (["--partition", "2025-01-01"], "'2025-01-01' is before the first partition"),
        (["--from", "2026-11-01"], "--from and --to go together"),
        (["--from", "2026-11-03", "--to", "2026-11-01"], "is after --to"),
    ):
        result = run_python(events, "run_polster.py", *args)
        assert_one_line_error(result, fragment)
    after = tree_hash(events / "data") if (events / "data").exists() else {}
    assert after == before


def test_add_asset_refuses_what_cannot_work(tmp_path):
    project = new_project(tmp_path)
    before = tree_hash(project)
    for args, fragment in (
        (["--partitions", "yearly"], "--partitions must be one of"),
        (["--partitions", "daily", "--start", "11/01/2026"], "--start must be a date"),
        (["--partitions", "daily", "--template", "csv"], "does not render partitioned"),
    ):
        result = run_polster(
            "add-asset", "--layer", "bronze", "--name", "x", *args, "--no-input", cwd=project
        )
        assert_one_line_error(result, fragment)
    assert tree_hash(project) == before
    add(project, "bronze", "hits", "--partitions", "hourly", "--start", "2026-11-01")
    result = run_polster(
        "add-asset", "--layer", "silver", "--name", "y", "--deps", "hits",
        "--partitions", "daily", cwd=project,
    )  # fmt: skip
    assert_one_line_error(result, "is hourly partitioned", "--partitions hourly")


def test_a_hand_written_partitions_def_never_overwrites(tmp_path):
    project = new_project(tmp_path)
    wrapper = project / "src/orchestration/assets/bronze/run_bronze_example.py"
    text = wrapper.read_text()
    text = text.replace(
        "@dg.asset(",
        '@dg.asset(\n    partitions_def=dg.DailyPartitionsDefinition(start_date="2026-11-01"),',
    )
    wrapper.write_text(text)
    # downstream silver is not partitioned: it reads every stored partition as one table.
    for day in ("2026-11-01", "2026-11-02"):
        result = run_python(project, "run_polster.py", "--partition", day)
        assert result.returncode == 0, result.stdout + result.stderr
    assert partitions(project, "bronze", "example") == ["date=2026-11-01", "date=2026-11-02"]
    assert not (project / "data/bronze/example.parquet").exists()
    # A range of days cannot be one frame: refused, nothing written.
    result = run_python(project, "run_polster.py", "--from", "2026-11-03", "--to", "2026-11-04")
    assert result.returncode == 1
    assert "return a dict {partition_key: frame}" in result.stdout + result.stderr
    assert partitions(project, "bronze", "example") == ["date=2026-11-01", "date=2026-11-02"]


def test_purge_data_removes_every_partition(events):
    if not partitions(events, "bronze", "events"):
        run_python(events, "src/core/bronze_events.py", "2026-11-09")
    polster_ok(events, "remove-asset", "--layer", "gold", "--name", "event_kpis", "--force")
    out = polster_ok(
        events, "remove-asset", "--layer", "silver", "--name", "clean_events", "--purge-data",
        "--force",
    )  # fmt: skip
    assert "date=" in out
    folder = events / "data/silver/clean_events"
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


def test_upgrade_right_after_adding_partitioned_assets_changes_nothing(tmp_path):
    """The record keeps each asset's partitioning, so `polster upgrade` renders it the same."""
    project = new_project(tmp_path)
    add(project, "bronze", "events", "--partitions", "daily", "--start", "2026-11-01")
    add(project, "silver", "clean_events", "--deps", "events")
    before = tree_hash(project)
    result = run_polster("upgrade", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert tree_hash(project) == before
    wrapper = project / "src/orchestration/assets/silver/run_silver_clean_events.py"
    assert "DailyPartitionsDefinition" in wrapper.read_text()


def test_the_schedule_materialises_the_last_complete_partition(tmp_path):
    """With daily assets, each 06:00 tick asks for yesterday's partition; without, a plain
    daily run (checked in test_ui)."""
    project = new_project(tmp_path)
    add(project, "bronze", "events", "--partitions", "daily", "--start", "2026-11-01")
    probe = (
        "import datetime as dt\n"
        "import dagster as dg\n"
        "from orchestration.definitions import defs\n"
        "schedule = defs.resolve_schedule_def('polster_pipeline_daily')\n"
        "print(schedule.cron_schedule, schedule.default_status.value)\n"
        "when = dt.datetime(2026, 11, 3, 6, 0, tzinfo=dt.timezone.utc)\n"
        "with dg.instance_for_test() as instance:\n"
        "    context = dg.build_schedule_context(instance, scheduled_execution_time=when)\n"
        "    (request,) = schedule.evaluate_tick(context).run_requests\n"
        "print(request.partition_key)\n"
    )
    result = run_python(project, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "6", "*", "*", "*", "RUNNING", "2026-11-02"]
