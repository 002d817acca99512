"""run_polster.py's Dagster history: written fast, complete, and readable by a fresh instance;
`--select` and `--workers` runs; SQLite databases other than Dagster's are left alone."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from polster_core.runner import quick_history
from polster_core.testing.projects import clean_env, run_python


def wal_database(path: Path) -> Path:
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE IF NOT EXISTS t (x)")
    connection.commit()
    connection.close()
    return path


def synchronous_seen_by_sqlalchemy(path: Path) -> int:
    """``PRAGMA synchronous`` of a new SQLAlchemy connection (how Dagster connects), after a
    write through it."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    engine = sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)
    with engine.connect() as connection:
        with connection.begin():
            connection.execute(sa.text("INSERT INTO t VALUES (1)"))
        level = connection.execute(sa.text("PRAGMA synchronous")).scalar()
    engine.dispose()
    return level


def test_quick_history_touches_only_the_dagster_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    ours = wal_database(home / "runs.db")
    users = wal_database(tmp_path / "users.db")
    full, normal = 2, 1
    with quick_history(home):
        assert synchronous_seen_by_sqlalchemy(ours) == normal
        # The idle anchor keeps the log open: closing Dagster's connection did not checkpoint.
        assert Path(f"{ours}-wal").exists()
        assert synchronous_seen_by_sqlalchemy(users) == full
        assert not Path(f"{users}-wal").exists()
    # Afterwards the log is checkpointed and the hook gone.
    assert not Path(f"{ours}-wal").exists()
    assert synchronous_seen_by_sqlalchemy(ours) == full
    assert sqlite3.connect(ours).execute("SELECT count(*) FROM t").fetchone()[0] == 2


def test_a_new_runs_history_is_synced_normally_for_the_whole_run(tmp_path):
    """A new run's database is created with syncing off (nothing to lose before its tables
    exist); the connection the run keeps to it then commits with synchronous=NORMAL, as the
    others do, not with syncing off until the run ends."""
    import dagster as dg
    from dagster._core.events.log import EventLogEntry
    from dagster._core.utils import make_new_run_id

    home = tmp_path / ".dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "instance_class:\n  module: polster_core.history\n  class: PolsterInstance\n",
        encoding="utf-8",
    )
    run_id = make_new_run_id()
    entry = EventLogEntry(
        error_info=None, level="INFO", user_message="hi", run_id=run_id, timestamp=0.0
    )
    with quick_history(home), dg.DagsterInstance.from_config(str(home)) as instance:
        instance.event_log_storage.store_event(entry)
        with instance.event_log_storage.run_connection(run_id) as connection:
            driver = connection.connection.dbapi_connection
            assert driver.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert driver.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert len(instance.all_logs(run_id)) == 1


@pytest.fixture(scope="module")
def project(make_project) -> Path:
    return make_project("dna-platform")


def run_pipeline(project: Path, *args: str) -> subprocess.CompletedProcess:
    return run_python(project, "run_polster.py", *args, env=clean_env())


def history(project: Path) -> dict:
    """What a fresh Dagster instance (as the UI would) reads from the project's .dagster."""
    code = """
import json, sys
import dagster as dg
instance = dg.DagsterInstance.get()
runs = instance.get_run_records()
out = {"runs": [r.dagster_run.status.value for r in runs], "rows": {}}
for key in ("run_bronze_example", "run_silver_example", "run_gold_example"):
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    meta = event.asset_materialization.metadata if event else {}
    out["rows"][key] = meta["dagster/row_count"].value if "dagster/row_count" in meta else None
print(json.dumps(out))
"""
    env = clean_env(DAGSTER_HOME=str(project / ".dagster"))
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_run_is_in_the_history_the_ui_reads(project):
    shutil.rmtree(project / ".dagster", ignore_errors=True)
    first = run_pipeline(project)
    assert first.returncode == 0, first.stderr
    assert "Succeeded: 3 materialised" in first.stdout
    selected = run_pipeline(project, "--select", "run_silver_example")
    assert selected.returncode == 0, selected.stderr
    assert "Succeeded: 1 materialised, 0 failed, 0 skipped, 980 rows" in selected.stdout
    assert "run_bronze_example" not in selected.stdout
    found = history(project)
    assert found["runs"] == ["SUCCESS", "SUCCESS"]
    assert found["rows"] == {
        "run_bronze_example": 1025,
        "run_silver_example": 980,
        "run_gold_example": found["rows"]["run_gold_example"],
    }
    assert found["rows"]["run_gold_example"] > 0
    # Nothing is left open: the write-ahead logs were checkpointed when the run ended.
    assert not list((project / ".dagster").rglob("*.db-wal"))


def test_workers_run_each_asset_in_its_own_process_and_record_it(project):
    result = run_pipeline(project, "--workers", "2")
    assert result.returncode == 0, result.stderr
    for key in ("run_bronze_example", "run_silver_example", "run_gold_example"):
        said = [line.split()[0] for line in result.stdout.splitlines() if key in line]
        assert said == ["start", "ok"], result.stdout
    assert "Succeeded: 3 materialised, 0 failed, 0 skipped" in result.stdout
    assert history(project)["runs"][0] == "SUCCESS"


def test_unknown_selection_is_one_line(project):
    result = run_pipeline(project, "--select", "run_nothing")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: no asset named run_nothing: choose from run_bronze_example, run_gold_example, "
        "run_silver_example"
    ]


@pytest.mark.skipif(os.name == "nt", reason="POSIX paths")
def test_dagster_home_behind_a_symlink_still_gets_the_fast_path(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    db = wal_database(real / "index.db")
    with quick_history(link):
        assert synchronous_seen_by_sqlalchemy(link / "index.db") == 1
        assert synchronous_seen_by_sqlalchemy(db) == 1
