"""``run_polster.py``'s engine, its first job: the arguments and the one error boundary.

:func:`main` parses the arguments, masks the project's secrets in everything printed, loads
``.env`` and hands over to materialising (:mod:`.materialize`), the worker (:mod:`.materialize`)
or the UI (:mod:`.ui`); whatever a user can fix ends as one line (:mod:`.instance` words
history errors). Stable path: ``polster_core.runner.main`` (every generated ``run_polster.py``).
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys
import traceback
from pathlib import Path

from ..errors import user_message
from ..exceptions import (
    exception_chain,
    one_line,
)
from ..secrets import process_redactor
from .instance import POSTGRES_ENV, dagster_home, mask_url
from .io_errors import no_space
from .masked_output import masked_output
from .materialize import EXECUTOR_ENV, materialize, run_worker
from .partition_runs import add_arguments
from .progress import choose_style
from .settings import load_dotenv
from .ui import start_ui, ui_address_problem


class _Parser(argparse.ArgumentParser):
    """argparse, with a wrong option reported as one line (what is wrong, where help is)."""

    def error(self, message: str):

        self.exit(2, f"error: {one_line(message)}: see python run_polster.py --help\n")


def port_number(value: str) -> int:
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


def workers_number(value: str) -> int:
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
        type=port_number,
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
        type=workers_number,
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
            message = history_full(exc) or history_error(exc) or user_message(exc)
            if message is None:
                if not redactor:
                    raise
                traceback.print_exc()  # a bug: its traceback, masked like the rest
                return 1
            print(f"error: {one_line(message)}", file=sys.stderr, flush=True)
            return 1


def history_error(exc: BaseException) -> str | None:
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


def history_full(exc: BaseException) -> str | None:
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
                args.port = port_number(os.environ.get("POLSTER_UI_PORT") or "3000")
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
