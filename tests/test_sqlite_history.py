"""The SQLite history of a Polster project (polster_core.sqlite_history): the same records as
Dagster's own storage, read back by Dagster's own storage, with less work per event."""

import os
import sqlite3
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.utils import make_new_run_id

from polster_core.history import redact_event
from polster_core.run import event_text
from polster_core.run.dagster_private import history as boundary
from polster_core.secrets import Redactor

# Polster's faster history, where this Dagster's internals have the shape it uses; elsewhere
# (dagster 1.13.0) the project's history is Dagster's stock storage, which
# tests/test_dagster_fallbacks.py runs.
pytestmark = pytest.mark.skipif(
    not boundary.AVAILABLE, reason="this Dagster's SQLite internals differ: stock history used"
)
if boundary.AVAILABLE:
    from polster_core.sqlite_history import QuickSqliteEventLogStorage, held_connections

DAYS = [f"2024-01-0{d}" for d in range(1, 6)]
POLSTER_YAML = "instance_class:\n  module: polster_core.history\n  class: PolsterInstance\n"
KEYS = [dg.AssetKey("events"), dg.AssetKey("totals")]
DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-06")


@dg.asset(partitions_def=DAILY, backfill_policy=dg.BackfillPolicy.single_run())
def events(context: dg.AssetExecutionContext) -> None:
    context.log.info(f"{len(context.partition_keys)} partitions")


@dg.asset(deps=[events])
def totals() -> None:
    return None


def backfill(instance: dg.DagsterInstance, first: str, last: str) -> str:
    job = dg.Definitions(
        assets=[events, totals], jobs=[dg.define_asset_job("all")]
    ).resolve_job_def("all")
    result = job.execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
    )
    assert result.success
    return result.run_id


def instance_at(home: Path, yaml: str) -> dg.DagsterInstance:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml, encoding="utf-8")
    return dg.DagsterInstance.from_config(str(home))


def test_a_backfill_is_recorded_per_partition_and_dagster_reads_it_back(tmp_path):
    home = tmp_path / ".dagster"
    with instance_at(home, POLSTER_YAML) as instance:
        assert isinstance(instance.event_log_storage, QuickSqliteEventLogStorage)
        first = backfill(instance, DAYS[0], DAYS[2])
        second = backfill(instance, DAYS[1], DAYS[4])
        key = dg.AssetKey("events")
        assert instance.get_materialized_partitions(key) == set(DAYS)
        latest = instance.get_latest_materialization_event(key)
        assert latest is not None and latest.run_id == second
        assert instance.get_run_by_id(first).is_success
    # Dagster's own storage reads the same history: every partition, the latest run per asset.
    plain = SqliteEventLogStorage(str(home / "history" / "runs"))
    assert plain.get_materialized_partitions(dg.AssetKey("events")) == set(DAYS)
    records = {r.asset_entry.asset_key: r.asset_entry for r in plain.get_asset_records()}
    assert records[dg.AssetKey("events")].last_run_id == second
    assert records[dg.AssetKey("totals")].last_materialization.run_id == second
    found = plain.fetch_materializations(dg.AssetKey("events"), limit=100).records
    assert Counter(r.partition_key for r in found) == {
        "2024-01-01": 1,
        "2024-01-02": 2,
        "2024-01-03": 2,
        "2024-01-04": 1,
        "2024-01-05": 1,
    }


def test_a_storage_named_in_dagster_yaml_is_kept(tmp_path):
    home = tmp_path / ".dagster"
    yaml = POLSTER_YAML + f"storage:\n  sqlite:\n    base_dir: {home / 'own'}\n"
    with instance_at(home, yaml) as instance:
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        backfill(instance, DAYS[0], DAYS[1])
        assert instance.get_materialized_partitions(dg.AssetKey("events")) == set(DAYS[:2])
    assert (home / "own" / "history" / "runs" / "index.db").is_file()


def open_history_files(home: Path) -> list[str]:
    """The history databases this process has open (Linux: /proc/self/fd)."""
    names = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(home)) and target.endswith(".db"):
            names.append(Path(target).name)
    return sorted(names)


def rows_seen_from_outside(database: Path) -> int:
    with closing(sqlite3.connect(database)) as outside:
        return outside.execute("SELECT count(*) FROM event_logs").fetchone()[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
def test_held_connections_commit_every_event_and_close_at_the_end(tmp_path):
    """run_polster.py keeps one connection per database for the run (held_connections):
    another process still sees every event as soon as it is stored, the run does not open a
    connection per event, and nothing stays open or unmerged afterwards."""
    home = tmp_path / ".dagster"
    with instance_at(home, POLSTER_YAML) as instance, held_connections():
        first = backfill(instance, DAYS[0], DAYS[1])
        runs = home / "history" / "runs"
        stored = len(instance.all_logs(first))
        assert stored > 10
        assert rows_seen_from_outside(runs / f"{first}.db") == stored
        # Open between events: held, not opened and closed per event (SQLite may keep a second
        # descriptor per file, so the test compares which files, not how many descriptors).
        assert set(open_history_files(home)) == {"index.db", f"{first}.db"}
        second = backfill(instance, DAYS[2], DAYS[4])
        assert rows_seen_from_outside(runs / f"{second}.db") == len(instance.all_logs(second))
        assert set(open_history_files(home)) == {"index.db", f"{first}.db", f"{second}.db"}
    assert open_history_files(home) == []
    assert not list((home / "history" / "runs").glob("*.db-wal"))
    plain = SqliteEventLogStorage(str(home / "history" / "runs"))
    assert plain.get_materialized_partitions(dg.AssetKey("events")) == set(DAYS)


def test_the_uis_watch_sees_each_event_while_connections_are_held(tmp_path):
    """Dagster's UI follows a run by watching its database file, which WAL mode changes only
    at a checkpoint: never while run_polster.py holds its connections. Each write marks it."""
    home = tmp_path / ".dagster"
    seen: list[str] = []
    with instance_at(home, POLSTER_YAML) as instance, held_connections():
        run_id = make_new_run_id()
        instance.event_log_storage.store_event(log_entry(run_id, "first"))
        ui = SqliteEventLogStorage(str(home / "history" / "runs"))  # as the UI opens it
        ui.watch(run_id, None, lambda event, cursor: seen.append(event.user_message))
        try:
            time.sleep(0.5)  # the watch is set up
            for message in ("second", "third"):
                instance.event_log_storage.store_event(log_entry(run_id, message))
            deadline = time.monotonic() + 10
            while seen.count("third") == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            ui.end_watch(run_id, seen.append)
            ui.dispose()
    assert "second" in seen and "third" in seen


def log_entry(run_id: str, message: str) -> EventLogEntry:
    return EventLogEntry(
        error_info=None,
        level="INFO",
        user_message=message,
        run_id=run_id,
        timestamp=time.time(),
    )


@dg.asset(
    check_specs=[
        dg.AssetCheckSpec("positive", asset="checked"),
        dg.AssetCheckSpec("small", asset="checked"),
    ]
)
def checked():
    yield dg.Output(1)
    yield dg.AssetCheckResult(check_name="positive", passed=True)
    yield dg.AssetCheckResult(check_name="small", passed=False)


DATABASE_TIMES = {"id", "create_timestamp", "migration_completed"}


def table_rows(database: Path) -> dict[str, list]:
    """Every row of every table, without ids (which only number them) and without the times
    the database was created at (secondary_indexes); and the schema (tables and indexes)."""
    with closing(sqlite3.connect(database)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        found = {"schema": sorted(db.execute("SELECT type, name, sql FROM sqlite_master"))}
        for table in tables:
            cursor = db.execute(f"SELECT * FROM {table} ORDER BY 1")
            names = [column[0] for column in cursor.description]
            found[table] = [
                {k: v for k, v in zip(names, row, strict=True) if k not in DATABASE_TIMES}
                for row in cursor
            ]
        return found


def store_in_both(tmp_path: Path, entries: list, run_ids: list[str]) -> None:
    """Store ``entries`` with QuickSqliteEventLogStorage (under ours/) and with Dagster's own
    SQLite event log (under theirs/); the index's and each run's rows must be the same."""
    ours = QuickSqliteEventLogStorage(str(tmp_path / "ours"))
    theirs = SqliteEventLogStorage(str(tmp_path / "theirs"))
    for storage in (ours, theirs):
        for entry in entries:
            storage.store_event(entry)
        storage.dispose()
    for name in ["index.db", *(f"{run_id}.db" for run_id in run_ids)]:
        mine = table_rows(tmp_path / "ours" / name)
        assert mine == table_rows(tmp_path / "theirs" / name), name
        assert sum(len(rows) for rows in mine.values()) > 0


def test_every_row_is_the_one_dagsters_own_storage_writes(tmp_path):
    """The same events stored by QuickSqliteEventLogStorage and by Dagster's own SQLite event
    log give the same rows in the run's database and in the index: events, asset rows, tags,
    check executions (passed, failed, and evaluated without being planned first)."""
    with instance_at(tmp_path / "made", POLSTER_YAML) as instance:
        run_ids = [backfill(instance, DAYS[0], DAYS[2])]
        job = dg.Definitions(assets=[checked], jobs=[dg.define_asset_job("c")]).resolve_job_def("c")
        run_ids.append(job.execute_in_process(instance=instance).run_id)
        entries = [entry for run_id in run_ids for entry in instance.all_logs(run_id)]
    run_ids.append(make_new_run_id())  # only the evaluations, as a step launcher stores them
    entries += [
        entry._replace(run_id=run_ids[-1])
        for entry in entries
        if entry.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    store_in_both(tmp_path, entries, run_ids)
    checks = table_rows(tmp_path / "ours" / "index.db")["asset_check_executions"]
    assert Counter((row["run_id"], row["execution_status"]) for row in checks) == {
        (run_ids[1], "SUCCEEDED"): 1,
        (run_ids[1], "FAILED"): 1,
        (run_ids[2], "SUCCEEDED"): 1,
        (run_ids[2], "FAILED"): 1,
    }
    assert table_rows(tmp_path / "ours" / "index.db")["alembic_version"]


def test_events_looked_through_for_secrets_are_stored_as_dagster_stores_them(tmp_path):
    """With a secret to mask, the instance serialises each event to look for it; the event log
    stores that text instead of serialising the event again. The rows are still Dagster's own,
    the event that held the secret is stored masked, and no text is left once all are stored."""
    with instance_at(tmp_path / "made", POLSTER_YAML) as instance:
        run_id = backfill(instance, DAYS[0], DAYS[2])
        entries = instance.all_logs(run_id)
    secret = "s3cr3t-t0ken-value"
    entries.append(log_entry(run_id, f"connecting with {secret}"))
    redactor = Redactor([secret])
    looked_through = [redact_event(entry, redactor, keep=True) for entry in entries]
    assert looked_through[:-1] == entries[:-1]
    assert secret not in looked_through[-1].user_message
    assert len(event_text._SERIALIZED) == len(entries) - 1  # all but the masked one
    store_in_both(tmp_path, looked_through, [run_id])
    assert not event_text._SERIALIZED
    stored = "".join(
        row["event"] for row in table_rows(tmp_path / "ours" / f"{run_id}.db")["event_logs"]
    )
    assert "connecting with" in stored and secret not in stored


def test_a_run_stores_dagsters_batches_whole_with_the_rows_of_each_event(tmp_path):
    """Dagster sends a run's planned assets and checks, and a backfill's materialisations, in
    batches; Polster's history (connections held, as in run_polster.py) stores each in one
    transaction: the databases hold the rows Dagster's own storage writes event by event."""
    with instance_at(tmp_path / "made", POLSTER_YAML) as instance, held_connections():
        assert instance._is_batch_writing_enabled()
        run_ids = [backfill(instance, DAYS[0], DAYS[2])]
        job = dg.Definitions(assets=[checked], jobs=[dg.define_asset_job("c")]).resolve_job_def("c")
        run_ids.append(job.execute_in_process(instance=instance).run_id)
        entries = [entry for run_id in run_ids for entry in instance.all_logs(run_id)]
    theirs = SqliteEventLogStorage(str(tmp_path / "theirs"))
    for entry in entries:
        theirs.store_event(entry)
    theirs.dispose()
    made = tmp_path / "made" / "history" / "runs"
    for name in ["index.db", *(f"{run_id}.db" for run_id in run_ids)]:
        assert table_rows(made / name) == table_rows(tmp_path / "theirs" / name), name
    kinds = Counter(entry.dagster_event_type for entry in entries)
    assert kinds[dg.DagsterEventType.ASSET_MATERIALIZATION] == 3 + 1 + 1  # one per partition
    assert kinds[dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED] == 2


def test_a_batch_that_fails_stores_none_of_its_events(tmp_path, monkeypatch):
    """A batch is one transaction: if an event of it cannot be stored, none is, and Dagster
    stores them again one by one (no event twice)."""
    with instance_at(tmp_path / "made", POLSTER_YAML) as instance:
        run_id = backfill(instance, DAYS[0], DAYS[2])
        entries = instance.all_logs(run_id)
    storage = QuickSqliteEventLogStorage(str(tmp_path / "ours"))
    real = QuickSqliteEventLogStorage._store_asset_event

    def fails_on_the_third(self, conn, event, event_id):
        if event.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            raise OSError("disk gone")
        real(self, conn, event, event_id)

    with held_connections():
        monkeypatch.setattr(QuickSqliteEventLogStorage, "_store_asset_event", fails_on_the_third)
        with pytest.raises(OSError, match="disk gone"):
            storage.store_event_batch(entries)
        assert storage.get_logs_for_run(run_id) == []
        assert storage.get_asset_records() == []
        monkeypatch.setattr(QuickSqliteEventLogStorage, "_store_asset_event", real)
        storage.store_event_batch(entries)
        assert len(storage.get_logs_for_run(run_id)) == len(entries)
    storage.dispose()


def test_asset_records_are_the_ones_dagster_reads_before_and_after_a_wipe(tmp_path):
    """Each asset's latest materialization (what a step reads for its inputs' data versions)
    is the one Dagster's own storage reads from the same databases; also for an asset wiped
    since, whose row still holds a materialization from before the wipe (Dagster then looks
    in the event table and finds none after it)."""
    home = tmp_path / ".dagster"
    index = home / "history" / "runs" / "index.db"
    with instance_at(home, POLSTER_YAML) as instance:
        backfill(instance, DAYS[0], DAYS[1])
        last = backfill(instance, DAYS[2], DAYS[3])
        ours = instance.event_log_storage
        plain = SqliteEventLogStorage(str(home / "history" / "runs"))

        def latest(storage) -> dict:
            everything = storage.get_asset_records()
            # A step asks for its inputs by key; "missing" has no row.
            asked = storage.get_asset_records([*KEYS, dg.AssetKey("missing")])
            assert asked == everything
            return {
                record.asset_entry.asset_key: record.asset_entry.last_materialization_record
                for record in asked
            }

        before = latest(ours)
        assert before == latest(plain)
        assert {record.run_id for record in before.values()} == {last}
        with closing(sqlite3.connect(index)) as db:
            query = "SELECT last_materialization FROM asset_keys WHERE asset_key = ?"
            stale = db.execute(query, ('["totals"]',)).fetchone()[0]
        time.sleep(0.01)
        instance.wipe_assets([dg.AssetKey("totals")])
        with closing(sqlite3.connect(index)) as db, db:
            db.execute(
                "UPDATE asset_keys SET last_materialization = ? WHERE asset_key = ?",
                (stale, '["totals"]'),
            )
        time.sleep(0.01)  # planned after the wipe: the asset row is visible again
        job = dg.Definitions(assets=[events, totals], jobs=[dg.define_asset_job("all")])
        instance.create_run_for_job(
            job.resolve_job_def("all"), asset_selection={dg.AssetKey("totals")}
        )
        after = latest(ours)
        assert after == latest(plain)
        assert after[dg.AssetKey("totals")] is None
        assert after[dg.AssetKey("events")] == before[dg.AssetKey("events")]
        instance.wipe_assets([dg.AssetKey("events")])  # wiped, not planned since: no record
        assert latest(ours) == latest(plain) == {dg.AssetKey("totals"): None}


def test_a_new_history_is_set_up_as_dagster_sets_it_up_and_opened_again(tmp_path):
    """Polster's storage creates the runs, schedules, index and run databases with the schema
    and alembic revision Dagster gives them (so `dagster instance migrate` knows where they
    stand), and opens them again, already set up, with every record there."""
    ran = {}
    for name, yaml in (("ours", POLSTER_YAML), ("theirs", "")):
        with instance_at(tmp_path / name, yaml) as instance:
            ran[name] = backfill(instance, DAYS[0], DAYS[1])
    for path in (
        "history/runs.db",
        "schedules/schedules.db",
        "history/runs/index.db",
        "history/runs/{}.db",
    ):
        mine, dagsters = (
            table_rows(tmp_path / name / path.format(ran[name])) for name in ("ours", "theirs")
        )
        assert mine["schema"] == dagsters["schema"], path
        assert mine["alembic_version"] == dagsters["alembic_version"] != [], path
    with instance_at(tmp_path / "ours", POLSTER_YAML) as instance:
        assert instance.get_run_by_id(ran["ours"]).is_success
        assert instance.get_materialized_partitions(dg.AssetKey("events")) == set(DAYS[:2])
        again = backfill(instance, DAYS[2], DAYS[3])
        assert len(instance.get_runs()) == 2
        assert instance.get_latest_materialization_event(dg.AssetKey("totals")).run_id == again
