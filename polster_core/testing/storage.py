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
partitions at ``{layer}/{name}/date=KEY/data.parquet``, round trips, streamed LazyFrame writes
and lazy scans, atomic writes (a failed write leaves the previous version readable), the local
sample of remote writes, secrets kept out of errors, and concurrency: threads sharing one
backend object (as Dagster's steps may), and two processes writing different tables and
partitions of one layer at once (as a multiprocess run does). The test of two processes
rebuilds the storage in each from its settings, as a run's process does: it needs the backend
installed (an entry point), and is skipped, saying so, for one registered by hand.
It imports pytest and polars only when the tests run.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

from polster_core.errors import PolsterError
from polster_core.run.partitions import PartitionedTable

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


def _count_filesystem_calls(backend: Any) -> list[int] | None:
    """For an ``FsspecBackend`` not yet connected: a counter of its ``filesystem()`` calls."""
    from polster_core.run.remote import FsspecBackend

    if not isinstance(backend, FsspecBackend) or getattr(backend, "_fs", None) is not None:
        return None
    calls = [0]
    original = backend.filesystem

    def counted() -> Any:
        calls[0] += 1
        return original()

    backend.filesystem = counted  # type: ignore[method-assign]
    return calls


def _write_in_process(settings: Any, jobs: list[tuple], ready: Any, results: Any) -> None:
    """A process of its own (spawned, as a run's step processes are): rebuild the storage from
    its settings, wait for the other writer, then write; report what failed to the parent."""
    from polster_core.plugin_system.manager import Plugins
    from polster_core.run.storage import Storage

    try:
        # The installed plugins (entry points), as a run's process loads them.
        storage = Storage(settings, plugins=Plugins(autoload=True))
        try:
            storage.exists(jobs[0][0], jobs[0][1])  # connect before the race starts
        except PolsterError as exc:
            if "unknown storage backend" in str(exc):
                ready.abort()
                results.put(("skip", str(exc)))
                return
            raise
        ready.wait(timeout=120)
        for layer, name, key, rows, offset in jobs:
            if key is None:
                storage.write(table(rows, offset), layer, name)
            else:
                PartitionedTable(storage, layer, name).write(table(rows, offset), key)
        results.put(("ok", ""))
    except BaseException as exc:  # reported to the test, which fails with it
        try:
            ready.abort()
        except Exception:
            pass
        results.put(("error", "".join(traceback.format_exception(exc))))


class StorageContract:
    """What every storage backend must do; subclass it with a ``make_storage`` fixture."""

    layer = "bronze"
    threads = 4  # threads sharing one backend in the concurrency test
    seconds = 120  # how long the concurrency tests wait for their writers
    # False for a backend no second process can reach (a memory filesystem): the test of two
    # processes is then skipped, saying so.
    processes = True

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

        # A partition's sample mirrors the partition's file, under the same _samples folder.

        result = PartitionedTable(storage, self.layer, f"{name}_p").write(table(80), "2026-11-02")
        expected = storage.local.base / "_samples" / self.layer / f"{name}_p" / "date=2026-11-02"
        assert result.sample_path == str(expected / "data.sample.parquet")
        assert pl.read_parquet(expected / "data.sample.parquet").equals(table(50))

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

    def test_threads_sharing_one_backend_write_at_once(self, make_storage, request):
        """Dagster may run steps in threads of one process, all on one backend object: writes
        of different tables and of different partitions of one table, at once, all land, and
        an ``FsspecBackend`` makes its filesystem once (once per thread if not thread-safe)."""
        import threading

        storage = make_storage()
        name = self._name(request)
        calls = _count_filesystem_calls(storage.backend)
        parts = PartitionedTable(storage, self.layer, f"{name}_p")
        start = threading.Barrier(self.threads)
        errors: list[str] = []

        def work(i: int) -> None:
            try:
                start.wait(timeout=60)
                for _ in range(2):
                    storage.write(table(100 + i, offset=1000 * i), self.layer, f"{name}_{i}")
                    parts.write(table(10 + i, offset=1000 * i), f"2026-11-{i + 1:02d}")
                    storage.read(self.layer, f"{name}_{i}")
            except BaseException:
                start.abort()
                errors.append(f"thread {i}: {traceback.format_exc()}")

        workers = [
            threading.Thread(target=work, args=(i,), daemon=True) for i in range(self.threads)
        ]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + self.seconds
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        hung = sum(worker.is_alive() for worker in workers)
        assert not hung, (
            f"{hung} of {self.threads} threads sharing one backend object were still writing "
            f"after {self.seconds} s: if its filesystem (its connection) is not safe to use "
            "from several threads at once, set thread_safe = False on the backend"
        )
        assert not errors, "\n".join(errors)
        for i in range(self.threads):
            assert storage.read(self.layer, f"{name}_{i}").equals(table(100 + i, offset=1000 * i))
            assert parts.read(f"2026-11-{i + 1:02d}").equals(table(10 + i, offset=1000 * i))
        assert parts.keys() == [f"2026-11-{i + 1:02d}" for i in range(self.threads)]
        if calls is not None:
            thread_safe = getattr(storage.backend, "thread_safe", True)
            expected = 1 if thread_safe else self.threads + 1  # the workers and this thread
            assert calls[0] == expected, (
                f"filesystem() was called {calls[0]} times for one backend object "
                f"(thread_safe={thread_safe}): expected {expected}"
            )

    def test_two_processes_write_one_layer_at_once(self, make_storage, request):
        """Two processes (a multiprocess run's steps) write different tables and different
        partitions of one table in one layer at once, each creating the layer's and the
        table's folders if need be: everything both wrote reads back."""
        import multiprocessing

        import pytest

        from polster_core.run.settings import Settings

        if not self.processes:
            pytest.skip("processes = False: this backend's tables are seen by one process only")
        storage = make_storage()
        name = self._name(request)
        settings = Settings(
            storage.settings.root, storage.settings.project_name, dict(storage.settings.env)
        )
        context = multiprocessing.get_context("spawn")
        ready = context.Barrier(2)
        results = context.Queue()
        jobs = {
            i: [
                (self.layer, f"{name}_{i}", None, 300 + i, 1000 * i),
                (self.layer, f"{name}_p", f"2026-11-{i + 1:02d}", 30 + i, 1000 * i),
            ]
            for i in range(2)
        }
        writers = [
            context.Process(target=_write_in_process, args=(settings, jobs[i], ready, results))
            for i in range(2)
        ]
        for writer in writers:
            writer.start()
        outcomes = [results.get(timeout=self.seconds) for _ in writers]
        for writer in writers:
            writer.join(timeout=60)
        skipped = [text for kind, text in outcomes if kind == "skip"]
        if skipped:
            pytest.skip(f"a process of its own cannot make this backend: {skipped[0]}")
        errors = [text for kind, text in outcomes if kind == "error"]
        assert not errors, "\n".join(errors)
        assert [writer.exitcode for writer in writers] == [0, 0]
        parts = PartitionedTable(storage, self.layer, f"{name}_p")
        for i in range(2):
            assert storage.read(self.layer, f"{name}_{i}").equals(table(300 + i, offset=1000 * i))
            assert parts.read(f"2026-11-{i + 1:02d}").equals(table(30 + i, offset=1000 * i))
        assert parts.keys() == ["2026-11-01", "2026-11-02"]
