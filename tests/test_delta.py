"""Delta Lake incremental tables (issue 29): each strategy written and read back, refusals that
write nothing, time travel, partitions replaced in one transaction, upkeep. Local storage; the
same functions on Azurite and moto are in test_delta_remote.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from polster_core.errors import PolsterError
from polster_core.run import delta
from polster_core.settings import Settings
from polster_core.storage import Storage


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return Storage(Settings(tmp_path, "demo", {}))


def table_dir(storage: Storage, name: str) -> Path:
    return storage.local.base / "silver" / name


def log_files(storage: Storage, name: str) -> list[str]:
    return sorted(p.name for p in (table_dir(storage, name) / "_delta_log").glob("*.json"))


MERGE = delta.TableSpec("merge", ("customer_id",))


def test_merge_creates_then_upserts_by_key(storage: Storage) -> None:
    first = pl.DataFrame({"customer_id": [1, 2, 3], "city": ["Oslo", "Rome", "Lima"]})
    result = delta.write(storage, first, "silver", "customers", MERGE)
    assert (result.created, result.version, result.inserted) == (True, 0, 3)
    assert (table_dir(storage, "customers") / "_delta_log").is_dir()

    changes = pl.DataFrame({"customer_id": [3, 4], "city": ["Quito", "Kyiv"]})
    result = delta.write(storage, changes, "silver", "customers", MERGE)
    assert (result.version, result.inserted, result.updated, result.deleted) == (1, 1, 1, 0)
    now = delta.read(storage, "silver", "customers").sort("customer_id")
    assert now.rows() == [(1, "Oslo"), (2, "Rome"), (3, "Quito"), (4, "Kyiv")]
    # The older version is still there: by number and by time.
    assert delta.read(storage, "silver", "customers", version=0).sort("customer_id").equals(first)
    scanned = delta.read(storage, "silver", "customers", lazy=True)
    assert isinstance(scanned, pl.LazyFrame)
    assert scanned.collect().height == 4


def test_merge_on_several_key_columns(storage: Storage) -> None:
    spec = delta.TableSpec("merge", ("region", "id"))
    delta.write(
        storage,
        pl.DataFrame({"region": ["a", "b"], "id": [1, 1], "v": [1, 2]}),
        "silver",
        "m",
        spec,
    )
    result = delta.write(
        storage,
        pl.DataFrame({"region": ["b", "c"], "id": [1, 1], "v": [20, 30]}),
        "silver",
        "m",
        spec,
    )
    assert (result.inserted, result.updated) == (1, 1)
    assert delta.read(storage, "silver", "m").sort("region").rows() == [
        ("a", 1, 1),
        ("b", 1, 20),
        ("c", 1, 30),
    ]


def test_as_of_reads_the_version_current_then(storage: Storage) -> None:
    delta.write(storage, pl.DataFrame({"customer_id": [1], "city": ["Oslo"]}), "silver", "t", MERGE)
    between = dt.datetime.now(dt.timezone.utc)
    import time

    time.sleep(0.05)
    delta.write(storage, pl.DataFrame({"customer_id": [1], "city": ["Rome"]}), "silver", "t", MERGE)
    assert delta.read(storage, "silver", "t")["city"].to_list() == ["Rome"]
    assert delta.read(storage, "silver", "t", as_of=between)["city"].to_list() == ["Oslo"]
    with pytest.raises(PolsterError, match="has no version 7"):
        delta.read(storage, "silver", "t", version=7)


def test_append_adds_every_row(storage: Storage) -> None:
    spec = delta.TableSpec("append")
    delta.write(storage, pl.DataFrame({"x": [1, 2]}), "silver", "a", spec)
    result = delta.write(storage, pl.DataFrame({"x": [2, 3]}), "silver", "a", spec)
    assert result.inserted == 2
    assert sorted(delta.read(storage, "silver", "a")["x"].to_list()) == [1, 2, 2, 3]


def test_delete_insert_replaces_every_row_of_a_key(storage: Storage) -> None:
    spec = delta.TableSpec("delete+insert", ("day",))
    delta.write(storage, pl.DataFrame({"day": [1, 1, 2], "v": [1, 2, 3]}), "silver", "d", spec)
    # dbt's semantics: the key need not be unique within a batch (it names groups to replace).
    result = delta.write(
        storage, pl.DataFrame({"day": [1, 1, 1], "v": [7, 8, 9]}), "silver", "d", spec
    )
    assert (result.inserted, result.deleted) == (3, 2)
    assert delta.read(storage, "silver", "d").sort("day", "v").rows() == [
        (1, 7),
        (1, 8),
        (1, 9),
        (2, 3),
    ]
    assert len(log_files(storage, "d")) == 2  # one transaction per run


def test_snapshot_keeps_type_2_history(storage: Storage) -> None:
    spec = delta.TableSpec("snapshot", ("id",))
    delta.write(storage, pl.DataFrame({"id": [1, 2], "v": ["a", "b"]}), "silver", "s", spec)
    result = delta.write(
        storage, pl.DataFrame({"id": [1, 2, 3], "v": ["a", "B", "c"]}), "silver", "s", spec
    )
    assert (result.inserted, result.updated) == (2, 1)
    table = delta.read(storage, "silver", "s").sort("id", "valid_from")
    assert table.columns == ["id", "v", "valid_from", "valid_to", "is_current"]
    assert table.select("id", "v", "is_current").rows() == [
        (1, "a", True),
        (2, "b", False),
        (2, "B", True),
        (3, "c", True),
    ]
    closed = table.filter(~pl.col("is_current"))
    reopened = table.filter((pl.col("id") == 2) & pl.col("is_current"))
    assert closed["valid_to"][0] == reopened["valid_from"][0]
    assert table.filter(pl.col("is_current"))["valid_to"].null_count() == 3
    # Nothing changed: nothing written, no new version.
    again = delta.write(
        storage, pl.DataFrame({"id": [1, 2, 3], "v": ["a", "B", "c"]}), "silver", "s", spec
    )
    assert (again.inserted, again.updated, again.version) == (0, 0, 1)


@pytest.mark.parametrize(
    "batch, fragment",
    [
        (
            pl.DataFrame({"customer_id": [1, 1, 2], "city": ["a", "b", "c"]}),
            "unique key column 'customer_id' is duplicated within the batch: 1 row repeats",
        ),
        (pl.DataFrame({"city": ["a"]}), "unique key column 'customer_id' is missing"),
        (
            pl.DataFrame(
                {"customer_id": [None, 5], "city": ["a", "b"]},
                schema_overrides={"customer_id": pl.Int64},
            ),
            "unique key column 'customer_id' is null in 1 row",
        ),
        (
            pl.DataFrame({"customer_id": [9], "city": ["x"], "tier": [1]}),
            "new column(s) tier and on_schema_change is fail",
        ),
        (
            pl.DataFrame({"customer_id": [9], "city": [1]}),
            "column 'city' changed type from String to Int64",
        ),
    ],
    ids=["duplicate", "missing", "null", "new-column", "type-change"],
)
def test_a_refused_batch_writes_nothing(storage: Storage, batch, fragment) -> None:
    delta.write(storage, pl.DataFrame({"customer_id": [1], "city": ["Oslo"]}), "silver", "c", MERGE)
    before = sorted(
        p.relative_to(table_dir(storage, "c")) for p in table_dir(storage, "c").rglob("*")
    )
    with pytest.raises(PolsterError) as caught:
        delta.write(storage, batch, "silver", "c", MERGE)
    message = str(caught.value)
    assert fragment in message and "nothing was written" in message and "\n" not in message
    after = sorted(
        p.relative_to(table_dir(storage, "c")) for p in table_dir(storage, "c").rglob("*")
    )
    assert after == before
    assert delta.read(storage, "silver", "c").rows() == [(1, "Oslo")]


def test_append_new_columns_adds_the_column(storage: Storage) -> None:
    spec = delta.TableSpec("merge", ("customer_id",), "append_new_columns")
    delta.write(storage, pl.DataFrame({"customer_id": [1], "city": ["Oslo"]}), "silver", "c", spec)
    delta.write(
        storage,
        pl.DataFrame({"customer_id": [2], "city": ["Rome"], "tier": [3]}),
        "silver",
        "c",
        spec,
    )
    # and a later batch without it keeps the column (null in its rows)
    delta.write(storage, pl.DataFrame({"customer_id": [3], "city": ["Lima"]}), "silver", "c", spec)
    rows = delta.read(storage, "silver", "c").sort("customer_id").rows()
    assert rows == [(1, "Oslo", None), (2, "Rome", 3), (3, "Lima", None)]


def test_a_partition_run_replaces_exactly_that_partition(storage: Storage) -> None:
    spec = delta.TableSpec("merge", ("id",))
    delta.write(storage, pl.DataFrame({"id": [1, 2]}), "silver", "p", spec, partition="2026-11-01")
    delta.write(
        storage, pl.DataFrame({"id": [1, 2, 3]}), "silver", "p", spec, partition="2026-11-02"
    )
    for _ in range(2):  # a rerun of the day is idempotent
        result = delta.write(
            storage, pl.DataFrame({"id": [5]}), "silver", "p", spec, partition="2026-11-01"
        )
        assert (result.inserted, result.deleted) in ((1, 2), (1, 1))
        rows = delta.read(storage, "silver", "p").sort("date", "id").rows()
        assert rows == [(5, "2026-11-01"), (1, "2026-11-02"), (2, "2026-11-02"), (3, "2026-11-02")]
    one = delta.read(storage, "silver", "p", partition="2026-11-02")
    assert one["id"].sort().to_list() == [1, 2, 3]


def test_a_plain_delta_table_is_replaced_and_keeps_versions(storage: Storage) -> None:
    spec = delta.TableSpec()
    delta.write(storage, pl.DataFrame({"x": [1, 2]}), "silver", "plain", spec)
    result = delta.write(storage, pl.DataFrame({"x": [3]}), "silver", "plain", spec)
    assert (result.inserted, result.deleted, result.version) == (1, 2, 1)
    assert delta.read(storage, "silver", "plain")["x"].to_list() == [3]
    assert sorted(delta.read(storage, "silver", "plain", version=0)["x"].to_list()) == [1, 2]


def test_upkeep_compacts_and_vacuums(storage: Storage) -> None:
    spec = delta.TableSpec("append")
    for i in range(4):
        delta.write(storage, pl.DataFrame({"x": [i]}), "silver", "u", spec)
    data = lambda: sorted(table_dir(storage, "u").glob("*.parquet"))  # noqa: E731
    assert len(data()) == 4
    result = delta.upkeep(storage, "silver", "u", retention_hours=0)
    assert (result.files_compacted, result.files_added, result.files_vacuumed) == (4, 1, 4)
    assert len(data()) == 1
    assert sorted(delta.read(storage, "silver", "u")["x"].to_list()) == [0, 1, 2, 3]


def test_spec_problems_are_one_line() -> None:
    with pytest.raises(PolsterError, match="the merge strategy needs a unique key"):
        delta.TableSpec("merge")
    with pytest.raises(PolsterError, match="unknown incremental strategy 'upsert'"):
        delta.TableSpec("upsert", ("id",))
    with pytest.raises(PolsterError, match="the append strategy takes no unique key"):
        delta.TableSpec("append", ("id",))
    with pytest.raises(PolsterError, match="is not a column name"):
        delta.TableSpec("merge", ("id; DROP",))
