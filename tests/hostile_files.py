"""Hostile cases of issue 25, classes 1 and 6: files the project does not own, interrupted
commands. Collected by tests/hostile.py (``cases()``).

A teammate's ``.polster/generated.json`` or ``.polster/journal.json`` that names a file outside
the project, and a ``.polster.lock`` that is not a regular file, are refused in one line, and
the file outside (``victim.txt``, beside the project) is as it was. A command stopped with
SIGTERM between two renames of its apply (``POLSTER_TEST_PAUSE_APPLY``, test-only) exits 130
with the project as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path

from hostile import Case, project_of

VICTIM = "my notes, not polster's\n"
RECORD = ".polster/generated.json"


def victim_intact(folder: Path, result: subprocess.CompletedProcess) -> list[str]:
    victim = folder / "victim.txt"
    if not victim.is_file() or victim.read_text(encoding="utf-8") != VICTIM:
        return ["victim.txt, outside the project, was changed or deleted"]
    return []


def record_naming(how: str):
    """The record says polster generated victim.txt (with its very text), named ``how``."""

    def prepare(folder: Path, stack: ExitStack) -> None:
        (folder / "victim.txt").write_text(VICTIM, encoding="utf-8")
        project = project_of(folder)
        rel = {
            "dotdot": "../victim.txt",
            "absolute": str(folder / "victim.txt"),
            "symlink": "outside/victim.txt",
        }[how]
        if how == "symlink":
            (project / "outside").symlink_to(folder)
        path = project / RECORD
        record = json.loads(path.read_text(encoding="utf-8"))
        record["files"][rel] = VICTIM
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    return prepare


def lock_as(kind: str):
    def prepare(folder: Path, stack: ExitStack) -> None:
        (folder / "victim.txt").write_text(VICTIM, encoding="utf-8")
        lock = project_of(folder) / ".polster.lock"
        if kind == "symlink":
            lock.symlink_to(folder / "victim.txt")
        elif kind == "fifo":
            os.mkfifo(lock)
        else:
            lock.mkdir()

    return prepare


def forged_journal(folder: Path, stack: ExitStack) -> None:
    (folder / "victim.txt").write_text(VICTIM, encoding="utf-8")
    journal = {
        "polster_journal": 1,
        "command": "polster upgrade",
        "state": "commit",
        "dirs": [],
        "ops": [{"action": "delete", "path": "../victim.txt", "new": None, "old": None}],
    }
    (project_of(folder) / ".polster/journal.json").write_text(json.dumps(journal), "utf-8")


def older_readme(folder: Path, stack: ExitStack) -> None:
    """The project as an older polster made it: its README (and the record's) one line short,
    so `polster upgrade` updates the README and the record: two renames."""
    project = project_of(folder)
    readme = project / "README.md"
    old = readme.read_text(encoding="utf-8").rstrip("\n").rsplit("\n", 1)[0] + "\n"
    readme.write_text(old, encoding="utf-8")
    path = project / RECORD
    record = json.loads(path.read_text(encoding="utf-8"))
    record["files"]["README.md"] = old
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def sigterm_after(renames: int):
    """Run the command until ``renames`` renames of its apply are done, then SIGTERM it."""

    def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
        where = Path(tempfile.mkdtemp(prefix="polster-pause-"))
        marker = where / "paused"
        env = {**env, "POLSTER_TEST_PAUSE_APPLY": f"{renames}:{marker}"}
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            while not marker.exists() and process.poll() is None:
                try:
                    process.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    pass
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=120)
        except BaseException:
            process.kill()
            process.communicate()
            raise
        finally:
            shutil.rmtree(where, ignore_errors=True)
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    return run


def cases() -> list[Case]:
    upgrade = ["polster", "upgrade", "--no-input"]
    add = ["polster", "add-asset", "--layer", "bronze", "--name", "orders", "--no-input"]
    found = [
        Case(
            f"record names a file outside the project ({shown})",
            upgrade,
            prepare=record_naming(how),
            check=victim_intact,
        )
        for shown, how in [
            ("../victim.txt", "dotdot"),
            ("an absolute path", "absolute"),
            ("through a symlink", "symlink"),
        ]
    ]
    found += [
        Case(
            f".polster.lock is {shown}",
            add,
            prepare=lock_as(kind),
            check=victim_intact,
        )
        for shown, kind in [
            ("a symlink to a user's file", "symlink"),
            ("a FIFO", "fifo"),
            ("a directory", "directory"),
        ]
    ]
    found.append(
        Case(
            "journal names a file outside the project",
            ["polster", "list"],
            prepare=forged_journal,
            check=victim_intact,
        )
    )
    found.append(
        Case(
            "upgrade: SIGTERM between two renames",
            upgrade,
            prepare=older_readme,
            run=sigterm_after(1),
            exit_code=130,
        )
    )
    found.append(
        Case("add-asset: SIGTERM between two renames", add, run=sigterm_after(1), exit_code=130)
    )
    found.append(
        Case(
            "plugin new: SIGTERM between two renames",
            ["polster", "plugin", "new", "storage", "myfs"],
            where="empty",
            run=sigterm_after(3),
            exit_code=130,
        )
    )
    return found


__all__ = ["cases"]
