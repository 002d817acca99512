"""Hostile cases of issue 29 (Delta tables): a teammate's ``.polster/generated.json`` naming an
incremental strategy, unique key, ``on_schema_change`` or ``hard_deletes`` that is invalid or
hostile, and a table whose ``_delta_log`` (or whole folder) is a symlink to a folder outside
the project, under ``polster upkeep`` and ``remove-asset --purge-data``. Each holds: one line,
a non-zero exit, no traceback, every file (the folder outside included) as it was. Collected by
tests/hostile.py (``cases()``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from contextlib import ExitStack
from pathlib import Path

from hostile import POLSTER, Case, env_for, project_of

RECORD = ".polster/generated.json"
TABLE = "data/silver/orders"


def record_with(**fields):
    """The record names a silver asset with ``fields`` (its Delta table options)."""

    def prepare(folder: Path, stack: ExitStack) -> None:
        path = project_of(folder) / RECORD
        record = json.loads(path.read_text(encoding="utf-8"))
        asset = {"layer": "silver", "name": "orders", "template": "default", **fields}
        record["answers"]["assets"].append(asset)
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    return prepare


def delta_table(linked: str):
    """An incremental asset whose stored table has its ``_delta_log`` (``linked="log"``) or its
    whole folder (``"folder"``) as a symlink to ``outside/``, beside the project: a real
    Delta table's files, which delta-rs would write to and vacuum."""

    def prepare(folder: Path, stack: ExitStack) -> None:
        import polars as pl
        from deltalake import write_deltalake

        project = project_of(folder)
        added = subprocess.run(
            [POLSTER, "add-asset", "--layer", "silver", "--name", "orders", "--deps",
             "example", "--partitions", "none", "--incremental", "append", "--no-input"],
            cwd=project, env=env_for(folder, {}), capture_output=True, text=True,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if added.returncode != 0:
            raise RuntimeError(f"add-asset failed: {added.stderr}")
        table = project / TABLE
        for i in range(3):  # three small files and three commits: upkeep would compact them
            write_deltalake(str(table), pl.DataFrame({"x": [i]}).to_arrow(), mode="append")
        outside = folder / "outside"
        if linked == "log":
            shutil.move(str(table / "_delta_log"), outside)
            (table / "_delta_log").symlink_to(outside, target_is_directory=True)
        else:
            shutil.move(str(table), outside)
            table.symlink_to(outside, target_is_directory=True)

    return prepare


def outside_intact(folder: Path, result: subprocess.CompletedProcess) -> list[str]:
    outside = folder / "outside"
    if not outside.is_dir() or not any(outside.rglob("*")):
        return ["the folder outside the project was emptied or deleted"]
    return []


def cases() -> list[Case]:
    upgrade = ["polster", "upgrade", "--no-input"]
    delta = {"format": "delta"}
    found = [
        Case(f"record: {shown}", upgrade, prepare=record_with(**fields))
        for shown, fields in [
            ("unknown incremental strategy", {**delta, "incremental": "upsert"}),
            (
                "unique key a path",
                {**delta, "incremental": "merge", "unique_key": ["../../etc/passwd"]},
            ),
            (
                "unique key a string, not a list",
                {**delta, "incremental": "merge", "unique_key": "customer_id"},
            ),
            ("unique key a number", {**delta, "incremental": "merge", "unique_key": [7]}),
            (
                "on_schema_change unknown",
                {**delta, "incremental": "append", "on_schema_change": "drop_table"},
            ),
            (
                "hard_deletes unknown",
                {**delta, "incremental": "snapshot", "unique_key": ["id"], "hard_deletes": "rm"},
            ),
            (
                "hard_deletes on a merge",
                {
                    **delta,
                    "incremental": "merge",
                    "unique_key": ["id"],
                    "hard_deletes": "invalidate",
                },
            ),
            ("incremental without format delta", {"incremental": "merge", "unique_key": ["id"]}),
            ("format unknown", {"format": "iceberg"}),
        ]
    ]
    purge = ["polster", "remove-asset", "--layer", "silver", "--name", "orders", "--purge-data"]
    found += [
        Case(
            f"{verb}: the table's {what} is a symlink out of the project",
            argv,
            prepare=delta_table(linked),
            check=outside_intact,
        )
        for what, linked in [("_delta_log", "log"), ("folder", "folder")]
        for verb, argv in [
            ("upkeep", ["polster", "upkeep", "--retention-hours", "0"]),
            ("remove-asset --purge-data", [*purge, "--no-input"]),
        ]
    ]
    return found
