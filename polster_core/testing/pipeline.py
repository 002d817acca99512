"""The example pipeline of a generated project on a remote storage backend: helpers, and a
contract every storage backend plugin should pass, Polster's and third parties' alike.

The project is made by the real ``polster init --storage NAME``; the pipeline runs as the user
runs it (``python run_polster.py``) in a subprocess, with plugins loaded from entry points.
Afterwards the tests read Dagster's metadata from the run's instance and grep every file the
run left (and everything it printed) for the secrets it was given.

Subclass :class:`PipelineContract` in a test module with the backend's facts and two
fixtures, ``backend`` (a :class:`RemoteBackend` on a server shared by the tests) and
``backend_factory`` (one on a server of the test's own, which the test kills mid-run)::

    class TestMyPipeline(PipelineContract):
        storage = "mine"
        requirement = '"polster-mine>=0.1,<0.2"'
        settings = ("MINE_BUCKET", "MINE_BASE_PATH", "MINE_KEY", "MINE_FALLBACK_TO_LOCAL")
        secret_settings = ("MINE_KEY",)

        @pytest.fixture
        def backend(self, my_server):
            return MyBackend(my_server)

        @pytest.fixture
        def backend_factory(self, my_server_factory):
            return lambda: MyBackend(my_server_factory())

The real servers of :mod:`.servers` (``moto``, ``azurite``, ...) are fixtures of Polster's
pytest plugin. This module imports polars (Dagster resolves the annotations of the assets
:func:`run_lazy_assets` defines here); the CLI never imports it.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import polars as pl  # module level: Dagster resolves the assets' annotations here
import pytest

from polster_core.run import storage as storage_module
from polster_core.run.settings import Settings
from polster_core.run.storage import Storage

from .projects import plugin_env, set_env
from .storage import table
from .writes import kill_mid_write

LAYERS = ("bronze", "silver", "gold")
ASSETS = {layer: f"run_{layer}_example" for layer in LAYERS}
PROJECT = "dna-platform"

KILL_SWITCH = """

# Added by the test suite: the storage server dies while the pipeline runs.
_extract = extract


def extract():
    import os
    import signal

    os.kill(int(os.environ["POLSTER_TEST_KILL_PID"]), signal.SIGKILL)
    return _extract()
"""


def add_kill_switch(project: Path) -> None:
    """Make the bronze example kill ``POLSTER_TEST_KILL_PID`` when it runs."""
    core = project / "src" / "core" / "bronze_example.py"
    text = core.read_text(encoding="utf-8")
    if KILL_SWITCH not in text:
        main = text.index('\nif __name__ == "__main__":')
        core.write_text(text[:main] + KILL_SWITCH + text[main:], encoding="utf-8")


def run_pipeline(project: Path, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python run_polster.py [args]`` with Dagster's home in ``home`` and ``env`` over
    ``.env``."""
    return subprocess.run(
        [sys.executable, "run_polster.py", *args],
        cwd=project,
        env=plugin_env(DAGSTER_HOME=str(home), **env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def materializations(home: Path) -> dict[str, dict]:
    """The latest materialisation's metadata of each example asset, as plain values."""
    import dagster as dg

    found = {}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for layer, key in ASSETS.items():
            event = instance.get_latest_materialization_event(dg.AssetKey(key))
            if event is None:
                continue
            metadata = event.asset_materialization.metadata
            found[layer] = {name: value.value for name, value in metadata.items()}
    return found


def grep_secrets(places: list[Path], texts: list[str], secrets: list[str]) -> list[str]:
    """Where any secret appears: files under ``places`` (but ``.env``), and ``texts``."""
    needles = [s.encode() for s in secrets if s]
    hits = []
    for place in places:
        files = [place] if place.is_file() else sorted(p for p in place.rglob("*") if p.is_file())
        for path in files:
            if path.name == ".env" or ".venv" in path.parts:
                continue
            data = path.read_bytes()
            hits += [f"{path}" for needle in needles if needle in data]
    for i, text in enumerate(texts):
        hits += [f"text #{i}" for needle in needles if needle in text.encode()]
    return hits


def run_lazy_assets(root: Path, env: dict[str, str], monkeypatch) -> dict:
    """Materialise two assets in this process that return and take ``pl.LazyFrame``s.

    Returns the type the downstream asset was given, the rows it saw, and the metadata.
    """
    import dagster as dg

    from polster_core.plugin_system.manager import reset_plugins
    from polster_core.run.io_manager import polster_resources

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("POLSTER_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    reset_plugins()
    storage_module.clear_storages()
    seen: dict = {}

    @dg.asset(name="run_bronze_lazy")
    def bronze() -> pl.LazyFrame:
        return table(30_000).lazy().filter(pl.col("id") % 3 == 0)

    @dg.asset(name="run_silver_lazy")
    def silver(run_bronze_lazy: pl.LazyFrame) -> pl.LazyFrame:
        seen["type"] = type(run_bronze_lazy)
        seen["rows"] = run_bronze_lazy.select(pl.len()).collect().item()
        return run_bronze_lazy.with_columns(double=pl.col("value") * 2)

    try:
        result = dg.materialize([bronze, silver], resources=polster_resources(root))
    finally:
        storage_module.clear_storages()
        reset_plugins()
    assert result.success
    for key in ("run_bronze_lazy", "run_silver_lazy"):
        events = result.asset_materializations_for_node(key)
        seen[key] = {name: value.value for name, value in events[0].metadata.items()}
    return seen


def storage_on(root: Path, env: dict[str, str]):
    """A :class:`polster_core.storage.Storage` of ``root`` with ``env`` as its settings,
    with the installed plugins (as a run has them)."""
    from polster_core.plugin_system.manager import Plugins

    return Storage(Settings(root, "demo", env), plugins=Plugins(autoload=True))


class RemoteBackend:
    """A storage backend on a real (test) server, as :class:`PipelineContract` sees it.

    A "location" is the bucket or container the backend writes under; keys are paths in it.
    Subclass it for your backend and implement every method that raises here.
    """

    def __init__(self, server):
        self.server = server  # stopped by the contract (``.pid``, ``.running``)

    def new_location(self, name: str | None = None) -> str:
        """Create the bucket (container) ``name`` (default: a new unique one); return it."""
        raise NotImplementedError

    def env(self, location: str) -> dict[str, str]:
        """The project settings (``.env``) that point the backend at ``location``."""
        raise NotImplementedError

    def fallback_env(self, location: str) -> dict[str, str]:
        """The settings of the runs whose server dies mid-run: :meth:`env` unless another
        way to sign in (a SAS token, ...) should be tried there."""
        return self.env(location)

    def uri(self, location: str, key: str) -> str:
        """The URI the backend reports for ``key`` (``s3://bucket/key``)."""
        raise NotImplementedError

    def keys(self, location: str, prefix: str = "") -> list[str]:
        """Every object under ``prefix`` in ``location``, sorted."""
        raise NotImplementedError

    def read(self, location: str, key: str) -> pl.DataFrame:
        """The Parquet object ``key``, read straight from the server."""
        raise NotImplementedError

    def write_under_way(self, location: str, key: str) -> bool:
        """True while a write of ``key`` is part-way (an open multipart upload, ...)."""
        raise NotImplementedError

    def secrets(self, env: dict[str, str]) -> list[str]:
        """Every secret in ``env`` (a value of :meth:`env` or :meth:`fallback_env`)."""
        raise NotImplementedError

    def left_after_restart(self, location: str) -> list[str] | None:
        """Restart the (killed) server on its data and list what ``location`` holds; ``None``
        when the server keeps nothing across a restart (moto keeps objects in memory)."""
        return None


class PipelineContract:
    """The example pipeline on a storage backend, as users run it; subclass it (see the
    module's docstring) with ``storage``, ``requirement``, ``settings``, ``secret_settings``
    and the ``backend`` and ``backend_factory`` fixtures."""

    storage: str = ""  # `polster init --storage NAME`, STORAGE_BACKEND=NAME
    requirement: str = ""  # the dependency `polster init` adds: '"polster-s3>=0.1.1,<0.2"'
    settings: tuple[str, ...] = ()  # in .env, .env.example and the README's table
    secret_settings: tuple[str, ...] = ()  # empty in .env.example
    prefix: str = ""  # of the settings (PREFIX_BASE_PATH, ...); default: storage.upper()

    def _setting(self, name: str) -> str:
        return f"{self.prefix or self.storage.upper()}_{name}"

    @pytest.fixture(scope="class")
    @classmethod
    def project(cls, make_project):
        """One project of the backend's, shared by the class's tests."""
        return make_project(PROJECT, cls.storage)

    def test_init_adds_the_plugin_and_its_settings_with_secrets_only_in_dotenv(self, project):
        pyproject = (project / "pyproject.toml").read_text()
        assert self.requirement in pyproject and f'storage = "{self.storage}"' in pyproject
        env = (project / ".env").read_text()
        example = (project / ".env.example").read_text()
        readme = (project / "README.md").read_text()
        for name in self.settings:
            assert f"\n{name}=" in env and f"\n{name}=" in example, name
            assert f"| `{name}` |" in readme, name
        for name in self.secret_settings:
            assert f"\n{name}=\n" in example, name
        assert f"STORAGE_BACKEND={self.storage}" in env
        assert f"{self._setting('FALLBACK_TO_LOCAL')}=false" in env

    def test_pipeline_writes_the_documented_paths_and_local_samples(
        self, project, backend, tmp_path
    ):
        location = backend.new_location()
        settings = backend.env(location)
        set_env(project, **settings)  # the secrets live in .env, as for a user
        data = tmp_path / "data"
        result = run_pipeline(project, tmp_path / "dagster", LOCAL_DATA_DIR=str(data))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Succeeded: 3 materialised, 0 failed" in result.stdout

        keys = [f"{PROJECT}/data/{layer}/example.parquet" for layer in LAYERS]
        assert backend.keys(location) == sorted(keys)
        tables = {
            layer: backend.read(location, key) for layer, key in zip(LAYERS, keys, strict=True)
        }
        assert tables["bronze"].height == 1_025 and tables["silver"].height == 980
        assert tables["gold"]["total_events"].sum() == 980
        for layer, frame in tables.items():
            sample = pl.read_parquet(data / "_samples" / layer / "example.sample.parquet")
            assert sample.equals(frame.head(50))
            assert not (data / layer / "example.parquet").exists()  # no full local copy

        metadata = materializations(tmp_path / "dagster")
        for layer, key in zip(LAYERS, keys, strict=True):
            assert metadata[layer]["uri"] == backend.uri(location, key)
            assert metadata[layer]["storage_backend"] == self.storage
            assert metadata[layer]["fell_back_to_local"] is False
            assert metadata[layer]["dagster/row_count"] == tables[layer].height
        texts = [result.stdout, result.stderr, str(metadata)]
        assert grep_secrets([project, tmp_path], texts, backend.secrets(settings)) == []

    def test_disable_local_sample_is_honoured(self, project, backend, tmp_path):
        location = backend.new_location()
        result = run_pipeline(
            project,
            tmp_path / "dagster",
            LOCAL_DATA_DIR=str(tmp_path / "data"),
            DISABLE_LOCAL_SAMPLE="true",
            **{**backend.env(location), self._setting("BASE_PATH"): "nosample"},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert len(backend.keys(location, "nosample/")) == 3
        assert not (tmp_path / "data" / "_samples").exists()

    def test_fallback_when_the_store_dies_mid_run(self, project, backend_factory, tmp_path):
        backend = backend_factory()
        location = backend.new_location("fallback")
        add_kill_switch(project)
        env = backend.fallback_env(location)
        data = tmp_path / "data"
        result = run_pipeline(
            project,
            tmp_path / "dagster",
            LOCAL_DATA_DIR=str(data),
            POLSTER_TEST_KILL_PID=str(backend.server.pid),
            **{**env, self._setting("FALLBACK_TO_LOCAL"): "true"},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert not backend.server.running
        assert "Succeeded: 3 materialised, 0 failed" in result.stdout
        warning = f"WARNING: writing bronze/example to {self.storage} at "
        assert warning + backend.uri(location, "") in result.stderr
        assert "the full data was written locally" in result.stderr
        # Every layer is complete on local disk, and downstream read it from there.
        assert pl.read_parquet(data / "bronze" / "example.parquet").height == 1_025
        assert pl.read_parquet(data / "silver" / "example.parquet").height == 980
        metadata = materializations(tmp_path / "dagster")
        for layer in LAYERS:
            assert metadata[layer]["storage_backend"] == "local"
            assert metadata[layer]["fell_back_to_local"] is True
            assert metadata[layer]["uri"] == str(data / layer / "example.parquet")
            assert metadata[layer]["fallback_reason"]
        texts = [result.stdout, result.stderr, str(metadata)]
        assert grep_secrets([project, tmp_path], texts, backend.secrets(env)) == []

    def test_without_fallback_the_run_fails_clearly_and_leaves_no_object(
        self, project, backend_factory, tmp_path
    ):
        backend = backend_factory()
        location = backend.new_location("nofallback")
        add_kill_switch(project)
        env = backend.fallback_env(location)
        data = tmp_path / "data"
        result = run_pipeline(
            project,
            tmp_path / "dagster",
            LOCAL_DATA_DIR=str(data),
            POLSTER_TEST_KILL_PID=str(backend.server.pid),
            **env,
        )
        assert result.returncode == 1
        assert "FAILED: 0 materialised, 1 failed, 2 skipped" in result.stdout
        uri = backend.uri(location, f"{PROJECT}/data/bronze/example.parquet")
        assert f"writing bronze/example to {self.storage} at {uri} failed: " in result.stderr
        assert f"set {self._setting('FALLBACK_TO_LOCAL')}=true" in result.stderr
        assert not (data / "bronze" / "example.parquet").exists()
        # The server died before the write began; the storage contract and the killed write
        # below cover uploads cut part-way. A server that keeps its data holds no object.
        assert backend.left_after_restart(location) in (None, [])
        texts = [result.stdout, result.stderr]
        assert grep_secrets([project, tmp_path], texts, backend.secrets(env)) == []

    def test_a_killed_write_leaves_the_previous_version(self, backend, tmp_path):
        location = backend.new_location()
        env = {
            "STORAGE_BACKEND": self.storage,
            **backend.env(location),
            self._setting("BASE_PATH"): "kill",
            "LOCAL_DATA_DIR": str(tmp_path / "data"),
            "DISABLE_LOCAL_SAMPLE": "true",
        }
        storage = storage_on(tmp_path, env)
        storage.write(table(10), "bronze", "big")
        key = "kill/bronze/big.parquet"
        kill_mid_write(tmp_path, env, lambda: backend.write_under_way(location, key))
        assert storage.read("bronze", "big").equals(table(10))
        assert backend.keys(location) == [key]

    def test_lazy_frames_stream_and_come_back_as_scans(self, backend, tmp_path, monkeypatch):
        location = backend.new_location()
        env = {
            "STORAGE_BACKEND": self.storage,
            **backend.env(location),
            self._setting("BASE_PATH"): "lazy",
            "LOCAL_DATA_DIR": str(tmp_path / "data"),
        }
        seen = run_lazy_assets(tmp_path, env, monkeypatch)
        assert seen["type"] is pl.LazyFrame and seen["rows"] == 10_000
        silver = "lazy/silver/lazy.parquet"
        assert seen["run_silver_lazy"]["uri"] == backend.uri(location, silver)
        assert seen["run_silver_lazy"]["dagster/row_count"] == 10_000
        assert backend.keys(location) == ["lazy/bronze/lazy.parquet", silver]
        assert backend.read(location, silver).columns[-1] == "double"


def unique(prefix: str = "pipe") -> str:
    """A bucket or container name of its own: ``PREFIX-`` and ten hex digits."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
