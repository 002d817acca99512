"""Hostile inputs to the services a run uses (issue 25, class 5): Dagster's history in a real
PostgreSQL (started by the tests on a free port, stopped by PID) given a URL of another database
or a user without the rights PostgreSQL 15 gives by default; damaged partition files read
downstream; and the example scripts given the bad inputs the run reports in one line. Each is
one line on stderr, a non-zero exit code, no traceback, no password, and files left as they
were."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from polster_core.testing.projects import clean_env, run_polster, run_python
from polster_core.testing.servers import free_port
from polster_core.testing.services import PG_PASSWORD

USER_PASSWORD = "hist-User-Secret-7"


@pytest.fixture(scope="module")
def project(make_project) -> Path:
    return make_project("svc-demo")


def run(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    env = clean_env(PYTHONPATH=str(project / "src"), **env)
    return run_python(project, "run_polster.py", *args, env=env, timeout=300)


def one_line(result: subprocess.CompletedProcess, *secrets: str) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for secret in secrets:
        assert secret not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def sql(url: str, *statements: str, database: str | None = None) -> None:
    """Run ``statements`` as the server's superuser (autocommit), in ``database``."""
    import psycopg2

    if database:
        url = url.rsplit("/", 1)[0] + "/" + database
    connection = psycopg2.connect(url)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


def user_url(admin_url: str, user: str, database: str) -> str:
    host = admin_url.rsplit("@", 1)[1].rsplit("/", 1)[0]
    return f"postgresql://{user}:{USER_PASSWORD}@{host}/{database}"


def test_a_mysql_url_for_the_history_is_one_masked_line(project, postgres):
    url = postgres.replace("postgresql://", "mysql://", 1)
    line = one_line(run(project, DAGSTER_POSTGRES_URL=url), PG_PASSWORD)
    assert line.startswith(
        "error: DAGSTER_POSTGRES_URL is a mysql:// URL (mysql://postgres:***@127.0.0.1:"
    ), line
    assert "write it as a postgresql:// URL" in line
    assert "or unset DAGSTER_POSTGRES_URL for the local history in .dagster/" in line
    assert not (project / "data").exists()  # no step ran
    # The UI refuses it the same way, before it starts.
    ui = run(project, "--ui", "--port", str(free_port()), DAGSTER_POSTGRES_URL=url)
    assert one_line(ui, PG_PASSWORD) == line


def test_a_user_who_may_not_create_in_public_is_one_line_whose_advice_works(project, postgres):
    sql(
        postgres,
        f"CREATE ROLE bob LOGIN PASSWORD '{USER_PASSWORD}'",
        "CREATE DATABASE hist_bob",  # owned by postgres: PostgreSQL 15 keeps public to it
    )
    url = user_url(postgres, "bob", "hist_bob")
    line = one_line(run(project, DAGSTER_POSTGRES_URL=url), USER_PASSWORD)
    assert line == (
        "error: user bob may not create Dagster's tables in schema public of database "
        f"hist_bob at {url.replace(USER_PASSWORD, '***')} (DAGSTER_POSTGRES_URL; PostgreSQL 15 "
        "and later let only the owner create in public): as the database's owner, run GRANT "
        "CREATE ON SCHEMA public TO bob, or CREATE SCHEMA bob AUTHORIZATION bob (a schema of "
        "the user's own), or use a database bob owns"
    )
    assert not (project / "data").exists()
    # What the line says to do is enough.
    sql(postgres, "GRANT CREATE ON SCHEMA public TO bob", database="hist_bob")
    result = run(project, DAGSTER_POSTGRES_URL=url)
    assert result.returncode == 0, result.stderr
    assert USER_PASSWORD not in result.stdout + result.stderr


def test_dagster_tables_of_another_user_are_one_line_whose_advice_works(project, postgres):
    sql(postgres, "CREATE DATABASE hist_shared")
    owner = postgres.rsplit("/", 1)[0] + "/hist_shared"
    first = run(project, DAGSTER_POSTGRES_URL=owner)  # the owner's run creates the tables
    assert first.returncode == 0, first.stderr
    sql(postgres, f"CREATE ROLE carol LOGIN PASSWORD '{USER_PASSWORD}'")
    url = user_url(postgres, "carol", "hist_shared")
    line = one_line(run(project, DAGSTER_POSTGRES_URL=url), USER_PASSWORD, PG_PASSWORD)
    assert line.startswith(
        "error: user carol may not write Dagster's tables in schema public of database "
        "hist_shared at postgresql://carol:***@127.0.0.1:"
    ), line
    grants = (
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO carol",
        "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO carol",
    )
    assert all(grant in line for grant in grants), line
    sql(postgres, *grants, database="hist_shared")
    result = run(project, DAGSTER_POSTGRES_URL=url)
    assert result.returncode == 0, result.stderr


# Damaged partition files read downstream ----------------------------------------------------


@pytest.fixture(scope="module")
def partitioned(make_project) -> Path:
    """A project with daily bronze/silver `events` (three partitions stored) and an
    unpartitioned gold `events_all` over them."""
    root = make_project("parts")
    for args in (
        ("-l", "bronze", "-n", "events", "-p", "daily", "--start", "2026-01-01"),
        ("-l", "silver", "-n", "events", "-d", "run_bronze_events"),
        ("-l", "gold", "-n", "events_all", "-d", "run_silver_events", "-p", "none"),
    ):
        added = run_polster("add-asset", *args, "--no-input", cwd=root)
        assert added.returncode == 0, added.stderr
    first = run(root, "--from", "2026-01-01", "--to", "2026-01-03")
    assert first.returncode == 0, first.stderr
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.parquet")}


def damage(file: Path, how: str = "cut short") -> bytes:
    """Damage ``file`` as a copy killed half-way ("cut short") or bit rot in its footer
    ("footer scrambled": its end still looks like parquet's) would; its good bytes are
    returned."""
    good = file.read_bytes()
    if how == "cut short":
        file.write_bytes(good[:100])
    else:
        length = int.from_bytes(good[-8:-4], "little")
        start = len(good) - 8 - length
        file.write_bytes(good[:start] + b"\xff" * length + good[-8:])
    return good


def script(root: Path, *args: str) -> subprocess.CompletedProcess:
    return run_python(root, *args, env=clean_env(PYTHONPATH=str(root / "src")), timeout=300)


@pytest.mark.parametrize("how", ["cut short", "footer scrambled"])
def test_a_damaged_partition_read_by_an_unpartitioned_asset_is_named(partitioned, how):
    file = partitioned / "data/silver/events/date=2026-01-02/data.parquet"
    good = damage(file, how)
    before = snapshot(partitioned)
    try:
        named = (
            f"reading partition 2026-01-02 of silver/events from local at {file} failed: not a "
            "valid parquet file ("
        )
        rerun = (
            "): write it again by rerunning its asset, e.g. python run_polster.py --select "
            "run_silver_events --partition 2026-01-02"
        )
        result = run(partitioned, "--select", "run_gold_events_all")
        line = one_line(result)
        assert line.startswith(f"error in run_gold_events_all: {named}"), line
        assert line.endswith(rerun), line
        assert "FAIL  run_gold_events_all" in result.stdout
        assert snapshot(partitioned) == before  # the gold table is the one written before
        # The example script reads it through the same boundary: the same line.
        alone = script(partitioned, "src/core/gold_events_all.py")
        assert one_line(alone) == "error: " + line.removeprefix("error in run_gold_events_all: ")
        assert snapshot(partitioned) == before
    finally:
        file.write_bytes(good)


def test_a_damaged_upstream_partition_names_the_run_that_writes_it_again(partitioned):
    file = partitioned / "data/bronze/events/date=2026-01-02/data.parquet"
    good = damage(file)
    before = snapshot(partitioned)
    try:
        result = run(partitioned, "--select", "run_silver_events", "--partition", "2026-01-02")
        line = one_line(result)
        assert line.startswith(
            "error in run_silver_events: reading partition 2026-01-02 of bronze/events from "
            f"local at {file} failed: not a valid parquet file"
        ), line
        assert line.endswith(
            "python run_polster.py --select run_bronze_events --partition 2026-01-02"
        ), line
        assert snapshot(partitioned) == before
    finally:
        file.write_bytes(good)
    # Written again as the line says, the pipeline reads it.
    again = run(partitioned, "--select", "run_bronze_events", "--partition", "2026-01-02")
    assert again.returncode == 0, again.stderr
    assert run(partitioned, "--select", "run_gold_events_all").returncode == 0


# The example scripts say what the run says ----------------------------------------------------

LATIN_1 = "name,city\nJosé,Köln\n".encode("latin-1")
BAD_SOURCES = [
    ("api", "JSON malformed", b'{"a": [1, 2'),
    ("api", "JSON nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000),
    ("api", "JSON a scalar", b"42"),
    ("csv", "CSV in Latin-1", LATIN_1),
    ("csv", "CSV ragged", b"a,b\n1,2\n3,4,5\n"),
    ("csv", "CSV empty", b""),
    ("csv", "CSV path a directory", None),
]


@pytest.fixture(scope="module")
def sources(make_project) -> Path:
    """A project with an api asset (`feed`) and a csv asset (`sales`)."""
    root = make_project("sources")
    for name, template in (("feed", "api"), ("sales", "csv")):
        added = run_polster(
            "add-asset", "-l", "bronze", "-n", name, "-t", template, "--no-input", cwd=root
        )
        assert added.returncode == 0, added.stderr
    return root


@pytest.mark.parametrize(
    ("template", "shown", "data"), BAD_SOURCES, ids=[b[1] for b in BAD_SOURCES]
)
def test_a_script_given_bad_data_prints_the_runs_one_line(sources, tmp_path, template, shown, data):
    source = tmp_path / ("feed.json" if template == "api" else "sales.csv")
    if data is None:
        source.mkdir()
    else:
        source.write_bytes(data)
    asset, setting, value = {
        "api": ("feed", "BRONZE_FEED_API_URL", source.as_uri()),
        "csv": ("sales", "BRONZE_SALES_CSV_PATH", str(source)),
    }[template]
    before = snapshot(sources)
    pipeline = run(sources, "--select", f"run_bronze_{asset}", **{setting: value})
    ran = one_line(pipeline)
    assert ran.startswith(f"error in run_bronze_{asset}: ")
    env = clean_env(PYTHONPATH=str(sources / "src"), **{setting: value})
    alone = run_python(sources, f"src/core/bronze_{asset}.py", env=env, timeout=300)
    assert one_line(alone) == "error: " + ran.removeprefix(f"error in run_bronze_{asset}: ")
    assert snapshot(sources) == before
    if data is not None:
        assert source.read_bytes() == data


def test_a_script_shows_the_whole_traceback_only_when_asked(sources, tmp_path):
    source = tmp_path / "sales.csv"
    source.write_bytes(b"")
    env = clean_env(PYTHONPATH=str(sources / "src"), BRONZE_SALES_CSV_PATH=str(source))
    alone = run_python(sources, "src/core/bronze_sales.py", env=env, timeout=300)
    assert one_line(alone) == "error: polars.exceptions.NoDataError: empty CSV"
    env["POLSTER_TRACEBACK"] = "1"
    alone = run_python(sources, "src/core/bronze_sales.py", env=env, timeout=300)
    assert alone.returncode == 1
    assert "Traceback (most recent call last):" in alone.stderr
    assert alone.stderr.strip().endswith("polars.exceptions.NoDataError: empty CSV")
