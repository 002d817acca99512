"""A contract test suite every storage backend should pass, for plugin authors' own tests.

Subclass :class:`StorageContract` in a test module and give it a ``make_storage`` fixture:
a function that takes extra settings (``**env``) and returns a fresh
:class:`polster_core.storage.Storage` on your backend, with an empty local data directory and
an empty remote prefix. pytest then runs every ``test_*`` method below against your backend::

    class TestMyBackend(StorageContract):
        @pytest.fixture
        def make_storage(self, tmp_path):
            def make(**env):
                settings = Settings(tmp_path, "demo", {"STORAGE_BACKEND": "mine", **env})
                return Storage(settings)
            return make

The suite covers what the core promises for every backend: ``{layer}/{name}.parquet`` paths,
round trips, streamed LazyFrame writes and lazy scans, atomic writes (a failed write leaves
the previous version readable), the local sample of remote writes, and secrets kept out of
errors. It imports pytest and polars only when the tests run.
"""

from __future__ import annotations

from typing import Any

from polster_core.errors import PolsterError
from polster_core.partitions import PartitionedTable

SCHEMA = {"id": "Int64", "value": "Float64", "label": "String"}


def table(rows: int, offset: int = 0) -> Any:
    """A small deterministic table of ``rows`` rows."""
    import polars as pl

    return pl.select(
        id=pl.int_range(offset, offset + rows, dtype=pl.Int64),
        value=pl.int_range(offset, offset + rows).cast(pl.Float64) / 7,
        label=pl.format("row-{}", pl.int_range(offset, offset + rows)),
    )


def failing_frame(batches: int = 20, rows: int = 50_000, message: str = "source broke") -> Any:
    """A LazyFrame that streams ``batches`` batches, then raises: a write that fails part-way."""
    import polars as pl
    from polars.io.plugins import register_io_source

    schema = {"id": pl.Int64, "value": pl.Float64, "label": pl.String}

    def source(with_columns, predicate, n_rows, batch_size):
        for batch in range(batches):
            yield table(rows, batch * rows)
        raise RuntimeError(message)

    return register_io_source(source, schema=schema)


class StorageContract:
    """What every storage backend must do; subclass it with a ``make_storage`` fixture."""

    layer = "bronze"

    def _name(self, request) -> str:
        return "t_" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name)[:60]

    def test_round_trip_at_the_documented_path(self, make_storage, request):
        storage = make_storage()
        name = self._name(request)
        frame = table(1_000)
        result = storage.write(frame, self.layer, name)
        assert result.uri.endswith(f"/{self.layer}/{name}.parquet")
        assert result.uri == storage.uri(self.layer, name)
        assert result.backend == storage.backend.name
        assert result.rows == 1_000 and not result.fell_back
        assert storage.exists(self.layer, name)
        assert storage.read(self.layer, name).equals(frame)

    def test_overwrite_replaces_the_table(self, make_storage, request):
        storage = make_storage()
        name = self._name(request)
        storage.write(table(10), self.layer, name)
        storage.write(table(3, offset=100), self.layer, name)
        assert storage.read(self.layer, name).equals(table(3, offset=100))

    def test_lazy_frames_are_streamed_and_scanned(self, make_storage, request):
        import polars as pl

        storage = make_storage()
        name = self._name(request)
        lazy = table(20_000).lazy().filter(pl.col("id") % 2 == 0)
        result = storage.write(lazy, self.layer, name)
        assert result.rows == 10_000
        scan = storage.scan(self.layer, name)
        assert isinstance(scan, pl.LazyFrame)
        assert scan.filter(pl.col("id") < 10).collect()["id"].to_list() == [0, 2, 4, 6, 8]
        assert scan.collect().equals(lazy.collect())

    def test_partitions_are_files_of_their_own(self, make_storage, request):
        """Each partition is its own file under the table's folder: writing one never touches
        another, all of them read as one table, and deleting the table removes them all."""

        storage = make_storage()
        name = self._name(request)
        parts = PartitionedTable(storage, self.layer, name)
        parts.write(table(4), "2026-11-01")
        result = parts.write(table(6, offset=10), "2026-11-02")
        assert result.uri.endswith(f"/{self.layer}/{name}/date=2026-11-02/data.parquet")
        parts.write(table(2, offset=50), "2026-11-02")  # replaces that partition only
        assert parts.keys() == ["2026-11-01", "2026-11-02"]
        assert parts.read("2026-11-01").equals(table(4))
        assert parts.read("2026-11-02").equals(table(2, offset=50))
        every = parts.scan_all().collect().sort("id")
        assert (
            every.height == 6 and every["date"].to_list() == ["2026-11-01"] * 4 + ["2026-11-02"] * 2
        )
        assert parts.delete() == 2
        assert parts.keys() == []

    def test_a_failed_partition_write_leaves_the_others_and_its_previous_version(
        self, make_storage, request
    ):

        storage = make_storage()
        name = self._name(request)
        parts = PartitionedTable(storage, self.layer, name)
        parts.write(table(3), "2026-11-01")
        parts.write(table(5), "2026-11-02")
        try:
            parts.write(failing_frame(), "2026-11-02")
        except (PolsterError, Exception):
            pass
        else:
            raise AssertionError("a write whose source fails must fail")
        assert parts.keys() == ["2026-11-01", "2026-11-02"]
        assert parts.read("2026-11-01").equals(table(3))
        assert parts.read("2026-11-02").equals(table(5))

    def test_a_failed_write_leaves_the_previous_version(self, make_storage, request):

        storage = make_storage()
        name = self._name(request)
        storage.write(table(5), self.layer, name)
        # Fail at the first batch, early, and late: writers that finish the file on error
        # commit different amounts of it.
        for batches in (0, 1, 2, 20):
            try:
                storage.write(failing_frame(batches=batches), self.layer, name)
            except PolsterError as exc:
                message = str(exc)
            else:  # pragma: no cover - the contract is broken
                raise AssertionError("a write whose source fails must fail")
            assert storage.backend.name in message
            assert storage.backend.uri(self.layer, name) in message
            assert "source broke" in message
            assert storage.read(self.layer, name).equals(table(5)), f"after {batches} batches"

    def test_reading_a_missing_table_says_what_to_run(self, make_storage, request):

        storage = make_storage()
        name = self._name(request)
        for read in (storage.read, lambda layer, name: storage.scan(layer, name).collect()):
            try:
                read(self.layer, name)
            except PolsterError as exc:
                assert f"no data for {self.layer}/{name}" in str(exc)
            except Exception as exc:  # a lazy scan may fail only when collected
                assert read is not storage.read, f"read raised {type(exc).__name__}: {exc}"
            else:  # pragma: no cover
                raise AssertionError("reading a missing table must fail")

    def test_remote_writes_leave_a_local_sample(self, make_storage, request):
        import polars as pl

        storage = make_storage()
        name = self._name(request)
        result = storage.write(table(500), self.layer, name)
        sample = storage.sample_path(self.layer, name)
        if not storage.is_remote:
            assert result.sample_path is None and not sample.exists()
            return
        assert result.sample_path == str(sample)
        assert pl.read_parquet(sample).equals(table(50))
        # The sample lives apart from the full local tables: it cannot be mistaken for them.
        assert not storage.local.path(self.layer, name).exists()

        lazy = make_storage(DUAL_WRITE_SAMPLE_SIZE="7")
        lazy.write(table(500).lazy(), self.layer, name)
        assert pl.read_parquet(sample).height == 7

    def test_disable_local_sample_is_honoured(self, make_storage, request):
        storage = make_storage(DISABLE_LOCAL_SAMPLE="true")
        name = self._name(request)
        result = storage.write(table(100), self.layer, name)
        assert result.sample_path is None
        assert not storage.sample_path(self.layer, name).exists()

    def test_errors_never_show_secrets(self, make_storage, request):

        storage = make_storage()
        name = self._name(request)
        try:
            storage.write(
                failing_frame(batches=2, message=f"boom {storage.secrets}"), self.layer, name
            )
        except PolsterError as exc:
            texts = [
                str(exc),
                repr(exc),
                str(exc.__cause__),
                str(exc.__context__),
                repr(storage.backend),
            ]
        else:  # pragma: no cover
            raise AssertionError("the write must fail")
        for secret in storage.secrets:
            for text in texts:
                assert secret not in text
