"""Hostile cases of issue 25, class 5 (bounded resources and clear failures): the example
scripts given the bad data a run reports in one line (malformed, deeply nested or scalar JSON;
Latin-1, ragged, empty or directory CSV paths), a damaged partition file read downstream, and
a Celery broker URL with a mistyped scheme. Collected by ``tests/hostile.py``."""

from __future__ import annotations

import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from hostile import POLSTER, Case, both, env_for, project_of, write_file

API = "BRONZE_FEED_API_URL"
CSV = "BRONZE_SALES_CSV_PATH"


def polster(*args: str):
    """A prepare step: ``polster ARGS`` in the project (it must succeed)."""

    def prepare(folder: Path, stack: ExitStack) -> None:
        result = subprocess.run(
            [POLSTER, *args],
            cwd=project_of(folder),
            env=env_for(folder, {}),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(f"polster {' '.join(args)} failed: {result.stderr}")

    return prepare


def python(*args: str):
    """A prepare step: ``python ARGS`` in the project (it must succeed)."""

    def prepare(folder: Path, stack: ExitStack) -> None:
        result = subprocess.run(
            [sys.executable, *args],
            cwd=project_of(folder),
            env=env_for(folder, {}),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(f"python {' '.join(args)} failed: {result.stderr}")

    return prepare


def cut_short(rel: str, keep: int = 100):
    def prepare(folder: Path, stack: ExitStack) -> None:
        path = project_of(folder) / rel
        path.write_bytes(path.read_bytes()[:keep])

    return prepare


def make_dir(rel: str):
    def prepare(folder: Path, stack: ExitStack) -> None:
        (project_of(folder) / rel).mkdir(parents=True)

    return prepare


def cases() -> list[Case]:
    api = polster("add-asset", "-l", "bronze", "-n", "feed", "-t", "api", "--no-input")
    csv = polster("add-asset", "-l", "bronze", "-n", "sales", "-t", "csv", "--no-input")
    feed = ["python", "src/core/bronze_feed.py"]
    sales = ["python", "src/core/bronze_sales.py"]
    found = []
    # JSON the api template's script reads (a file:// URL: urllib opens it as it would HTTP).
    for shown, data in [
        ("malformed", b'{"a": [1, 2'),
        ("nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000),
        ("a scalar", b"42"),
    ]:
        found.append(
            Case(
                f"api script: JSON {shown}",
                feed,
                prepare=both(api, write_file("data/sources/feed.json", data)),
                env={API: "file:data/sources/feed.json"},
            )
        )
    for shown, prepare in [
        (
            "Latin-1",
            write_file("data/sources/sales.csv", "name,city\nJosé,Köln\n".encode("latin-1")),
        ),
        ("ragged", write_file("data/sources/sales.csv", b"a,b\n1,2\n3,4,5\n")),
        ("empty", write_file("data/sources/sales.csv", b"")),
        ("a directory", make_dir("data/sources/sales.csv")),
    ]:
        found.append(
            Case(
                f"csv script: file {shown}",
                sales,
                prepare=both(csv, prepare),
                env={CSV: "data/sources/sales.csv"},
            )
        )
    # A partition file cut short, read by an unpartitioned downstream asset.
    partitioned = both(
        polster(
            "add-asset",
            "-l",
            "bronze",
            "-n",
            "events",
            "-p",
            "daily",
            "--start",
            "2026-01-01",
            "--no-input",
        ),
        polster(
            "add-asset",
            "-l",
            "silver",
            "-n",
            "events_all",
            "-d",
            "run_bronze_events",
            "-p",
            "none",
            "--no-input",
        ),
        python("run_polster.py", "--from", "2026-01-01", "--to", "2026-01-02"),
        cut_short("data/bronze/events/date=2026-01-02/data.parquet"),
    )
    found += [
        Case(
            "damaged partition read downstream: run",
            ["python", "run_polster.py", "--select", "run_silver_events_all"],
            prepare=partitioned,
            check=names_partition,
        ),
        Case(
            "damaged partition read downstream: script",
            ["python", "src/core/silver_events_all.py"],
            prepare=partitioned,
            check=names_partition,
        ),
        Case(
            "celery broker scheme mistyped (redsi://)",
            ["python", "run_polster.py", "--executor", "celery"],
            env={
                "POLSTER_DISABLE_PLUGIN_AUTOLOAD": None,
                "CELERY_BROKER_URL": "redsi://:hostile-pw@127.0.0.1:6379/0",
                "POLSTER_SHARED_DISK": "true",
            },
            check=no_secret("hostile-pw"),
        ),
    ]
    return found


def names_partition(folder: Path, result: subprocess.CompletedProcess) -> list[str]:
    wanted = "partition 2026-01-02 of bronze/events"
    return [] if wanted in result.stderr else [f"the line does not name {wanted}"]


def no_secret(secret: str):
    def check(folder: Path, result: subprocess.CompletedProcess) -> list[str]:
        return ["the password shows"] if secret in result.stdout + result.stderr else []

    return check
