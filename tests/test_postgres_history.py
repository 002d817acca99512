"""DAGSTER_POSTGRES_URL: the project's run history in a real PostgreSQL server (started by the
test on a free port under a temp dir, stopped by PID); a server that is down is one line."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from polster_core.testing.tools import ToolMissing

from .conftest import clean_env, run_polster
from .storage_servers import free_port

PASSWORD = "pg-Secret-4711"


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ToolMissing("PostgreSQL is not installed: run scripts/tools.sh (apt: postgresql)")


@pytest.fixture(scope="module")
def postgres():
    """``postgresql://postgres:PASSWORD@127.0.0.1:PORT/postgres`` of a server of our own."""
    bin_dir = pg_bin()
    # Not under pytest's root-only temp folder: the postgres user must reach it.
    home = Path(tempfile.mkdtemp(prefix="polster-pg-"))
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(home, "postgres")
    (home / "pw").write_text(PASSWORD + "\n")
    if as_user:
        shutil.chown(home / "pw", "postgres")
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "initdb"),
            "-D",
            str(home / "db"),
            "-A",
            "md5",
            "-U",
            "postgres",
            "--pwfile",
            str(home / "pw"),
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1"
    ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(home / "db")]
    subprocess.run(
        [*ctl, "-o", options, "-l", str(home / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*ctl, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    parent = tmp_path_factory.mktemp("pgproject")
    result = run_polster("init", "pg-demo", "--no-git", "--no-setup", cwd=parent)
    assert result.returncode == 0, result.stderr
    return parent / "pg-demo"


def run(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "run_polster.py", *args],
        cwd=project,
        env=clean_env(PYTHONPATH=str(project / "src"), **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


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
