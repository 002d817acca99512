"""`polster enable NAME` installs a missing plugin itself (issue 26, section 4): from where
polster came from (here, this repository's plugins/ folder, editable like polster), into the
environment running polster and the project's .venv, then adds it to the project."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from polster_core.testing.projects import assert_one_line_error, clean_env, tree_hash

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """An environment with polster (editable, from this checkout) and no plugin at all, and a
    project made with it."""
    from polster_core.project.venv import find_uv

    uv = find_uv()
    if uv is None:
        pytest.skip("uv is not installed")
    where = tmp_path_factory.mktemp("bare")
    env = where / "env"
    subprocess.run([uv, "venv", "--quiet", str(env)], check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(env / "bin/python"), "-e", str(REPO)],
        check=True,
    )
    polster = str(env / "bin/polster")
    made = subprocess.run(
        [polster, "init", "shop", "--no-input"], cwd=where, env=_env(), capture_output=True
    )
    assert made.returncode == 0, made.stderr
    return polster, where / "shop", env


def _env() -> dict:
    env = clean_env()
    env.pop("POLSTER_DISABLE_PLUGIN_AUTOLOAD")  # a user's polster loads its plugins
    return env


def _imports(python: Path, module: str) -> bool:
    return subprocess.run([str(python), "-c", f"import {module}"]).returncode == 0


def test_enable_installs_a_missing_plugin_then_adds_it(bare):
    polster, project, env = bare
    assert not _imports(env / "bin/python", "polster_adls")
    before = tree_hash(project)
    refused = subprocess.run(
        [polster, "enable", "adls", "--no-install"],
        cwd=project,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert_one_line_error(refused, "'adls' is not installed", "polster-adls")
    assert tree_hash(project) == before

    result = subprocess.run(
        [polster, "enable", "adls"], cwd=project, env=_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    source = f"-e {REPO / 'plugins/polster_adls'}"
    assert f"Installing polster-adls into {env} ({source})" in result.stdout
    assert f"Installing polster-adls into {project / '.venv'}" in result.stdout
    assert "Run `polster setup` to install" not in result.stdout  # done already
    assert "polster-adls>=" in (project / "pyproject.toml").read_text()
    assert "ADLS_CONTAINER=" in (project / ".env").read_text()
    # Both environments have it: this polster and the project's own runs.
    assert _imports(env / "bin/python", "polster_adls")
    assert _imports(project / ".venv/bin/python", "polster_adls")
    listed = subprocess.run(
        [polster, "plugins"], cwd=project, env=_env(), capture_output=True, text=True
    )
    assert "polster-adls" in listed.stdout


@pytest.mark.parametrize("installed", [False, True])
def test_the_plans_say_run_setup_only_when_the_plugin_is_not_installed_yet(tmp_path, installed):
    """enable's storage and executor plans leave out "run `polster setup`" when the plugin
    was just installed into .venv too: the note is never made (not made, then hidden)."""
    from polster_core.cli.enable import executor_plan, storage_plan
    from polster_core.plugin_system.manager import Plugins
    from polster_core.project.model import load_project
    from polster_core.testing.projects import init_project

    project = load_project(init_project(tmp_path))
    plugins = Plugins(autoload=True)
    _, storage_notes = storage_plan(project, plugins, "s3", installed=installed)
    _, executor_notes = executor_plan(project, plugins, "celery", installed=installed)
    for notes in (storage_notes, executor_notes):
        said = " ".join(notes)
        assert "now" in said  # the notes are there: what changed, what to do next
        assert ("polster setup" in said) is not installed, notes
