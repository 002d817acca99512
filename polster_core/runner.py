"""``python run_polster.py``: run a project's pipeline, or open the Dagster UI.

No flag materialises every asset in one process and prints a line per asset and a summary;
``--ui`` starts ``dagster dev`` (UI and daemon) on 127.0.0.1:3000 from ``workspace.yaml``.
Dagster's home is ``.dagster/`` inside the project (ignored by git), with telemetry off.
"""

from __future__ import annotations

import argparse
import errno
import gc
import importlib
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections import OrderedDict
from contextlib import contextmanager, nullcontext
from pathlib import Path

from .definitions_check import where_in_project
from .errors import user_message
from .exceptions import (
    FULL_CAUSE,
    PolsterError,
    exception_chain,
    exception_line,
    first_line,
    one_line,
)
from .interrupts import EXIT_CODE, interrupted_line, noted_signals
from .io_errors import no_space
from .masked_output import MaskingPump, masked_output
from .partition_runs import add_arguments, describe, run_tags
from .progress import Display, choose_style, time_left
from .progress import parse as parse_progress
from .quiet_children import quiet_step_processes
from .secrets import SETTINGS_CACHE, Redactor, known_secrets, mask_url_password, process_redactor
from .settings import add_src_to_pythonpath, load_dotenv

JOB_NAME = "polster_pipeline"
# The executor run_polster.py uses when --executor is not given (see polster_core.specs.Executor).
EXECUTOR_ENV = "POLSTER_EXECUTOR"
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


class _Parser(argparse.ArgumentParser):
    """argparse, with a wrong option reported as one line (what is wrong, where help is)."""

    def error(self, message: str):

        self.exit(2, f"error: {one_line(message)}: see python run_polster.py --help\n")


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from 1 to 65535 (default 3000, or $POLSTER_UI_PORT), "
            f"not '{value}'"
        )
    return port


def _workers(value: str) -> int:
    try:
        workers = int(value)
    except ValueError:
        workers = -1
    if workers < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more, not '{value}'")
    return workers


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(
        prog="run_polster.py",
        description="Run this Polster project's pipeline, or open the Dagster UI.",
    )
    parser.add_argument(
        "--materialize",
        action="store_true",
        help="materialise every asset (the default without --ui)",
    )
    parser.add_argument(
        "--ui", action="store_true", help="start the Dagster UI and daemon (Ctrl+C stops them)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="UI host (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=_port,
        default=None,  # then POLSTER_UI_PORT (the environment or .env) or 3000, in _main
        help="UI port (default 3000, or POLSTER_UI_PORT in the environment or .env)",
    )
    parser.add_argument(
        "--select",
        metavar="ASSETS",
        help="materialise only these assets (comma-separated, e.g. run_silver_example); "
        "their upstream tables are read from storage",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="print Dagster's own log of the run too, and after a failed asset's one-line "
        "error its full cause (the traceback, secrets masked)",
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=0,
        metavar="N",
        help="run independent assets in parallel in N long-lived worker processes (the "
        "multiprocess executor; at most one per asset of the run and 4 per CPU); default: one "
        "process, fastest for small pipelines",
    )
    parser.add_argument(
        "--executor",
        metavar="NAME",
        default=os.environ.get(EXECUTOR_ENV) or None,
        help="how steps run: in-process, multiprocess (the default with --workers), or one "
        "an executor plugin adds, e.g. celery (default: $POLSTER_EXECUTOR, else in-process)",
    )

    add_arguments(parser)
    parser.add_argument(
        "--worker",
        action="store_true",
        help="run a worker of the executor (e.g. celery) that takes this project's steps "
        "until stopped; --workers N: N steps at once",
    )
    return parser.parse_args(argv)


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
    _sync_postgres(config, bool(url))
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    return home


def _sync_postgres(config: Path, wanted: bool) -> None:
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
        return _postgres_rights_problem(connection, mask_url(url))
    finally:
        connection.close()


# Dagster's storages create their tables when their main table is missing (dagster-postgres).
_DAGSTER_TABLES = (("runs",), ("instance_info",), ("event_logs",), ("jobs", "schedules"))
# Tables every run writes (runs, events, snapshots of the job) or reads.
_WRITTEN_TABLES = ("runs", "run_tags", "snapshots", "event_logs", "kvs", "instance_info")


def _postgres_rights_problem(connection, where: str) -> str | None:
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


def main(root: Path | str, argv: list[str] | None = None) -> int:
    """``run_polster.py``'s one error boundary: whatever a user can fix is one line on stderr
    and exit code 1 (a full disk under ``.dagster/`` included); only bugs show a traceback."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    root = Path(root).resolve()

    # Everything printed from here on, by Polster, Dagster (its log under --verbose) or any
    # process started meanwhile (the --workers pool), reaches the terminal with the project's
    # secrets masked.
    redactor = process_redactor(root)

    choose_style()  # a bar on a terminal: asked before the output goes through the mask's pipe
    with masked_output(redactor):
        try:
            return _main(root, args)
        except KeyboardInterrupt:
            print("Aborted.", file=sys.stderr)
            return 130
        except Exception as exc:
            message = _history_full(exc) or _history_error(exc) or user_message(exc)
            if message is None:
                if not redactor:
                    raise
                traceback.print_exc()  # a bug: its traceback, masked like the rest
                return 1
            print(f"error: {one_line(message)}", file=sys.stderr, flush=True)
            return 1


def _history_error(exc: BaseException) -> str | None:
    """The message for an error of the PostgreSQL history the checks before a run could not
    foresee (rights taken away, a table of another owner), if it was that: its first line."""

    url = os.environ.get(POSTGRES_ENV, "").strip()
    found = next(
        (e for e in exception_chain(exc) if type(e).__module__.startswith("psycopg2")), None
    )
    if not url or found is None:
        return None
    lines = str(found).strip().splitlines()
    reason = one_line(lines[0] if lines else type(found).__name__)
    url = re.sub(r"^postgresql\+psycopg2://", "postgresql://", url)
    return (
        f"the PostgreSQL history at {mask_url(url)} ({POSTGRES_ENV}) refused: {reason}; fix "
        f"the user's rights or the server, or unset {POSTGRES_ENV} for the local history in "
        ".dagster/"
    )


def history_problem() -> str | None:
    """Why the history that ``DAGSTER_POSTGRES_URL`` names cannot be used, or None (also when
    it is not set: the local history in ``.dagster/``)."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    return postgres_problem(url) if url else None


def _history_full(exc: BaseException) -> str | None:
    """The message for a disk too full for Dagster's history (``.dagster/``), if it was that."""

    if not any("database or disk is full" in str(e) for e in exception_chain(exc)) and not no_space(
        exc
    ):
        return None
    home = os.environ.get("DAGSTER_HOME") or ".dagster"
    return (
        f"no space left on the device for Dagster's history in {home}: free some space there, "
        "or set DAGSTER_HOME to a folder on a larger disk"
    )


def _main(root: Path, args: argparse.Namespace) -> int:
    os.chdir(root)

    load_dotenv(root)  # first: .env may set DAGSTER_POSTGRES_URL, which the instance reads
    dagster_home(root)
    src = str(root / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    # .env may name the executor too (parse_args saw the environment before it was loaded).
    args.executor = args.executor or os.environ.get(EXECUTOR_ENV) or None
    if args.worker:
        return run_worker(root, args.executor, args.workers)
    code = 0
    if args.ui:  # before a long run, not after it
        if args.port is None:  # .env is loaded now: it may set POLSTER_UI_PORT
            try:
                args.port = _port(os.environ.get("POLSTER_UI_PORT") or "3000")
            except argparse.ArgumentTypeError as exc:
                fix = "fix it in .env or the environment, or pass --port"
                print(f"error: POLSTER_UI_PORT {exc}: {fix}", file=sys.stderr)
                return 2
        problem = ui_address_problem(args.host, args.port)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 1
    if args.materialize or not args.ui:
        selection = [a.strip() for a in (args.select or "").split(",") if a.strip()]
        partitions = (args.partition, args.partition_from, args.partition_to)
        code = materialize(
            root,
            workers=args.workers,
            select=selection,
            verbose=args.verbose,
            executor=args.executor,
            partitions=partitions,
        )
    if args.ui:
        ui_code = start_ui(root, args.host, args.port)
        code = code or ui_code
    # The process ends next: without this, the interpreter's last garbage collections walk
    # every object Dagster and polars created (about 0.5 s); memory goes back to the OS anyway.
    gc.freeze()
    return code


def _fmt_seconds(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}s"


def pipeline_job():
    """The project's pipeline job, with the executor named in ``$POLSTER_EXECUTOR`` (set by
    ``run_polster.py`` for the run); workers of other processes and machines rebuild it."""

    name = os.environ.get(EXECUTOR_ENV)
    if name in _JOBS:
        # Dagster asks again for every reconstructable copy of the job (about 0.5 s each on a
        # 93-asset project); the project's code does not change during a process.
        return _JOBS[name]
    job = importlib.import_module("orchestration.definitions").defs.resolve_job_def(JOB_NAME)
    if name:
        from .plugins import get_plugins

        executor = get_plugins().executor(name)
        if executor.executor_def is not None:
            job = job.with_executor_def(executor.executor_def())
    _JOBS[name] = job
    return job


_JOBS: dict = {}


def choose_executor(name: str | None, workers: int):
    """The executor of a run: ``--executor`` (or ``$POLSTER_EXECUTOR``), else ``multiprocess``
    with ``--workers`` and ``in-process`` without."""
    from .plugins import get_plugins

    name = (name or "").strip() or ("multiprocess" if workers else "in-process")
    return get_plugins().executor(name)


def run_worker(root: Path, name: str | None, workers: int) -> int:
    """``run_polster.py --worker``: the executor's worker for this project, until stopped."""
    from .plugins import get_plugins

    if not (name or "").strip():
        print(
            "error: --worker needs an executor with workers: add --executor NAME (e.g. celery) "
            f"or set {EXECUTOR_ENV} in .env",
            file=sys.stderr,
        )
        return 2
    executor = get_plugins().executor(name.strip())
    if executor.worker is None:
        print(
            f"error: the {executor.name} executor has no workers to start: --worker is for "
            "executors that run steps elsewhere, e.g. celery",
            file=sys.stderr,
        )
        return 2
    # The worker rebuilds the pipeline job with this executor (see pipeline_job).
    os.environ[EXECUTOR_ENV] = executor.name
    add_src_to_pythonpath(root)
    # Loaded now, once: the worker's processes (forked from this one) start with the project
    # imported, so a run's first steps do not wait for it; a project that does not load is
    # one line here rather than a failure of every step. What it loaded lives as long as the
    # worker: frozen, as in a run (see materialize), it is left out of every collection.
    try:
        pipeline_job()
    except Exception as exc:
        print(_masked(f"error: {_definitions_error(exc)}"), file=sys.stderr)
        return 1
    problem = history_problem()
    if problem:
        print(_masked(f"error: {problem}"), file=sys.stderr)
        return 1
    gc.freeze()
    if workers:  # processes of this machine, whatever the executor makes of them
        from .pool import bounded_size

        requested = workers
        workers, why = bounded_size(workers)
        if why:
            print(f"--workers {requested}: using {workers} ({why})", flush=True)
    # Steps in the worker record their events as a run in this process does (quick_history):
    # with the project's SQLite history, a held connection per database instead of one per
    # event, and no disk sync per event.
    with quick_history(Path(os.environ["DAGSTER_HOME"])):
        return executor.worker(root, [f"--concurrency={workers}"] if workers else [])


def materialize(
    root: Path,
    workers: int = 0,
    select: list[str] | None = None,
    verbose: bool = False,
    executor: str | None = None,
    partitions: tuple = (None, None, None),
) -> int:
    """Run the pipeline job (in this process, or in ``workers`` processes); print progress."""

    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    print(f"Running {JOB_NAME} of {root.name} ...", flush=True)
    # Loading Dagster, the project and the instance creates about a million objects that live
    # until the end, and next to no garbage: collecting during the load costs ~0.2 s for
    # nothing. Once loaded, they are frozen (left out of every later collection) and the
    # collector runs again for the pipeline itself.
    gc.disable()

    try:
        chosen = choose_executor(executor, workers)
        with quick_history(Path(os.environ["DAGSTER_HOME"])), noted_signals() as received:
            try:
                return _materialize(
                    root, workers, select, started, verbose, chosen, partitions, received
                )
            except BaseException:
                if not received():
                    raise
        print(interrupted_line(received()), file=sys.stderr, flush=True)
        return EXIT_CODE
    finally:
        gc.enable()
        from . import pool

        pool.shutdown()


def _materialize(
    root: Path,
    workers: int,
    select: list[str] | None,
    started: float,
    verbose: bool = False,
    executor=None,
    partitions: tuple = (None, None, None),
    interrupted=lambda: None,
) -> int:
    in_process = executor is None or executor.in_process
    try:
        import dagster as dg

        if not in_process:
            os.environ[EXECUTOR_ENV] = executor.name
        job = pipeline_job()
    except Exception as exc:  # the user's code failed to import: say where, briefly
        print(_masked(f"error: {_definitions_error(exc)}"), file=sys.stderr)
        return 1
    refused = _layer_rules(root)
    if refused:
        print(_masked(f"error: {refused}"), file=sys.stderr)
        return 1
    keys = None
    if select:
        known = {node.name for node in job.graph.node_defs}
        unknown = [name for name in select if name not in known]
        if unknown:
            choices = ", ".join(sorted(known))
            print(
                f"error: no asset named {', '.join(unknown)}: choose from {choices}",
                file=sys.stderr,
            )
            return 2
        keys = [dg.AssetKey(name) for name in select]
    if not in_process and executor.preflight is not None:
        problem = executor.preflight(os.environ)
        if problem:
            print(_masked(f"error: {problem}"), file=sys.stderr)
            return 1
    problem = history_problem()
    if problem:
        print(_masked(f"error: {problem}"), file=sys.stderr)
        return 1

    tags = run_tags(job, *partitions)
    if tags:
        print(f"  {describe(tags)}", flush=True)
    instance = _instance()
    gc.freeze()
    gc.enable()
    run_id = str(uuid.uuid4())
    if workers and not in_process and not executor.remote:
        # Processes of this machine: bounded by the work and the machine (see pool.py).
        from .pool import bounded_size

        requested = workers
        workers, why = bounded_size(workers, len(select or job.graph.node_defs))
        if why:
            print(f"  --workers {requested}: using {workers} ({why})", flush=True)
    config = {} if in_process else executor.run_config(os.environ, workers)
    level = "DEBUG" if verbose else "CRITICAL"
    quiet = {"loggers": {"console": {"config": {"log_level": level}}}}
    recon_job = run_config = None
    if not in_process:
        add_src_to_pythonpath(root)  # worker processes import the project too
        run_config = {**quiet, "execution": {"config": config}}
        recon_job = dg.reconstructable(pipeline_job)
    if executor is not None and executor.name == "multiprocess":
        from . import pool

        # The workers start now, with the project loaded, before the progress thread, and
        # plan the run (the job as execute_run will subset it) while it is being created.
        planned = recon_job.get_subset(asset_selection=frozenset(keys)) if keys else recon_job
        pool.prefork(config["max_concurrent"], instance.get_ref(), planned, run_config)
    # Out of process, Dagster creates the run itself: the watcher finds it and polls its events.
    total_steps = len(select or job.graph.node_defs)
    watcher = _Progress(instance, run_id if in_process else None, total_steps)
    watcher.start()
    try:
        if not in_process:
            with nullcontext() if verbose else quiet_step_processes():
                result = dg.execute_job(
                    recon_job,
                    instance,
                    run_config=run_config,
                    asset_selection=keys,
                    tags=tags,
                )
        else:
            result = job.execute_in_process(
                instance=instance,
                run_id=run_id,
                raise_on_error=False,
                run_config=quiet,
                asset_selection=keys,
                tags=tags,
            )
    except PolsterError as exc:
        watcher.stop()
        print(_masked(f"error: {exc}"), file=sys.stderr)
        if verbose and exc.details:
            print(_masked(exc.details), file=sys.stderr)
        return 1
    watcher.stop()
    steps = watcher.finish()
    expected = select or [node.name for node in job.graph.node_defs]
    ok = [s for s in steps.values() if s["status"] == "ok"]
    how = interrupted()
    if how:  # Ctrl+C or SIGTERM: what Dagster made of it is no failure of an asset
        print(interrupted_line(how, len(ok), len(expected)), file=sys.stderr, flush=True)
        return EXIT_CODE
    failed = [s for s in steps.values() if s["status"] == "failed"]
    done = {s["name"] for s in ok + failed}
    skipped = [name for name in expected if name not in done]
    why = "the run stopped" if watcher.run_error and not failed else "an upstream asset failed"
    for name in skipped:
        print(f"  skip  {name:<40} ({why})")
    total_rows = sum(s["rows"] or 0 for s in ok)
    checks = len(watcher.failed_checks)
    print(
        f"{'Succeeded' if result.success else 'FAILED'}: {len(ok)} materialised, {len(failed)} "
        f"failed, {len(skipped)} skipped, {total_rows:,} rows"
        f"{f', {checks} check(s) failed' if checks else ''} in "
        f"{time.perf_counter() - started:.2f}s (run {result.run_id[:8]})"
    )
    fell_back = [s["name"] for s in ok if s.get("fell_back")]
    if fell_back:
        print(
            f"WARNING: {len(fell_back)} fell back to local storage ({', '.join(fell_back)}): "
            "their newest data is on this machine only; the warnings above say why"
        )
    for step in failed:
        print(f"error in {step['name']}: {step['error']}", file=sys.stderr)
        if verbose and step.get("details"):
            print(f"{step['details']}\n", file=sys.stderr)
    if not failed and not result.success and watcher.run_error:
        print(_masked(f"error: {watcher.run_error}"), file=sys.stderr)
    return 0 if result.success else 1


def _masked(text: str) -> str:
    """``text`` without the project's secrets (events come masked by Polster's instance)."""

    return Redactor(known_secrets(Path.cwd()))(text)


def _layer_rules(root: Path) -> str | None:
    """What the run refuses before it starts, as ``polster check`` would: an asset reading a
    layer the rules forbid (``allow_same_layer_deps`` applies). Wrappers left unregistered are
    said on stdout: Dagster never sees them, so they do not run."""
    from .asset_plans import load_assets
    from .project import load_project

    try:
        assets = load_assets(load_project(root))
        problems = assets.problems()
    except (PolsterError, OSError, SyntaxError, ValueError):
        return None  # the definitions loaded: what check cannot read, the run need not judge
    for problem in problems:
        if problem.rule == "unregistered":
            print(f"Not run: {problem} (polster check lists it too)", flush=True)
    broken = [problem for problem in problems if problem.rule == "layer-rule"]
    if not broken:
        return None
    more = f" (and {len(broken) - 1} more: polster check lists them)" if len(broken) > 1 else ""
    return f"{broken[0]}{more}; the run keeps the layer rules, as polster check does"


def _definitions_error(exc: Exception) -> str:
    """Why the definitions did not load, in a line; the asset graph's own problems (a cycle,
    a missing upstream asset) point to ``polster check``, which names the files to fix."""

    own = user_message(exc) if not isinstance(exc, (ImportError, SyntaxError)) else None
    if own is not None:
        return one_line(own)
    chain = list(exception_chain(exc))
    text = one_line(f"{type(exc).__name__}: {first_line(exc)}")
    if any(type(e).__name__ == "CircularDependencyError" for e in chain):
        return (
            "the project's assets depend on each other in a cycle, so its definitions cannot "
            "load: run `polster check` to see the cycle, then remove one of its dependencies"
        )
    if any(type(e).__module__.startswith("dagster") for e in chain):
        return (
            f"the project's definitions are invalid ({text}): run `polster check`, which "
            "names the files with broken dependencies or registrations"
        )

    where = where_in_project(exc, Path.cwd())  # the run works in the project's root
    if where:
        return f"the project's definitions failed to load: {where}: {text}: fix it there"
    return f"the project's definitions failed to load: {text}"


def _instance():
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

    from .sqlite_history import held_connections

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


class _Progress:
    """Prints one line per finished asset as it happens.

    In one process it listens to the instance's events as they are stored; with ``--workers``
    (the run is created by Dagster, in other processes) it polls the run's event log.
    """

    def __init__(self, instance, run_id: str | None, total_steps: int = 0):

        self.instance = instance
        self.display = Display(total_steps)
        self.run_id = run_id
        self.created_after = time.time()
        self.steps: dict[str, dict] = {}
        self.failed_checks: list[str] = []
        # Why the run failed outside its steps (its executor raised), as one line.
        self.run_error: str | None = None
        self._cursor: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        if self.run_id is not None:
            self.instance.add_event_listener(self.run_id, self.handle)
        else:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.display.close()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self.poll()

    def finish(self) -> dict[str, dict]:
        if self._thread.ident is not None:
            self.poll()
        self.display.close()
        return self.steps

    def poll(self) -> None:
        try:
            if self.run_id is None:
                runs = self.instance.get_runs(limit=1)
                record = self.instance.get_run_record_by_id(runs[0].run_id) if runs else None
                if record is None or record.create_timestamp.timestamp() < self.created_after:
                    return
                self.run_id = runs[0].run_id
            # Only the events stored since the last poll (reading the whole log each time
            # cost more than the run's own steps on a large pipeline).
            found = self.instance.get_records_for_run(self.run_id, cursor=self._cursor)
        except Exception:  # the run may not exist yet
            return
        for record in found.records:
            self.handle(record.event_log_entry)
        self._cursor = found.cursor

    def _step(self, key: str) -> dict:
        return self.steps.setdefault(
            key,
            {
                "name": key,
                "status": "running",
                "start": None,
                "rows": None,
                "seconds": None,
                "error": None,
            },
        )

    def handle(self, entry) -> None:
        event = entry.dagster_event
        if event is None:  # a log message: the full cause of an asset's error, or its progress
            text = entry.user_message or ""
            if entry.step_key and text.startswith(FULL_CAUSE):
                step = self._step(entry.step_key)
                step["details"] = text[len(FULL_CAUSE) :].strip()
            elif entry.step_key and (done := parse_progress(text)) is not None:
                step = self._step(entry.step_key)
                left = time_left(step["start"], entry.timestamp, *done)
                self.display.partitions(step["name"], *done, left)
            return
        if event.event_type_value == "PIPELINE_FAILURE":
            if getattr(event.event_specific_data, "error", None) is not None:
                self.run_error = _error_text(event)
            return
        if not event.step_key:
            return
        step = self._step(event.step_key)
        kind = event.event_type_value
        if kind == "STEP_START":
            step["start"] = entry.timestamp
            self.display.started(step["name"])
        elif kind == "ASSET_MATERIALIZATION":
            meta = event.event_specific_data.materialization.metadata
            rows = getattr(meta.get("dagster/row_count"), "value", None)
            fell_back = bool(getattr(meta.get("fell_back_to_local"), "value", False))
            if event.partition:  # one event per partition written, each with its own rows
                step["partitions"] = step.get("partitions", 0) + 1
                if step["partitions"] > 1 and rows is not None:
                    rows += step["rows"] or 0
                fell_back = fell_back or step.get("fell_back", False)
            step["rows"] = rows
            step["fell_back"] = fell_back
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                detail = ", ".join(
                    f"{key}: {getattr(value, 'value', value)}"
                    for key, value in (evaluation.metadata or {}).items()
                )
                self.failed_checks.append(f"{step['name']}.{evaluation.check_name}")
                self.display.line(
                    f"  CHECK {step['name']}: {evaluation.check_name} failed ({detail})"
                )
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            if step["start"] is not None:
                step["seconds"] = entry.timestamp - step["start"]
            self.display.ended(step["name"])
            if kind == "STEP_SUCCESS":
                step["status"] = "ok"
                rows = "-" if step["rows"] is None else f"{step['rows']:,} rows"
                fallback = "  (fell back to local storage)" if step.get("fell_back") else ""
                if step.get("partitions"):
                    fallback += f"  ({step['partitions']} partition(s))"
                self.display.line(
                    f"  ok    {step['name']:<40} {rows:>14} {_fmt_seconds(step['seconds']):>8}"
                    f"{fallback}{self.display.counter()}"
                )
            elif kind == "STEP_FAILURE":
                step["status"] = "failed"
                step["error"] = _error_text(event)
                self.display.line(f"  FAIL  {step['name']:<40} {step['error']}")
            else:
                step["status"] = "skipped"


def _error_text(event) -> str:
    data = event.event_specific_data
    error = getattr(data, "error", None)
    # Dagster wraps the user's exception (whose own causes are the user's: not shown here).
    while (
        error is not None
        and error.cause is not None
        and (error.cls_name or "").startswith("Dagster")
    ):
        error = error.cause
    if error is None:
        return "failed"
    if error.cls_name == "DagsterExecutionInterruptedError":
        return "interrupted (Ctrl+C or SIGTERM)"

    # The line an example script prints for the same error (errors.error_line).
    return exception_line(error.message or "") or error.cls_name or "failed"


def ui_address_problem(host: str, port: int) -> str | None:
    """Why the UI cannot listen on ``host:port`` (one line, with what to do), or None."""

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (OSError, UnicodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return (
            f"cannot resolve --host '{one_line(host)}' ({reason}): pass a name or address of "
            "this machine, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)"
        )
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                other = port + 1 if port < 65535 else port - 1
                return f"port {port} on {host} is busy: stop what uses it, or pass --port {other}"
            if exc.errno == errno.EADDRNOTAVAIL:
                return (
                    f"{host} is not an address of this machine: pass one of its addresses, "
                    "e.g. 127.0.0.1 or 0.0.0.0"
                )
            if exc.errno in (errno.EACCES, errno.EPERM):
                return (
                    f"port {port} needs more privileges than this user has: "
                    "pass a port above 1023, e.g. --port 3000"
                )
            return f"cannot listen on {host}:{port} ({exc.strerror or exc}): pass another --port"
    return None


def start_ui(root: Path, host: str, port: int) -> int:
    """``dagster dev`` (UI + daemon) from workspace.yaml until Ctrl+C."""
    problem = ui_address_problem(host, port) or history_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    command = [
        sys.executable,
        "-m",
        "polster_core.dagster_dev",
        "-w",
        str(root / "workspace.yaml"),
        "-h",
        host,
        "-p",
        str(port),
    ]
    print(f"Dagster UI: http://{host}:{port}  (Ctrl+C stops it)", flush=True)
    preexec = _default_signals if os.name != "nt" else None
    pipes, pumps = _masked_pipes(root)
    process = subprocess.Popen(command, cwd=root, preexec_fn=preexec, **pipes)
    for write_end in pipes.values():
        os.close(write_end)
    for pump in pumps:
        pump.start()
    # SIGTERM (a service manager, `kill`) stops it like Ctrl+C does.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    interrupted = False
    try:
        return process.wait()
    except KeyboardInterrupt:
        # Ctrl+C in a terminal reaches dagster dev too; a signal sent to us alone is forwarded.
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        interrupted = True
    finally:
        signal.signal(signal.SIGTERM, previous)
        for pump in pumps:
            pump.join(timeout=10)
    if interrupted:
        print("Interrupted: the Dagster UI and its daemon stopped", file=sys.stderr)
    return 130


def _masked_pipes(root: Path) -> tuple[dict[str, int], list]:
    """When the project has secrets: pipes for the stdout and stderr of ``dagster dev`` (and
    every process it starts), read by threads that mask the secrets and pass the rest on."""

    home = Path(os.environ["DAGSTER_HOME"])
    redactor = Redactor(known_secrets(root, cache=home / SETTINGS_CACHE))
    if not redactor:
        return {}, []
    pipes, pumps = {}, []
    for name, stream in (("stdout", sys.stdout), ("stderr", sys.stderr)):
        try:
            target = stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue
        read_end, pipes[name] = os.pipe()
        pumps.append(MaskingPump(read_end, target, None, redactor))
    return pipes, pumps


def _default_signals() -> None:
    # A process started in the background of a non-interactive shell inherits an ignored
    # SIGINT, and Dagster then ignores SIGTERM too: restore the defaults for dagster dev.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt
