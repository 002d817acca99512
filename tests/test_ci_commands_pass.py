"""The CI would be green on its first push: a new project passes the commands its CI runs.

The commands are read from the generated GitHub workflow (and are the same in the GitLab and
Azure files), then run in the project with its own .venv first on PATH, as the CI does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from polster_core import ci, testing
from polster_core.plugins import Plugins

BIN = Path(sys.executable).parent


def clean_env(**extra: str) -> dict[str, str]:
    drop = ("POLSTER_", "DAGSTER_", "PYTEST_", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def test_every_platform_runs_the_same_check_commands():
    plugins = Plugins(autoload=True)
    context = testing.ci_context()
    commands = [step.command for step in ci.CHECKS]
    github = yaml.safe_load(
        plugins.ci_platform("github").render(context)[".github/workflows/polster.yml"]
    )
    assert [s["run"] for s in github["jobs"]["check"]["steps"] if "run" in s][1:] == commands
    gitlab = yaml.safe_load(plugins.ci_platform("gitlab").render(context)[".gitlab-ci.yml"])
    assert gitlab["check"]["script"] == commands
    azure = yaml.safe_load(
        plugins.ci_platform("azure-devops").render(context)["azure-pipelines.yml"]
    )
    steps = azure["stages"][0]["jobs"][0]["steps"]
    assert [s["script"] for s in steps if "script" in s][1:] == commands


FILES = {
    "github": ".github/workflows/polster.yml",
    "gitlab": ".gitlab-ci.yml",
    "azure-devops": "azure-pipelines.yml",
}


def test_every_platform_installs_from_the_lock_and_runs_nothing_on_a_timer():
    """The pipeline's schedule is Dagster's: no CI file has one of its own (nothing runs twice)."""
    plugins = Plugins(autoload=True)
    for storage in ("local", "vault"):
        context = testing.ci_context("shop", storage, testing.VAULT_SETTINGS)
        for name, path in FILES.items():
            platform = plugins.ci_platform(name)
            text = platform.render(context)[path]
            assert "cron" not in text.lower() and "06:00" not in text, name
            data = yaml.safe_dump(yaml.safe_load(text))  # the file without its comments
            assert "uv sync --locked" in data and "uv pip" not in data, name
            assert "uv.lock" in data and "pyproject.toml" not in data, name  # the cache keys
            # The header says what starts the run, in the platform's own words.
            trigger = platform.run_trigger
            assert trigger and f"# {trigger[0].upper()}{trigger[1:]}"[:60] in text, name
            assert "runs nothing on a timer" in text and "polster_pipeline_daily" in text


@pytest.mark.slow
def test_a_new_project_passes_its_ci_checks(tmp_path):
    made = subprocess.run(
        [str(BIN / "polster"), "init", "shop", "--platform", "github", "--git"],
        cwd=tmp_path, env=clean_env(), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    root = tmp_path / "shop"
    workflow = yaml.safe_load((root / ".github/workflows/polster.yml").read_text())
    runs = [step["run"] for step in workflow["jobs"]["check"]["steps"] if "run" in step]
    install, checks = runs[0], runs[1:]
    # Here `polster init` (polster setup) made .venv, from the local checkout: no uv.lock to sync.
    assert install == "uv sync --locked"
    assert "polster check" in checks

    venv_bin = root / ".venv" / "bin"
    env = clean_env(PATH=f"{venv_bin}{os.pathsep}{os.environ['PATH']}")
    # `polster check` comes with the add-asset work; until the CLI has it, the step's presence
    # in the file is what this test can check.
    has_check = (
        subprocess.run(
            ["polster", "check", "--help"], cwd=root, env=env, capture_output=True
        ).returncode
        == 0
    )
    for command in checks:
        if command == "polster check" and not has_check:
            continue
        result = subprocess.run(
            command, shell=True, cwd=root, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
        # Each tool the CI runs is the one its authors recommend: nothing superseded.
        assert "SupersessionWarning" not in result.stderr, f"{command}: {result.stderr}"
    # In CI, polster loads the plugins the project installed: the platform's own is one of
    # them (its dev dependency group), so `polster check` knows the platform and says nothing.
    ci_env = {**env}
    ci_env.pop("POLSTER_DISABLE_PLUGIN_AUTOLOAD", None)
    checked = subprocess.run(
        ["polster", "check"], cwd=root, env=ci_env, capture_output=True, text=True, timeout=600
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stderr == "", checked.stderr
    # The scheduled job's command runs too (local storage), and like the checks it leaves
    # nothing git would pick up: data and Dagster's run history are never committed.
    run = workflow["jobs"]["run"]["steps"]
    assert [step["run"] for step in run if "run" in step][-1] == ci.RUN.command
    result = subprocess.run(
        ci.RUN.command, shell=True, cwd=root, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (root / "data" / "gold" / "example.parquet").is_file()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True
    )
    assert status.stdout == ""
