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
    # The project's .venv (as `polster setup` makes it): a real venv that sees this one's packages.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", project / ".venv"], check=True)
    (site,) = (project / ".venv").glob("lib/python*/site-packages")
    (site / "polster_dev.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n", encoding="utf-8"
    )
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
