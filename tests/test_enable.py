"""`polster enable`: add a storage backend or CI platform to an existing project."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

from polster_core.testing.projects import (
    assert_one_line_error,
    clean_env,
    init_project,
    run_polster,
    tree_hash,
)

from .helpers import install_target


@pytest.fixture(scope="module")
def hello_env(tmp_path_factory) -> dict:
    site = install_target(tmp_path_factory, "polster_hello")
    return clean_env(PYTHONPATH=str(site), POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)


@pytest.fixture
def project(tmp_path) -> Path:
    return init_project(tmp_path, name="growing")


def test_enable_storage_backend_updates_settings_dependencies_and_readme(project, hello_env):
    env_before = (project / ".env").read_text()
    result = run_polster("enable", "hello", cwd=project / "src", env=hello_env)
    assert result.returncode == 0, result.stderr
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["tool"]["polster"]["storage"] == "hello"
    assert "# Read by the polster CLI" in (project / "pyproject.toml").read_text()  # kept
    env = (project / ".env").read_text()
    assert "STORAGE_BACKEND=hello" in env and "HELLO_DIR=hello-store" in env
    assert env.startswith(env_before.split("STORAGE_BACKEND")[0])
    assert "HELLO_DIR=hello-store" in (project / ".env.example").read_text()
    assert "| `HELLO_DIR` |" in (project / "README.md").read_text()
    again = run_polster("enable", "hello", cwd=project, env=hello_env)
    assert_one_line_error(again, "already uses the hello storage backend")


def test_enable_platform_writes_its_files_and_refuses_twice(project, hello_env):
    result = run_polster("enable", "hci", cwd=project, env=hello_env)
    assert result.returncode == 0, result.stderr
    assert (project / ".hello-ci.yml").read_text().startswith("# hello CI for growing")
    assert 'platform = "hello-ci"' in (project / "pyproject.toml").read_text()
    (project / ".hello-ci.yml").write_text("# mine\n")
    before = tree_hash(project)
    refused = run_polster("enable", "hello-ci", cwd=project, env=hello_env)
    assert_one_line_error(refused, ".hello-ci.yml already exist", "--force")
    assert tree_hash(project) == before
    forced = run_polster("enable", "hello-ci", "--force", cwd=project, env=hello_env)
    assert forced.returncode == 0, forced.stderr
    assert (project / ".hello-ci.yml").read_text().startswith("# hello CI")


def test_enable_dry_run_changes_nothing(project, hello_env):
    before = tree_hash(project)
    result = run_polster("enable", "hello", "--dry-run", cwd=project, env=hello_env)
    assert result.returncode == 0, result.stderr
    assert "update pyproject.toml" in result.stdout and "update .env" in result.stdout
    assert tree_hash(project) == before


@pytest.mark.parametrize(
    "name, fragments",
    [
        ("adls", ["pip install polster-adls"]),
        ("github", ["pip install polster-github"]),
        ("nosuch", ["unknown storage backend or CI platform 'nosuch'", "local"]),
    ],
)
def test_enable_unknown_or_uninstalled_is_refused(project, name, fragments):
    before = tree_hash(project)
    result = run_polster("enable", name, cwd=project)
    assert_one_line_error(result, *fragments)
    assert tree_hash(project) == before


def test_enable_outside_a_project_is_refused(tmp_path):
    result = run_polster("enable", "local", cwd=tmp_path)
    assert_one_line_error(result, "not inside a Polster project")


def test_enable_platform_then_storage_recomposes_the_ci_file(tmp_path):
    """The real plugins: github CI first, then adls; the workflow gains adls's settings."""
    env = clean_env(POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    assert (
        run_polster("init", "shop", "--no-git", "--no-setup", cwd=tmp_path, env=env).returncode == 0
    )
    project = tmp_path / "shop"
    assert run_polster("enable", "github", cwd=project, env=env).returncode == 0
    workflow = project / ".github/workflows/polster.yml"
    readme = (project / "README.md").read_text()
    assert "gh secret set" not in readme  # local storage needs no secrets
    assert "## Continuous Integration" in readme or "Continuous Integration" in readme
    result = run_polster("enable", "adls", cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert "update .github/workflows/polster.yml" in result.stdout
    text = workflow.read_text()
    assert 'STORAGE_BACKEND: "adls"' in text
    assert "ADLS_ACCOUNT_KEY: ${{ secrets.ADLS_ACCOUNT_KEY }}" in text
    # What to fill in is the same everywhere (issue 14): the container, and the account name
    # or a connection string; a key is optional (Azure's credential chain is the default).
    readme = (project / "README.md").read_text()
    assert "gh secret set ADLS_CONNECTION_STRING" in readme
    assert 'gh variable set ADLS_ACCOUNT_NAME --body "your value"' in readme
    assert "gh secret set ADLS_ACCOUNT_KEY" not in readme
    assert "| `ADLS_ACCOUNT_KEY` | repository secret (optional) |" in readme
    assert (
        "Fill in .env: one of ADLS_ACCOUNT_NAME or ADLS_CONNECTION_STRING, ADLS_CONTAINER "
        "(the others are optional" in result.stdout
    )


def test_enable_storage_leaves_a_hand_edited_ci_file_alone(tmp_path):
    env = clean_env(POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    args = ("init", "shop", "--no-git", "--no-setup", "--platform", "gitlab")
    assert run_polster(*args, cwd=tmp_path, env=env).returncode == 0
    project = tmp_path / "shop"
    ci = project / ".gitlab-ci.yml"
    ci.write_text(ci.read_text() + "# my own job\n")
    result = run_polster("enable", "s3", cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert ci.read_text().endswith("# my own job\n")
    assert ".gitlab-ci.yml was edited by hand" in result.stdout
