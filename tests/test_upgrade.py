"""`polster upgrade`: a project made with "polster A", edited as users do, upgraded to "B"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from polster_core.testing.projects import (
    assert_one_line_error,
    clean_env,
    run_polster,
    run_python,
    tree_hash,
)

from .assets_helpers import assert_ruff_clean
from .helpers import install_target
from .upgrade_helpers import B_LINES, edit, make_overlay

RECORD = ".polster/generated.json"


@pytest.fixture(scope="module")
def envs(tmp_path_factory) -> dict[str, dict]:
    site = install_target(tmp_path_factory, "polster_shift")
    overlay = make_overlay(tmp_path_factory.mktemp("release-b"))
    common = {"PYTHONPATH": str(site), "POLSTER_DISABLE_PLUGIN_AUTOLOAD": None}
    return {
        "A": clean_env(**common, SHIFT_VERSION="A"),
        "B": clean_env(**common, SHIFT_VERSION="B", POLSTER_TEMPLATE_DIR=str(overlay)),
    }


def polster_ok(*args, cwd, env):
    result = run_polster(*args, cwd=cwd, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def made_with_a(tmp_path_factory, envs) -> Path:
    """A project made with A, with a platform, two assets added and the gold example removed."""
    parent = tmp_path_factory.mktemp("made-a")
    polster_ok(
        "init", "shop", "--platform", "shift-ci", "--no-git", "--no-setup", cwd=parent,
        env=envs["A"],
    )  # fmt: skip
    root = parent / "shop"
    polster_ok("add-asset", "-l", "bronze", "-n", "orders", cwd=root, env=envs["A"])
    polster_ok("add-asset", "-l", "silver", "-n", "clean_orders", "-d", "orders", cwd=root,
               env=envs["A"])  # fmt: skip
    polster_ok("remove-asset", "-l", "gold", "-n", "example", cwd=root, env=envs["A"])
    return root


@pytest.fixture
def project(made_with_a, tmp_path) -> Path:
    root = tmp_path / "shop"
    shutil.copytree(made_with_a, root)
    return root


def user_edits(root: Path) -> dict[str, str]:
    """Edits as users make them, none on lines B changes; returns path -> a line it added."""
    edit(root / "src/core/bronze_orders.py", '"alpha"', '"ALPHA"')
    edit(root / "README.md", "## Why Polster?\n", "## Why Polster?\n\nOur team's notes.\n")
    edit(root / "run_polster.py", "import os\n", "import os  # our tweak\n")
    (root / ".gitignore").write_text((root / ".gitignore").read_text() + "my-secrets/\n")
    edit(root / ".shift-ci.yml", "on: manual\n", "# owned by the data team\non: manual\n")
    return {
        "src/core/bronze_orders.py": '"ALPHA"',
        "README.md": "Our team's notes.\n",
        "run_polster.py": "import os  # our tweak\n",
        ".gitignore": "my-secrets/\n",
        ".shift-ci.yml": "# owned by the data team\n",
    }


def test_init_records_what_it_generated(made_with_a):
    record = json.loads((made_with_a / RECORD).read_text())
    assert record["answers"]["platform"] == "shift-ci"
    assert record["plugins"]["polster-shift"] == "1.0.0"
    assert [a["name"] for a in record["answers"]["assets"]] == ["orders", "clean_orders"]
    assert record["answers"]["removed_examples"] == ["run_gold_example"]
    files = {rel: "".join(lines) for rel, lines in record["files"].items()}
    assert ".env" not in files and ".env.example" in files
    for rel in ("run_polster.py", "src/core/bronze_orders.py", ".shift-ci.yml"):
        assert files[rel] == (made_with_a / rel).read_text()
    assert "src/core/gold_example.py" not in files
    gitignore = (made_with_a / ".gitignore").read_text()
    assert ".polster/" not in gitignore and ".polster\n" not in gitignore


def test_upgrade_keeps_every_user_edit_and_applies_every_template_change(project, envs):
    kept = user_edits(project)
    before = tree_hash(project)
    dry = run_polster("upgrade", "--dry-run", cwd=project, env=envs["B"])
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert tree_hash(project) == before
    status = {
        line.split()[1]: line.split()[0] for line in dry.stdout.splitlines()[1:] if line[:2] == "  "
    }
    assert status["run_polster.py"] == "merge"
    assert status["src/core/settings.py"] == "update"
    assert status["NEWS.md"] == "add" and status["docs/shift-added.md"] == "add"
    assert status["docs/shift-dropped.md"] == "remove"
    assert status["src/core/bronze_orders.py"] == "merge"
    assert status["tests/test_silver_example.py"] == "unchanged"
    assert "tests/test_gold_example.py" not in status  # removed with the gold example

    result = run_polster("upgrade", cwd=project, env=envs["B"])
    assert result.returncode == 0, result.stdout + result.stderr
    for rel, line in kept.items():
        assert line in (project / rel).read_text(), rel
    for rel, line in B_LINES.items():
        assert line in (project / rel).read_text(), rel
    assert "release B" in (project / "src/core/bronze_orders.py").read_text()
    assert (project / "NEWS.md").read_text().startswith("# News of shop")
    assert (project / "docs/shift-added.md").is_file()
    assert not (project / "docs/shift-dropped.md").exists()
    ci = (project / ".shift-ci.yml").read_text()
    assert "ruff check" in ci and "# owned by the data team" in ci
    assert "(in steps, since B)" in (project / ".env.example").read_text()
    assert "(in steps, since B)" in (project / "README.md").read_text()
    assert not (project / "src/core/gold_example.py").exists()
    registry = (project / "src/orchestration/assets/bronze/__init__.py").read_text()
    assert "run_bronze_orders" in registry and "run_bronze_example" in registry
    assert "<<<<<<<" not in "".join(p.read_text() for p in project.rglob("*.py"))

    after = tree_hash(project)
    again = run_polster("upgrade", cwd=project, env=envs["B"])
    assert again.returncode == 0, again.stderr
    assert "Nothing to upgrade" in again.stdout
    assert tree_hash(project) == after

    assert run_polster("check", cwd=project, env=envs["B"]).returncode == 0
    assert_ruff_clean(project)
    tests = run_python(project, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_conflicts_are_marked_listed_and_exit_4(project, envs):
    edit(project / ".gitignore", ".ruff_cache/\n", ".ruff_cache/  # ours\n")
    edit(project / "src/core/settings.py", 'PROJECT_NAME = "shop"\n', 'PROJECT_NAME = "Shop"\n')
    before = tree_hash(project)
    dry = run_polster("upgrade", "--dry-run", cwd=project, env=envs["B"])
    assert dry.returncode == 4 and "conflict" in dry.stdout
    assert tree_hash(project) == before

    result = run_polster("upgrade", cwd=project, env=envs["B"])
    assert result.returncode == 4, result.stdout + result.stderr
    assert ".gitignore" in result.stderr and "src/core/settings.py" in result.stderr
    settings = (project / "src/core/settings.py").read_text()
    assert "<<<<<<< yours\n" in settings and ">>>>>>> polster" in settings
    assert "||||||| generated by polster" in settings
    assert 'PROJECT_NAME = "Shop"' in settings and 'SETTINGS_RELEASE = "B"' in settings
    assert "# ours" in (project / ".gitignore").read_text()
    # Files without conflicts were upgraded all the same.
    assert B_LINES["run_polster.py"] in (project / "run_polster.py").read_text()
    after = tree_hash(project)
    again = run_polster("upgrade", cwd=project, env=envs["B"])
    assert again.returncode == 0 and tree_hash(project) == after


def test_upgrade_without_git_on_a_dirty_git_tree_makes_no_commit(project, envs):
    import subprocess

    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "A"], cwd=project, check=True)
    (project / "README.md").write_text((project / "README.md").read_text() + "\nDirty.\n")
    polster_ok("upgrade", cwd=project, env=envs["B"])
    log = subprocess.run(["git", "log", "--oneline"], cwd=project, capture_output=True, text=True)
    assert len(log.stdout.splitlines()) == 1
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True
    ).stdout
    assert " M run_polster.py" in status and "?? NEWS.md" in status
    assert "Dirty." in (project / "README.md").read_text()


def test_a_project_without_record_on_the_same_version_gets_one(project, envs):
    shutil.rmtree(project / ".polster")
    edit(project / "README.md", "## Why Polster?\n", "## Why Polster?\n\nMine.\n")
    before = tree_hash(project)
    result = polster_ok("upgrade", cwd=project, env=envs["A"])
    assert "no record yet" in result.stdout
    assert (project / RECORD).is_file()
    assert {k: v for k, v in tree_hash(project).items() if not k.startswith(".polster")} == before
    # From then on, upgrades merge three ways.
    polster_ok("upgrade", cwd=project, env=envs["B"])
    readme = (project / "README.md").read_text()
    assert "Mine." in readme and B_LINES["README.md"] in readme


def test_a_project_without_record_from_another_version_is_a_two_way_choice(project, envs):
    shutil.rmtree(project / ".polster")
    edit(project / "pyproject.toml", 'polster_version = "', 'polster_version = "0.0.')
    before = tree_hash(project)
    result = run_polster("upgrade", "--no-input", cwd=project, env=envs["B"])
    assert result.returncode == 0, result.stderr
    assert "differs" in result.stdout and "run_polster.py" in result.stdout
    assert "no record was written" in result.stdout
    assert tree_hash(project) == before


def test_refused_upgrade_changes_nothing(project, envs):
    (project / RECORD).write_text("{not json")
    before = tree_hash(project)
    result = run_polster("upgrade", cwd=project, env=envs["B"])
    assert_one_line_error(result, RECORD, "git checkout")
    assert tree_hash(project) == before


def test_a_missing_asset_template_is_one_clear_error(project, envs):
    record = json.loads((project / RECORD).read_text())
    record["answers"]["assets"][0]["template"] = "gone"
    (project / RECORD).write_text(json.dumps(record))
    before = tree_hash(project)
    result = run_polster("upgrade", cwd=project, env=envs["B"])
    assert_one_line_error(result, "'gone'", "not installed")
    assert tree_hash(project) == before


def test_enable_and_asset_commands_keep_the_record_so_upgrade_changes_nothing(
    tmp_path, tmp_path_factory
):
    hello = install_target(tmp_path_factory, "polster_hello")
    env = clean_env(PYTHONPATH=str(hello), POLSTER_DISABLE_PLUGIN_AUTOLOAD=None)
    polster_ok("init", "grow", "--no-git", "--no-setup", cwd=tmp_path, env=env)
    root = tmp_path / "grow"
    for args in (
        ("enable", "hci"),
        ("enable", "hello"),
        ("add-asset", "-l", "bronze", "-n", "feed", "-t", "api"),
        ("add-asset", "-l", "bronze", "-n", "sheet", "-t", "excel"),
        ("enable", "github"),
        ("remove-asset", "-l", "bronze", "-n", "feed"),
    ):
        polster_ok(*args, cwd=root, env=env)
    record = json.loads((root / RECORD).read_text())["answers"]
    assert (record["storage"], record["platform"]) == ("hello", "github")
    assert record["other_platforms"] == ["hello-ci"]
    assert [a["name"] for a in record["assets"]] == ["sheet"]
    before = tree_hash(root)
    result = polster_ok("upgrade", cwd=root, env=env)
    assert "Nothing to upgrade" in result.stdout
    assert tree_hash(root) == before
