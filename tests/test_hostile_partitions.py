"""Issue 25, class 3: every partition key is one the asset's partitions definition contains.

From the CLI (``--partition``, ``--from/--to``), an example script or a range, a key that is no
partition is refused in one line naming a valid neighbour, and nothing is written; the repeated
hour of a DST fall-back is its own ``hour=`` folder that polars' hive scan reads back;
``add-asset`` refuses, and ``check`` reports, partitionings Dagster cannot run in one job; a
range is found without listing every partition since the start date. The plain-datetime keys
polster checks without Dagster are cross-checked against Dagster's own definitions.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
from pathlib import Path

import pytest

from polster_core.testing.projects import (
    assert_one_line_error,
    clean_env,
    run_polster,
    run_python,
    tree_hash,
)

from .assets_helpers import add, new_project

EVENTS = "src/orchestration/assets/bronze/run_bronze_events.py"
BERLIN = 'start_date="2026-01-01-00:00", timezone="Europe/Berlin"'

READ_BACK = """
import json, sys
import polars as pl
from core.storage import read
frame = read("bronze", "events")
hive = pl.scan_parquet("data/bronze/events/", hive_partitioning=True).collect()
print(json.dumps({
    "rows": frame.height,
    "hours": frame["hour"].to_list() if "hour" in frame.columns else None,
    "loaded": frame["loaded_at"].to_list(),
    "hive": sorted(hive["hour"].unique().to_list()) if "hour" in hive.columns else None,
}))
"""


def folders(project: Path) -> list[str]:
    table = project / "data/bronze/events"
    return sorted(p.name for p in table.iterdir()) if table.is_dir() else []


@pytest.fixture(scope="module")
def berlin(tmp_path_factory):
    """bronze events, hourly in Europe/Berlin (the hand-written timezone a user adds)."""
    project = new_project(tmp_path_factory.mktemp("parts-berlin"))
    add(project, "bronze", "events", "--partitions", "hourly", "--start", "2026-01-01")
    wrapper = project / EVENTS
    wrapper.write_text(wrapper.read_text().replace('start_date="2026-01-01-00:00"', BERLIN))
    assert "Europe/Berlin" in wrapper.read_text()
    return project


def script(project: Path, *args: str, tz: str | None = None) -> subprocess.CompletedProcess:
    env = clean_env(PYTHONPATH=str(project / "src"), **({"TZ": tz} if tz else {}))
    return run_python(project, "src/core/bronze_events.py", *args, env=env)


def test_a_key_off_the_hour_or_in_a_skipped_hour_overwrites_nothing(berlin):
    assert script(berlin, "2026-11-01-01:00").returncode == 0
    assert script(berlin, "2026-03-29-03:00").returncode == 0
    before = tree_hash(berlin / "data")
    cases = (
        ("2026-11-01-00:30", "2026-11-01-00:00 and 2026-11-01-01:00"),
        ("2026-03-29-02:00", "2026-03-29-01:00 and 2026-03-29-03:00"),
    )
    for key, neighbours in cases:
        result = run_python(berlin, "run_polster.py", "--partition", key)
        assert_one_line_error(result, f"'{key}'", neighbours)
        result = run_python(berlin, "run_polster.py", "--from", key, "--to", "2026-11-02-00:00")
        assert_one_line_error(result, f"'{key}'", neighbours)
    # The hours that were there are exactly as the script wrote them; no other hour appeared.
    assert tree_hash(berlin / "data") == before
    assert folders(berlin) == ["hour=2026-03-29-03%3A00", "hour=2026-11-01-01%3A00"]


def test_an_example_script_writes_only_keys_of_its_asset(berlin):
    before = tree_hash(berlin)
    for key, fragment in (
        ("2026-13-45", "is not an hourly partition key: use an hour like"),
        ("2026-13-45-00:00", "month must be in 1..12"),
        ("a b", "is not an hourly partition key"),
        ("x" * 300, "(300 characters)"),
        ("2026-11-01-00:30", "2026-11-01-00:00 and 2026-11-01-01:00"),
        ("2026-03-29-02:00", "2026-03-29-01:00 and 2026-03-29-03:00"),
        ("2026-10-25-02:00+0200", "2026-10-25-02:00"),
        ("2099-01-01-00:00", "the last complete partition is"),
    ):
        assert_one_line_error(script(berlin, key), fragment)
    assert tree_hash(berlin) == before  # no partition, no empty folder
    # A key of the asset writes that partition, and reads back as itself.
    assert script(berlin, "2026-10-25-02:00+0100").returncode == 0
    assert "hour=2026-10-25-02%3A00%2B0100" in folders(berlin)
    read = run_python(berlin, "-c", READ_BACK)
    assert read.returncode == 0, read.stderr
    seen = json.loads(read.stdout)
    assert seen["hours"] == seen["loaded"]  # every row's hour is the key it was loaded for


def test_a_new_asset_takes_the_projects_time_zone(berlin):
    add(berlin, "silver", "clean_events", "--deps", "events")
    wrapper = berlin / "src/orchestration/assets/silver/run_silver_clean_events.py"
    assert f"dg.HourlyPartitionsDefinition({BERLIN})" in wrapper.read_text()
    check = run_polster("check", cwd=berlin)
    assert check.returncode == 0, check.stdout + check.stderr
    result = run_python(berlin, "run_polster.py", "--partition", "2026-10-25-02:00+0100")
    assert result.returncode == 0, result.stdout + result.stderr
    silver = berlin / "data/silver/clean_events"
    assert sorted(p.name for p in silver.iterdir()) == ["hour=2026-10-25-02%3A00%2B0100"]


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", "America/St_Johns"])
def test_a_dst_fall_back_range_is_one_folder_per_key_in_every_time_zone(tmp_path, tz):
    """The machine's time zone (TZ) changes nothing: the keys are the definition's."""
    project = new_project(tmp_path)
    add(project, "bronze", "events", "--partitions", "hourly", "--start", "2026-01-01")
    wrapper = project / EVENTS
    wrapper.write_text(wrapper.read_text().replace('start_date="2026-01-01-00:00"', BERLIN))
    env = clean_env(PYTHONPATH=str(project / "src"), TZ=tz)
    result = run_python(
        project, "run_polster.py", "--from", "2026-10-25-01:00", "--to", "2026-10-25-03:00",
        env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    keys = ["2026-10-25-01:00", "2026-10-25-02:00", "2026-10-25-02:00+0100", "2026-10-25-03:00"]
    expected = sorted("hour=" + k.replace(":", "%3A").replace("+", "%2B") for k in keys)
    assert folders(project) == expected
    read = run_python(project, "-c", READ_BACK, env=env)
    assert read.returncode == 0, read.stderr
    seen = json.loads(read.stdout)
    assert seen["rows"] == 12
    assert seen["hours"] is not None and None not in seen["hours"]
    assert sorted(seen["hours"]) == sorted(k for k in keys for _ in range(3))
    assert seen["hours"] == seen["loaded"]  # each row under the key it was computed for
    assert seen["hive"] == sorted(keys)  # polars' own hive scan reads the keys back


def test_add_asset_refuses_and_check_reports_what_dagster_cannot_run(tmp_path):
    project = new_project(tmp_path)
    add(project, "bronze", "days", "--partitions", "daily", "--start", "2026-01-01")
    before = tree_hash(project)
    for layer, args, fragment in (
        ("bronze", ["--partitions", "hourly"], "--partitions daily --start 2026-01-01"),
        ("silver", ["--deps", "days", "--partitions", "hourly"], "--partitions daily"),
        ("silver", ["--deps", "days", "--start", "2026-06-01"], "--start 2026-01-01"),
        ("silver", ["--deps", "days", "--start", "2025-06-01"], "--start 2026-01-01"),
        ("bronze", ["--partitions", "daily", "--start", "9999-12-31"], "out of range"),
        ("bronze", ["--partitions", "hourly", "--start", "0001-01-01"], "out of range"),
    ):
        result = run_polster(
            "add-asset", "--layer", layer, "--name", "x", *args, "--no-input", cwd=project
        )
        assert_one_line_error(result, fragment)
    assert tree_hash(project) == before
    # A silver asset that follows its upstream is accepted, with the project's definition.
    add(project, "silver", "clean_days", "--deps", "days")
    wrapper = project / "src/orchestration/assets/silver/run_silver_clean_days.py"
    assert 'DailyPartitionsDefinition(start_date="2026-01-01")' in wrapper.read_text()
    assert run_polster("check", cwd=project).returncode == 0

    # What a hand edit (or a teammate's commit) does, check reports, and the run says one line.
    days = project / "src/orchestration/assets/bronze/run_bronze_days.py"
    original = days.read_text()
    for edit, fragment in (
        ('start_date="2026-06-01"', "needs one partitions definition"),
        ('start_date="2026-01-01", timezone="Europe/Berlin"', "needs one partitions definition"),
        ('start_date="9999-12-31"', "start_date 9999-12-31 is out of range"),
        ('start_date="2026-01-01", timezone="Mars/Olympus"', "unknown time zone"),
    ):
        days.write_text(original.replace('start_date="2026-01-01"', edit))
        check = run_polster("check", cwd=project)
        assert check.returncode != 0 and fragment in check.stdout + check.stderr, check.stdout
        run = run_python(project, "run_polster.py")
        assert run.returncode != 0
        assert "Traceback" not in run.stderr, run.stderr
        assert len([x for x in run.stderr.splitlines() if x.strip()]) == 1, run.stderr
    days.write_text(original)
    hourly = project / "src/orchestration/assets/bronze/run_bronze_hits.py"
    hourly.write_text(
        original.replace("run_bronze_days", "run_bronze_hits")
        .replace("DailyPartitionsDefinition", "HourlyPartitionsDefinition")
        .replace('start_date="2026-01-01"', 'start_date="2026-01-01-00:00"')
    )
    registry = project / "src/orchestration/assets/bronze/__init__.py"
    registry.write_text(
        registry.read_text()
        .replace(
            "from .run_bronze_days import run_bronze_days",
            "from .run_bronze_days import run_bronze_days\n"
            "from .run_bronze_hits import run_bronze_hits",
        )
        .replace('"run_bronze_days"', '"run_bronze_days", "run_bronze_hits"')
    )
    check = run_polster("check", cwd=project)
    assert check.returncode != 0
    assert "run_bronze_hits.py: is partitioned hourly" in check.stdout, check.stdout


def test_a_range_is_found_without_listing_partitions_from_the_start(tmp_path):
    project = new_project(tmp_path)
    add(project, "bronze", "events", "--partitions", "hourly", "--start", "1000-01-01")
    result = run_python(
        project, "run_polster.py", "--from", "2026-11-01-00:00", "--to", "2026-11-01-01:00"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert folders(project) == ["hour=2026-11-01-00%3A00", "hour=2026-11-01-01%3A00"]
    refused = run_python(
        project, "run_polster.py", "--from", "2026-11-01-00:00", "--to", "2026-11-01-00:30"
    )
    assert_one_line_error(refused, "'2026-11-01-00:30'", "neighbours are")
    assert folders(project) == ["hour=2026-11-01-00%3A00", "hour=2026-11-01-01%3A00"]


def test_a_range_takes_memory_for_its_ends_not_for_the_partitions_since_the_start():
    """The run's tags for a two-hour range of an hourly definition from the year 1000 (over
    nine million partitions), with Dagster's own job and definition: main listed them all."""
    import tracemalloc

    import dagster as dg

    from polster_core.errors import PolsterError
    from polster_core.run.partition_runs import run_tags

    @dg.asset(partitions_def=dg.HourlyPartitionsDefinition(start_date="1000-01-01-00:00"))
    def events() -> None: ...

    job = dg.Definitions(assets=[events], jobs=[dg.define_asset_job("all")]).resolve_job_def("all")
    job.partitions_def.get_first_partition_key()  # Dagster's own caches, before measuring
    tracemalloc.start()
    try:
        tags = run_tags(job, None, "2026-11-01-00:00", "2026-11-01-01:00")
        with pytest.raises(PolsterError, match="neighbours are"):
            run_tags(job, None, "2026-11-01-00:00", "2026-11-01-00:30")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert tags == {
        "dagster/asset_partition_range_start": "2026-11-01-00:00",
        "dagster/asset_partition_range_end": "2026-11-01-01:00",
    }
    assert peak < 20 * 1024 * 1024, f"{peak / 1e6:.0f} MB for a range of two partitions"


# The plain-datetime keys against Dagster's ----------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "America/Santiago",
         "America/St_Johns", "Australia/Sydney"]  # fmt: skip


def _transition_days(zone: str) -> list[dt.date]:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    days = []
    for n in range(366):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=n)
        morning = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
        if morning.utcoffset() != (morning + dt.timedelta(hours=23)).utcoffset():
            days += [day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)]
    return days or [dt.date(2026, 3, 29)]


@pytest.mark.parametrize("zone", ZONES)
def test_polsters_keys_are_dagsters_keys(zone):
    import dagster as dg

    from polster_core.project.partition_keys import FIRST_DATE, LAST_DATE, TimePartitions
    from polster_core.run.partition_runs import contains, model_of

    classes = {
        "hourly": dg.HourlyPartitionsDefinition,
        "daily": dg.DailyPartitionsDefinition,
        "weekly": dg.WeeklyPartitionsDefinition,
        "monthly": dg.MonthlyPartitionsDefinition,
    }
    for kind, cls in classes.items():
        start = "2025-12-31" + ("-00:00" if kind == "hourly" else "")
        definition = cls(start_date=start, timezone=zone)
        model = model_of(definition)
        assert model == TimePartitions(kind, start, zone)
        assert model.first_key() == definition.get_first_partition_key()
        assert model.last_key() == definition.get_last_partition_key()
        if kind == "hourly":
            candidates = []
            for day, hour, minute in itertools.product(_transition_days(zone), range(24), (0, 30)):
                base = f"{day}-{hour:02d}:{minute:02d}"
                candidates += [base] + [base + o for o in ("+0100", "-0400", "-0230", "+1000")]
        else:
            candidates = [str(dt.date(2025, 12, 20) + dt.timedelta(days=n)) for n in range(90)]
            candidates += [str(d) for d in _transition_days(zone)]
        candidates += ["2026-13-45", "a b", "2026-1-05", "2026-02-30", "2027-01-01"]
        for key in candidates:
            assert (model.problem(key) is None) == contains(definition, key), (zone, kind, key)
        # The start dates polster accepts are ones Dagster computes partitions for.
        for day in (FIRST_DATE, LAST_DATE):
            edge = cls(
                start_date=day.isoformat() + ("-00:00" if kind == "hourly" else ""), timezone=zone
            )
            first = edge.get_first_partition_key()
            edge.get_last_partition_key()
            if first is not None:
                assert first == TimePartitions(kind, day.isoformat(), zone).first_key()
