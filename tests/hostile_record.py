"""Hostile cases of issue 25's class 2 (the record, ``.polster/generated.json``, is validated at
one boundary) and of class 1's ``.env`` bullet (one ``.env`` reader, the last value wins).

A teammate's pulled commit brings a malformed record: every command that reads it (upgrade,
add-asset, remove-asset, enable, check) refuses it in one line that names the file and the field,
exits non-zero without a traceback and writes nothing. Collected by ``tests/hostile.py``.
"""

from __future__ import annotations

import json
import subprocess
from contextlib import ExitStack
from pathlib import Path

from hostile import PROJECT, Case, project_of

RECORD = ".polster/generated.json"
LAYERS = ("bronze", "silver", "gold")
ADDED = {
    "layer": "bronze",
    "name": "orders",
    "template": "default",
    "deps": [],
    "partitions": "daily",
    "start": "2026-01-01",
    "partitioned_upstream": [],
}


def record_edit(change):
    """A prepare step: ``change(data)`` edits the parsed record (or returns a new one)."""

    def prepare(folder: Path, stack: ExitStack) -> None:
        path = project_of(folder) / RECORD
        data = json.loads(path.read_text(encoding="utf-8"))
        replaced = change(data)
        data = data if replaced is None else replaced
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")

    return prepare


def record_text(change):
    """A prepare step: ``change(text)`` returns the record's new text."""

    def prepare(folder: Path, stack: ExitStack) -> None:
        path = project_of(folder) / RECORD
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")

    return prepare


def with_asset(**fields):
    """The record with one added asset, ``fields`` set on it (None: the field removed)."""

    def change(data):
        asset = {**ADDED, **fields}
        data["answers"]["assets"].append({k: v for k, v in asset.items() if v is not None})

    return change


def answers(**fields):
    def change(data):
        data["answers"].update(fields)

    return change


def deep(levels: int):
    def change(text: str) -> str:
        nested = "[" * levels + "]" * levels
        return text.replace('"other_platforms": []', f'"other_platforms": {nested}', 1)

    return change


def victim_file(folder: Path, stack: ExitStack) -> None:
    (folder / "victim.txt").write_text("my notes\n", encoding="utf-8")


def victim_kept(folder: Path, result: subprocess.CompletedProcess) -> list[str]:
    victim = folder / "victim.txt"
    if not victim.is_file() or victim.read_text(encoding="utf-8") != "my notes\n":
        return ["victim.txt outside the project was changed"]
    return []


def outside(rel: str):
    def change(data):
        data["files"][rel] = ["my notes\n"]

    return change


def names_field(field: str):
    """A check: the one line names the record and ``field``."""

    def check(folder: Path, result: subprocess.CompletedProcess) -> list[str]:
        if RECORD not in result.stderr or field not in result.stderr:
            return [f"the line does not name {RECORD} and {field}"]
        return []

    return check


UPGRADE = ["polster", "upgrade", "--no-input"]
ADD = ["polster", "add-asset", "--layer", "bronze", "--name", "fresh", "--no-input"]
REMOVE = ["polster", "remove-asset", "--layer", "gold", "--name", "example", "--no-input"]
ENABLE = ["polster", "enable", "github"]  # with the installed plugins
CHECK = ["polster", "check"]
PLUGINS = {"POLSTER_DISABLE_PLUGIN_AUTOLOAD": None}


def cases() -> list[Case]:
    found = []
    malformed = [
        ("the record is []", record_edit(lambda d: []), "the record"),
        ("files is a list", record_edit(lambda d: d.update(files=[])), "files"),
        ("plugins is a list", record_edit(lambda d: d.update(plugins=["x"])), "plugins"),
        ("deps is a string", record_edit(with_asset(deps="run_bronze_x")), "deps"),
        ("an asset without template", record_edit(with_asset(template=None)), "template"),
        ("partitions yearly", record_edit(with_asset(partitions="yearly")), "partitions"),
        ("unknown layer", record_edit(with_asset(layer="platinum")), "layer"),
        ("100,000-deep nesting", record_text(deep(100_000)), "other_platforms"),
        ('answers.name evil"name', record_edit(answers(name='evil"name')), "answers.name"),
        ("start not-a-date", record_edit(with_asset(start="not-a-date")), "start"),
        ("start 2026-02-30", record_edit(with_asset(start="2026-02-30")), "start"),
        ("assets is an object", record_edit(answers(assets={})), "assets"),
        ("a file's lines are numbers", record_edit(outside_numbers), "files"),
        ("format 2", record_edit(lambda d: d.update(format=2)), "format"),
        ("not JSON", record_text(lambda t: t[: len(t) // 2]), "JSON"),
        (".env among the files", record_edit(outside(".env")), ".env"),
        (".git/config among the files", record_edit(outside(".git/config")), ".git/config"),
        ("an unknown field", record_edit(answers(colour="red")), "colour"),
    ]
    commands = [("upgrade", UPGRADE), ("add-asset", ADD), ("remove-asset", REMOVE)]
    commands += [("enable", ENABLE), ("check", CHECK)]
    for shown, prepare, field in malformed:
        for command, argv in commands:
            found.append(
                Case(
                    f"record {shown}: {command}",
                    argv,
                    prepare=prepare,
                    check=names_field(field),
                    env=PLUGINS if command == "enable" else {},
                )
            )
    for shown, rel in [("../victim.txt", "../victim.txt"), ("an absolute path", None)]:
        for command, argv in commands:

            def prepare(folder: Path, stack: ExitStack, rel=rel) -> None:
                victim_file(folder, stack)
                target = rel or str(folder / "victim.txt")
                record_edit(outside(target))(folder, stack)

            found.append(
                Case(
                    f"record files names {shown}: {command}",
                    argv,
                    prepare=prepare,
                    env=PLUGINS if command == "enable" else {},
                    check=_checks(victim_kept, names_field("files")),
                )
            )
    found.append(not_utf8())
    for command, argv in commands:
        found.append(
            Case(
                f"record a link to a file outside: {command}",
                argv,
                prepare=link_outside,
                check=_checks(victim_kept, names_field("regular file")),
                env=PLUGINS if command == "enable" else {},
            )
        )
    found.append(Case("record a folder: upgrade", UPGRADE, prepare=record_folder))
    # .env is read by the one reader, by check too (which warns about a setting given twice).
    found.append(
        Case("env not UTF-8: check", CHECK, prepare=latin1_env, check=names(".env", "UTF-8"))
    )
    # A committed pyproject.toml nested 100,000 deep (tomllib recursed into a RecursionError).
    for command, argv in [("check", CHECK), ("add-asset", ADD)]:
        found.append(
            Case(
                f"pyproject 100,000-deep nesting: {command}",
                argv,
                prepare=deep_pyproject,
                check=names("pyproject.toml", "deeply"),
            )
        )
    return found


def deep_pyproject(folder: Path, stack: ExitStack) -> None:
    path = project_of(folder) / "pyproject.toml"
    deep = "[" * 100_000 + "]" * 100_000
    path.write_text(path.read_text(encoding="utf-8") + f"\n[tool.deep]\nx = {deep}\n", "utf-8")


def latin1_env(folder: Path, stack: ExitStack) -> None:
    path = project_of(folder) / ".env"
    path.write_bytes(path.read_bytes() + b"OWNER=Jos\xe9\nOWNER=x\n")


def link_outside(folder: Path, stack: ExitStack) -> None:
    """The record replaced by a link to a user's file outside the project."""
    victim_file(folder, stack)
    path = project_of(folder) / RECORD
    path.unlink()
    path.symlink_to(folder / "victim.txt")


def record_folder(folder: Path, stack: ExitStack) -> None:
    path = project_of(folder) / RECORD
    path.unlink()
    path.mkdir()
    (path / "keep.txt").write_text("x", encoding="utf-8")


def outside_numbers(data):
    data["files"]["README.md"] = [1, 2, 3]


def not_utf8() -> Case:
    def prepare(folder: Path, stack: ExitStack) -> None:
        path = project_of(folder) / RECORD
        path.write_bytes(path.read_bytes().replace(b'"dna-platform"', b'"dna-\xff"', 1))

    return Case("record not UTF-8: upgrade", UPGRADE, prepare=prepare, check=names_field("UTF-8"))


def names(*words: str):
    def check(folder: Path, result: subprocess.CompletedProcess) -> list[str]:
        return [f"the line does not name {w}" for w in words if w not in result.stderr]

    return check


def _checks(*checks):
    def check(folder: Path, result: subprocess.CompletedProcess) -> list[str]:
        return [problem for one in checks for problem in one(folder, result)]

    return check


__all__ = ["PROJECT", "cases"]
