"""The plugin manager: built-ins, third-party entry points, broken and duplicate plugins."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from polster_core.testing.projects import assert_one_line_error, clean_env, run_polster

from .helpers import with_plugins

HERE = Path(__file__).parent


def test_builtin_plugins_are_listed_with_their_hooks(tmp_path):
    result = run_polster("plugins", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert set(by_name) == {
        "local_storage",
        "asset_templates",
        "bronze_templates",
        "project_template",
        "executors",
    }
    assert by_name["executors"]["provides"] == {
        "polster_executors": ["in-process", "multiprocess", "dagster-multiprocess"]
    }
    assert by_name["local_storage"]["source"] == "builtin"
    assert by_name["local_storage"]["hooks"] == ["polster_storage_backends"]
    assert by_name["local_storage"]["provides"] == {"polster_storage_backends": ["local"]}
    assert data["failed"] == [] and data["problems"] == []


def test_third_party_plugin_shows_in_plugins_and_init_choices(tmp_path, hello_site):
    env = with_plugins(hello_site)
    listed = run_polster("plugins", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    line = next(line for line in listed.stdout.splitlines() if line.startswith("hello "))
    assert "0.3.0" in line and "entry point" in line and "polster-hello" in line
    # What it registered, by kind (issue 14: the table shows it, not only --json).
    assert "storage: hello" in line and "ci: hello-ci" in line
    assert listed.stdout.splitlines()[0].split() == [
        "NAME", "VERSION", "SOURCE", "DISTRIBUTION", "PROVIDES"
    ]  # fmt: skip
    data = json.loads(run_polster("plugins", "--json", cwd=tmp_path, env=env).stdout)
    hello = next(p for p in data["plugins"] if p["name"] == "hello")
    assert hello["provides"]["polster_storage_backends"] == ["hello"]
    assert hello["provides"]["polster_ci_platforms"] == ["hello-ci"]

    help_text = run_polster("init", "--help", cwd=tmp_path, env=env).stdout
    assert "hello-ci" in help_text
    # Other installed backends (polster-adls, polster-s3 in the dev env) may be listed too.
    storage_help = " ".join(help_text.replace("│", " ").split())
    assert "hello" in storage_help.split("Storage backend:")[1].split("(default local)")[0]


def test_third_party_backend_and_platform_are_used_by_init(tmp_path, hello_site):
    env = with_plugins(hello_site)
    result = run_polster(
        "init",
        "greeted",
        "--storage",
        "hello",
        "--platform",
        "hci",
        "--no-git",
        "--no-setup",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    project = tmp_path / "greeted"
    assert (project / "HELLO.md").read_text() == "Hello from a plugin, greeted!\n"
    assert (project / ".hello-ci.yml").is_file()
    env_file = (project / ".env").read_text()
    assert "STORAGE_BACKEND=hello" in env_file and "HELLO_DIR=hello-store" in env_file
    pyproject = (project / "pyproject.toml").read_text()
    assert 'storage = "hello"' in pyproject and 'platform = "hello-ci"' in pyproject
    assert "`HELLO_DIR`" in (project / "README.md").read_text()


def test_disable_autoload_loads_builtins_only(tmp_path, hello_site):
    env = with_plugins(hello_site)
    env["POLSTER_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    data = json.loads(run_polster("plugins", "--json", cwd=tmp_path, env=env).stdout)
    assert "hello" not in {p["name"] for p in data["plugins"]}
    result = run_polster("init", "x", "--storage", "hello", "--no-setup", cwd=tmp_path, env=env)
    assert_one_line_error(result, "unknown storage backend 'hello'", "local")
    assert not (tmp_path / "x").exists()


def test_broken_plugin_is_named_and_skipped(tmp_path, broken_site):
    env = with_plugins(broken_site)
    result = run_polster("plugins", cwd=tmp_path, env=env)
    assert result.returncode == 0
    assert "plugin 'broken' (polster-broken) failed to load and was skipped" in result.stderr
    assert "ModuleNotFoundError" in result.stderr
    assert "Traceback" not in result.stderr
    assert "hello " in result.stdout  # the other plugins still work
    # The help names it too, in the same one line (issue 28: `--help` dropped it silently).
    for argv in (["--help"], ["init", "--help"]):
        shown = run_polster(*argv, cwd=tmp_path, env=env)
        assert shown.returncode == 0 and "Usage" in shown.stdout
        assert shown.stderr.splitlines() == [
            line for line in result.stderr.splitlines() if "failed to load" in line
        ], argv
    init = run_polster("init", "still-works", "--no-git", "--no-setup", cwd=tmp_path, env=env)
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "still-works" / "run_polster.py").is_file()
    # Asking for what the broken plugin would have offered says it failed, and why (issue 28):
    # not "unknown storage backend".
    asked = run_polster(
        "init", "x", "--storage", "broken", "--no-git", "--no-setup", cwd=tmp_path, env=env
    )
    assert asked.returncode != 0 and "Traceback" not in asked.stderr
    assert "plugin 'broken' (polster-broken) is installed but failed to load" in asked.stderr
    assert "ModuleNotFoundError" in asked.stderr.splitlines()[-1]
    assert "unknown storage backend" not in asked.stderr


def test_two_plugins_offering_one_backend_name_is_reported(tmp_path, tmp_path_factory):
    site = tmp_path_factory.mktemp("dup")
    (site / "polster_twin.py").write_text(
        "from polster_core import hookimpl\n"
        "from polster_core.specs import StorageBackend\n\n\n"
        "@hookimpl\n"
        "def polster_storage_backends(register):\n"
        "    register(StorageBackend(name='local', description='mine', factory=None))\n"
    )
    dist = site / "polster_twin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: polster-twin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[polster]\ntwin = polster_twin\n")
    env = with_plugins(site)
    listed = run_polster("plugins", cwd=tmp_path, env=env)
    assert "storage backend 'local' is offered by both polster and polster-twin" in listed.stderr
    result = run_polster("init", "x", "--no-git", "--no-setup", cwd=tmp_path, env=env)
    assert_one_line_error(result, "offered by both polster and polster-twin", "uninstall one")
    assert not (tmp_path / "x").exists()


def test_help_imports_no_dagster_polars_or_cloud_sdk(tmp_path):
    code = (
        "import sys\n"
        "from polster_core.cli.app import app\n"
        "for argv in (['--help'], ['init', '--help'], ['plugins'],"
        " ['init', 'p', '--dry-run', '--no-git', '--no-setup']):\n"
        "    try:\n"
        "        app(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('dagster', 'polars', 'pyarrow', 'adlfs', 's3fs', 'azure', 'boto3', 'botocore'))\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=clean_env(POLSTER_DISABLE_PLUGIN_AUTOLOAD=None),
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout, result.stdout
