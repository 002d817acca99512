"""Secrets in what the user's own code raises, prints and logs never reach the terminal, Dagster's
history (event log, its index, compute logs, metadata) or the UI; the masked message does.

A generated project on local storage, with the S3 plugin installed and S3 keys (plus a database
URI of a ``database`` bronze asset) in ``.env``, as a user who switched backends keeps them. Its
bronze assets misbehave with those values: one raises them, one prints, logs, echoes them from a
child process and puts them in metadata, one hides them in the chain of its exception, one
raises a URI's password. The pipeline runs as users run it (``python run_polster.py``, with
and without ``--workers``, and from the UI); afterwards every file of the project is searched,
SQLite databases value by value (see :func:`tests.faults.secret_hits`).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from polster_core.testing.projects import plugin_env, run_polster, set_env
from polster_core.testing.secrets import MARKER, marked
from polster_core.testing.servers import missing
from tests.faults import Store, run_pipeline, secret_hits
from tests.ui_server import UIServer, graphql

S3_KEY_ID = marked(24)
S3_SECRET = marked(40)
DB_PASSWORD = marked(32)
SECRETS = {
    "S3_ACCESS_KEY_ID": S3_KEY_ID,
    "S3_SECRET_ACCESS_KEY": S3_SECRET,
    # A bronze `database` asset's setting: secret by its template, whatever the asset's name.
    "BRONZE_SALES_DATABASE_URI": f"postgresql://polster:{DB_PASSWORD}@127.0.0.1:5432/sales",
}

WRAPPERS = {
    "auth": """
import os

import dagster as dg
import polars as pl


@dg.asset(group_name="bronze", kinds={"polars"})
def run_bronze_auth() -> pl.DataFrame:
    raise RuntimeError(f"auth failed for key {os.environ['S3_SECRET_ACCESS_KEY']}")
""",
    "chatty": """
import logging
import os
import subprocess
from urllib.parse import urlsplit

import dagster as dg
import polars as pl

# A handler made at import time holds the stderr of that moment.
log = logging.getLogger("chatty")
log.addHandler(logging.StreamHandler())
log.propagate = False


@dg.asset(group_name="bronze", kinds={"polars"})
def run_bronze_chatty(context: dg.AssetExecutionContext) -> pl.DataFrame:
    secret = os.environ["S3_SECRET_ACCESS_KEY"]
    print(f"printed {secret}", flush=True)
    log.warning("logged %s", secret)
    logging.getLogger("unconfigured").warning("last resort %s", secret)
    context.log.info(f"context log {os.environ['S3_ACCESS_KEY_ID']}")
    subprocess.run(["echo", f"echoed {secret}"], check=True)
    password = urlsplit(os.environ["BRONZE_SALES_DATABASE_URI"]).password
    context.add_output_metadata(
        {"source": f"postgresql://polster:{password}@db.example/sales", "key": secret}
    )
    return pl.DataFrame({"id": [1, 2]})
""",
    "chained": """
import os

import dagster as dg
import polars as pl


@dg.asset(group_name="bronze", kinds={"polars"})
def run_bronze_chained() -> pl.DataFrame:
    secret = os.environ["S3_SECRET_ACCESS_KEY"]
    try:
        try:
            raise KeyError(f"no profile for {secret}")
        except KeyError:
            raise ValueError(f"retry with {secret} failed")  # implicit context
    except ValueError as exc:
        raise ConnectionError("could not connect to the store") from exc
""",
    "sales": """
import os
from urllib.parse import urlsplit

import dagster as dg
import polars as pl


@dg.asset(group_name="bronze", kinds={"polars"})
def run_bronze_sales() -> pl.DataFrame:
    password = urlsplit(os.environ["BRONZE_SALES_DATABASE_URI"]).password
    raise ConnectionError(f"password authentication failed for user polster ({password})")
""",
}

# What the user must still see, masked.
FAILURES = {
    "run_bronze_auth": "RuntimeError: auth failed for key ***",
    "run_bronze_chained": "ConnectionError: could not connect to the store",
    "run_bronze_sales": "ConnectionError: password authentication failed for user polster (***)",
}
PRINTED = ["printed ***", "logged ***", "last resort ***", "echoed ***"]
RECORDED = [
    "auth failed for key ***",
    "no profile for ***",  # the implicit context of the cause
    "retry with *** failed",  # the explicit cause
    "context log ***",
    "postgresql://polster:***@db.example/sales",
]
OLD_DAGSTER_YAML = "# Created by an older run_polster.py.\ntelemetry:\n  enabled: false\n"


@pytest.fixture(scope="module")
def template(make_project) -> Path:
    try:
        import polster_s3  # noqa: F401
    except ImportError:
        missing("polster-s3", "install it: pip install -e plugins/polster_s3")
    env = plugin_env()
    project = make_project("dna-platform", env=env)
    for name, code in WRAPPERS.items():
        added = run_polster("add-asset", "--layer", "bronze", "--name", name, cwd=project, env=env)
        assert added.returncode == 0, added.stderr
        wrapper = project / "src/orchestration/assets/bronze" / f"run_bronze_{name}.py"
        wrapper.write_text(f'"""Misbehaves with secrets (test)."""\n{code}', encoding="utf-8")
    set_env(project, **SECRETS)
    return project


@pytest.fixture
def store(template, tmp_path) -> Store:
    project = tmp_path / "dna-platform"
    shutil.copytree(template, project)
    return Store("local", project, project / "data", {}, secrets=list(SECRETS.values()))


def history_text(project: Path) -> str:
    """Every value of every Dagster database and every compute log of the project."""
    texts = []
    for path in sorted((project / ".dagster").rglob("*")):
        if path.suffix == ".db":
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            texts.append("\n".join(connection.iterdump()))
            connection.close()
        elif path.suffix in (".out", ".err"):
            texts.append(path.read_text(encoding="utf-8"))
    return "\n".join(texts)


def assert_masked_everywhere(store: Store, *texts: str) -> None:
    assert MARKER in (store.project / ".env").read_text()  # the search can find them
    assert secret_hits(store, list(texts)) == []


@pytest.mark.parametrize("workers", [0, 2], ids=["one process", "--workers 2"])
def test_secrets_in_errors_prints_and_logs_are_masked_in_output_and_history(store, workers):
    home = store.project / ".dagster"
    if not workers:  # a project whose instance predates Polster's: it is brought up to date
        home.mkdir()
        (home / "dagster.yaml").write_text(OLD_DAGSTER_YAML, encoding="utf-8")
    args = ["--workers", str(workers)] if workers else []
    run = run_pipeline(store, *args)
    assert run.returncode == 1, run.output
    for asset, message in FAILURES.items():
        assert f"error in {asset}: {message}" in run.stderr, run.output
    assert "ok    run_bronze_chatty" in run.stdout
    assert "ok    run_gold_example" in run.stdout
    for line in PRINTED:
        assert line in run.output, run.output
    history = history_text(store.project)
    for line in [*RECORDED, *PRINTED, *FAILURES.values()]:
        assert line in history, line
    assert "instance_class:" in (home / "dagster.yaml").read_text()
    assert_masked_everywhere(store, run.stdout, run.stderr)


RUN_EVENTS = """query ($runId: ID!) { logsForRun(runId: $runId) {
  __typename ... on EventConnection { events { __typename
    ... on MessageEvent { message stepKey }
    ... on ExecutionStepFailureEvent { error { message stack className
      causes { message stack } errorChain { isExplicitLink error { message stack } } } }
    ... on MaterializationEvent { metadataEntries { label
      ... on TextMetadataEntry { text } ... on UrlMetadataEntry { url } } }
    ... on LogsCapturedEvent { fileKey } } } } }"""

LAUNCH = """mutation ($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


def test_the_ui_shows_no_secret_of_a_run_it_launched(store):
    """A run launched from the UI (by the daemon, in a run worker of ``dagster dev``): its
    events, error chains, metadata and captured logs over GraphQL, as the UI reads them."""
    server = UIServer(store.project, materialize=False, env=plugin_env())
    try:
        server.wait_ready()
        location = graphql(
            server.port, "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"
        )["workspaceOrError"]["locationEntries"][0]["name"]
        selector = {
            "repositoryLocationName": location,
            "repositoryName": "__repository__",
            "jobName": "polster_pipeline",
        }
        launched = graphql(server.port, LAUNCH, {"params": {"selector": selector}})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        deadline = time.monotonic() + 240
        status = ""
        while time.monotonic() < deadline:
            query = "query ($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
            status = graphql(server.port, query, {"id": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(1)
        assert status == "FAILURE", f"{status}\n{server.output()}"
        events = graphql(server.port, RUN_EVENTS, {"runId": run_id})["logsForRun"]["events"]
        logs = []
        for key in {e["fileKey"] for e in events if e["__typename"] == "LogsCapturedEvent"}:
            query = "query ($key: [String!]!) { capturedLogs(logKey: $key) { stdout stderr } }"
            logs.append(graphql(server.port, query, {"key": [run_id, "compute_logs", key]}))
    finally:
        server.stop()
    shown = json.dumps(events) + json.dumps(logs)
    for line in [*RECORDED, *FAILURES.values()]:
        assert line.split(": ", 1)[-1] in shown, line
    for line in PRINTED:
        assert line in json.dumps(logs), line
    assert_masked_everywhere(store, shown, server.output())


# The masking itself ------------------------------------------------------------------------------


def test_a_url_password_is_masked_alone_encoded_and_in_any_url():
    from urllib.parse import quote

    from polster_core.secrets import Redactor

    password = 'pa:ss/w0rd"x'
    uri = f"postgresql://polster:{quote(password, safe='')}@db:5432/sales"
    redactor = Redactor([uri])
    text = (
        f"connect {uri} failed; password {password} rejected; json {json.dumps(password)}; "
        "other mysql://bob:hunter2secret@h/db"
    )
    masked = redactor(text)
    assert password not in masked and quote(password, safe="") not in masked
    assert json.dumps(password)[1:-1] not in masked
    assert "hunter2secret" not in masked and "mysql://bob:***@h/db" in masked
    assert "connect *** failed" in masked  # the whole value is a secret
    assert redactor.search(text) and not redactor.search("nothing to see")
    assert not Redactor([]) and Redactor(["s3cr3t-value"])


def test_known_secrets_are_the_values_of_secret_settings_only(tmp_path, monkeypatch):
    from polster_core import secrets

    (tmp_path / ".env").write_text(
        "BRONZE_ORDERS_DATABASE_URI=postgresql://u:fromdotenv1@h/db\n"
        "BRONZE_ORDERS_DATABASE_QUERY=SELECT 1 -- not secret\n",
        encoding="utf-8",
    )
    env = {"BRONZE_SALES_API_TOKEN": "tok-from-env-123", "PATH": "/usr/bin:/bin"}
    monkeypatch.setattr(secrets, "_NAMES", None)
    found = secrets.known_secrets(tmp_path, env=env, cache=tmp_path / "cache.json")
    assert sorted(found) == ["postgresql://u:fromdotenv1@h/db", "tok-from-env-123"]
    cached = json.loads((tmp_path / "cache.json").read_text())
    assert "tok-from-env-123" not in json.dumps(cached)  # names only, never values

    # The next process reads the names from the cache while nothing it depends on changed...
    cached["names"].append("MY_OWN_SECRET")
    (tmp_path / "cache.json").write_text(json.dumps(cached))
    monkeypatch.setattr(secrets, "_NAMES", None)
    found = secrets.known_secrets(env={"MY_OWN_SECRET": "abcdefgh"}, cache=tmp_path / "cache.json")
    assert found == ["abcdefgh"]
    # ...and finds them again when a plugin's module changed.
    cached["stamps"] = {path: stamp + 1 for path, stamp in cached["stamps"].items()}
    (tmp_path / "cache.json").write_text(json.dumps(cached))
    monkeypatch.setattr(secrets, "_NAMES", None)
    found = secrets.known_secrets(env={"MY_OWN_SECRET": "abcdefgh"}, cache=tmp_path / "cache.json")
    assert found == []
    monkeypatch.setattr(secrets, "_NAMES", None)
