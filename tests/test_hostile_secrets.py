"""Issue 25, classes 4, 5 and 6 (part): secrets in every output, a bounded worker pool, and a
run stopped by Ctrl+C or SIGTERM.

- Under ``run_polster.py --verbose`` (one process and ``--workers 2``), the run-failure block
  Dagster prints shows no secret: an S3 key an asset raises, nor the password of
  ``DAGSTER_POSTGRES_URL`` (a real PostgreSQL server holds the history).
- A password with a raw ``@`` (PostgreSQL, real server; Redis in the celery plugin's tests) is
  masked whole, also where libpq repeats the part after the ``@`` as the host.
- The api template's example script, against a local HTTP server that answers 500: a token
  in the URL's query, one added by a redirect, or the bearer token echoed in the reason, is
  masked in its one-line error.
- ``--workers N`` starts no more worker processes than the run has assets (and the machine
  takes), and says so in one line.
- Ctrl+C (SIGINT to the process group, as a terminal sends it) and SIGTERM stop a run with
  exit code 130 and one line on stderr, in one process and with ``--workers``.
"""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from polster_core.testing import servers, services
from polster_core.testing.projects import clean_env, plugin_env, run_polster, set_env, tree_hash
from polster_core.testing.secrets import marked

S3_SECRET = marked(40)
RAISES = """
import os

import dagster as dg
import polars as pl


@dg.asset(group_name="bronze", kinds={"polars"})
def run_bronze_auth() -> pl.DataFrame:
    name = os.environ.get("LEAK", "S3_SECRET_ACCESS_KEY")
    raise RuntimeError("auth failed for " + os.environ[name])
"""
# Waits (when told to) after saying so on stdout, where the run passes on what steps print.
WAITS = """
import os
import time

import dagster as dg
import polars as pl


@dg.asset(group_name="bronze", kinds={"polars"})
def run_bronze_wait() -> pl.DataFrame:
    if os.environ.get("POLSTER_TEST_WAIT"):
        print("waiting for a signal", flush=True)
        time.sleep(120)
    return pl.DataFrame({"id": [1]})
"""
# Records how many processes the run's process (its parent, a worker's) has started.
COUNTS = """
import os
from pathlib import Path

import dagster as dg
import polars as pl


def children(pid: int) -> int:
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        count += fields[1] == str(pid)
    return count


@dg.asset(group_name="bronze", kinds={"polars"})
def run_bronze_count() -> pl.DataFrame:
    if os.environ.get("POLSTER_TEST_COUNT"):
        Path(os.environ["POLSTER_TEST_COUNT"]).write_text(str(children(os.getppid())))
    return pl.DataFrame({"id": [1]})
"""


def add_asset(project: Path, name: str, code: str, env: dict) -> None:
    added = run_polster("add-asset", "--layer", "bronze", "--name", name, cwd=project, env=env)
    assert added.returncode == 0, added.stderr
    wrapper = project / "src/orchestration/assets/bronze" / f"run_bronze_{name}.py"
    wrapper.write_text(f'"""An asset of the test."""\n{code}', encoding="utf-8")


@pytest.fixture(scope="module")
def template(make_project) -> Path:
    """A generated project with an asset that raises a secret, one that waits, one that
    counts the run's processes; the S3 plugin installed, its secret key in .env."""
    try:
        import polster_s3  # noqa: F401
    except ImportError:
        servers.missing("polster-s3", "install it: pip install -e plugins/polster_s3")
    env = plugin_env()
    project = make_project("dna-platform", env=env)
    add_asset(project, "auth", RAISES, env)
    add_asset(project, "wait", WAITS, env)
    add_asset(project, "count", COUNTS, env)
    set_env(project, S3_SECRET_ACCESS_KEY=S3_SECRET)
    return project


@pytest.fixture
def project(template, tmp_path) -> Path:
    copy = tmp_path / "dna-platform"
    shutil.copytree(template, copy)
    return copy


def start(project: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "run_polster.py", *args],
        cwd=project,
        env=plugin_env(PYTHONPATH=str(project / "src"), **env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def run(project: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    process = start(project, *args, **env)
    try:
        out, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


WORKERS = pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["one", "workers"])


# Class 4: secrets ------------------------------------------------------------------------------


@WORKERS
def test_verbose_shows_the_run_failure_of_a_raised_secret_masked(project, workers):
    result = run(project, "--verbose", *workers)
    assert result.returncode == 1, result.stderr
    output = result.stdout + result.stderr
    assert "RUN_FAILURE" in output  # Dagster's own log, with its run-failure block
    assert S3_SECRET not in output
    assert "RuntimeError: auth failed for ***" in result.stderr


@WORKERS
def test_verbose_shows_no_password_of_the_postgresql_history(project, postgres, workers):
    password = services.PG_PASSWORD
    set_env(project, DAGSTER_POSTGRES_URL=postgres)
    result = run(project, "--verbose", *workers, LEAK="DAGSTER_POSTGRES_URL")
    assert result.returncode == 1, result.stderr
    output = result.stdout + result.stderr
    assert "RUN_FAILURE" in output
    assert password not in output
    assert "auth failed for postgresql+psycopg2://postgres:***@127.0.0.1" in result.stderr


def test_a_raw_at_sign_in_a_postgresql_password_is_masked_whole(project, postgres):
    import psycopg2

    role = f"polster_{uuid.uuid4().hex[:8]}"
    password = f"Raw@{marked(24)}"  # written raw in the URL, as a user may
    connection = psycopg2.connect(postgres)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (password,))
    connection.close()
    url = postgres.replace("postgres:" + services.PG_PASSWORD, f"{role}:{password}")
    set_env(project, DAGSTER_POSTGRES_URL=url)
    before = tree_hash(project / "src")
    for args in ([], ["--verbose"]):
        result = run(project, *args)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert lines[0].startswith(
            f"error: cannot reach the PostgreSQL history at postgresql://{role}:***@127.0.0.1:"
        )
        # libpq took the part after the "@" for the host, and says so: masked too.
        assert 'could not translate host name "***"' in lines[0]
        assert password.split("@")[1] not in result.stdout + result.stderr
    assert tree_hash(project / "src") == before


def test_masking_takes_a_whole_password_and_credentials_in_any_query():
    from polster_core.runner import mask_url
    from polster_core.secrets import Redactor, redact

    assert mask_url("redis://:x@Passw0rdQ@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    url = "postgresql://app:x@Passw0rdQ@db:5432/app"
    assert Redactor([url])('could not translate host name "Passw0rdQ@db" to address: unknown') == (
        'could not translate host name "***" to address: unknown'
    )
    assert redact("GET https://api.example.com/v1?page=2&api_key=abc123def&f=json: 500") == (
        "GET https://api.example.com/v1?page=2&api_key=***&f=json: 500"
    )
    assert (
        redact("https://x.example/cb?access_token=t0k3n.")
        == "https://x.example/cb?access_token=***."
    )
    short = Redactor(["postgresql://app:pa@ss12@db.example:5432/app"])  # "ss12": too short alone
    assert short('could not translate host name "ss12@db.example" to address') == (
        'could not translate host name "***" to address'
    )
    ordinary = "http://127.0.0.1:3000/runs?page=2 for user@example.com at http://h:80/a@b"
    assert redact(ordinary) == ordinary


class _Api(http.server.BaseHTTPRequestHandler):
    """500 for every request; /redirect first sends the client to a URL with a key in it;
    the reason phrase repeats the bearer token it was sent."""

    token_in_redirect = marked(20)

    def do_GET(self):
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", f"/data?key={self.token_in_redirect}&page=1")
            self.end_headers()
            return
        sent = self.headers.get("Authorization", "").removeprefix("Bearer ")
        self.send_response(500, f"upstream rejected token {sent}" if sent else None)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def api_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def api_project(make_project) -> Path:
    project = make_project("dna-platform")
    added = run_polster("add-asset", "-l", "bronze", "-n", "orders", "-t", "api", cwd=project)
    assert added.returncode == 0, added.stderr
    return project


def run_api_script(project: Path, **settings: str) -> subprocess.CompletedProcess:
    set_env(project, **settings)
    return subprocess.run(
        [sys.executable, "src/core/bronze_orders.py"],
        cwd=project,
        env=clean_env(PYTHONPATH=str(project / "src")),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("where", ["query", "redirect", "reason"])
def test_the_api_scripts_error_masks_the_token(api_project, api_server, where):
    token = marked(20)
    settings = {
        "query": {"BRONZE_ORDERS_API_URL": f"{api_server}/data?key={token}&page=1"},
        "redirect": {"BRONZE_ORDERS_API_URL": f"{api_server}/redirect"},
        "reason": {"BRONZE_ORDERS_API_URL": f"{api_server}/data", "BRONZE_ORDERS_API_TOKEN": token},
    }[where]
    if where == "redirect":
        token = _Api.token_in_redirect
    before = tree_hash(api_project / "data")
    result = run_api_script(api_project, **settings)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "HTTP Error 500" in lines[0] and "***" in lines[0], lines[0]
    if where != "reason":
        assert "/data?key=***&page=1: HTTP Error 500" in lines[0], lines[0]
    assert token not in result.stdout + result.stderr
    assert tree_hash(api_project / "data") == before


# Class 5: the worker pool ----------------------------------------------------------------------


def test_workers_are_bounded_by_the_assets_of_the_run(project, tmp_path):
    count = tmp_path / "children"
    select = "run_bronze_example,run_silver_example,run_gold_example,run_bronze_count"
    result = run(project, "--workers", "20", "--select", select, POLSTER_TEST_COUNT=str(count))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  --workers 20: using 4 (the run has 4 assets: no more can run at once)" in (
        result.stdout.splitlines()
    )
    assert int(count.read_text()) <= 4  # the run's process started no more than 4 workers


def test_a_huge_worker_count_is_bounded_too(project, tmp_path):
    count = tmp_path / "children"
    result = run(
        project, "--workers", "99999999999999999999", "--select", "run_bronze_count",
        POLSTER_TEST_COUNT=str(count),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--workers 99999999999999999999: using 1 (the run has 1 asset" in result.stdout
    assert int(count.read_text()) == 1


def test_the_pool_is_bounded_by_the_machine():
    from polster_core.pool import PER_CPU, bounded_size, machine_cpus

    cpus = machine_cpus()
    assert bounded_size(10**20, 10**6) == (
        PER_CPU * cpus,
        f"at most {PER_CPU} per CPU, and this machine has {cpus}",
    )
    assert bounded_size(2, 3) == (2, None)  # what was asked for, when it can be had
    assert bounded_size(0, 1) == (1, None)  # the default: one per CPU, here one per asset


# Class 6: Ctrl+C and SIGTERM -------------------------------------------------------------------


@WORKERS
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_an_interrupted_run_exits_130_with_one_line(project, workers, how):
    process = start(
        project, "--select", "run_bronze_wait,run_bronze_example", *workers, POLSTER_TEST_WAIT="1"
    )
    out = ""
    try:
        while "waiting for a signal" not in out:
            line = process.stdout.readline()
            assert line, f"the run ended first:\n{out}{process.stderr.read()}"
            out += line
        if how == "ctrl-c":  # a terminal sends it to the whole process group
            os.killpg(process.pid, signal.SIGINT)
        else:  # a service manager, `kill`: to the process alone
            process.send_signal(signal.SIGTERM)
        rest, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    out += rest
    assert process.returncode == 130, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    signal_name = "Ctrl+C" if how == "ctrl-c" else "SIGTERM"
    assert lines[0].startswith(f"Interrupted ({signal_name}): the run stopped"), lines[0]
    assert "Traceback" not in out + err
    assert "DagsterExecutionInterruptedError" not in out + err
    assert "FAILED:" not in out
