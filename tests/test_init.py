"""`polster init`: the tree it writes, every option, and refusals that leave nothing behind."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from polster_core.testing.projects import (
    POLSTER,
    assert_one_line_error,
    clean_env,
    run_polster,
    tree_hash,
)

EXPECTED_FILES = {
    ".env",
    ".env.example",
    ".gitignore",
    ".polster/generated.json",
    "AGENTS.md",
    "README.md",
    "pyproject.toml",
    "run_polster.py",
    "workspace.yaml",
    "src/core/__init__.py",
    "src/core/settings.py",
    "src/core/storage.py",
    "src/core/bronze_example.py",
    "src/core/silver_example.py",
    "src/core/gold_example.py",
    "src/orchestration/__init__.py",
    "src/orchestration/definitions.py",
    "src/orchestration/utils.py",
    "src/orchestration/assets/__init__.py",
    "src/orchestration/defs/__init__.py",
    "tests/conftest.py",
    "tests/test_bronze_example.py",
    "tests/test_silver_example.py",
    "tests/test_gold_example.py",
    "tests/test_pipeline.py",
    *(
        f"src/orchestration/assets/{layer}/{f}"
        for layer in ("bronze", "silver", "gold")
        for f in ("__init__.py", f"run_{layer}_example.py")
    ),
}


def files_of(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_init_writes_the_whole_project_tree(example_project):
    assert files_of(example_project) == EXPECTED_FILES
    pyproject = tomllib.loads((example_project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "dna-platform"
    assert pyproject["tool"]["polster"]["storage"] == "local"
    deps = pyproject["project"]["dependencies"]
    assert any(d.startswith("polster>=") for d in deps)
    assert any(d.startswith("dagster") and "<1.14" in d for d in deps)
    assert any("polars" in d for d in deps)
    ignored = (example_project / ".gitignore").read_text().split()
    assert {".env", ".venv/", "data/", ".dagster/"} <= set(ignored)
    assert os.access(example_project / "run_polster.py", os.X_OK)


def test_readme_is_the_seed_adapted_to_the_project(example_project):
    readme = (example_project / "README.md").read_text()
    assert readme.startswith("# dna-platform\n")
    for section in (
        "## Quick Start",
        "## CLI Commands",
        "### polster init",
        "## Project Structure",
        "### Environment Variables",
        "## How to Use Without CLI",
    ):
        assert section in readme
    assert "{{" not in readme and "invite only" not in readme
    assert "| `STORAGE_BACKEND` |" in readme and "| `DUAL_WRITE_SAMPLE_SIZE` |" in readme


def test_env_files_hold_the_settings_with_defaults(example_project):
    env = (example_project / ".env").read_text()
    example = (example_project / ".env.example").read_text()
    for text in (env, example):
        assert "STORAGE_BACKEND=local" in text
        assert "DUAL_WRITE_SAMPLE_SIZE=50" in text
        assert "DISABLE_LOCAL_SAMPLE=false" in text


def test_generated_code_passes_ruff(example_project):
    ruff = str(Path(sys.executable).parent / "ruff")
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run([ruff, *args], cwd=example_project, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_dry_run_lists_files_and_writes_nothing(tmp_path):
    result = run_polster("init", "preview", "--dry-run", "--git", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "src/core/bronze_example.py" in result.stdout
    assert "Would run: git init" in result.stdout
    assert "Would run: polster setup" in result.stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("", "a project name is required"),
        ("my project", "not a valid project name"),
        ("../x", "not a project name but a path"),
        ("/abs", "not a project name but a path"),
        ("class", "Python keyword"),
        ("1abc", "not a valid project name"),
        ("bad.name", "not a valid project name"),
        ("trailing-", "not a valid project name"),
        ("polars", "would shadow a package"),
        ("a" * 65, "too long"),
    ],
)
def test_invalid_names_are_refused_and_nothing_is_written(tmp_path, name, fragment):
    (tmp_path / "keep.txt").write_text("mine")
    before = tree_hash(tmp_path)
    result = run_polster("init", name, "--no-git", "--no-setup", cwd=tmp_path)
    assert_one_line_error(result, fragment)
    assert tree_hash(tmp_path) == before
    assert tree_hash(tmp_path.parent / "x") == {} if name == "../x" else True


def test_missing_name_without_a_terminal_does_not_prompt(tmp_path):
    result = run_polster("init", "--no-setup", cwd=tmp_path)
    assert_one_line_error(result, "a project name is required")


def test_existing_non_empty_directory_is_refused_even_with_force(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("precious")
    before = tree_hash(tmp_path)
    for extra in ([], ["--force"]):
        result = run_polster("init", "taken", "--no-git", "--no-setup", *extra, cwd=tmp_path)
        assert_one_line_error(result, "taken")
        assert tree_hash(tmp_path) == before


def test_existing_empty_directory_needs_force(tmp_path):
    (tmp_path / "empty").mkdir()
    refused = run_polster("init", "empty", "--no-git", "--no-setup", cwd=tmp_path)
    assert_one_line_error(refused, "empty directory", "--force")
    assert list((tmp_path / "empty").iterdir()) == []
    made = run_polster("init", "empty", "--no-git", "--no-setup", "--force", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert files_of(tmp_path / "empty") == EXPECTED_FILES


def test_force_rewrites_a_polster_project_but_keeps_env(tmp_path):
    assert run_polster("init", "again", "--no-git", "--no-setup", cwd=tmp_path).returncode == 0
    project = tmp_path / "again"
    (project / ".env").write_text("STORAGE_BACKEND=local\nMY_SECRET=kept\n")
    (project / "run_polster.py").write_text("broken")
    refused = run_polster("init", "again", "--no-git", "--no-setup", cwd=tmp_path)
    assert_one_line_error(refused, "--force")
    result = run_polster("init", "again", "--no-git", "--no-setup", "--force", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "MY_SECRET=kept" in (project / ".env").read_text()
    assert "def main()" in (project / "run_polster.py").read_text()


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--storage", "nosuch"], ["unknown storage backend 'nosuch'", "local"]),
        (["--storage", "adls"], ["not installed", "pip install polster-adls"]),
        (["--storage", "s3"], ["pip install polster-s3"]),
        (["--platform", "jenkins"], ["unknown CI platform 'jenkins'"]),
        (["--platform", "gitlab"], ["pip install polster-gitlab"]),
        (["--platform", "azdo"], ["pip install polster-azdo"]),
        (["--path", "does/not/exist"], ["is not a directory"]),
    ],
)
def test_unknown_or_uninstalled_choices_are_refused(tmp_path, args, fragments):
    before = tree_hash(tmp_path)
    result = run_polster("init", "proj", "--no-git", "--no-setup", *args, cwd=tmp_path)
    assert_one_line_error(result, *fragments)
    assert tree_hash(tmp_path) == before


def test_path_option_chooses_the_parent_directory(tmp_path):
    parent = tmp_path / "elsewhere"
    parent.mkdir()
    result = run_polster(
        "init", "placed", "--path", str(parent), "--no-git", "--no-setup", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert (parent / "placed" / "run_polster.py").is_file()
    assert str(parent / "placed") in result.stdout


def test_git_makes_a_first_commit_without_env_or_data(tmp_path):
    result = run_polster("init", "versioned", "--git", "--no-setup", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "versioned"

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=project, capture_output=True, text=True, check=True
        ).stdout

    tracked = set(git("ls-files").split())
    assert "run_polster.py" in tracked and ".env.example" in tracked
    assert ".env" not in tracked
    assert git("status", "--porcelain") == ""
    assert len(git("log", "--oneline").splitlines()) == 1
    (project / "data").mkdir()
    (project / "data" / "x.parquet").write_text("data")
    assert git("status", "--porcelain") == ""


def test_git_is_off_by_default_inside_another_repository(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = run_polster("init", "nested", "--no-setup", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "nested" / ".git").exists()


def test_no_git_writes_no_repository(example_project):
    assert not (example_project / ".git").exists()


def test_a_failure_part_way_leaves_nothing_behind(tmp_path, tmp_path_factory):
    # A plugin contributes a file whose path cannot be written (its parent is a file).
    site = tmp_path_factory.mktemp("badplugin")
    (site / "polster_clash.py").write_text(
        "from polster_core import hookimpl\n\n\n"
        "@hookimpl\n"
        "def polster_project_files(context):\n"
        "    return {'zzz/inner.txt': 'x', 'zzz/inner.txt/deeper.txt': 'y'}\n"
    )
    dist = site / "polster_clash-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: polster-clash\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[polster]\nclash = polster_clash\n")
    env = clean_env(PYTHONPATH=str(site), POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    result = run_polster("init", "halfway", "--no-git", "--no-setup", cwd=tmp_path, env=env)
    assert result.returncode != 0
    assert not (tmp_path / "halfway").exists()


def run_in_terminal(args: list[str], cwd: Path, env: dict, answer) -> tuple[int, str]:
    """Run polster on a pseudo-terminal; ``answer(output)`` returns what to type, or None."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [POLSTER, *args],
        cwd=cwd,
        env=env,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    output = b""
    try:
        while True:
            try:
                chunk = os.read(leader, 1024)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if output.rstrip().endswith(b":"):
                typed = answer(output)
                if typed:
                    os.write(leader, typed)
    finally:
        process.wait(timeout=60)
        os.close(leader)
    return process.returncode, output.decode(errors="replace")


def test_interactive_prompts_when_stdin_is_a_terminal(tmp_path):
    """With a terminal and no name, init asks for the name and whether to use git."""
    answers = iter([b"asked-name\r", b"n\r"])
    code, text = run_in_terminal(
        ["init", "--no-setup"], tmp_path, clean_env(), lambda _: next(answers, None)
    )
    assert "Project name" in text and "git repository" in text
    assert code == 0, text
    assert (tmp_path / "asked-name" / "run_polster.py").is_file()
    assert not (tmp_path / "asked-name" / ".git").exists()


def test_start_dagster_without_setup_is_a_clear_error(tmp_path):
    result = run_polster(
        "init", "ui-later", "--no-git", "--no-setup", "--start-dagster", cwd=tmp_path
    )
    assert result.returncode != 0
    assert "--start-dagster needs the project's .venv" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_and_help_list_every_command(tmp_path):
    help_text = run_polster("--help", cwd=tmp_path).stdout
    for command in ("init", "setup", "plugins", "enable"):
        assert command in help_text
    init_help = run_polster("init", "--help", cwd=tmp_path).stdout
    for option in (
        "--git",
        "--no-git",
        "--platform",
        "--storage",
        "--start-dagster",
        "--dry-run",
        "--setup",
        "--no-setup",
        "--path",
        "--force",
        "--no-input",
    ):
        assert option in init_help
    assert run_polster("--version", cwd=tmp_path).stdout.startswith("polster ")


def test_interactive_prompts_offer_installed_platforms_and_backends(tmp_path):
    """With plugins installed, init asks for the storage backend and the CI platform too."""
    answers = {b"Storage backend": b"local\r", b"CI/CD platform": b"github\r"}

    def answer(output: bytes) -> bytes | None:
        for prompt in list(answers):
            if prompt in output:
                return answers.pop(prompt)
        return None

    env = clean_env(POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    code, text = run_in_terminal(
        ["init", "chosen", "--no-setup", "--no-git"], tmp_path, env, answer
    )
    assert code == 0, text
    assert "Traceback" not in text
    assert (tmp_path / "chosen" / ".github" / "workflows" / "polster.yml").is_file()
