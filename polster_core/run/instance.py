"""The project's Dagster instance: ``.dagster/`` (``dagster.yaml`` with Polster's instance
class and, with ``DAGSTER_POSTGRES_URL``, the PostgreSQL storage), the checks of a PostgreSQL
history before a run, and the quick SQLite history of one run.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

from ..exceptions import (
    one_line,
)
from ..secrets import mask_url_password

DAGSTER_YAML = """\
# Dagster instance of this project (run history, schedules). Created by run_polster.py.
telemetry:
  enabled: false
"""


# Polster's instance masks the project's secrets in everything the history records (and the UI
# shows): polster_core.history.PolsterInstance. Every project's .dagster/dagster.yaml names that
# class by this path, so it is public API: it stays importable there.
INSTANCE_CLASS = """\
# Masks the project's secrets (.env) in the run history, compute logs and the UI.
instance_class:
  module: polster_core.history
  class: PolsterInstance
"""


# With this set, the project's Dagster instance keeps runs, events and schedules in PostgreSQL
# (dagster-postgres), shared by every machine that runs or shows the pipeline.
POSTGRES_ENV = "DAGSTER_POSTGRES_URL"


POSTGRES_BEGIN = "# polster: shared history in PostgreSQL (DAGSTER_POSTGRES_URL is set)"


POSTGRES_BLOCK = f"""\
{POSTGRES_BEGIN}
storage:
  postgres:
    postgres_url:
      env: {POSTGRES_ENV}
# polster: end
"""


def dagster_home(root: Path) -> Path:
    """Point DAGSTER_HOME at the project's ``.dagster/`` (unless set) and make sure it exists."""
    home = Path(os.environ.get("DAGSTER_HOME") or root / ".dagster")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML + INSTANCE_CLASS, encoding="utf-8")
    elif home.resolve() == (root / ".dagster").resolve():
        # A project made before Polster's instance existed: add it (its own file, in .dagster/).
        text = config.read_text(encoding="utf-8")
        if not re.search(r"(?m)^instance_class\s*:", text):
            config.write_text(text.rstrip("\n") + "\n" + INSTANCE_CLASS, encoding="utf-8")
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if url.startswith(("postgresql://", "postgres://")):
        # dagster-postgres installs psycopg2; SQLAlchemy would look for psycopg (3) otherwise.
        os.environ[POSTGRES_ENV] = "postgresql+psycopg2://" + url.split("://", 1)[1]
    sync_postgres(config, bool(url))
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    return home


def sync_postgres(config: Path, wanted: bool) -> None:
    """Add Polster's PostgreSQL storage block to ``dagster.yaml`` when ``DAGSTER_POSTGRES_URL``
    is set, take it out when it is not; a ``storage:`` of the user's own is left alone."""
    text = config.read_text(encoding="utf-8")
    present = POSTGRES_BEGIN in text
    if wanted and not present and not re.search(r"(?m)^storage\s*:", text):
        config.write_text(text.rstrip("\n") + "\n" + POSTGRES_BLOCK, encoding="utf-8")
    elif not wanted and present:
        config.write_text(text.replace(POSTGRES_BLOCK, ""), encoding="utf-8")


def mask_url(url: str) -> str:
    """``url`` with its password as ``***`` (for messages)."""

    return mask_url_password(url)


# The schemes of a DAGSTER_POSTGRES_URL (dagster_home gives SQLAlchemy psycopg2's).
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg2")


def postgres_problem(url: str, timeout: int = 5) -> str | None:
    """Why the PostgreSQL history at ``url`` cannot be used (one line, password masked): not
    a PostgreSQL URL, a server that does not answer, or a user that may not create Dagster's
    tables where they would go."""

    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in POSTGRES_SCHEMES:
        what = f"a {one_line(scheme)}:// URL ({one_line(mask_url(url))})" if scheme else "not a URL"
        return (
            f"{POSTGRES_ENV} is {what}, but the shared history "
            "is kept in PostgreSQL: write it as a postgresql:// URL (e.g. "
            f"postgresql://user@host:5432/database), or unset {POSTGRES_ENV} for the local "
            "history in .dagster/"
        )
    try:
        import psycopg2
    except ImportError:
        return (
            f"{POSTGRES_ENV} is set but dagster-postgres is not installed: add it to the "
            "project's dependencies (uv add dagster-postgres), or unset it"
        )
    url = "postgresql://" + url.split("://", 1)[1]
    try:
        connection = psycopg2.connect(url, connect_timeout=timeout)
    except Exception as exc:  # psycopg2.Error, or a malformed URL
        reason = one_line(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))
        reason = reason.replace(url, mask_url(url))
        return (
            f"cannot reach the PostgreSQL history at {mask_url(url)} ({POSTGRES_ENV}): "
            f"{reason}; start the server or fix the URL, or unset {POSTGRES_ENV} for the "
            "local history in .dagster/"
        )
    try:
        return postgres_rights_problem(connection, mask_url(url))
    finally:
        connection.close()


# Dagster's storages create their tables when their main table is missing (dagster-postgres).
_DAGSTER_TABLES = (("runs",), ("instance_info",), ("event_logs",), ("jobs", "schedules"))


# Tables every run writes (runs, events, snapshots of the job) or reads.
_WRITTEN_TABLES = ("runs", "run_tags", "snapshots", "event_logs", "kvs", "instance_info")


def postgres_rights_problem(connection, where: str) -> str | None:
    """Why the connected user cannot create Dagster's tables that are not there yet (their
    schema is the first of the user's search path: PostgreSQL 15 and later let only the
    database's owner create in ``public``), or None."""
    from psycopg2.extensions import quote_ident

    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_user, current_database(), current_schema(), "
                "has_schema_privilege(current_schema(), 'CREATE'), "
                "array(SELECT tablename::text FROM pg_tables "
                "WHERE schemaname = current_schema()), "
                "array(SELECT tablename::text FROM pg_tables "
                "WHERE schemaname = current_schema() AND tablename = ANY(%s) AND NOT ("
                + " AND ".join(
                    f"has_table_privilege(format('%%I.%%I', schemaname, tablename), '{right}')"
                    for right in ("SELECT", "INSERT", "UPDATE", "DELETE")
                )
                + ") ORDER BY tablename)",
                (list(_WRITTEN_TABLES),),
            )
            user, database, schema, may_create, tables, closed = cursor.fetchone()
            user_sql, schema_sql = (
                name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else quote_ident(name, cursor)
                for name in (user, schema or "")
            )
    except Exception:  # not ours to judge: Dagster reports what it meets
        return None
    finally:
        connection.rollback()
    missing = [names for names in _DAGSTER_TABLES if not set(names) & set(tables or ())]
    if closed:
        return (
            f"user {one_line(user)} may not write Dagster's tables in schema {one_line(schema)} "
            f"of database {one_line(database)} at {where} ({POSTGRES_ENV}): "
            f"{', '.join(closed)} are not open to it; as their owner, run GRANT SELECT, "
            f"INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema_sql} TO {user_sql} and "
            f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema_sql} TO {user_sql}, or use a "
            f"database {one_line(user)} owns"
        )
    if not missing or may_create:
        return None
    if not schema:
        return (
            f"user {one_line(user)} has no schema to keep Dagster's history in, in database "
            f"{one_line(database)} at {where} ({POSTGRES_ENV}): as the database's owner, run "
            f"CREATE SCHEMA {user_sql} AUTHORIZATION {user_sql}, or use a database "
            f"{one_line(user)} owns"
        )
    return (
        f"user {one_line(user)} may not create Dagster's tables in schema {one_line(schema)} "
        f"of database {one_line(database)} at {where} ({POSTGRES_ENV}; PostgreSQL 15 and later "
        "let only the owner create in public): as the database's owner, run GRANT CREATE ON "
        f"SCHEMA {schema_sql} TO {user_sql}, or CREATE SCHEMA {user_sql} AUTHORIZATION "
        f"{user_sql} (a schema of the user's own), or use a database {one_line(user)} owns"
    )


def history_problem() -> str | None:
    """Why the history that ``DAGSTER_POSTGRES_URL`` names cannot be used, or None (also when
    it is not set: the local history in ``.dagster/``)."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    return postgres_problem(url) if url else None


def project_instance():
    """The project's Dagster instance. Two runs starting at once on a new project would both
    create its sqlite tables, and one would crash: the first creates them, under a lock."""
    import dagster as dg

    try:
        import fcntl  # lazy: absent on Windows, where the import fails
    except ImportError:  # Windows
        return dg.DagsterInstance.get()
    with open(Path(os.environ["DAGSTER_HOME"]) / ".instance.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return dg.DagsterInstance.get()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


ANCHORS_KEPT = 32


@contextmanager
def quick_history(home: Path):
    """Record the run in Dagster's SQLite history (``.dagster/``) without waiting on the disk.

    Dagster opens and closes a connection for each event. Its databases are in WAL mode, so
    each close by the last connection checkpoints the log and each commit syncs it: several
    fsyncs per event, most of a small run's time on a busy disk (395 for the example pipeline).
    While the run lasts, one idle connection per database keeps the log open (no checkpoint
    per event), and this process's connections to those databases commit with
    ``synchronous=NORMAL``, SQLite's recommended setting for WAL: a crash of this process loses
    nothing, a power cut at worst the last events, and the database stays intact. The log is
    checkpointed once, when the last connection closes at the end. The event log keeps one
    connection per database meanwhile (``sqlite_history.held_connections``) and marks a run's
    file after each write, which the UI's live view of the run watches for. Nothing else
    changes: the same databases, read by the UI as before, and the user's own SQLite databases
    untouched. ``run_polster.py --worker`` runs its steps inside it too.
    """

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    # Dagster names its files from os.path.abspath(DAGSTER_HOME); a symlink may resolve elsewhere.
    prefixes = tuple({os.path.abspath(home) + os.sep, str(home.resolve()) + os.sep})
    anchors: OrderedDict[str, sqlite3.Connection] = OrderedDict()
    lock = threading.Lock()

    def on_connect(connection, _record) -> None:
        if not isinstance(connection, sqlite3.Connection):
            return
        rows = connection.execute("PRAGMA database_list").fetchall()
        path = next((row[2] for row in rows if row[1] == "main"), "") or ""
        if not path.startswith(prefixes):
            return
        if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            # A database Dagster is creating (a new run's event log): it switches it to WAL
            # once its tables exist. A crash before then loses only that run's empty log.
            connection.execute("PRAGMA synchronous=OFF")
            return
        connection.execute("PRAGMA synchronous=NORMAL")
        with lock:
            if path in anchors:
                anchors.move_to_end(path)
                return
            try:
                anchor = sqlite3.connect(path, timeout=30, check_same_thread=False)
                # Opens the log and its shared memory; fetchall ends the read at once, so the
                # idle anchor never holds back a checkpoint by Dagster's UI or daemon.
                anchor.execute("SELECT count(*) FROM sqlite_master").fetchall()
            except sqlite3.Error:
                return
            anchors[path] = anchor
            while len(anchors) > ANCHORS_KEPT:  # a Celery worker sees run after run
                anchors.popitem(last=False)[1].close()

    from .history_storage import held_connections

    event.listen(Engine, "connect", on_connect)
    try:
        with held_connections():
            yield
    finally:
        event.remove(Engine, "connect", on_connect)
        with lock:
            for anchor in anchors.values():
                anchor.close()
            anchors.clear()
