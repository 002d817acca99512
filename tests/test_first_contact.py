"""A new user follows the generated README line by line, pasting its code: every step works.

Each test takes the code from the generated README itself (not a copy kept here), so a README
edit that breaks a step breaks its test.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

from polster_core.testing.projects import BIN, clean_env, run_polster

from .assets_helpers import add, new_project, ruff

USERS = [
    {"user_id": 1, "email": "Ann@Example.com", "created_at": "2026-01-05"},
    {"user_id": 2, "email": None, "created_at": "2026-01-06"},
    {"user_id": 3, "email": "BOB@example.com", "created_at": "2026-02-01"},
]


def readme_section(readme: str, heading: str) -> str:
    """The text of the README section that starts with ``heading`` (up to the next heading of
    the same or a higher level; ``#`` lines inside code blocks are not headings)."""
    level = len(heading.split(" ")[0])
    lines = readme.splitlines(keepends=True)
    start = lines.index(heading + "\n") + 1
    fenced = False
    for end in range(start, len(lines)):
        line = lines[end]
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", line):
            return "".join(lines[start:end])
    return "".join(lines[start:])


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, re.S)


class _JSON(BaseHTTPRequestHandler):
    payload: bytes = b"[]"

    def do_GET(self):  # noqa: N802 - the http.server API
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    """A JSON API on 127.0.0.1 that answers every GET with USERS."""
    handler = type("Handler", (_JSON,), {"payload": json.dumps(USERS).encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def python(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The test environment's Python in the project, as its activated .venv would run."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=env or clean_env(PYTHONPATH=str(project / "src")),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_building_your_pipeline_step_by_step_with_the_readme_code(tmp_path, api):
    project = new_project(tmp_path, "dna-platform")
    readme = (project / "README.md").read_text()
    steps = readme_section(readme, "## Building Your Pipeline")
    commands = [line for block in bash_blocks(steps) for line in block.splitlines()]
    code = {block.splitlines()[0][2:]: block for block in python_blocks(steps)}
    assert set(code) == {
        "src/core/bronze_api_users.py",
        "src/core/silver_clean_users.py",
        "src/core/gold_user_metrics.py",
    }
    deps = {"silver": "api_users", "gold": "clean_users"}
    for command in commands[:3]:  # the three add-asset commands, as written
        args = command.split()[1:]
        assert args[:2] == ["add-asset", "--layer"], command
        layer = args[2]
        extra = ["--deps", deps[layer]] if layer in deps else []  # what the prompt would ask
        result = run_polster(*args, *extra, cwd=project)
        assert result.returncode == 0, result.stderr
        # add-asset says how to run the asset however its core file is edited later.
        key = f"run_{layer}_{args[-1]}"
        assert f"python run_polster.py --select {key}" in result.stdout
    for rel, block in code.items():  # "Edit the core file": the whole file replaced
        (project / rel).write_text(block.replace("https://api.example.com", api))
    assert run_polster("check", cwd=project).returncode == 0
    assert ruff(project, "check", "src").returncode == 0

    # The bronze file has no __main__ block now: the command the README names instead works.
    result = python(project, "run_polster.py", "--select", "run_bronze_api_users")
    assert result.returncode == 0, result.stdout + result.stderr
    # Step 4, without the UI: everything, with the silver asset's checks on a bare core file.
    result = python(project, "run_polster.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    silver = pl.read_parquet(project / "data/silver/clean_users.parquet")
    assert silver["email"].to_list() == ["ann@example.com", "bob@example.com"]
    gold = pl.read_parquet(project / "data/gold/user_metrics.parquet")
    assert gold.rows() == [(1, 1, 1), (2, 1, 1)]
    assert "python run_polster.py --materialize --ui" in commands


def test_polster_check_reports_a_wrapper_importing_a_name_its_core_file_dropped(tmp_path):
    project = new_project(tmp_path)
    add(project, "silver", "clean_users", "--deps", "example")
    wrapper = project / "src/orchestration/assets/silver/run_silver_clean_users.py"
    # A wrapper written by an older Polster imported the check lists from the core file.
    text = wrapper.read_text().replace(
        "from core.silver_clean_users import transform",
        "from core.silver_clean_users import KEY_COLUMNS, REQUIRED_COLUMNS, transform",
    )
    wrapper.write_text(text)
    assert run_polster("check", cwd=project).returncode == 0  # the core file defines them
    core = project / "src/core/silver_clean_users.py"
    core.write_text(
        "import polars as pl\n\n\ndef transform(df: pl.DataFrame) -> pl.DataFrame:\n    return df\n"
    )
    result = run_polster("check", cwd=project)
    assert result.returncode != 0
    for name in ("KEY_COLUMNS", "REQUIRED_COLUMNS"):
        assert (
            f"run_silver_clean_users.py: line 10 imports {name} from "
            f"src/core/silver_clean_users.py, which no longer defines it: define {name} in "
            "src/core/silver_clean_users.py, or remove it from the import"
        ) in result.stdout + result.stderr


@pytest.mark.parametrize("spelling", ["src.core", "core"])
def test_the_readme_test_passes_under_plain_pytest(tmp_path, spelling):
    project = new_project(tmp_path)
    add(project, "silver", "clean_customers", "--deps", "example")
    (project / "src/core/silver_clean_customers.py").write_text(
        "import polars as pl\n\n\n"
        "def transform(df: pl.DataFrame) -> pl.DataFrame:\n"
        '    return df.drop_nulls("email").with_columns(pl.col("email").str.to_lowercase())\n'
    )
    readme = (project / "README.md").read_text()
    (block,) = python_blocks(readme_section(readme, "### 5. Test Your Transformations"))
    assert "from src.core.silver_clean_customers import transform" in block
    block = block.replace("from src.core.", f"from {spelling}.")
    (project / "tests/test_clean_customers.py").write_text(block)
    if spelling == "src.core":  # pasted as is: passes the project's ruff settings too
        assert ruff(project, "check", "tests/test_clean_customers.py").returncode == 0
    result = subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "tests/test_clean_customers.py"],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def pattern_sources(project: Path, api: str) -> dict[str, str]:
    """Real sources for each pattern of "Common Data Patterns", and the environment."""
    data = project / "data"
    data.mkdir(exist_ok=True)
    pl.DataFrame({"order_id": [1, 2], "amount": [9.5, 3.0]}).write_csv(data / "sales.csv")
    pl.DataFrame({"region": ["north", "south"], "sales": [10, 20]}).write_excel(
        data / "report.xlsx", worksheet="Q4 Sales"
    )
    database = data / "shop.db"
    database.unlink(missing_ok=True)
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE orders (order_id INTEGER, amount REAL)")
        connection.executemany("INSERT INTO orders VALUES (?, ?)", [(1, 9.5), (2, 3.0), (3, 1.0)])
    (project / ".env").write_text(f"DATABASE_URL=sqlite://{database}\n")
    return {"CSV Files": 2, "APIs": 3, "Databases": 3, "Excel Files": 2}


def run_pattern(python_exe: str, project: Path, block: str, api: str) -> pl.DataFrame:
    script = project / "pattern.py"
    script.write_text(
        block.replace("https://api.example.com", api)
        + "\n\nif __name__ == '__main__':\n    extract().write_parquet('pattern.parquet')\n"
    )
    result = subprocess.run(
        [python_exe, str(script)],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, block + result.stderr
    return pl.read_parquet(project / "pattern.parquet")


def test_every_common_data_pattern_runs_as_written(tmp_path, api):
    project = new_project(tmp_path)
    patterns = readme_section((project / "README.md").read_text(), "## Common Data Patterns")
    expected = pattern_sources(project, api)
    for title, rows in expected.items():
        section = readme_section(patterns, f"### {title}")
        (block,) = python_blocks(section)
        frame = run_pattern(sys.executable, project, block, api)
        assert frame.height == rows, (title, frame)
        # Where a pattern needs a package, the README names the command that adds it.
        if title in ("Databases", "Excel Files"):
            template = {"Databases": "database", "Excel Files": "excel"}[title]
            assert f"--template {template}" in section
            assert {"Databases": "connectorx", "Excel Files": "fastexcel"}[title] in section
    assert "connection_string" not in patterns and "pl.read_database(" not in patterns


@pytest.mark.slow
def test_patterns_run_in_the_project_environment_after_add_asset_template(tmp_path, api):
    """As a user does it: the templates add fastexcel and connectorx, setup installs them."""
    made = run_polster("init", "shop", "--no-git", "--no-input", cwd=tmp_path, timeout=600)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "shop"
    venv_python = str(project / ".venv/bin/python")
    patterns = readme_section((project / "README.md").read_text(), "## Common Data Patterns")
    (excel,) = python_blocks(readme_section(patterns, "### Excel Files"))
    pattern_sources(project, api)
    before = run_pattern_result(venv_python, project, excel, api)
    assert before.returncode != 0 and "fastexcel" in before.stderr
    add(project, "bronze", "report", "--template", "excel")
    add(project, "bronze", "orders", "--template", "database")
    setup = run_polster("setup", cwd=project, timeout=600)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    for title, rows in pattern_sources(project, api).items():
        (block,) = python_blocks(readme_section(patterns, f"### {title}"))
        assert run_pattern(venv_python, project, block, api).height == rows, title


def run_pattern_result(python_exe: str, project: Path, block: str, api: str):
    script = project / "pattern.py"
    script.write_text(block.replace("https://api.example.com", api) + "\n\nextract()\n")
    return subprocess.run(
        [python_exe, str(script)], cwd=project, env=clean_env(), capture_output=True, text=True
    )


def test_the_readme_says_what_each_ui_command_does(example_project):
    readme = (example_project / "README.md").read_text()
    running = readme_section(readme, "## Running & Monitoring Your Pipeline")
    rows = {
        line.split("|")[1].strip(): line.split("|")[2]
        for line in running.splitlines()
        if line.startswith("| `")
    }
    assert "materialises nothing" in rows["`python run_polster.py --ui`"]
    assert "runs the pipeline" in rows["`python run_polster.py --materialize --ui`"]
    assert "No UI" in rows["`python run_polster.py`"]
    assert "POLSTER_UI_PORT" in rows["`--port P`"]
    step4 = readme_section(readme, "### Step 4: Run Your Pipeline")
    assert "python run_polster.py --materialize --ui" in bash_blocks(step4)[0]
    quick = readme_section(readme, "## Quick Start (5 Minutes to First Pipeline)")
    assert "python run_polster.py --materialize --ui" in bash_blocks(quick)[0]


def test_requests_is_a_declared_dependency(example_project):
    import tomllib

    pyproject = tomllib.loads((example_project / "pyproject.toml").read_text())
    names = [re.split(r"[<>=!~ ;\[]", r)[0] for r in pyproject["project"]["dependencies"]]
    assert "requests" in names
    dagster = [r for r in pyproject["project"]["dependencies"] if r.startswith("dagster")]
    assert dagster and all(">=1.13" in r and "<1.14" in r for r in dagster), dagster


def test_cloud_storage_section_names_enable_and_enable_rewrites_it(tmp_path):
    project = new_project(tmp_path, "dna-platform")
    readme = (project / "README.md").read_text()
    cloud = readme_section(readme, "### Cloud Storage (ADLS)")
    assert "pip install polster-adls" in cloud and "polster enable adls" in cloud
    assert "stores its tables locally" in cloud
    with_plugins = clean_env(POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    result = run_polster("enable", "adls", cwd=project, env=with_plugins)
    assert result.returncode == 0, result.stderr
    readme = (project / "README.md").read_text()
    assert "stores its tables locally" not in readme
    assert "Everything runs locally in data/ directory" not in readme
    cloud = readme_section(readme, "### Cloud Storage (adls)")
    assert "stores its tables with the `adls` backend" in cloud
    assert "STORAGE_BACKEND=adls" in bash_blocks(cloud)[0]
    table = readme_section(readme, "### Environment Variables")
    assert "| `ADLS_ACCOUNT_NAME` |" in table
    # The rest of the README is as init wrote it.
    assert readme.count("<!-- polster:storage") == 1


@pytest.mark.slow
def test_a_new_project_is_a_dg_project(tmp_path):
    """`dg list defs`, `dg check defs` and `dg dev` work out of the box, next to run_polster."""
    from polster_core.testing.servers import free_port

    made = run_polster("init", "shop", "--no-git", "--no-input", cwd=tmp_path, timeout=600)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "shop"
    dg = str(project / ".venv/bin/dg")
    env = clean_env(DAGSTER_HOME=str(project / ".dagster"))
    (project / ".dagster").mkdir(exist_ok=True)
    listed = subprocess.run(
        [dg, "list", "defs", "--json"], cwd=project, env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    for key in ("run_bronze_example", "run_silver_example", "run_gold_example"):
        assert key in listed.stdout
    checked = subprocess.run(
        [dg, "check", "defs"], cwd=project, env=env, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    port = free_port()
    server = subprocess.Popen(
        [dg, "dev", "--port", str(port), "--host", "127.0.0.1"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert wait_for_server(port, 180), "dg dev did not serve the UI"
        assert "run_silver_example" in graphql_text(port)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def wait_for_server(port: int, timeout: float) -> bool:
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5)
            return True
        except OSError:
            time.sleep(1)
    return False


def graphql_text(port: int) -> str:
    from .ui_server import graphql

    return json.dumps(graphql(port, "{ assetNodes { assetKey { path } } }"))


def test_every_other_python_block_of_the_readme_runs_as_written(example_project, tmp_path):
    """The blocks not run with real sources above (the layers' examples, the best practices)
    run too, each as a file of its own: imports included, nothing left undefined."""
    readme = (example_project / "README.md").read_text()
    covered = [
        python_blocks(readme_section(readme, heading))
        for heading in (
            "## Building Your Pipeline",
            "## Common Data Patterns",
            "### 5. Test Your Transformations",
            "### Data Contracts",  # run in a project by tests/test_contracts_docs.py
        )
    ]
    others = [b for b in python_blocks(readme) if not any(b in blocks for blocks in covered)]
    assert len(others) >= 6
    for number, block in enumerate(others):
        script = tmp_path / f"block_{number}.py"
        script.write_text(block)
        result = python(tmp_path, str(script))
        assert result.returncode == 0, block + result.stderr
