"""Fault tolerance: what a user sees when a run is killed, runs race, the store vanishes, the disk
fills up or a table is damaged; and that no secret leaks on any of those paths.

Every test drives a generated project as its user does (``python run_polster.py``) on local
storage, ADLS (a real Azurite) or S3 (a real moto), and ends with a sweep for the secrets it
was given. See tests/faults.py for the versioned example and the :class:`Store` helpers.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import polars as pl
import pytest

from polster_core.testing.secrets import MARKER, marked
from polster_core.testing.servers import start_azurite, start_proxy
from tests.faults import (
    AZURE_ACCOUNT,
    AZURE_KEY,
    LARGE_ROWS,
    LAYERS,
    Store,
    configure,
    copy_project,
    expected_tables,
    finish,
    kill9,
    make_template,
    run_pipeline,
    secret_hits,
    start_pipeline,
    wait_for,
)

BACKENDS = ["local", "adls", "s3"]
REMOTE = ["adls", "s3"]


@pytest.fixture(scope="module")
def marked_azurite(tmp_path_factory):
    """Azurite whose only account has a key that carries the secrets' marker."""
    server = start_azurite(tmp_path_factory.mktemp("azurite-faults"), AZURE_ACCOUNT, AZURE_KEY)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    made: dict[str, Path] = {}

    def template(backend: str) -> Path:
        if backend not in made:
            made[backend] = make_template(tmp_path_factory.mktemp(f"tpl-{backend}"), backend)
        return made[backend]

    return template


@pytest.fixture
def make_store(request, templates, tmp_path):
    """``make_store(backend, via_proxy=False)``: a fresh project and an empty place for its data.

    With ``via_proxy`` the pipeline reaches the store through a forwarder the test can stop.
    """
    proxies = []

    def make(backend: str, via_proxy: bool = False) -> Store:
        project = copy_project(templates(backend), tmp_path)
        data = tmp_path / "data"
        env = {
            "STORAGE_BACKEND": backend,
            "LOCAL_DATA_DIR": str(data),
            "POLSTER_TEST_VERSION": "v1",
        }
        store = Store(backend, project, data, env)
        if backend == "local":
            configure(store)
            return store
        server = request.getfixturevalue("marked_azurite" if backend == "adls" else "moto")
        store.server = server
        store.prefix = f"{project.name}/data"
        if via_proxy:
            store.proxy = start_proxy(server)
            proxies.append(store.proxy)
        port = store.proxy.port if via_proxy else server.port
        if backend == "adls":
            store.bucket = server.create_container(f"faults-{uuid.uuid4().hex[:12]}")
            endpoint = f"http://127.0.0.1:{port}/{AZURE_ACCOUNT}"
            configure(
                store,
                ADLS_CONTAINER=store.bucket,
                ADLS_CONNECTION_STRING=(
                    f"DefaultEndpointsProtocol=http;AccountName={AZURE_ACCOUNT};"
                    f"AccountKey={AZURE_KEY};BlobEndpoint={endpoint};"
                ),
            )
            env["ADLS_MAX_RETRIES"] = "0"
        else:
            store.bucket = server.create_bucket(f"faults-{uuid.uuid4().hex[:12]}")
            configure(
                store,
                S3_BUCKET=store.bucket,
                S3_ENDPOINT_URL=f"http://127.0.0.1:{port}",
                S3_REGION="us-east-1",
            )
            env["S3_MAX_RETRIES"] = "0"
        return store

    yield make
    for proxy in proxies:
        proxy.stop()


def assert_no_secrets(store: Store, *outcomes) -> None:
    texts = [text for o in outcomes for text in (o.stdout, o.stderr)]
    assert MARKER in (store.project / ".env").read_text()  # the search can find them
    assert secret_hits(store, texts) == []


def assert_versions(store: Store, version: str, rows: int = 0) -> None:
    """Every layer holds exactly what a run of ``version`` produces."""
    expected = expected_tables(store.project, version, rows)
    for layer in LAYERS:
        assert store.frame(layer).equals(expected[layer]), f"{layer} is not {version}"


# 1. kill -9 while a large asset is being written ---------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_mid_write_keeps_every_previous_version_and_a_rerun_completes(backend, make_store):
    store = make_store(backend)
    first = run_pipeline(store)
    assert first.returncode == 0, first.output
    before = store.tables()
    listing = store.listing()

    rows = LARGE_ROWS[backend]
    run = start_pipeline(store, POLSTER_TEST_VERSION="v2", POLSTER_TEST_ROWS=str(rows))
    wait_for(lambda: store.writing("bronze"), run)
    killed = kill9(run)

    # The previous version of every asset is there, byte for byte, and reads as v1.
    assert store.tables() == before
    assert_versions(store, "v1")
    if backend == "local":  # the killed writer could not clean up after itself
        assert len(store.temp_files()) == 1
    else:  # an unfinished upload is invisible: no new object, and no partial one
        assert store.listing() == listing

    rerun = run_pipeline(store, POLSTER_TEST_VERSION="v3")
    assert rerun.returncode == 0, rerun.output
    assert "Succeeded: 3 materialised, 0 failed, 0 skipped" in rerun.stdout
    assert_versions(store, "v3")
    assert store.temp_files() == []  # the dead writer's temporary file was swept
    assert store.listing() == listing
    if backend == "local":  # tables are made like any file: readable as the umask allows
        umask = os.umask(0)
        os.umask(umask)
        assert (store.data / "bronze" / "example.parquet").stat().st_mode & 0o777 == (
            0o666 & ~umask
        )
    assert_no_secrets(store, first, killed, rerun)


# 2. two runs of the same project at once ------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_runs_at_once_store_one_complete_version_of_each_table(backend, make_store):
    import dagster as dg

    store = make_store(backend)
    sizes = {"A": 500_000, "B": 600_000}  # 16-20 MB: several Azure blocks and row groups
    barrier = store.data.parent / "barrier"
    barrier.mkdir()
    runs = {
        version: start_pipeline(
            store,
            POLSTER_TEST_VERSION=version,
            POLSTER_TEST_ROWS=str(rows),
            POLSTER_TEST_BARRIER=str(barrier),
        )
        for version, rows in sizes.items()
    }
    outcomes = {version: finish(run) for version, run in runs.items()}
    for outcome in outcomes.values():
        assert outcome.returncode == 0, outcome.output
        assert "Succeeded: 3 materialised, 0 failed, 0 skipped" in outcome.stdout
        assert "WARNING" not in outcome.output

    # The bronze writes overlapped (else this proves nothing): Dagster's own events.
    with dg.DagsterInstance.from_config(str(store.project / ".dagster")) as instance:
        windows = []
        for record in instance.get_run_records():
            events = {
                e.dagster_event.event_type_value: e.timestamp
                for e in instance.all_logs(record.dagster_run.run_id)
                if e.dagster_event and e.dagster_event.step_key == "run_bronze_example"
            }
            windows.append((events["STEP_START"], events["STEP_SUCCESS"]))
    assert len(windows) == 2
    assert max(start for start, _ in windows) < min(end for _, end in windows), windows

    # Each table is one whole version, and each downstream table is derived from the same
    # version it says it is (silver carries the tag; gold is matched by its contents).
    expected = {v: expected_tables(store.project, v, rows) for v, rows in sizes.items()}
    for layer in LAYERS:
        stored = store.frame(layer)
        matches = [v for v in sizes if stored.equals(expected[v][layer])]
        assert len(matches) == 1, f"{layer} is not one complete version"
        if layer != "gold":
            assert stored["version"].unique().to_list() == matches
    assert store.temp_files() == []
    tables = [n for n in store.listing() if not n.startswith("_samples/")]
    if backend == "local":
        assert tables == [f"{layer}/example.parquet" for layer in sorted(LAYERS)]
    else:
        assert tables == sorted(store.key(layer) for layer in LAYERS)
    assert_no_secrets(store, *outcomes.values())


# 3. the remote store goes away while the pipeline writes ---------------------------------------


@pytest.mark.parametrize("fallback", [True, False], ids=["fallback", "no-fallback"])
@pytest.mark.parametrize("backend", REMOTE)
def test_the_store_going_away_mid_write(backend, fallback, make_store):
    store = make_store(backend, via_proxy=True)
    first = run_pipeline(store)
    assert first.returncode == 0, first.output
    before = store.tables()
    listing = store.listing()
    setting = f"{backend.upper()}_FALLBACK_TO_LOCAL"
    rows = LARGE_ROWS[backend]

    run = start_pipeline(
        store,
        POLSTER_TEST_VERSION="v2",
        POLSTER_TEST_ROWS=str(rows),
        **{setting: "true" if fallback else "false"},
    )
    wait_for(lambda: store.writing("bronze"), run)
    store.proxy.stop()  # the store vanishes mid-upload, by its PID
    outcome = finish(run)

    # Remotely: the previous version of every table, and nothing partial beside it.
    assert store.tables() == before
    assert store.listing() == listing
    bronze_uri = store.uri("bronze")
    local_bronze = store.data / "bronze" / "example.parquet"
    if fallback:
        assert outcome.returncode == 0, outcome.output
        assert f"WARNING: writing bronze/example to {backend} at {bronze_uri} failed" in (
            outcome.stderr
        )
        assert "Succeeded: 3 materialised, 0 failed, 0 skipped" in outcome.stdout
        assert "3 fell back to local storage" in outcome.stdout
        assert pl.read_parquet(local_bronze).height == rows
        expected = expected_tables(store.project, "v2", rows)
        for layer in ("silver", "gold"):
            local = pl.read_parquet(store.data / layer / "example.parquet")
            assert local.equals(expected[layer])
    else:
        assert outcome.returncode == 1
        assert "FAILED: 0 materialised, 1 failed, 2 skipped" in outcome.stdout
        errors = [line for line in outcome.stderr.splitlines() if line.strip()]
        assert errors == [errors[0]], outcome.stderr
        assert errors[0].startswith(
            f"error in run_bronze_example: writing bronze/example to {backend} at {bronze_uri} "
            "failed: "
        )
        assert f"set {setting}=true" in errors[0]
        assert not local_bronze.exists()
    assert "Traceback" not in outcome.output
    assert_no_secrets(store, first, outcome)


# 4. no space left on the local disk ------------------------------------------------------------


def test_a_full_disk_is_one_clear_line_and_keeps_the_previous_version(make_store, tiny_disk):
    store = make_store("local")
    store.data = tiny_disk
    store.env["LOCAL_DATA_DIR"] = str(tiny_disk)
    first = run_pipeline(store)
    assert first.returncode == 0, first.output
    before = store.tables()

    full = run_pipeline(store, POLSTER_TEST_VERSION="v2", POLSTER_TEST_ROWS="1000000")
    assert full.returncode == 1
    assert "FAILED: 0 materialised, 1 failed, 2 skipped" in full.stdout
    errors = [line for line in full.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, full.stderr
    assert errors[0].startswith(
        f"error in run_bronze_example: writing bronze/example to local at {store.uri('bronze')} "
        "failed: no space left on the device"
    ), errors[0]
    assert "LOCAL_DATA_DIR" in errors[0]
    assert "Traceback" not in full.output
    assert store.tables() == before
    assert store.temp_files() == []
    assert_no_secrets(store, first, full)


# 5. a damaged upstream table -------------------------------------------------------------------


DAMAGE = {
    "truncated": lambda good: good[: len(good) // 2],
    "not parquet": lambda good: b"event_id,email\n1,a@b.c\n",
}


@pytest.mark.parametrize(
    "backend, damages",
    [("local", ["truncated", "not parquet"]), ("adls", ["truncated"]), ("s3", ["truncated"])],
)
def test_a_corrupt_upstream_table_fails_the_downstream_asset_naming_the_file(
    backend, damages, make_store
):
    store = make_store(backend)
    first = run_pipeline(store)
    assert first.returncode == 0, first.output
    good = store.read_bytes("bronze")
    silver = store.read_bytes("silver")
    outcomes = [first]
    for damage in damages:
        store.write_bytes("bronze", DAMAGE[damage](good))
        outcome = run_pipeline(store, "--select", "run_silver_example")
        outcomes.append(outcome)
        assert outcome.returncode == 1
        assert "FAIL  run_silver_example" in outcome.stdout
        assert "FAILED: 0 materialised, 1 failed, 0 skipped" in outcome.stdout
        errors = [line for line in outcome.stderr.splitlines() if line.strip()]
        assert len(errors) == 1, outcome.stderr
        assert errors[0].startswith(
            f"error in run_silver_example: reading bronze/example from {backend} at "
            f"{store.uri('bronze')} failed: not a valid parquet file ("
        ), errors[0]
        assert errors[0].endswith("python run_polster.py --select run_bronze_example")
        assert "Traceback" not in outcome.output and 'File "' not in outcome.output
        assert store.read_bytes("silver") == silver  # the downstream table was not touched
    assert_no_secrets(store, *outcomes)


# 6. the secrets sweep --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "backend, auth",
    [
        ("local", "-"),
        ("adls", "account key"),
        ("adls", "SAS token"),
        ("adls", "a wrong key"),
        ("s3", "access key + session token"),
    ],
)
def test_no_secret_leaves_dotenv(backend, auth, make_store):
    """Marked secrets in .env (every backend's); the pipeline, the CLI's commands and the CI
    file never show them: not in output, logs, Dagster's event log, data or generated files.

    Every other test here sweeps too, after its fault (adls with a connection string)."""
    from polster_core.testing.projects import plugin_env, run_polster, set_env

    store = make_store(backend)
    if auth in ("account key", "SAS token"):
        endpoint = store.server.endpoint
        sas = store.server.sas_token(store.bucket)
        store.secrets.append(sas.split("sig=")[1].split("&")[0])
        set_env(
            store.project,
            ADLS_CONNECTION_STRING="",
            ADLS_ACCOUNT_NAME=AZURE_ACCOUNT,
            ADLS_ENDPOINT_URL=endpoint,
            ADLS_SAS_TOKEN=sas if auth == "SAS token" else "",
        )
    if auth == "a wrong key":  # refused by the store: its error travels everywhere
        wrong = marked(88)
        store.secrets.append(wrong)
        set_env(
            store.project,
            ADLS_CONNECTION_STRING=(
                f"DefaultEndpointsProtocol=http;AccountName={AZURE_ACCOUNT};AccountKey={wrong};"
                f"BlobEndpoint={store.server.endpoint};"
            ),
        )
    run = run_pipeline(store)
    if auth == "a wrong key":
        assert run.returncode == 1
        assert "error in run_bronze_example: writing bronze/example to adls at" in run.stderr
    else:
        assert run.returncode == 0, run.output
    if backend != "local" and run.returncode == 0:
        assert store.listing() == sorted(store.key(layer) for layer in LAYERS)
    env = plugin_env(**store.env)
    cli = [
        run_polster(*command, cwd=store.project, env=env)
        for command in (
            ["list"],
            ["check"],
            ["plugins"],
            ["add-asset", "--layer", "silver", "--name", "clean", "--deps", "example"],
            ["enable", "gitlab"],  # a CI file written while the secrets are in .env
        )
    ]
    assert cli[-1].returncode == 0, cli[-1].stderr
    assert (store.project / ".github" / "workflows").is_dir()
    assert (store.project / ".gitlab-ci.yml").is_file()
    assert_no_secrets(store, run, *cli)
