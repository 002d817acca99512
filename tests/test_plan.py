"""Plans apply all-or-nothing: a failure restores every file and directory."""

from __future__ import annotations

import pytest

from polster_core.project.plan import Plan
from polster_core.testing.projects import tree_hash


def test_apply_creates_updates_and_deletes(tmp_path):
    (tmp_path / "old.txt").write_text("old")
    (tmp_path / "gone.txt").write_text("bye")
    plan = Plan(tmp_path)
    plan.create("new/dir/file.txt", "new")
    plan.update("old.txt", "changed")
    plan.delete("gone.txt")
    plan.apply()
    assert (tmp_path / "new/dir/file.txt").read_text() == "new"
    assert (tmp_path / "old.txt").read_text() == "changed"
    assert not (tmp_path / "gone.txt").exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["dir", "file.txt", "new", "old.txt"]


def test_failure_part_way_restores_everything(tmp_path):
    (tmp_path / "old.txt").write_text("old")
    (tmp_path / "gone.txt").write_text("bye")
    before = tree_hash(tmp_path)
    plan = Plan(tmp_path)
    plan.create("a/b.txt", "x")
    plan.update("old.txt", "changed")
    plan.delete("gone.txt")
    plan.create("old.txt/child.txt", "cannot: old.txt is a file")
    with pytest.raises(OSError):
        plan.apply()
    assert tree_hash(tmp_path) == before


def test_refuses_to_create_over_an_existing_file(tmp_path):
    (tmp_path / "here.txt").write_text("mine")
    plan = Plan(tmp_path)
    plan.create("other.txt", "x")
    plan.create("here.txt", "theirs")
    with pytest.raises(FileExistsError):
        plan.apply()
    assert (tmp_path / "here.txt").read_text() == "mine"
    assert not (tmp_path / "other.txt").exists()
