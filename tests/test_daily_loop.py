"""The daily loop as a user walks it (issue 26): what the docs tell them to type works."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from polster_core import __version__

from .assets_helpers import new_project, run_in_terminal
from .conftest import clean_env, run_polster
from .test_add_asset import wrapper_params


def stand_in_venv(project: Path) -> None:
    """The project's .venv as `polster setup` makes it: a real venv that sees this one's
    packages and the project's own (installed editable by setup)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", project / ".venv"], check=True)
    (site,) = (project / ".venv").glob("lib/python*/site-packages")
    lines = f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n"
    (site / "polster_dev.pth").write_text(lines + f"{project / 'src'}\n", encoding="utf-8")


def test_version_short_flag(tmp_path: Path) -> None:
    for flag in ("-V", "--version"):
        result = run_polster(flag, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"polster {__version__}"


def test_readme_cron_line_runs_under_sh(example_project: Path, tmp_path: Path) -> None:
    """cron runs its lines with /bin/sh: the README's line must work there, with no venv active."""
    project = tmp_path / "dna-platform"
    shutil.copytree(example_project, project)
    readme = (project / "README.md").read_text(encoding="utf-8")
    found = re.search(r"^0 6 \* \* \* (.+)$", readme, re.MULTILINE)
    assert found, "the README has no cron line"
    command = found.group(1).replace("/path/to/project", str(project))
    stand_in_venv(project)
    env = clean_env(PATH="/usr/bin:/bin", HOME=str(tmp_path))
    result = subprocess.run(
        ["/bin/sh", "-c", command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "data" / "gold" / "example.parquet").is_file()


def test_an_empty_answer_for_upstream_assets_says_why_it_is_asked_again(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    code, out = run_in_terminal(["add-asset"], project, ["silver", "orders", "", "1", "none"])
    assert code == 0, out
    assert "a silver asset needs at least one upstream asset" in out
    assert wrapper_params(project, "silver", "orders") == ["run_bronze_example"]


def test_readme_troubleshooting_commands_run(example_project: Path, tmp_path: Path) -> None:
    project = tmp_path / "dna-platform"
    shutil.copytree(example_project, project)
    stand_in_venv(project)
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split('### "Pipeline won\'t start"', 1)[1].split("###", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("  #", 1)[0].strip() for line in block.strip().splitlines()]
    assert len(commands) == 2, commands
    for command in commands:
        result = subprocess.run(
            ["/bin/sh", "-c", command],
            cwd=project,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, (command, result.stdout + result.stderr)
    # What the wrappers do not have is not named.
    assert "`deps` parameter" not in readme and "No module named 'core'" not in readme
