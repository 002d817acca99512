"""Asset templates: ruff-clean code for every template, and a real pipeline reading real sources.

csv, parquet and excel read files this test writes; database reads SQLite through a connection
URI; api calls an HTTP server on 127.0.0.1 that the test starts and stops.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

from polster_core.testing.projects import clean_env, run_python

from .assets_helpers import add, assert_ruff_clean, new_project, polster_ok

BRONZE_TEMPLATES = ["default", "csv", "parquet", "excel", "api", "database"]


def long_name(stem: str) -> str:
    """A name of the maximum length (40), so every generated line is as long as it gets."""
    return (stem + "_" + "x" * 40)[:40]


def test_every_template_is_ruff_clean_with_short_and_long_names(tmp_path):
    project = new_project(tmp_path, allow_same_layer=True)
    bronze = []
    for template in BRONZE_TEMPLATES:
        for name in (f"b_{template}", long_name(f"b_{template}")):
            add(project, "bronze", name, "--template", template)
            bronze.append(name)
    longest = [n for n in bronze if len(n) == 40]
    silver_one = long_name("s_one")
    silver_many = long_name("s_many")
    add(project, "silver", silver_one, "--deps", longest[0])
    add(project, "silver", silver_many, "--deps", ",".join(longest[:3]))
    add(project, "silver", "s_chain", "--deps", f"{silver_one},{longest[3]}")  # same layer
    add(project, "gold", long_name("g_one"), "--deps", silver_many)
    add(project, "gold", long_name("g_two"), "--deps", f"{silver_one},{silver_many}")
    add(project, "gold", "g_chain", "--deps", long_name("g_one"))  # same layer
    assert_ruff_clean(project)
    assert polster_ok(project, "check").startswith("OK: 21 assets")


# A real pipeline with every bronze template ---------------------------------------------------

API_USERS = {
    "data": [
        {"id": 1, "email": "ada@example.com", "address": {"city": "London"}},
        {"id": 2, "email": "linus@example.com", "address": {"city": "Helsinki"}},
    ],
    "next": None,
}
TOKEN = "test-token-123"


class _Api(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the http.server API)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps(API_USERS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def api_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/users"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    project = new_project(tmp_path_factory.mktemp("templates"))
    add(project, "bronze", "orders", "--template", "csv")
    add(project, "bronze", "payments", "--template", "parquet")
    add(project, "bronze", "budget", "--template", "excel")
    add(project, "bronze", "users", "--template", "api")
    add(project, "bronze", "accounts", "--template", "database")
    add(project, "bronze", "manual")  # the default template
    add(project, "silver", "combined", "--deps", "orders,payments,budget,users,accounts,manual")
    add(project, "gold", "report", "--deps", "combined")
    return project


def run_pipeline(project: Path, **env: str):
    result = run_python(project, "run_polster.py", env=clean_env(**env))
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def table(project: Path, layer: str, name: str) -> pl.DataFrame:
    return pl.read_parquet(project / f"data/{layer}/{name}.parquet")


def test_new_assets_run_before_any_source_is_set_up(pipeline):
    result = run_pipeline(pipeline)
    assert "Succeeded: 11 materialised, 0 failed, 0 skipped" in result.stdout
    for setting in ("BRONZE_USERS_API_URL", "BRONZE_ACCOUNTS_DATABASE_URI"):
        assert f"{setting} is not set" in result.stderr
    assert "data/sources/orders.csv does not exist yet" in result.stderr
    assert table(pipeline, "bronze", "orders")["name"].to_list() == ["alpha", "beta", "gamma"]
    assert table(pipeline, "gold", "report").height > 0


def test_the_projects_own_tests_still_pass(pipeline):
    # (before the sources below are set up: this module's tests share one project, in order)
    result = run_python(pipeline, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_added_dependencies_and_settings_are_recorded(pipeline):
    pyproject = (pipeline / "pyproject.toml").read_text()
    assert '"fastexcel>=0.11",' in pyproject and '"connectorx>=0.3.2",' in pyproject
    example = (pipeline / ".env.example").read_text()
    assert "# BRONZE_ORDERS_CSV_PATH=data/sources/orders.csv" in example
    assert "# BRONZE_ACCOUNTS_DATABASE_URI=\n" in example  # secret: no value, not even a sample
    assert "# BRONZE_USERS_API_TOKEN=\n" in example


def test_every_template_reads_its_real_source(pipeline, tmp_path, api_url):
    # csv: at the default path; every column stays text (the leading zeros survive)
    sources = pipeline / "data/sources"
    sources.mkdir(parents=True, exist_ok=True)
    (sources / "orders.csv").write_text("order_id,amount\n007,12.50\n008,3\n")
    # parquet: a glob of two files, chosen in .env
    (pipeline / "inputs").mkdir()
    pl.DataFrame({"payment_id": [1, 2], "eur": [9.5, 1.0]}).write_parquet(
        pipeline / "inputs/p1.parquet"
    )
    pl.DataFrame({"payment_id": [3], "eur": [4.25]}).write_parquet(pipeline / "inputs/p2.parquet")
    # excel: the second worksheet of a workbook, chosen in .env
    import xlsxwriter

    budget = pl.DataFrame({"quarter": ["Q4"], "sales": [1200]})
    with xlsxwriter.Workbook(sources / "budget.xlsx") as workbook:
        pl.DataFrame({"note": ["read me"]}).write_excel(workbook, worksheet="Intro")
        budget.write_excel(workbook, worksheet="Q4 Sales")
    # database: SQLite through a URI in the environment (which wins over .env)
    database = tmp_path / "accounts.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE accounts (id INTEGER, owner TEXT)")
        connection.executemany("INSERT INTO accounts VALUES (?, ?)", [(1, "ada"), (2, "linus")])
    env_file = pipeline / ".env"
    env_file.write_text(
        env_file.read_text()
        + "BRONZE_PAYMENTS_PARQUET_PATH=inputs/*.parquet\n"
        + 'BRONZE_BUDGET_EXCEL_SHEET="Q4 Sales"\n'
        + f"BRONZE_USERS_API_URL={api_url}\n"
        + f"BRONZE_USERS_API_TOKEN={TOKEN}\n"
        + "BRONZE_USERS_API_RECORDS_KEY=data\n"
        + "BRONZE_ACCOUNTS_DATABASE_URI=sqlite:///nowhere/in/particular.db\n"
    )
    result = run_pipeline(pipeline, BRONZE_ACCOUNTS_DATABASE_URI=f"sqlite://{database}")
    assert "returning sample rows" not in result.stderr, result.stderr
    assert "Succeeded: 11 materialised" in result.stdout

    orders = table(pipeline, "bronze", "orders")
    assert orders.to_dict(as_series=False) == {"order_id": ["007", "008"], "amount": ["12.50", "3"]}
    payments = table(pipeline, "bronze", "payments").sort("payment_id")
    assert payments["payment_id"].to_list() == [1, 2, 3]
    assert table(pipeline, "bronze", "budget").to_dict(as_series=False) == {
        "quarter": ["Q4"],
        "sales": [1200],
    }
    users = table(pipeline, "bronze", "users").sort("id")
    assert users["email"].to_list() == ["ada@example.com", "linus@example.com"]
    assert users["address.city"].to_list() == ["London", "Helsinki"]
    accounts = table(pipeline, "bronze", "accounts").sort("id")
    assert accounts.to_dict(as_series=False) == {"id": [1, 2], "owner": ["ada", "linus"]}
    # The silver asset received every one of its six upstream tables.
    assert table(pipeline, "silver", "combined").height == 2 + 3 + 1 + 2 + 2 + 3
    assert table(pipeline, "gold", "report").height > 0


def test_a_core_file_runs_on_its_own(pipeline):
    result = run_python(pipeline, "src/core/bronze_orders.py")
    assert result.returncode == 0, result.stderr
    assert "bronze/orders: wrote" in result.stdout


def test_the_api_token_is_checked_and_never_printed(pipeline, api_url):
    env = clean_env(
        PYTHONPATH=str(pipeline / "src"),
        BRONZE_USERS_API_URL=api_url,
        BRONZE_USERS_API_TOKEN="wrong-secret-value",
    )
    result = run_python(pipeline, "src/core/bronze_users.py", env=env)
    assert result.returncode != 0
    assert "401" in result.stderr
    assert "wrong-secret-value" not in result.stderr + result.stdout


def test_database_errors_never_show_the_uri_or_password(pipeline, tmp_path):
    database = tmp_path / "empty.db"
    sqlite3.connect(database).close()
    uri = f"sqlite://{database}"
    env = clean_env(PYTHONPATH=str(pipeline / "src"), BRONZE_ACCOUNTS_DATABASE_URI=uri)
    result = run_python(pipeline, "src/core/bronze_accounts.py", env=env)
    assert result.returncode != 0
    assert "query on BRONZE_ACCOUNTS_DATABASE_URI failed" in result.stderr
    assert str(database) not in result.stderr
    code = (
        "from core.bronze_accounts import redact\n"
        "uri = 'postgresql://bob:hunter2@db.internal:5432/sales'\n"
        "print(redact(f'cannot reach {uri}; auth for bob with hunter2 failed', uri))\n"
    )
    redacted = run_python(pipeline, "-c", code)
    assert redacted.stdout.strip() == (
        "cannot reach $BRONZE_ACCOUNTS_DATABASE_URI; auth for bob with *** failed"
    )
