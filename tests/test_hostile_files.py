"""Issue 25, classes 1 and 6: files the project does not own, and interrupted commands.

Polster never writes, renames or deletes a file outside the project, whatever a teammate's
``.polster/generated.json`` or ``.polster.lock`` says; ``--purge-data`` needs no free space and
leaves nothing behind; a command killed between two renames of its apply is undone (SIGTERM,
in process) or settled by the next command (SIGKILL, through ``.polster/journal.json``).

The kills use ``POLSTER_TEST_PAUSE_APPLY=N:MARKER`` (test-only, see polster_core/plan.py): the
real ``polster`` process stops after N renames, writes MARKER and waits to be killed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from polster_core.project.plan import JOURNAL, OutsideProject, Plan
from polster_core.testing.projects import (
    POLSTER,
    assert_one_line_error,
    clean_env,
    run_polster,
    tree_hash,
)

from .assets_helpers import add, new_project
from .helpers import tmpfs
from .upgrade_helpers import make_overlay

RECORD = ".polster/generated.json"


def leftovers(root: Path) -> list[str]:
    """Temporary files of an apply or a purge, and the journal, anywhere under ``root``."""
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if ".polster-" in p.name or p.name.startswith("journal.json") or ".bak." in p.name
    )


# 1. Files the project does not own ---------------------------------------------------------


def record_naming(project: Path, rel: str, text: str) -> None:
    """A teammate's record that says polster generated ``rel`` with ``text``."""
    path = project / RECORD
    record = json.loads(path.read_text(encoding="utf-8"))
    record["files"][rel] = text
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


@pytest.mark.parametrize("how", ["dotdot", "absolute", "symlink"])
def test_upgrade_never_deletes_a_file_the_record_names_outside_the_project(tmp_path, how):
    project = new_project(tmp_path / "work")
    victim = tmp_path / "victim.txt"
    victim.write_text("my notes\n", encoding="utf-8")
    if how == "dotdot":
        rel = "../../victim.txt"
    elif how == "absolute":
        rel = str(victim)
    else:
        (project / "notes").symlink_to(tmp_path)
        rel = "notes/victim.txt"
    record_naming(project, rel, "my notes\n")
    before = tree_hash(project)
    result = run_polster("upgrade", "--no-input", cwd=project)
    # Refused where the record is read (its schema: '..' and absolute paths), or by the plan's
    # confinement (a path through a symlink), before anything is touched.
    assert_one_line_error(result, RECORD, "nothing was changed")
    line = result.stderr.strip()
    assert "not a file path inside the project" in line or "through a symlink" in line, line
    assert victim.read_text(encoding="utf-8") == "my notes\n"
    assert tree_hash(project) == before


def test_upgrade_never_writes_a_file_the_record_names_outside_the_project(tmp_path):
    """A record naming an outside file with other text than it has: no merge written there."""
    project = new_project(tmp_path / "work")
    victim = tmp_path / "victim.txt"
    victim.write_text("mine\n", encoding="utf-8")
    record_naming(project, "../../victim.txt", "generated\n")
    result = run_polster("upgrade", "--no-input", cwd=project)
    assert_one_line_error(result, RECORD, "../../victim.txt")
    assert victim.read_text(encoding="utf-8") == "mine\n"


@pytest.mark.parametrize("rel", ["../out.txt", "/tmp/out.txt", "a/../../out.txt", ""])
def test_a_plan_refuses_a_path_outside_its_root(tmp_path, rel):
    root = tmp_path / "root"
    root.mkdir()
    plan = Plan(root)
    with pytest.raises(OutsideProject):
        plan.delete(rel)
    with pytest.raises(OutsideProject):
        plan.create(rel, "x")
    assert not (tmp_path / "out.txt").exists()


def test_a_plan_refuses_a_path_through_a_symlink_out_of_its_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutsideProject, match="through a symlink"):
        Plan(root).create("link/file.txt", "x")
    assert not (tmp_path / "elsewhere/file.txt").exists()


def test_a_polster_folder_linked_out_of_the_project_is_never_written(tmp_path):
    """``.polster`` a symlink to a folder elsewhere: add-asset writes neither the record nor
    its journal there."""
    project = new_project(tmp_path / "work")
    elsewhere = tmp_path / "elsewhere"
    shutil.move(project / ".polster", elsewhere)
    (project / ".polster").symlink_to(elsewhere)
    outside, before = tree_hash(elsewhere), tree_hash(project)
    result = run_polster("add-asset", "--layer", "bronze", "--name", "orders", cwd=project)
    assert_one_line_error(result, ".polster", "through a symlink", "nothing was changed")
    assert tree_hash(elsewhere) == outside
    assert tree_hash(project) == before


@pytest.mark.parametrize("kind", ["symlink", "fifo", "directory"])
def test_a_lock_that_is_not_a_regular_file_is_refused(tmp_path, kind):
    project = new_project(tmp_path / "work")
    lock = project / ".polster.lock"
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n", encoding="utf-8")
    if kind == "symlink":
        lock.symlink_to(notes)
    elif kind == "fifo":
        os.mkfifo(lock)
    else:
        lock.mkdir()
    before = tree_hash(project) if kind != "fifo" else None
    result = run_polster(
        "add-asset", "--layer", "bronze", "--name", "orders", "--no-input", cwd=project,
        timeout=60,
    )  # fmt: skip
    wanted = {"symlink": "a symbolic link", "fifo": "a FIFO", "directory": "a folder"}[kind]
    assert_one_line_error(result, str(lock), wanted)
    assert notes.read_text(encoding="utf-8") == "my notes\n"
    assert not (project / "src/core/bronze_orders.py").exists()
    if before is not None:
        assert tree_hash(project) == before


def test_purge_data_needs_no_free_space_and_leaves_no_backup(tmp_path):
    """The table on a full disk: every partition is deleted, nothing is copied first."""
    project = new_project(tmp_path / "work")
    add(project, "bronze", "events", "--partitions", "daily", "--start", "2026-11-01")
    with tmpfs(tmp_path / "disk", "4m") as disk:
        table = disk / "bronze/events"
        for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
            (table / f"date={day}").mkdir(parents=True)
            (table / f"date={day}/data.parquet").write_bytes(os.urandom(300_000))
        (disk / "bronze/other.parquet").write_bytes(b"PAR1 kept")
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 65536):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        env = project / ".env"
        env.write_text(
            env.read_text().replace("LOCAL_DATA_DIR=data", f"LOCAL_DATA_DIR={disk}"), "utf-8"
        )
        result = run_polster(
            "remove-asset", "--layer", "bronze", "--name", "events", "--purge-data", cwd=project
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "date=2026-11-03" in result.stdout
        assert not table.exists()
        assert (disk / "bronze/other.parquet").read_bytes() == b"PAR1 kept"
        assert leftovers(disk) == []
        assert sorted(p.name for p in (disk / "bronze").iterdir()) == ["other.parquet"]
    assert not (project / "src/core/bronze_events.py").exists()


# 6. Interrupted commands --------------------------------------------------------------------


def paused(args: list[str], cwd: Path, renames: int, marker: Path, env: dict | None = None):
    """``polster ARGS`` started, and waiting after ``renames`` renames of its apply."""
    env = {**(env or clean_env()), "POLSTER_TEST_PAUSE_APPLY": f"{renames}:{marker}"}
    process = subprocess.Popen(
        [POLSTER, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Waits for the command to get there (no timing involved: it ends or it pauses).
        while not marker.exists():
            if process.poll() is not None:
                out, err = process.communicate()
                pytest.fail(f"polster {' '.join(args)} ended without pausing:\n{out}\n{err}")
            try:
                process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
    except BaseException:
        process.kill()
        process.communicate()
        raise
    return process


def upgrade_env(tmp_path: Path) -> dict:
    return clean_env(POLSTER_TEMPLATE_DIR=str(make_overlay(tmp_path / "overlay-b")))


def upgraded_reference(tmp_path: Path, env: dict) -> dict:
    reference = new_project(tmp_path / "reference")
    result = run_polster("upgrade", "--no-input", cwd=reference, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return tree_hash(reference)


def test_sigterm_between_two_renames_of_upgrade_puts_everything_back(tmp_path):
    project = new_project(tmp_path / "work")
    before = tree_hash(project)
    process = paused(
        ["upgrade", "--no-input"], project, 2, tmp_path / "paused", upgrade_env(tmp_path)
    )
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert err.strip() == f"Interrupted: nothing was written ({project} is as it was)", err
    assert tree_hash(project) == before
    assert leftovers(project) == []


def test_upgrade_killed_between_two_renames_is_finished_by_the_next_command(tmp_path):
    env = upgrade_env(tmp_path)
    after = upgraded_reference(tmp_path, env)
    project = new_project(tmp_path / "work")
    process = paused(["upgrade", "--no-input"], project, 2, tmp_path / "paused", env)
    process.kill()
    process.communicate(timeout=60)
    assert (project / JOURNAL).exists()  # killed part-way: the journal says what to finish
    result = run_polster("list", cwd=project, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "was interrupted part-way: finished it" in result.stderr
    assert leftovers(project) == []
    assert tree_hash(project) == after
    again = run_polster("upgrade", "--no-input", cwd=project, env=env)
    assert "Nothing to upgrade" in again.stdout, again.stdout + again.stderr


def test_add_asset_killed_between_two_renames_is_finished_by_the_next_command(tmp_path):
    reference = new_project(tmp_path / "reference")
    add(reference, "bronze", "orders")
    project = new_project(tmp_path / "work")
    process = paused(
        ["add-asset", "--layer", "bronze", "--name", "orders", "--no-input"],
        project,
        1,
        tmp_path / "paused",
    )
    process.kill()
    process.communicate(timeout=60)
    checked = run_polster("check", cwd=project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert leftovers(project) == []
    assert tree_hash(project) == tree_hash(reference)
    init = project / "src/orchestration/assets/bronze/__init__.py"
    assert "run_bronze_orders" in init.read_text(encoding="utf-8")


def test_sigterm_during_add_asset_leaves_the_project_as_it_was(tmp_path):
    project = new_project(tmp_path / "work")
    before = tree_hash(project)
    process = paused(
        ["add-asset", "--layer", "bronze", "--name", "orders", "--no-input"],
        project,
        1,
        tmp_path / "paused",
    )
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert err.strip() == f"Interrupted: nothing was written ({project} is as it was)", err
    assert tree_hash(project) == before
    again = run_polster("add-asset", "--layer", "bronze", "--name", "orders", cwd=project)
    assert again.returncode == 0, again.stdout + again.stderr  # not "already exists"


def test_plugin_new_killed_part_way_is_finished_by_the_next_command(tmp_path):
    (tmp_path / "reference").mkdir()
    made = run_polster("plugin", "new", "storage", "myfs", cwd=tmp_path / "reference")
    assert made.returncode == 0, made.stdout + made.stderr
    [reference] = (tmp_path / "reference").iterdir()
    work = tmp_path / "work"
    work.mkdir()
    process = paused(["plugin", "new", "storage", "myfs"], work, 3, tmp_path / "paused")
    process.kill()
    process.communicate(timeout=60)
    [target] = work.iterdir()
    again = run_polster("plugin", "new", "storage", "myfs", cwd=work)
    assert "was interrupted part-way: finished it" in again.stderr, again.stderr
    assert leftovers(target) == []
    assert tree_hash(target) == tree_hash(reference)


def test_sigterm_during_plugin_new_leaves_nothing(tmp_path):
    process = paused(["plugin", "new", "storage", "myfs"], tmp_path, 3, tmp_path / "paused")
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["paused"]


def test_a_journal_naming_a_file_outside_the_project_is_refused(tmp_path):
    """The journal is a file in the project too: a forged one never touches the outside."""
    project = new_project(tmp_path / "work")
    victim = tmp_path / "victim.txt"
    victim.write_text("mine\n", encoding="utf-8")
    journal = {
        "polster_journal": 1,
        "command": "polster upgrade",
        "state": "commit",
        "dirs": [],
        "ops": [{"action": "delete", "path": "../../victim.txt", "new": None, "old": None}],
    }
    (project / JOURNAL).write_text(json.dumps(journal), encoding="utf-8")
    result = run_polster("list", cwd=project)
    assert_one_line_error(result, "journal.json", "../../victim.txt", "nothing was changed")
    assert victim.read_text(encoding="utf-8") == "mine\n"


def partitioned_project(tmp_path: Path, where: str) -> Path:
    project = new_project(tmp_path / where)
    add(project, "bronze", "events", "--partitions", "daily", "--start", "2026-11-01")
    for day in ("2026-11-01", "2026-11-02"):
        folder = project / f"data/bronze/events/date={day}"
        folder.mkdir(parents=True)
        (folder / "data.parquet").write_bytes(b"PAR1 " + day.encode())
    (project / "data/bronze/other.parquet").write_bytes(b"PAR1 kept")
    return project


PURGE = ["remove-asset", "--layer", "bronze", "--name", "events", "--purge-data", "--no-input"]


def test_purge_data_killed_part_way_is_finished_by_the_next_command(tmp_path):
    reference = partitioned_project(tmp_path, "reference")
    done = run_polster(*PURGE, cwd=reference)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "delete data/bronze/events/date=2026-11-02/data.parquet" in done.stdout
    project = partitioned_project(tmp_path, "work")
    process = paused(PURGE, project, 2, tmp_path / "paused")
    process.kill()
    process.communicate(timeout=60)
    result = run_polster("list", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "finished it" in result.stderr
    assert leftovers(project) == []
    assert tree_hash(project) == tree_hash(reference)
    assert not (project / "data/bronze/events").exists()


def test_sigterm_during_purge_data_puts_the_data_back(tmp_path):
    project = partitioned_project(tmp_path, "work")
    before = tree_hash(project)
    process = paused(PURGE, project, 4, tmp_path / "paused")  # the table set aside
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert tree_hash(project) == before
    assert leftovers(project) == []


@pytest.mark.parametrize("linked", ["the table's file", "the layer's folder"])
def test_a_table_linked_out_of_the_data_folder_is_refused_and_nothing_outside_changes(
    tmp_path, linked
):
    """A link inside ``data/`` (a teammate's, or left by a script) leading out of the project:
    the write is refused in one line and the file or folder outside is left as it was. (The
    data folder itself may be anywhere: LOCAL_DATA_DIR.)"""
    project = new_project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "example.parquet").write_bytes(b"a user's file, not Polster's")
    silver = project / "data" / "silver"
    if linked == "the table's file":
        silver.mkdir(parents=True, exist_ok=True)
        (silver / "example.parquet").symlink_to(outside / "example.parquet")
    else:
        shutil.rmtree(silver, ignore_errors=True)
        silver.parent.mkdir(parents=True, exist_ok=True)
        silver.symlink_to(outside, target_is_directory=True)
    before = tree_hash(outside)
    result = subprocess.run(
        [str(Path(POLSTER).parent / "python"), "run_polster.py"],
        cwd=project,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert_one_line_error(result, "leads out of the data folder", "nothing was written")
    assert tree_hash(outside) == before
