"""Property test of `polster upgrade`: over many random sets of user edits of a project made
with "polster A", upgrading to "B" loses none of them, applies B's changes wherever the user did
not touch the same lines, and a second upgrade changes nothing.

The upgrade runs in-process (upgrade_plan + Plan.apply, what the command does); the end-to-end
CLI runs are in test_upgrade.py. POLSTER_UPGRADE_EXAMPLES sets the number of edit sets (100).
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polster_core.errors import PolsterError
from polster_core.plugins import Plugins
from polster_core.project.merge import BASE, END, MIDDLE, START
from polster_core.project.model import load_project
from polster_core.project.record import read_record
from polster_core.project.render import OVERLAY_ENV
from polster_core.project.upgrade import generate, upgrade_plan
from polster_core.testing.projects import run_polster, tree_hash

from .upgrade_helpers import make_overlay

EXAMPLES = int(os.environ.get("POLSTER_UPGRADE_EXAMPLES", "100"))
STATS = {
    "edit_sets": 0,
    "user_edits": 0,
    "lost": 0,
    "conflicted_files": 0,
    "merged_files": 0,
    "refused": 0,
}
LOST: list[str] = []


@pytest.fixture(scope="module")
def release_a(tmp_path_factory) -> Path:
    parent = tmp_path_factory.mktemp("property-a")
    for args in (
        ("init", "shop", "--no-git", "--no-setup"),
        ("add-asset", "-l", "bronze", "-n", "orders", "--path", "shop"),
        ("add-asset", "-l", "silver", "-n", "clean_orders", "-d", "orders", "--path", "shop"),
    ):
        result = run_polster(*args, cwd=parent)
        assert result.returncode == 0, result.stderr
    return parent / "shop"


@pytest.fixture(scope="module")
def overlay(tmp_path_factory) -> Path:
    return make_overlay(tmp_path_factory.mktemp("property-b"))


def user_view(text: str) -> list[str]:
    """The lines a user sees as theirs: outside conflict blocks, plus each block's "yours"."""
    view, state = [], "out"
    for line in text.splitlines(keepends=True):
        mark = line.split(" ", 1)[0].rstrip("\n")
        if state == "out" and mark == START:
            state = "yours"
        elif state == "yours" and mark == BASE:
            state = "skip"
        elif state in ("yours", "skip") and mark == MIDDLE:
            state = "skip"
        elif state == "skip" and mark == END:
            state = "out"
        elif state in ("out", "yours"):
            view.append(line)
    return view


def template_lines(old: str, new: str) -> list[str]:
    """Lines B's text has that A's had not (inserted or replacing)."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    added = []
    for op, _, _, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("insert", "replace"):
            added.extend(b[j1:j2])
    return added


EDIT = st.tuples(
    st.sampled_from(["insert", "delete", "replace", "delete_file", "new_file"]),
    st.integers(0, 10_000),  # which file
    st.integers(0, 10_000),  # which line
    st.booleans(),  # prefer a file B changes
)


def run_property(release_a: Path, overlay: Path) -> None:
    plugins = Plugins(autoload=False)
    base_files = read_record(release_a).files
    project = load_project(release_a)
    os.environ[OVERLAY_ENV] = str(overlay)
    try:
        new_files = generate(project, read_record(release_a).answers, plugins)
    finally:
        os.environ.pop(OVERLAY_ENV)
    changed = sorted(r for r in new_files if base_files.get(r) != new_files[r] and r in base_files)
    every = sorted(base_files)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.lists(EDIT, min_size=1, max_size=8))
    def check(edits):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "shop"
            shutil.copytree(release_a, root)
            expect_present: dict[str, list[str]] = {}
            expect_absent: dict[str, list[str]] = {}
            deleted_files, new_user_files, touched = set(), {}, set()
            for n, (kind, which, where, prefer_changed) in enumerate(edits):
                pool = changed if prefer_changed and changed else every
                rel = pool[which % len(pool)]
                path = root / rel
                STATS["user_edits"] += kind == "new_file" or path.exists()
                if kind == "new_file":
                    name = f"notes/user_{n}.txt"
                    (root / "notes").mkdir(exist_ok=True)
                    (root / name).write_text(f"user file {n}\n")
                    new_user_files[name] = f"user file {n}\n"
                    continue
                if not path.exists():
                    continue
                touched.add(rel)
                if kind == "delete_file":
                    path.unlink()
                    deleted_files.add(rel)
                    continue
                lines = path.read_text().splitlines(keepends=True)
                unique = f"# user edit {n} of {rel}\n"
                at = where % (len(lines) + 1)
                if kind == "insert":
                    lines.insert(at, unique)
                    expect_present.setdefault(rel, []).append(unique)
                elif lines:
                    at = min(at, len(lines) - 1)
                    gone = lines.pop(at)
                    expect_absent.setdefault(rel, []).append(gone)
                    if kind == "replace":
                        lines.insert(at, unique)
                        expect_present.setdefault(rel, []).append(unique)
                path.write_text("".join(lines))
            user = {
                r: (root / r).read_text() for r in every if (root / r).is_file() and r in touched
            }
            STATS["edit_sets"] += 1

            os.environ[OVERLAY_ENV] = str(overlay)
            before = tree_hash(root)
            try:
                try:
                    result = upgrade_plan(load_project(root), plugins)
                except PolsterError:  # e.g. the user broke pyproject.toml: refused, no change
                    assert tree_hash(root) == before
                    STATS["refused"] += 1
                    return
                result.plan.apply()
                again = upgrade_plan(load_project(root), plugins)
            finally:
                os.environ.pop(OVERLAY_ENV)
            assert again.plan.ops == [], [op.path for op in again.plan.ops]

            lost = []
            for rel in deleted_files:
                if (root / rel).exists():
                    lost.append(f"{rel}: deleted by the user, back again")
            for name, text in new_user_files.items():
                if (root / name).read_text() != text:
                    lost.append(f"{name}: the user's own file changed")
            for rel, wanted in expect_present.items():
                if rel in deleted_files:
                    continue
                view = user_view((root / rel).read_text())
                for line in wanted:
                    if line not in view and not any(line in x for x in expect_absent.get(rel, [])):
                        lost.append(f"{rel}: lost the user's line {line!r}")
            for rel, gone in expect_absent.items():
                if rel in deleted_files:
                    continue
                view = user_view((root / rel).read_text())
                for line in set(gone):
                    allowed = user[rel].count(line) + max(
                        0, new_files.get(rel, "").count(line) - base_files[rel].count(line)
                    )
                    if view.count(line) > allowed:
                        lost.append(f"{rel}: a line the user deleted is back: {line!r}")
            conflicted = {c.rel for c in result.changes if c.status == "conflict"}
            STATS["conflicted_files"] += len(conflicted)
            STATS["merged_files"] += sum(c.status == "merge" for c in result.changes)
            for rel, text in new_files.items():
                path = root / rel
                if rel not in touched and rel not in deleted_files:
                    # Untouched by the user: exactly what B generates.
                    assert path.read_text() == text, rel
                elif path.is_file() and rel not in conflicted and rel in base_files:
                    got = path.read_text()
                    for line in template_lines(base_files[rel], text):
                        assert line in got, f"{rel}: B's line {line!r} not applied"
            STATS["lost"] += len(lost)
            LOST.extend(lost)

    check()


def test_no_user_edit_is_ever_lost(release_a, overlay, capsys):
    run_property(release_a, overlay)
    with capsys.disabled():
        print(
            f"\nupgrade property: {STATS['edit_sets']} edit sets, {STATS['user_edits']} user "
            f"edits, {STATS['lost']} lost; {STATS['merged_files']} files merged, "
            f"{STATS['conflicted_files']} with conflicts; {STATS['refused']} refused (nothing "
            "changed)"
        )
    assert STATS["edit_sets"] >= EXAMPLES
    assert LOST == []
