"""A local Delta table whose folder or ``_delta_log`` is a symlink out of the project's data
folder (a teammate's commit): refused in one line by every operation, and the folder it leads
to is left as it was (issue 29; tests/hostile_delta.py runs the same through the CLI)."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from polster_core.errors import PolsterError
from polster_core.run import delta
from polster_core.settings import Settings
from polster_core.storage import Storage

APPEND = delta.TableSpec("append")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize("linked", ["_delta_log", "folder"])
def test_a_table_linked_out_of_the_project_is_refused(tmp_path: Path, linked: str) -> None:
    storage = Storage(Settings(tmp_path / "project", "demo", {}))
    for i in range(3):
        delta.write(storage, pl.DataFrame({"x": [i]}), "silver", "t", APPEND)
    table = storage.local.base / "silver" / "t"
    outside = tmp_path / "outside"
    if linked == "_delta_log":
        shutil.move(table / "_delta_log", outside)
        (table / "_delta_log").symlink_to(outside, target_is_directory=True)
    else:
        shutil.move(table, outside)
        table.symlink_to(outside, target_is_directory=True)
    before = snapshot(outside)
    attempts = [
        lambda: delta.write(storage, pl.DataFrame({"x": [9]}), "silver", "t", APPEND),
        lambda: delta.upkeep(storage, "silver", "t", retention_hours=0),
        lambda: delta.read(storage, "silver", "t"),
        lambda: delta.is_delta_table(storage, "silver", "t"),
    ]
    for attempt in attempts:
        with pytest.raises(PolsterError, match="leads out of the project's data folder"):
            attempt()
    assert snapshot(outside) == before


def test_a_log_linked_within_the_data_folder_is_refused_too(tmp_path: Path) -> None:
    storage = Storage(Settings(tmp_path, "demo", {}))
    delta.write(storage, pl.DataFrame({"x": [1]}), "silver", "a", APPEND)
    delta.write(storage, pl.DataFrame({"x": [2]}), "silver", "b", APPEND)
    log = storage.local.base / "silver" / "b" / "_delta_log"
    shutil.rmtree(log)
    log.symlink_to(storage.local.base / "silver" / "a" / "_delta_log")
    with pytest.raises(PolsterError, match="a table's log must be its own"):
        delta.write(storage, pl.DataFrame({"x": [3]}), "silver", "b", APPEND)
    assert delta.read(storage, "silver", "a")["x"].to_list() == [1]
