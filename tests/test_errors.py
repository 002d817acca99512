"""One line, never a traceback: every mistake a user can make, at every entry point.

The CLI (``polster``), the pipeline (``python run_polster.py``) and the example scripts
(``python src/core/*.py``) each have one error boundary; these tests make the mistakes and
assert what a user notices: one line on stderr naming what is wrong and what to do, a non-zero
exit, and every file as it was.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from polster_core.testing.projects import assert_one_line_error, clean_env, run_polster, tree_hash

from .helpers import fill, tmpfs


@pytest.fixture(scope="module")
def template(make_project) -> Path:
    return make_project("dna-platform")


@pytest.fixture
def project(template, tmp_path) -> Path:
    """A fresh copy of the generated project, for a test to break."""
    return Path(shutil.copytree(template, tmp_path / "dna-platform"))


def python(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python ARGS`` in the project, as a user with the project installed runs it.

    In a session of its own: a run that should have been refused but started the UI is
    stopped with every process it started, by their group's id."""
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=project,
        env=env or clean_env(PYTHONPATH=str(project / "src")),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"python {' '.join(args)} did not end: {stderr}")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def script_env(project: Path, **extra: str) -> dict:
    return clean_env(PYTHONPATH=str(project / "src"), **extra)


# polster init onto a disk that refuses ---------------------------------------------------------


def test_init_into_a_read_only_directory_is_one_line(tmp_path):
    with tmpfs(tmp_path / "ro", read_only=True) as disk:
        result = run_polster(
            "init", "x", "--no-git", "--no-setup", "--path", str(disk), cwd=tmp_path
        )
        assert_one_line_error(result, "read-only", str(disk / "x"), "nothing was changed")
        assert list(disk.iterdir()) == []


def test_init_onto_a_full_disk_is_one_line_and_leaves_nothing(tmp_path):
    with tmpfs(tmp_path / "full", size="64k") as disk:
        fill(disk)
        result = run_polster(
            "init", "x", "--no-git", "--no-setup", "--path", str(disk), cwd=tmp_path
        )
        assert_one_line_error(result, "no space left", str(disk / "x"), "nothing was changed")
        assert [p.name for p in disk.iterdir()] == ["filler"]


# python run_polster.py -------------------------------------------------------------------------


def test_a_full_disk_under_dagster_is_one_line(project):
    home = project / ".dagster"
    with tmpfs(home, size="256k"):
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
        fill(home)
        result = python(project, "run_polster.py")
        assert_one_line_error(result, "no space left", str(home), "DAGSTER_HOME")
    assert not (project / "data").exists()


@pytest.mark.parametrize("port", ["99999", "65536", "0", "-1", "abc"])
def test_a_port_outside_1_to_65535_is_one_line(project, port):
    result = python(project, "run_polster.py", "--ui", "--port", port)
    assert_one_line_error(result, "--port", "1 to 65535", repr(port))
    assert result.returncode == 2


def test_a_port_from_the_environment_is_checked_too(project):
    env = script_env(project, POLSTER_UI_PORT="http")
    result = python(project, "run_polster.py", "--ui", env=env)
    assert_one_line_error(result, "--port", "1 to 65535", "'http'", "POLSTER_UI_PORT")


def test_an_unresolvable_host_is_not_called_a_busy_port(project):
    result = python(project, "run_polster.py", "--ui", "--host", "no-such-host.invalid")
    assert_one_line_error(result, "cannot resolve --host 'no-such-host.invalid'", "127.0.0.1")
    assert "busy" not in result.stderr


def test_a_cycle_made_by_hand_points_to_polster_check(project):
    wrapper = project / "src/orchestration/assets/bronze/run_bronze_example.py"
    text = wrapper.read_text(encoding="utf-8")
    wrapper.write_text(
        text.replace("def run_bronze_example()", "def run_bronze_example(run_gold_example)"),
        encoding="utf-8",
    )
    result = python(project, "run_polster.py")
    assert_one_line_error(result, "cycle", "polster check")
    assert not (project / "data").exists()


# a .env that is not UTF-8 ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run_polster.py", "src/core/bronze_example.py"])
def test_a_dotenv_that_is_not_utf8_is_named(project, command):
    dotenv = project / ".env"
    dotenv.write_bytes(dotenv.read_bytes() + b"OWNER=Jos\xe9\n")  # saved as Latin-1
    result = python(project, command)
    assert_one_line_error(result, str(dotenv), "not UTF-8", "save it as UTF-8")
    assert not (project / "data").exists()


# the example scripts on every storage failure --------------------------------------------------


def _bronze_is_a_file(project: Path) -> None:
    (project / "data").mkdir()
    (project / "data/bronze").write_text("not a folder", encoding="utf-8")


def _damaged_bronze(project: Path) -> None:
    (project / "data/bronze").mkdir(parents=True)
    (project / "data/bronze/example.parquet").write_bytes(b"event_id,email\n1,a@b.c\n")


SCRIPT_FAILURES = {
    "unknown backend": (
        "bronze",
        {"STORAGE_BACKEND": "nope"},
        None,
        ["unknown storage backend 'nope'", "choose one of local"],
    ),
    "uninstalled backend": (
        "bronze",
        {"STORAGE_BACKEND": "s3"},
        None,
        ["storage backend 's3' is not installed", "pip install polster-s3"],
    ),
    "missing upstream": (
        "silver",
        {},
        None,
        ["no data for bronze/example", "python src/core/bronze_example.py"],
    ),
    "damaged upstream": (
        "silver",
        {},
        _damaged_bronze,
        ["not a valid parquet file", "run_polster.py --select run_bronze_example"],
    ),
    "data/bronze is a file": (
        "bronze",
        {},
        _bronze_is_a_file,
        ["data/bronze is a file, not a folder", "move it out of the way"],
    ),
}


@pytest.mark.parametrize("case", list(SCRIPT_FAILURES))
def test_example_scripts_report_storage_failures_in_one_line(project, case):
    layer, env, prepare, fragments = SCRIPT_FAILURES[case]
    if prepare:
        prepare(project)
    before = tree_hash(project)
    result = python(project, f"src/core/{layer}_example.py", env=script_env(project, **env))
    assert_one_line_error(result, *fragments)
    assert result.stderr.startswith("error: ")
    assert tree_hash(project) == before


def test_example_scripts_on_a_full_disk(project, tmp_path):
    with tmpfs(tmp_path / "disk", size="64k") as disk:
        fill(disk)
        env = script_env(project, LOCAL_DATA_DIR=str(disk))
        result = python(project, "src/core/bronze_example.py", env=env)
        assert_one_line_error(result, "no space left on the device", "LOCAL_DATA_DIR")
        assert [p.name for p in disk.iterdir()] == ["filler"]  # no table, no empty folder


def test_a_bug_in_a_script_keeps_its_traceback(project):
    core = project / "src/core/bronze_example.py"
    core.write_text(
        core.read_text(encoding="utf-8").replace('"""Load raw', 'raise KeyError("x")\n    """'),
        encoding="utf-8",
    )
    result = python(project, "src/core/bronze_example.py")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "KeyError" in result.stderr


# remote stores, from the example scripts -------------------------------------------------------


@pytest.fixture
def s3_project(tmp_path) -> Path:
    from polster_core.testing.projects import init_project, set_env

    pytest.importorskip("polster_s3")
    project = init_project(tmp_path, "s3")
    set_env(
        project,
        S3_ACCESS_KEY_ID="polster-test",
        S3_SECRET_ACCESS_KEY="polster-test-secret",
        S3_REGION="us-east-1",
        S3_MAX_RETRIES="0",
    )
    return project


def _run_s3_script(project: Path, endpoint: str, bucket: str) -> subprocess.CompletedProcess:
    from polster_core.testing.projects import plugin_env

    env = plugin_env(PYTHONPATH=str(project / "src"), S3_BUCKET=bucket, S3_ENDPOINT_URL=endpoint)
    before = tree_hash(project)
    result = python(project, "src/core/bronze_example.py", env=env)
    assert "polster-test-secret" not in result.stdout + result.stderr
    assert tree_hash(project) == before
    return result


def test_example_scripts_on_a_refused_endpoint(s3_project):
    from polster_core.testing.servers import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = _run_s3_script(s3_project, endpoint, "polster")
    assert_one_line_error(result, "writing bronze/example to s3", "S3_FALLBACK_TO_LOCAL")


def test_example_scripts_on_a_missing_bucket(s3_project, moto):  # noqa: F811
    result = _run_s3_script(s3_project, moto.endpoint, "no-such-bucket")
    assert_one_line_error(result, "writing bronze/example to s3", "no-such-bucket")


def test_example_scripts_on_wrong_keys(s3_project):
    from polster_core.testing.servers import start_moto

    server = start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"})  # checks every key, as AWS does
    try:
        bucket = server.create_bucket("polster")
    except Exception:  # the server refuses its own client too: the bucket is not needed
        bucket = "polster"
    try:
        result = _run_s3_script(s3_project, server.endpoint, bucket)
        assert_one_line_error(result, "writing bronze/example to s3", "S3_FALLBACK_TO_LOCAL")
    finally:
        server.stop()


# files and names the CLI reads -----------------------------------------------------------------


def test_a_pyproject_that_is_not_toml_is_named_with_line_and_column(project):
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8") + "\n[tool.polster\n")
    before = tree_hash(project)
    for command in (["list"], ["check"], ["add-asset", "--layer", "bronze", "--name", "x"]):
        result = run_polster(*command, cwd=project / "src")
        assert_one_line_error(result, str(pyproject), "not valid TOML", "line ", "column ")
        assert "not inside a Polster project" not in result.stderr
    assert tree_hash(project) == before


def test_a_file_that_is_not_utf8_is_named(project):
    registry = project / "src/orchestration/assets/silver/__init__.py"
    registry.write_bytes(registry.read_bytes() + b"# caf\xe9\n")
    before = tree_hash(project)
    for command in (["list"], ["check"], ["add-asset", "--layer", "silver", "--name", "x"]):
        result = run_polster(*command, cwd=project)
        assert_one_line_error(result, str(registry), "not UTF-8", "nothing was changed")
    assert tree_hash(project) == before


@pytest.mark.parametrize(
    "command",
    [
        ["init", "bad\nname", "--no-git", "--no-setup"],
        ["add-asset", "--layer", "bronze", "--name", "bad\nname"],
        ["add-asset", "--layer", "bron\nze", "--name", "x"],
        ["remove-asset", "--layer", "bronze", "--name", "x\x1b[31m"],
    ],
    ids=["init", "add-asset name", "add-asset layer", "remove-asset escape"],
)
def test_a_name_with_control_characters_is_escaped_on_one_line(project, command):
    before = tree_hash(project)
    result = run_polster(*command, cwd=project)
    assert_one_line_error(result)
    assert "\x1b[31m" not in result.stderr
    assert "\\n" in result.stderr or "\\x1b" in result.stderr
    assert tree_hash(project) == before


@pytest.mark.parametrize(
    "args",
    [["init", "--frobnicate"], ["init", "--storage"], ["add-asset", "--layer"], ["nonsense"]],
)
def test_a_wrong_option_is_one_line_with_where_help_is(project, args):
    result = run_polster(*args, cwd=project)
    assert_one_line_error(result, "--help")
    assert result.returncode == 2


# polster check and [tool.polster] --------------------------------------------------------------


def _set_polster(project: Path, setting: str) -> None:
    pyproject = project / "pyproject.toml"
    key = setting.split(" ")[0]
    lines = [
        setting if line.startswith(f"{key} =") else line
        for line in pyproject.read_text(encoding="utf-8").splitlines()
    ]
    pyproject.write_text("\n".join(lines) + "\n", encoding="utf-8")


# This environment is uv's, with no pip: every hint names the installer that reaches it.
UV_INSTALL = "uv pip install "


@pytest.mark.parametrize(
    "setting, fragment",
    [
        ('storage = "s3"', f"storage backend 's3' is not installed: run `{UV_INSTALL}polster-s3"),
        ('storage = "nope"', "unknown storage backend 'nope'"),
    ],
)
def test_check_reports_a_storage_backend_that_is_not_installed(project, setting, fragment):
    _set_polster(project, setting)
    result = run_polster("check", cwd=project)
    assert result.returncode == 1
    shown = setting.replace('"', "'")
    assert f"pyproject.toml: [tool.polster] {shown}: {fragment}" in result.stdout
    assert "OK" not in result.stdout


def test_check_warns_of_a_ci_platform_that_is_not_installed(project):
    # Only `polster init` and `polster enable` need the platform's plugin: the project's own
    # environment, where its CI runs `polster check`, does not have it. A warning, then.
    _set_polster(project, 'platform = "gitlab"')
    result = run_polster("check", cwd=project)
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "warning: pyproject.toml: [tool.polster] platform = 'gitlab': CI platform 'gitlab' is "
        f"not installed: run `{UV_INSTALL}polster-gitlab --python {sys.executable}` (installed: "
        "none); needed only to "
        "change the CI files"
    ]
    assert result.stdout == "OK: 3 assets, no problems (1 warning above)\n"


def test_check_reports_a_core_file_that_is_a_directory(project):
    core = project / "src/core/silver_example.py"
    core.unlink()
    core.mkdir()
    result = run_polster("check", cwd=project)
    assert result.returncode == 1
    assert "src/core/silver_example.py: is a directory" in result.stdout
    assert "OK" not in result.stdout
