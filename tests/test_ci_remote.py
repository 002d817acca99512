"""`polster init --platform`, `--remote-url` and `--create-remote`, run as a user runs them.

The real `polster` runs in a subprocess with the installed CI plugins (polster-github,
polster-gitlab, polster-azdo). Remotes are bare repositories on disk; gh, glab and az are
recording stand-ins on PATH (the real services are not reachable here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from polster_core import testing
from polster_core.testing.projects import (
    BIN,
    assert_one_line_error,
    plugin_env,
    run_polster,
    tree_hash,
)

CI_FILES = {
    "github": ".github/workflows/polster.yml",
    "gitlab": ".gitlab-ci.yml",
    "azure-devops": "azure-pipelines.yml",
}


def polster(*args: str, cwd: Path, **env: str | None) -> subprocess.CompletedProcess:
    """``polster ARGS`` with the installed plugins (the CI platforms are plugins')."""
    return run_polster(*args, cwd=cwd, env=plugin_env(**env))


def git(root: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else f"<git failed: {out.stderr.strip()}>"


@pytest.fixture
def bare(tmp_path) -> Path:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    return remote


STANDIN = """\
#!{python}
# A stand-in for gh / glab / az: records its argv, then acts like the real CLI would.
import json, os, subprocess, sys
name = os.path.basename(sys.argv[0])
args = sys.argv[1:]
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps([name, *args]) + "\\n")
if args[:2] in (["auth", "status"], ["account", "show"]):
    sys.exit(int(os.environ.get("STANDIN_LOGIN_EXIT", "0")))
if args[:2] == ["repo", "create"]:  # gh and glab add origin themselves
    subprocess.run(["git", "remote", "add", "origin", os.environ["STANDIN_BARE"]], check=True)
    print("https://example.invalid/you/" + args[2])
    sys.exit(0)
if args[:2] == ["repos", "create"]:  # az prints the clone URL
    print(os.environ["STANDIN_BARE"])
    sys.exit(0)
sys.exit(2)
"""


@pytest.fixture
def standins(tmp_path) -> Path:
    """A bin directory with recording gh, glab and az, plus git; nothing else."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("gh", "glab", "az"):
        script = bindir / name
        script.write_text(STANDIN.format(python=sys.executable), encoding="utf-8")
        script.chmod(0o755)
    (bindir / "git").symlink_to(shutil.which("git"))
    return bindir


def recorded(tmp_path) -> list[list[str]]:
    log = tmp_path / "standin.log"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


# --platform ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["github", "gitlab", "azure-devops", "azdo"])
def test_init_with_a_platform_writes_its_ci_file_and_readme_section(name, tmp_path):
    result = polster("init", "shop", "--platform", name, "--no-git", "--no-setup", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "shop"
    platform = "azure-devops" if name == "azdo" else name
    ci_file = root / CI_FILES[platform]
    assert testing.schema_errors(ci_file, platform) == []
    for other, rel in CI_FILES.items():
        assert (root / rel).exists() == (other == platform)
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "### Continuous Integration" in readme
    assert readme.index("### Production Mode") < readme.index("### Continuous Integration")
    assert f'platform = "{platform}"' in (root / "pyproject.toml").read_text(encoding="utf-8")


def test_init_without_a_platform_has_no_ci_file_and_an_empty_ci_section(tmp_path):
    result = polster("init", "shop", "--no-git", "--no-setup", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "shop"
    assert not any((root / rel).exists() for rel in CI_FILES.values())
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "<!-- polster:ci" in readme and "### Continuous Integration" not in readme


def test_unknown_platform_is_one_line_and_writes_nothing(tmp_path):
    result = polster("init", "shop", "--platform", "jenkins", "--no-git", cwd=tmp_path)
    assert_one_line_error(
        result, "unknown CI platform 'jenkins'", "github", "gitlab", "azure-devops"
    )
    assert list(tmp_path.iterdir()) == []


def test_platform_plugin_not_installed_names_the_package(tmp_path):
    result = polster(
        "init", "shop", "--platform", "gitlab", "--no-git", cwd=tmp_path,
        POLSTER_DISABLE_PLUGIN_AUTOLOAD="1",
    )  # fmt: skip
    assert_one_line_error(result, "not installed", "pip install polster-gitlab")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_workflow_is_refused_then_replaced_with_force(tmp_path):
    assert polster("init", "shop", "--no-git", "--no-setup", cwd=tmp_path).returncode == 0
    root = tmp_path / "shop"
    own = root / CI_FILES["github"]
    own.parent.mkdir(parents=True)
    own.write_text("name: mine\non: push\njobs: {}\n", encoding="utf-8")
    before = tree_hash(root)

    refused = polster("enable", "github", cwd=root)
    assert_one_line_error(refused, ".github/workflows/polster.yml", "--force")
    assert tree_hash(root) == before

    again = polster("init", "shop", "--platform", "github", "--no-git", "--no-setup", cwd=tmp_path)
    assert_one_line_error(again, "already")
    assert tree_hash(root) == before

    forced = polster("enable", "github", "--force", cwd=root)
    assert forced.returncode == 0, forced.stderr
    assert "name: polster" in own.read_text(encoding="utf-8")
    assert testing.schema_errors(own, "github") == []

    # init --force writes a polster project's files again, the workflow included.
    own.write_text("name: mine again\n", encoding="utf-8")
    rewritten = polster(
        "init", "shop", "--platform", "github", "--force", "--no-git", "--no-setup", cwd=tmp_path
    )
    assert rewritten.returncode == 0, rewritten.stderr
    assert "name: polster" in own.read_text(encoding="utf-8")


# --remote-url -------------------------------------------------------------------------------


def test_remote_url_adds_origin_and_pushes_the_first_commit(tmp_path, bare):
    result = polster(
        "init", "shop", "--platform", "github", "--git", "--no-setup",
        "--remote-url", str(bare), cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    root = tmp_path / "shop"
    assert git(root, "remote", "get-url", "origin") == str(bare)
    assert git(bare, "rev-parse", "main") == git(root, "rev-parse", "HEAD")
    pushed = git(bare, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert ".github/workflows/polster.yml" in pushed and "run_polster.py" in pushed
    assert ".env" not in pushed and ".env.example" in pushed
    assert git(root, "rev-parse", "--abbrev-ref", "main@{upstream}") == "origin/main"


def test_a_remote_git_rejects_keeps_the_complete_local_project(tmp_path):
    missing = tmp_path / "no-such-remote.git"
    result = polster(
        "init", "shop", "--git", "--no-setup", "--remote-url", str(missing), cwd=tmp_path
    )
    line = assert_one_line_error(result, "git push to", str(missing), "complete and committed")
    assert result.returncode == 3  # the project was created; a later step failed
    assert "git remote add origin URL && git push -u origin main" in line
    root = tmp_path / "shop"
    assert (root / "run_polster.py").is_file() and (root / ".env").is_file()
    assert git(root, "log", "--format=%s") == "Initial commit: polster init"
    assert git(root, "status", "--porcelain") == ""
    assert git(root, "remote") == ""  # the bad origin was taken away again


def test_an_unreachable_remote_exits_3_with_the_complete_project(tmp_path):
    # A server that accepts no connection: a port nobody listens on, on this machine.
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/shop.git"
    result = polster("init", "shop", "--git", "--no-setup", "--remote-url", url, cwd=tmp_path)
    line = assert_one_line_error(result, f"git push to {url} failed", "complete and committed")
    assert result.returncode == 3
    assert "git remote add origin URL && git push -u origin main" in line
    assert "Created" in result.stdout and "Next steps" not in result.stdout
    root = tmp_path / "shop"
    assert git(root, "log", "--format=%s") == "Initial commit: polster init"
    assert git(root, "status", "--porcelain") == "" and git(root, "remote") == ""
    # The printed commands finish the job once the remote exists.
    bare = tmp_path / "later.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    for command in ("git remote add origin URL", "git push -u origin main"):
        argv = [str(bare) if word == "URL" else word for word in command.split()]
        subprocess.run(argv, cwd=root, check=True, capture_output=True)
    assert git(bare, "rev-parse", "main") == git(root, "rev-parse", "HEAD")


@pytest.mark.parametrize("url", ["", "-uoops", "has space"])
def test_a_url_that_cannot_be_a_remote_is_refused_before_writing(tmp_path, url):
    result = polster("init", "shop", "--git", "--remote-url", url, cwd=tmp_path)
    assert_one_line_error(result, "--remote-url")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "flag", [["--create-remote", "--platform", "github"], ["--remote-url", "x"]]
)
def test_remote_options_need_git(tmp_path, flag):
    result = polster("init", "shop", "--no-git", *flag, cwd=tmp_path)
    assert_one_line_error(result, "needs --git", "--no-git was given")
    assert list(tmp_path.iterdir()) == []


def test_inside_a_repository_git_is_off_so_create_remote_asks_for_it(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = polster("init", "shop", "--platform", "github", "--create-remote", cwd=tmp_path)
    assert_one_line_error(result, "needs --git", "inside a git repository", "pass --git")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".git"]


def test_create_remote_needs_a_platform_and_excludes_remote_url(tmp_path):
    assert_one_line_error(
        polster("init", "shop", "--git", "--create-remote", cwd=tmp_path), "--platform"
    )
    both = polster(
        "init", "shop", "--git", "--platform", "github", "--create-remote",
        "--remote-url", "x", cwd=tmp_path,
    )  # fmt: skip
    assert_one_line_error(both, "exclude each other")
    assert list(tmp_path.iterdir()) == []


# --create-remote ----------------------------------------------------------------------------

EXPECTED = {
    "github": (
        [["gh", "auth", "status"],
         ["gh", "repo", "create", "shop", "--private", "--source=.", "--remote=origin"]],
        "gh repo create shop --private --source=. --remote=origin",
    ),
    "gitlab": (
        [["glab", "auth", "status"],
         ["glab", "repo", "create", "shop", "--private", "--defaultBranch=main"]],
        "glab repo create shop --private --defaultBranch=main",
    ),
    "azure-devops": (
        [["az", "account", "show", "--output", "none"],
         ["az", "repos", "create", "--name", "shop", "--query", "remoteUrl", "--output", "tsv"]],
        'git remote add origin "$(az repos create --name shop --query remoteUrl --output tsv)"',
    ),
}  # fmt: skip


@pytest.mark.parametrize("platform", sorted(EXPECTED))
def test_create_remote_runs_the_platform_cli_then_pushes(platform, tmp_path, bare, standins):
    result = polster(
        "init", "shop", "--platform", platform, "--git", "--no-setup", "--create-remote",
        cwd=tmp_path, PATH=f"{standins}{os.pathsep}{BIN}",
        STANDIN_LOG=str(tmp_path / "standin.log"), STANDIN_BARE=str(bare),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    calls, _ = EXPECTED[platform]
    assert recorded(tmp_path) == calls
    root = tmp_path / "shop"
    assert git(root, "remote", "get-url", "origin") == str(bare)
    assert git(bare, "rev-parse", "main") == git(root, "rev-parse", "HEAD")
    assert CI_FILES[platform] in git(bare, "ls-tree", "-r", "--name-only", "main")


@pytest.mark.parametrize("platform", sorted(EXPECTED))
def test_create_remote_logged_out_prints_the_commands_and_leaves_the_project(
    platform, tmp_path, bare, standins
):
    result = polster(
        "init", "shop", "--platform", platform, "--git", "--no-setup", "--create-remote",
        cwd=tmp_path, PATH=f"{standins}{os.pathsep}{BIN}",
        STANDIN_LOG=str(tmp_path / "standin.log"), STANDIN_BARE=str(bare),
        STANDIN_LOGIN_EXIT="1",
    )  # fmt: skip
    assert result.returncode == 3  # the project was created; a later step failed
    assert "Traceback" not in result.stderr
    calls, create_line = EXPECTED[platform]
    assert recorded(tmp_path) == calls[:1]  # checked the login, created nothing
    root = tmp_path / "shop"
    lines = result.stderr.splitlines()
    assert f"  cd {root}" in lines
    assert f"  {create_line}" in lines
    assert "  git push -u origin main" in lines
    assert lines[-1].startswith("Error: ") and "not logged in" in lines[-1]
    assert str(root) in lines[-1]
    # The project is complete, committed and untouched by the failed step.
    assert (root / CI_FILES[platform]).is_file()
    assert git(root, "log", "--format=%s") == "Initial commit: polster init"
    assert git(root, "status", "--porcelain") == ""
    assert git(root, "remote") == ""
    assert git(bare, "rev-parse", "--verify", "-q", "main").startswith("<git failed")


def test_create_remote_without_the_cli_prints_login_and_create_commands(tmp_path, standins):
    (standins / "gh").unlink()
    result = polster(
        "init", "shop", "--platform", "github", "--git", "--no-setup", "--create-remote",
        cwd=tmp_path, PATH=f"{standins}{os.pathsep}{BIN}",
        STANDIN_LOG=str(tmp_path / "standin.log"),
    )  # fmt: skip
    assert result.returncode == 3  # the project was created; a later step failed
    root = tmp_path / "shop"
    assert result.stderr.splitlines()[:5] == [
        "Create the remote repository with these commands:",
        f"  cd {root}",
        "  gh auth login",
        "  gh repo create shop --private --source=. --remote=origin",
        "  git push -u origin main",
    ]
    assert "gh is not installed" in result.stderr.splitlines()[-1]
    assert git(root, "status", "--porcelain") == "" and git(root, "remote") == ""


@pytest.mark.parametrize("platform", sorted(EXPECTED))
def test_dry_run_prints_the_remote_commands_and_runs_nothing(platform, tmp_path, standins):
    result = polster(
        "init", "shop", "--platform", platform, "--git", "--create-remote", "--dry-run",
        cwd=tmp_path, PATH=f"{standins}{os.pathsep}{BIN}",
        STANDIN_LOG=str(tmp_path / "standin.log"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    _, create_line = EXPECTED[platform]
    cli = EXPECTED[platform][0][0][0]
    expected = textwrap.dedent(
        f"""\
        Would create the remote repository with {cli}, in {tmp_path / "shop"}:
          {create_line}
          git push -u origin main
        Nothing was written (--dry-run).
        """
    )
    assert result.stdout.endswith(expected)
    assert recorded(tmp_path) == []
    assert not (tmp_path / "shop").exists()
