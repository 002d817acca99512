"""DAGSTER_POSTGRES_URL: the project's run history in a real PostgreSQL server (started by the
test on a free port under a temp dir, stopped by PID); a server that is down is one line."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from polster_core.testing.projects import clean_env, run_python
from polster_core.testing.servers import free_port
from polster_core.testing.services import PG_PASSWORD as PASSWORD


@pytest.fixture(scope="module")
def project(make_project) -> Path:
    return make_project("pg-demo")


def run(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    env = clean_env(PYTHONPATH=str(project / "src"), **env)
    return run_python(project, "run_polster.py", *args, env=env)


def test_runs_are_kept_in_postgresql_and_the_url_never_shows(project, postgres):
    import psycopg2

    with open(project / ".env", "a") as env:
        env.write(f"\nDAGSTER_POSTGRES_URL={postgres}\n")
    try:
        first = run(project)
        assert first.returncode == 0, first.stderr
        second = run(project, "--workers", "2")
        assert second.returncode == 0, second.stderr
        connection = psycopg2.connect(postgres)
        with connection, connection.cursor() as cursor:
            cursor.execute("SELECT status FROM runs ORDER BY create_timestamp")
            assert [row[0] for row in cursor.fetchall()][-2:] == ["SUCCESS", "SUCCESS"]
        connection.close()
        config = (project / ".dagster/dagster.yaml").read_text()
        assert "env: DAGSTER_POSTGRES_URL" in config and PASSWORD not in config
        # No local run database: the history is PostgreSQL's.
        assert not (project / ".dagster/history/runs.db").exists()
        for text in (first.stdout, first.stderr, second.stdout, second.stderr):
            assert PASSWORD not in text
    finally:
        text = (project / ".env").read_text()
        (project / ".env").write_text(text.replace(f"\nDAGSTER_POSTGRES_URL={postgres}\n", ""))
    # Unset again: back to SQLite in .dagster/, the block is gone.
    local = run(project)
    assert local.returncode == 0, local.stderr
    assert "DAGSTER_POSTGRES_URL" not in (project / ".dagster/dagster.yaml").read_text()


def test_a_postgresql_server_that_is_down_is_one_masked_line(project):
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/postgres"
    started = time.monotonic()
    result = run(project, DAGSTER_POSTGRES_URL=url)
    assert time.monotonic() - started < 60
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "error: cannot reach the PostgreSQL history at postgresql://postgres:***@127.0.0.1:"
    )
    assert PASSWORD not in result.stdout + result.stderr
