"""Ctrl+C and failures during `polster init` and `polster setup`.

Ctrl+C is SIGINT sent to the command's whole process group (as a terminal does), at several
moments. Before the files are written, nothing is left; after, the project stays and one line
says what is there and what finishes it. A new .venv is built beside the old one and swapped in
only when complete, so a failed or interrupted `setup --force` keeps the previous one working.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from polster_core.testing.projects import POLSTER, clean_env, run_polster, tree_hash


def interrupt(args, cwd: Path, *, after_line: str | None = None, delay: float = 0.0):
    """Run polster; send SIGINT to its process group ``delay`` seconds after it printed a line
    containing ``after_line`` (or after it started). Returns (exit code, stdout, stderr)."""
    process = subprocess.Popen(
        [POLSTER, *args],
        cwd=cwd,
        env=clean_env(POLSTER_LOCK_TIMEOUT="60"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    out = ""
    try:
        if after_line is not None:
            while after_line not in out:
                line = process.stdout.readline()
                assert line, f"never printed {after_line!r}:\n{out}\n{process.stderr.read()}"
                out += line
        time.sleep(delay)
        try:
            os.killpg(process.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        rest, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode, out + rest, err


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else f"<git failed: {done.stderr.strip()}>"


def without_git(tree: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tree.items() if not k.startswith(".git/") and k != ".git/"}


@pytest.fixture(scope="module")
def reference(make_project) -> dict[str, str]:
    """The files of a complete `shop` project."""
    return tree_hash(make_project("shop"))


@pytest.mark.parametrize("delay", [0.0, 0.15, 0.3, 0.45, 0.6, 0.8, 1.2])
def test_ctrl_c_at_any_moment_leaves_nothing_or_the_complete_project(tmp_path, reference, delay):
    code, out, err = interrupt(["init", "shop", "--git", "--no-setup"], tmp_path, delay=delay)
    assert "Traceback" not in err, err
    project = tmp_path / "shop"
    if not project.exists():
        # Interrupted before the files were in place: nothing at all is left.
        assert code in (130, -signal.SIGINT), (code, out, err)
        assert list(tmp_path.iterdir()) == []
        assert err.strip() in ("", f"Interrupted: nothing was written ({project} is as it was)")
        return
    # The files are all there, each complete; the repository has its commit or is not there.
    assert without_git(tree_hash(project)) == reference
    committed = (project / ".git").exists()
    if committed:
        assert git(project, "log", "--format=%s") == "Initial commit: polster init"
        assert git(project, "status", "--porcelain") == ""
    if "Next steps" in out:  # it had finished (the signal may come while Python exits)
        assert code in (0, 130, -signal.SIGINT) and committed
        return
    assert code == 130, (code, out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"Interrupted: the project is complete in {project}")
    if not committed:
        assert "to finish, run there: `git init -b main && git add -A" in lines[0]


def test_a_failing_git_commit_keeps_the_files_exits_3_and_leaves_no_repository(tmp_path, reference):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "pre-commit").write_text("#!/bin/sh\necho 'refused by a hook' >&2\nexit 1\n")
    (hooks / "pre-commit").chmod(0o755)
    config = tmp_path / "gitconfig"
    config.write_text(f"[core]\n\thooksPath = {hooks}\n")
    parent = tmp_path / "parent"
    parent.mkdir()
    result = run_polster(
        "init", "shop", "--git", "--no-setup", cwd=parent,
        env=clean_env(GIT_CONFIG_GLOBAL=str(config)),
    )  # fmt: skip
    project = parent / "shop"
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: git commit failed: refused by a hook")
    assert lines[0].endswith(
        f"Otherwise the project is complete in {project}; to finish, run there: "
        "`git init -b main && git add -A && git commit -m 'Initial commit: polster init'`"
    )
    assert tree_hash(project) == reference  # every file, and no half-made repository


@pytest.fixture
def silent_remote():
    """A git remote over HTTP that accepts connections and never answers: a push hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []

    def serve():
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/shop.git"
    server.close()
    for connection in accepted:
        connection.close()


def test_ctrl_c_while_pushing_keeps_the_project_and_says_how_to_push(tmp_path, silent_remote):
    code, out, err = interrupt(
        ["init", "shop", "--git", "--no-setup", "--remote-url", silent_remote],
        tmp_path,
        after_line="Initialised a git repository",
        delay=0.5,
    )
    project = tmp_path / "shop"
    assert code == 130, (out, err)
    assert err.strip() == (
        f"Interrupted: the project is complete in {project}, committed to git; "
        "to finish, run there: `git push -u origin main`"
    )
    assert git(project, "log", "--format=%s") == "Initial commit: polster init"
    assert git(project, "remote", "get-url", "origin") == silent_remote


def venv_runs_polars(project: Path) -> bool:
    python = project / ".venv" / "bin" / "python"
    probe = subprocess.run(
        [str(python), "-c", "import polars, sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0 and probe.stdout.strip() == str(project / ".venv")


def leftovers(project: Path) -> list[str]:
    return sorted(p.name for p in project.glob(".venv.polster-*")) + sorted(
        p.name for p in project.glob(".polster*.lock")
    )


@pytest.mark.slow
def test_interrupted_and_failed_setups_never_leave_a_half_built_venv(tmp_path):
    # Ctrl+C while init installs: the project stays, committed, without a .venv.
    code, out, err = interrupt(
        ["init", "shop", "--git"], tmp_path, after_line="Installing shop", delay=1.0
    )
    project = tmp_path / "shop"
    assert code == 130, (out, err)
    assert err.strip().splitlines()[-1] == (
        f"Interrupted: the project is complete in {project}, committed to git; "
        "to finish, run there: `polster setup`"
    )
    assert not (project / ".venv").exists() and leftovers(project) == []
    assert git(project, "status", "--porcelain") == ""

    # The line's advice works.
    done = run_polster("setup", cwd=project, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert venv_runs_polars(project)
    dagster = (project / ".venv" / "bin" / "dagster").read_text().splitlines()[0]
    assert dagster == f"#!{project / '.venv' / 'bin' / 'python'}"  # built beside, moved in
    activate = (project / ".venv" / "bin" / "activate").read_text()
    assert ".venv.polster-" not in activate
    marker = project / ".venv" / "kept"
    marker.write_text("the previous environment")

    # A failing `setup --force` (a dependency no index has) keeps the previous environment.
    pyproject = project / "pyproject.toml"
    original = pyproject.read_text()
    pyproject.write_text(
        original.replace("dependencies = [", 'dependencies = [\n    "polars>=999",', 1)
    )
    failed = run_polster("setup", "--force", cwd=project, timeout=900)
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1].startswith("Error: installing the dependencies failed")
    assert "beside" in failed.stdout
    assert marker.read_text() == "the previous environment"
    assert venv_runs_polars(project) and leftovers(project) == []

    # Ctrl+C during `setup --force` keeps it too.
    pyproject.write_text(original)
    code, out, err = interrupt(
        ["setup", "--force"], project, after_line="Installing shop", delay=1.0
    )
    assert code == 130, (out, err)
    assert marker.read_text() == "the previous environment"
    assert venv_runs_polars(project) and leftovers(project) == []

    # A complete one replaces it.
    again = run_polster("setup", "--force", cwd=project, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Replaced" in again.stdout and not marker.exists()
    assert venv_runs_polars(project) and leftovers(project) == []
