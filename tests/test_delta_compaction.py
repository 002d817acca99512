"""Delta tables (issue 29, follow-up): automatic compaction after a commit, by the project's
``[tool.polster]`` settings, and snapshots' ``hard_deletes`` (dbt's option), on real tables
written by delta-rs."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from polster_core.errors import PolsterError
from polster_core.run import delta
from polster_core.settings import Settings
from polster_core.storage import Storage
from polster_core.testing.projects import assert_one_line_error, run_polster, tree_hash

from .assets_helpers import add, new_project, polster_ok

APPEND = delta.TableSpec("append")


def project_storage(root: Path, settings: str = "") -> Storage:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f"[tool.polster]\n{settings}\n")
    return Storage(Settings(root, "demo", {}))


def current_files(storage: Storage, name: str) -> list[str]:
    return delta.open_table(delta.location(storage, "silver", name)).file_uris()


def day(i: int) -> pl.DataFrame:
    return pl.DataFrame({"day": [i] * 3, "x": [i * 10, i * 10 + 1, i * 10 + 2]})


def test_many_appends_are_compacted_automatically(tmp_path: Path) -> None:
    storage = project_storage(tmp_path, "delta_compact_small_files = 4")
    results = [delta.write(storage, day(i), "silver", "daily", APPEND) for i in range(12)]
    assert sum(r.compacted for r in results) > 0
    files = current_files(storage, "daily")
    assert len(files) <= 5  # never more than the limit, plus the compacted file
    rows = delta.read(storage, "silver", "daily").sort("x")
    assert rows.equals(pl.concat([day(i) for i in range(12)]))
    # The versions before a compaction still read as they were (their files are kept).
    assert (
        delta.read(storage, "silver", "daily", version=2)
        .sort("x")
        .equals(pl.concat([day(i) for i in range(3)]))
    )
    # A compaction is a version of its own, right after its run's append: the same rows in
    # fewer files.
    compacting = next(r for r in results if r.compacted)
    assert "compacted" in compacting.summary()
    before = delta.read(storage, "silver", "daily", version=compacting.version).sort("x")
    after = delta.read(storage, "silver", "daily", version=compacting.version + 1).sort("x")
    assert after.equals(before)
    from deltalake import DeltaTable

    uri = str(storage.local.base / "silver" / "daily")
    assert len(DeltaTable(uri, version=compacting.version + 1).file_uris()) < len(
        DeltaTable(uri, version=compacting.version).file_uris()
    )


def test_the_default_compacts_too(tmp_path: Path) -> None:
    storage = Storage(Settings(tmp_path, "demo", {}))  # no pyproject.toml: the defaults
    for i in range(20):
        delta.write(storage, day(i), "silver", "daily", APPEND)
    assert len(current_files(storage, "daily")) <= 9


def test_the_setting_0_turns_it_off(tmp_path: Path) -> None:
    storage = project_storage(tmp_path, "delta_compact_small_files = 0")
    results = [delta.write(storage, day(i), "silver", "daily", APPEND) for i in range(20)]
    assert not any(r.compacted for r in results)
    assert len(current_files(storage, "daily")) == 20
    assert delta.version_of(storage, "silver", "daily") == 19


def test_small_files_are_counted_per_partition(tmp_path: Path) -> None:
    storage = project_storage(tmp_path, "delta_compact_small_files = 3")
    spec = delta.TableSpec("delete+insert", ("x",))
    results = [
        delta.write(storage, day(i), "silver", "p", spec, partition=f"2026-11-0{i + 1}")
        for i in range(6)
    ]
    # One file a partition (files of two partitions are never compacted together): no
    # compaction, no version of its own.
    assert not any(r.compacted for r in results)
    assert len(current_files(storage, "p")) == 6
    assert delta.version_of(storage, "silver", "p") == 5
    assert delta.read(storage, "silver", "p").height == 6 * 3


@pytest.mark.parametrize("value", ['"many"', "-1", "true", "2.5"])
def test_a_wrong_setting_is_one_line_and_writes_nothing(tmp_path: Path, value: str) -> None:
    storage = project_storage(tmp_path, f"delta_compact_small_files = {value}")
    with pytest.raises(PolsterError, match="delta_compact_small_files in pyproject.toml must be"):
        delta.write(storage, day(0), "silver", "daily", APPEND)
    assert not (storage.local.base / "silver" / "daily").exists()


def test_a_target_file_size_is_the_tables(tmp_path: Path) -> None:
    storage = project_storage(tmp_path, "delta_target_file_mb = 1")
    delta.write(storage, day(0), "silver", "t", APPEND)
    table = delta.open_table(delta.location(storage, "silver", "t"))
    assert table.metadata().configuration["delta.targetFileSize"] == str(1024 * 1024)


# Snapshots' hard_deletes -----------------------------------------------------------------------


def snap(storage: Storage, ids: list[int], deletes: str, values: str = "abc") -> delta.DeltaResult:
    spec = delta.TableSpec("snapshot", ("id",), hard_deletes=deletes)
    frame = pl.DataFrame({"id": ids, "v": [values[i - 1] for i in ids]})
    return delta.write(storage, frame, "silver", "s", spec)


def current(storage: Storage) -> list[tuple]:
    rows = delta.read(storage, "silver", "s").filter(pl.col("is_current")).sort("id")
    return rows.drop("valid_from", "valid_to", "is_current").rows()


def test_ignore_leaves_a_vanished_key_current(tmp_path: Path) -> None:
    storage = Storage(Settings(tmp_path, "demo", {}))
    snap(storage, [1, 2, 3], "ignore")
    result = snap(storage, [1, 2], "ignore")
    assert (result.inserted, result.updated, result.version) == (0, 0, 0)
    assert current(storage) == [(1, "a"), (2, "b"), (3, "c")]


def test_invalidate_closes_a_vanished_key(tmp_path: Path) -> None:
    storage = Storage(Settings(tmp_path, "demo", {}))
    snap(storage, [1, 2, 3], "invalidate")
    result = snap(storage, [1, 2], "invalidate")
    assert (result.inserted, result.updated) == (0, 1)
    assert current(storage) == [(1, "a"), (2, "b")]
    closed = delta.read(storage, "silver", "s").filter(pl.col("id") == 3)
    assert closed["is_current"].to_list() == [False] and closed["valid_to"][0] is not None
    # Gone still: nothing more to write.
    assert snap(storage, [1, 2], "invalidate").version == 1


def test_new_record_marks_a_vanished_key_deleted_and_reopens_it(tmp_path: Path) -> None:
    storage = Storage(Settings(tmp_path, "demo", {}))
    snap(storage, [1, 2, 3], "new_record")
    assert delta.read(storage, "silver", "s").columns == [
        "id", "v", "valid_from", "valid_to", "is_current", "is_deleted",
    ]  # fmt: skip
    result = snap(storage, [1, 2], "new_record")
    assert (result.inserted, result.updated) == (1, 1)
    assert current(storage) == [(1, "a", False), (2, "b", False), (3, "c", True)]
    assert snap(storage, [1, 2], "new_record").version == 1  # marked once
    back = snap(storage, [1, 2, 3], "new_record")
    assert (back.inserted, back.updated) == (1, 1)
    assert current(storage) == [(1, "a", False), (2, "b", False), (3, "c", False)]
    history = delta.read(storage, "silver", "s").filter(pl.col("id") == 3).sort("valid_from")
    assert history.select("is_current", "is_deleted").rows() == [
        (False, False),
        (False, True),
        (True, False),
    ]


def test_hard_deletes_needs_a_snapshot() -> None:
    with pytest.raises(PolsterError, match="for the snapshot strategy only"):
        delta.TableSpec("merge", ("id",), hard_deletes="invalidate")
    with pytest.raises(PolsterError, match="unknown hard_deletes 'purge'"):
        delta.TableSpec("snapshot", ("id",), hard_deletes="purge")
    with pytest.raises(PolsterError, match="is a column the snapshot strategy adds"):
        delta.TableSpec("snapshot", ("is_deleted",), hard_deletes="new_record")


def test_add_asset_hard_deletes_is_recorded_and_shown(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    add(
        project, "silver", "people", "--deps", "example", "--partitions", "none",
        "--incremental", "snapshot", "--unique-key", "id", "--hard-deletes", "invalidate",
    )  # fmt: skip
    wrapper = (project / "src/orchestration/assets/silver/run_silver_people.py").read_text()
    assert '"polster/hard_deletes": "invalidate"' in wrapper
    record = json.loads((project / ".polster/generated.json").read_text())
    entry = next(a for a in record["answers"]["assets"] if a["name"] == "people")
    assert entry["hard_deletes"] == "invalidate"
    listed = polster_ok(project, "list")
    assert "snapshot on id, hard deletes invalidate" in listed
    data = json.loads(polster_ok(project, "list", "--json"))
    asset = next(a for a in data["assets"] if a["key"] == "run_silver_people")
    assert asset["table"]["hard_deletes"] == "invalidate"
    assert "hard deletes invalidate" in polster_ok(project, "check", "--no-load")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--incremental", "merge", "--unique-key", "id", "--hard-deletes", "invalidate"],
         "--hard-deletes is for --incremental snapshot only"),
        (["--incremental", "snapshot", "--unique-key", "id", "--hard-deletes", "purge"],
         "--hard-deletes 'purge': use ignore, invalidate, new_record"),
    ],
)  # fmt: skip
def test_bad_hard_deletes_are_one_line_and_change_nothing(tmp_path: Path, args, fragment) -> None:
    project = new_project(tmp_path)
    before = tree_hash(project)
    result = run_polster(
        "add-asset", "--layer", "silver", "--name", "c", "--deps", "example", "--no-input",
        "--partitions", "none", *args, cwd=project,
    )  # fmt: skip
    assert_one_line_error(result, fragment)
    assert tree_hash(project) == before
