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

from . import storage_servers
from .assets_helpers import run_python
from .conftest import clean_env, run_polster
from .storage_servers import PG_PASSWORD, free_port

postgres = storage_servers.postgres  # the fixture

USER_PASSWORD = "hist-User-Secret-7"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    parent = tmp_path_factory.mktemp("services")
    result = run_polster("init", "svc-demo", "--no-git", "--no-setup", cwd=parent)
    assert result.returncode == 0, result.stderr
    return parent / "svc-demo"


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
