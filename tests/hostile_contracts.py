"""Hostile cases of issue 30 (data contracts): a bad policy, in the record or in a core file, a
quarantine table that is a link out of the project, and `polster contract infer` on what is
not there or not a name. Each is refused in one line, exits non-zero without a traceback and
leaves every file as it was (nothing is written outside the project). Collected by
``tests/hostile.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from hostile import Case, env_for, project_of

SILVER = "src/core/silver_example.py"
RUN = ["python", "run_polster.py", "--select", "run_silver_example"]
SCRIPT = ["python", SILVER]
CHECK = ["polster", "check"]
# The silver example's amounts run up to 72: `max=40` breaks 118 rows.
CONTRACT = """

import dataframely as dy  # noqa: E402

CONTRACT_POLICY = {policy}


class Contract(dy.Schema):
    event_id = dy.Int64(primary_key=True)
    user_id = dy.Int64()
    email = dy.String()
    event_type = dy.String()
    amount = dy.Float64(nullable=True, min=0, max=40)
    timestamp = dy.Datetime()
    date = dy.Date()
"""
VICTIM = b"my notes, not a parquet file\n"


def bronze_written(folder: Path, stack: ExitStack) -> None:
    """The bronze example stored (what the silver example reads), by its own script."""
    subprocess.run(
        [sys.executable, "src/core/bronze_example.py"],
        cwd=project_of(folder),
        env=env_for(folder, {}),
        capture_output=True,
        check=True,
    )


def contract(policy: str, extra: str = ""):
    """The silver example's core file with a contract under ``policy`` (Python source)."""

    def prepare(folder: Path, stack: ExitStack) -> None:
        bronze_written(folder, stack)
        core = project_of(folder) / SILVER
        text = core.read_text(encoding="utf-8")
        core.write_text(text + CONTRACT.format(policy=policy) + extra, encoding="utf-8")

    return prepare


def victim(folder: Path) -> Path:
    path = folder / "victim.parquet"
    if not path.exists():
        path.write_bytes(VICTIM)
    return path


def rejected_link(to_folder: bool = False, dangling: bool = False, loop: bool = False):
    """``data/silver/example__rejected.parquet`` (or the partition folder
    ``example__rejected``) a link to a user's file (folder) outside the project."""

    def prepare(folder: Path, stack: ExitStack) -> None:
        contract('"quarantine"')(folder, stack)
        data = project_of(folder) / "data" / "silver"
        data.mkdir(parents=True, exist_ok=True)
        if loop:
            (data / "example__rejected.parquet").symlink_to("example__rejected.parquet")
        elif to_folder:
            outside = folder / "outside"
            outside.mkdir()
            (outside / "keep.txt").write_bytes(VICTIM)
            (data / "example__rejected").symlink_to(outside, target_is_directory=True)
        else:
            target = folder / "gone.parquet" if dangling else victim(folder)
            (data / "example__rejected.parquet").symlink_to(target)

    return prepare


def outside_kept(folder: Path, result: subprocess.CompletedProcess) -> list[str]:
    problems = []
    path = folder / "victim.parquet"
    if path.exists() and path.read_bytes() != VICTIM:
        problems.append("victim.parquet outside the project was written")
    if (folder / "gone.parquet").exists():
        problems.append("gone.parquet was created outside the project")
    outside = folder / "outside"
    if outside.exists() and sorted(p.name for p in outside.iterdir()) != ["keep.txt"]:
        problems.append("the folder outside the project was written")
    return problems


def says(*words: str, out: bool = False):
    """A check: the one line (or, ``out``, what went to stdout) says each of ``words``."""

    def check(folder: Path, result: subprocess.CompletedProcess) -> list[str]:
        text = result.stdout if out else result.stderr
        return [f"{'stdout' if out else 'the line'} does not say {w!r}" for w in words
                if w not in text]  # fmt: skip

    return check


def with_checks(*checks):
    def check(folder: Path, result: subprocess.CompletedProcess) -> list[str]:
        return [problem for one in checks for problem in one(folder, result)]

    return check


def record_asset(**fields):
    """The record with the silver example's entry given ``fields`` (a teammate's edit)."""

    def prepare(folder: Path, stack: ExitStack) -> None:
        path = project_of(folder) / ".polster" / "generated.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["answers"].setdefault("assets", []).append(
            {"layer": "silver", "name": "orders", "template": "default", **fields}
        )
        path.write_text(json.dumps(data, indent=1), encoding="utf-8")

    return prepare


def corrupt_table(folder: Path, stack: ExitStack) -> None:
    path = project_of(folder) / "data" / "silver" / "example.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PAR1 not really parquet")


def cases() -> list[Case]:
    found = []
    # A teammate's record names a contract policy: no such field (the contract lives in the
    # core file), refused by every command that reads the record.
    for shown, fields in [
        ("a contract_policy", {"contract_policy": "drop table"}),
        ("a contract path", {"contract": "../../etc/passwd"}),
    ]:
        for command, argv in [
            ("check", CHECK),
            ("upgrade", ["polster", "upgrade", "--no-input"]),
            ("add-asset", ["polster", "add-asset", "-l", "bronze", "-n", "x", "--no-input"]),
        ]:
            found.append(
                Case(
                    f"contracts: record with {shown}: {command}",
                    argv,
                    prepare=record_asset(**fields),
                    check=says(".polster/generated.json", next(iter(fields))),
                )
            )
    # A core file whose policy or contract is not one Polster knows.
    bad_policies = [
        ("unknown", '"sometimes"'),
        ("path-like", '"../../etc/passwd"'),
        ("a list", '["quarantine"]'),
        ("None", "None"),
        ("10,000 characters", '"' + "x" * 10_000 + '"'),
    ]
    for shown, policy in bad_policies:
        for how, argv in [("run", RUN), ("script", SCRIPT)]:
            found.append(
                Case(
                    f"contracts: CONTRACT_POLICY {shown}: {how}",
                    argv,
                    prepare=contract(policy),
                    check=says("CONTRACT_POLICY"),
                )
            )
        if policy.startswith('"'):  # a constant: known without running anything
            found.append(
                Case(
                    f"contracts: CONTRACT_POLICY {shown}: check",
                    CHECK,
                    prepare=contract(policy),
                    # The problems go to stdout, their count to stderr.
                    check=with_checks(says("problem"), says("CONTRACT_POLICY", SILVER, out=True)),
                )
            )
    found.append(
        Case(
            "contracts: CONTRACT not a schema: script",
            SCRIPT,
            prepare=contract('"fail"', "\nCONTRACT = 42\n"),
            check=says("dataframely schema"),
        )
    )
    # The quarantine table a link out of the project: nothing is written, there or here.
    for shown, prepare in [
        ("a link to a user's file", rejected_link()),
        ("a dangling link out", rejected_link(dangling=True)),
        ("a partition folder linked out", rejected_link(to_folder=True)),
        ("a link to itself", rejected_link(loop=True)),
    ]:
        for how, argv in [("run", RUN), ("script", SCRIPT)]:
            found.append(
                Case(
                    f"contracts: __rejected is {shown}: {how}",
                    argv,
                    prepare=prepare,
                    check=with_checks(outside_kept, says("leads out of the data folder")),
                )
            )
    # `polster contract infer` on what is not there, or not a layer or name.
    infer = ["polster", "contract", "infer"]
    for shown, args, prepare, words in [
        ("a table never stored", ["silver", "example"], None, ("no stored table yet",)),
        ("an asset that does not exist", ["silver", "nosuch"], None, ("does not exist",)),
        ("a path-like layer", ["../../etc", "example"], None, ("layer",)),
        ("a path-like name", ["silver", "../../victim"], None, ("name",)),
        ("a name with a slash", ["silver", "a/b"], None, ("name",)),
        ("a name with a NUL-free shell", ["silver", "x;rm -rf ~"], None, ("name",)),
        ("an empty name", ["silver", ""], None, ("name",)),
        ("a 300-character name", ["silver", "n" * 300], None, ("name",)),
        ("a stored table that is not parquet", ["silver", "example"], corrupt_table, ("silver",)),
        ("--path to a missing folder", ["silver", "example", "--path", "/nonexistent/p"], None,
         ("/nonexistent/p",)),
    ]:  # fmt: skip
        found.append(
            Case(
                f"contracts: infer {shown}",
                [*infer, *args],
                prepare=prepare,
                check=says(*words),
            )
        )
    return found
