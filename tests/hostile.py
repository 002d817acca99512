"""A hostile run: many bad inputs against the ``polster`` CLI and a generated project.

    python tests/hostile.py            # with the Python whose polster is to be tried
    python tests/hostile.py -v         # also show what each case that did not hold printed

Each case makes one mistake a user can make (a bad name, option or file, a storage failure, a
full or read-only disk) and checks that it *held*: exactly one line on stderr, a non-zero exit,
no traceback, and the files as they were (Dagster's own ``.dagster/`` aside). It prints one line
per case and ends with "N tried, M held". Cases that need root (a tmpfs) or a moto server are
left out, and said so, where those cannot be had. Not a pytest file: a measure, like bench/.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

# The cases of each class live beside this file, in hostile_<class>.py, each with a cases()
# function; they import this module as ``hostile`` (also when it runs as a script).
sys.modules.setdefault("hostile", sys.modules[__name__])
sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import fill, tmpfs  # noqa: E402  (tests/helpers.py, beside this file)

from polster_core.testing import servers  # noqa: E402
from polster_core.testing.servers import free_port  # noqa: E402,F401  (hostile_*.py use it)
from polster_core.testing.tools import ToolMissing  # noqa: E402

BIN = Path(sys.executable).parent
POLSTER = str(BIN / "polster")
PROJECT = "dna-platform"
GOLD = "run_gold_example"


@dataclass
class Case:
    name: str
    argv: list[str]  # "polster ..." or "python ..." (run with this Python)
    where: str = "project"  # "project": a fresh copy of the generated project; "empty": a folder
    env: dict[str, str | None] = field(default_factory=dict)
    prepare: Callable[[Path, ExitStack], None] | None = None
    cwd: str = "."  # relative to where the case runs
    # Further problems to report, from the folder the case ran in and what it printed (e.g. a
    # file outside the project changed); [] when all is well.
    check: Callable[[Path, subprocess.CompletedProcess], list[str]] | None = None
    exit_code: int | None = None  # the exact exit code expected (default: any non-zero)
    # Runs the command instead of a plain run to its end (e.g. to signal it part-way):
    # run(command, cwd, env) -> CompletedProcess.
    run: Callable[[list[str], Path, dict[str, str]], subprocess.CompletedProcess] | None = None


def env_for(folder: Path, extra: dict[str, str | None]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLSTER_", "DAGSTER_"))}
    env.pop("VIRTUAL_ENV", None)
    env.update(
        POLSTER_DISABLE_PLUGIN_AUTOLOAD="1",
        PYTHONPATH=str(folder / PROJECT / "src"),
        PYTHONDONTWRITEBYTECODE="1",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def tree(root: Path) -> dict[str, str]:
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if ".dagster" in rel.split("/") or "__pycache__" in rel.split("/"):
            continue
        if path.is_dir():
            found[rel + "/"] = "dir"
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


# Disks and servers ---------------------------------------------------------------------------


class Unavailable(Exception):
    """What a case needs cannot be had here (not root, no moto)."""


def start_moto(check_keys: bool = False):
    """A moto S3 server of its own (``server.endpoint``), stopped by its PID (``stop()``)."""
    return servers.start_moto({"INITIAL_NO_AUTH_ACTION_COUNT": "0"} if check_keys else None)


# The cases -------------------------------------------------------------------------------------


def project_of(folder: Path) -> Path:
    return folder / PROJECT


def edit(rel: str, old: str, new: str):
    def prepare(folder: Path, stack: ExitStack) -> None:
        path = project_of(folder) / rel
        path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")

    return prepare


def append_bytes(rel: str, data: bytes):
    def prepare(folder: Path, stack: ExitStack) -> None:
        path = project_of(folder) / rel
        path.write_bytes(path.read_bytes() + data)

    return prepare


def replace_with_dir(rel: str):
    def prepare(folder: Path, stack: ExitStack) -> None:
        path = project_of(folder) / rel
        path.unlink()
        path.mkdir()

    return prepare


def write_file(rel: str, data: bytes):
    def prepare(folder: Path, stack: ExitStack) -> None:
        path = project_of(folder) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    return prepare


def both(*steps):
    def prepare(folder: Path, stack: ExitStack) -> None:
        for step in steps:
            step(folder, stack)

    return prepare


def disk_at(rel: str, size: str, read_only: bool = False, full: bool = False, then=None):
    def prepare(folder: Path, stack: ExitStack) -> None:
        where = folder / rel
        disk = stack.enter_context(tmpfs(where, size, read_only=read_only))
        if full:
            fill(disk)
        if then:
            then(where)

    return prepare


def dagster_config(home: Path) -> None:
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    fill(home)


S3 = {
    "POLSTER_DISABLE_PLUGIN_AUTOLOAD": None,
    "STORAGE_BACKEND": "s3",
    "S3_BUCKET": "polster",
    "S3_REGION": "us-east-1",
    "S3_ACCESS_KEY_ID": "hostile",
    "S3_SECRET_ACCESS_KEY": "hostile-secret",
    "S3_MAX_RETRIES": "0",
}


def moto_env(check_keys: bool, bucket: str):
    """A prepare step that starts moto and points S3_ENDPOINT_URL at it (through .env)."""

    def prepare(folder: Path, stack: ExitStack) -> None:
        server = start_moto(check_keys)
        stack.callback(server.stop)
        env = project_of(folder) / ".env"
        lines = [f"S3_ENDPOINT_URL={server.endpoint}", f"S3_BUCKET={bucket}"]
        env.write_text(env.read_text(encoding="utf-8") + "\n".join(lines) + "\n", "utf-8")

    return prepare


def cases() -> list[Case]:
    init = ["polster", "init"]
    quiet = ["--no-git", "--no-setup"]
    add = ["polster", "add-asset"]
    run = ["python", "run_polster.py"]
    bronze = ["python", "src/core/bronze_example.py"]
    silver = ["python", "src/core/silver_example.py"]
    found = []
    # Names.
    for shown, name in [
        ("empty", ""),
        ("digit first", "1abc"),
        ("slash", "a/b"),
        ("dot-dot", "../escape"),
        ("newline", "dna\nplatform"),
        ("escape sequence", "dna\x1b[31mred"),
        ("keyword", "class"),
        ("space", "dna platform"),
        ("very long", "x" * 300),
        ("bidi override", "dna\u202eevil"),
        ("existing project", PROJECT),
    ]:
        found.append(Case(f"init name: {shown}", [*init, name, *quiet], where="project-parent"))
    for shown, name in [
        ("dash", "bad-name"),
        ("empty", ""),
        ("newline", "a\nb"),
        ("dot-dot", "../x"),
        ("keyword", "import"),
        ("duplicate", "example"),
        ("upper case", "Orders"),
        ("escape sequence", "x\x1b[2J"),
    ]:
        found.append(Case(f"add-asset name: {shown}", [*add, "--layer", "bronze", "--name", name]))
    found += [
        Case("add-asset layer: platinum", [*add, "--layer", "platinum", "--name", "x"]),
        Case("add-asset layer: newline", [*add, "--layer", "bron\nze", "--name", "x"]),
        Case("add-asset template: unknown", [*add, "-l", "bronze", "-n", "x", "-t", "nope"]),
        Case("add-asset deps: unknown", [*add, "-l", "silver", "-n", "x", "-d", "nothing"]),
        Case("add-asset deps: layer rule", [*add, "-l", "silver", "-n", "x", "-d", GOLD]),
        Case("remove-asset: unknown", ["polster", "remove-asset", "-l", "bronze", "-n", "nope"]),
        Case("remove-asset: newline", ["polster", "remove-asset", "-l", "bronze", "-n", "a\nb"]),
    ]
    # Options.
    found += [
        Case("init --storage unknown", [*init, "x", *quiet, "--storage", "nope"], where="empty"),
        Case(
            "init --storage not installed", [*init, "x", *quiet, "--storage", "s3"], where="empty"
        ),
        Case("init --platform unknown", [*init, "x", *quiet, "--platform", "nope"], where="empty"),
        Case(
            "init --path missing", [*init, "x", *quiet, "--path", "/nonexistent/dir"], where="empty"
        ),
        Case(
            "init --remote-url without git",
            [*init, "x", "--no-git", "--no-setup", "--remote-url", "https://example.com/x.git"],
            where="empty",
        ),
        Case(
            "init --create-remote without platform",
            [*init, "x", "--git", "--no-setup", "--create-remote"],
            where="empty",
        ),
        Case("init: unknown option", [*init, "x", "--frobnicate"], where="empty"),
        Case("init --storage without value", [*init, "x", "--storage"], where="empty"),
        Case("unknown command", ["polster", "nonsense"], where="empty"),
        Case("list: unknown option", ["polster", "list", "--bogus"]),
        Case("list outside a project", ["polster", "list"], where="empty"),
        Case("run --port 99999", [*run, "--ui", "--port", "99999"]),
        Case("run --port 65536", [*run, "--ui", "--port", "65536"]),
        Case("run --port 0", [*run, "--ui", "--port", "0"]),
        Case("run --port -1", [*run, "--ui", "--port", "-1"]),
        Case("run --port abc", [*run, "--ui", "--port", "abc"]),
        Case("run POLSTER_UI_PORT=abc", [*run, "--ui"], env={"POLSTER_UI_PORT": "abc"}),
        Case("run --host unresolvable", [*run, "--ui", "--host", "no-such-host.invalid"]),
        Case("run --host with newline", [*run, "--ui", "--host", "local\nhost"]),
        Case("run --workers -1", [*run, "--workers", "-1"]),
        Case("run --workers abc", [*run, "--workers", "abc"]),
        Case("run --select unknown", [*run, "--select", "run_nothing"]),
        Case("run: unknown option", [*run, "--bogus"]),
    ]
    # Files.
    found += [
        Case(
            "pyproject not TOML: list",
            ["polster", "list"],
            prepare=append_bytes("pyproject.toml", b"\n[tool.polster\n"),
        ),
        Case(
            "pyproject not TOML: add-asset",
            [*add, "-l", "bronze", "-n", "x"],
            prepare=append_bytes("pyproject.toml", b"\nname = = 1\n"),
        ),
        Case(
            "pyproject not UTF-8: check",
            ["polster", "check"],
            prepare=append_bytes("pyproject.toml", b"\n# caf\xe9\n"),
        ),
        Case(
            "registry not UTF-8: check",
            ["polster", "check"],
            prepare=append_bytes("src/orchestration/assets/silver/__init__.py", b"# \xe9\n"),
        ),
        Case(
            ".env.example not UTF-8: add-asset",
            [*add, "-l", "bronze", "-n", "x", "-t", "csv"],
            prepare=append_bytes(".env.example", b"# caf\xe9\n"),
        ),
        Case(
            "registry is a directory: add-asset",
            [*add, "-l", "silver", "-n", "x", "-d", "example"],
            prepare=replace_with_dir("src/orchestration/assets/silver/__init__.py"),
        ),
        Case(
            "core file is a directory: check",
            ["polster", "check"],
            prepare=replace_with_dir("src/core/silver_example.py"),
        ),
        Case(
            "storage not installed: check",
            ["polster", "check"],
            prepare=edit("pyproject.toml", 'storage = "local"', 'storage = "s3"'),
        ),
        Case(
            "storage unknown: check",
            ["polster", "check"],
            prepare=edit("pyproject.toml", 'storage = "local"', 'storage = "nope"'),
        ),
        Case(".env not UTF-8: run", run, prepare=append_bytes(".env", b"OWNER=Jos\xe9\n")),
        Case(".env not UTF-8: script", bronze, prepare=append_bytes(".env", b"OWNER=Jos\xe9\n")),
        Case(
            "cycle made by hand: run",
            run,
            prepare=edit(
                "src/orchestration/assets/bronze/run_bronze_example.py",
                "def run_bronze_example()",
                "def run_bronze_example(run_gold_example)",
            ),
        ),
    ]
    # Storage failures, in the example scripts and in the pipeline.
    damaged = write_file("data/bronze/example.parquet", b"event_id,email\n1,a@b.c\n")
    bronze_file = write_file("data/bronze", b"not a folder")
    data_file = write_file("data", b"not a folder")
    for label, argv in [("script", bronze), ("run", run)]:
        found += [
            Case(f"unknown STORAGE_BACKEND: {label}", argv, env={"STORAGE_BACKEND": "nope"}),
            Case(f"uninstalled STORAGE_BACKEND: {label}", argv, env={"STORAGE_BACKEND": "s3"}),
            Case(f"data/bronze is a file: {label}", argv, prepare=bronze_file),
            Case(f"data is a file: {label}", argv, prepare=data_file),
            Case(
                f"refused endpoint: {label}",
                argv,
                env={**S3, "S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"},
            ),
            Case(
                f"s3 without its settings: {label}",
                argv,
                env={**S3, "S3_BUCKET": "", "S3_ENDPOINT_URL": "http://127.0.0.1:9"},
            ),
            Case(
                f"missing bucket: {label}", argv, env=S3, prepare=moto_env(False, "no-such-bucket")
            ),
            Case(f"wrong keys: {label}", argv, env=S3, prepare=moto_env(True, "polster")),
            Case(
                f"full disk: {label}",
                argv,
                env={"LOCAL_DATA_DIR": "../disk"},
                prepare=disk_at("disk", "64k", full=True),
            ),
        ]
    found += [
        Case("missing upstream: script", silver),
        Case("damaged upstream: script", silver, prepare=damaged),
        Case(
            "bad flag: script",
            bronze,
            env={**S3, "S3_FALLBACK_TO_LOCAL": "maybe", "S3_ENDPOINT_URL": "http://127.0.0.1:9"},
        ),
    ]
    # Disks that refuse.
    found += [
        Case(
            "init into a read-only directory",
            [*init, "x", *quiet, "--path", "ro"],
            where="empty",
            prepare=disk_at("ro", "1m", read_only=True),
        ),
        Case(
            "init onto a full disk",
            [*init, "x", *quiet, "--path", "full"],
            where="empty",
            prepare=disk_at("full", "64k", full=True),
        ),
        Case(
            "run with .dagster on a full disk",
            run,
            prepare=disk_at(f"{PROJECT}/.dagster", "256k", then=dagster_config),
        ),
    ]
    for module in sorted(Path(__file__).resolve().parent.glob("hostile_*.py")):
        found += importlib.import_module(module.stem).cases()
    return found


# Running them ----------------------------------------------------------------------------------


def make_template(base: Path) -> Path:
    parent = base / "template"
    parent.mkdir()
    result = subprocess.run(
        [POLSTER, "init", PROJECT, "--no-git", "--no-setup"],
        cwd=parent,
        env=env_for(parent, {}),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        sys.exit(f"polster init failed: {result.stderr}")
    return parent / PROJECT


def try_case(
    case: Case, template: Path, base: Path
) -> tuple[str, str, subprocess.CompletedProcess | None]:
    folder = Path(tempfile.mkdtemp(dir=base))
    if case.where in ("project", "project-parent"):
        shutil.copytree(template, folder / PROJECT)
    with ExitStack() as stack:
        try:
            if case.prepare:
                case.prepare(folder, stack)
        except (Unavailable, ToolMissing) as exc:
            return "skipped", str(exc), None
        cwd = folder / PROJECT if case.where == "project" else folder
        before = tree(folder)
        program = POLSTER if case.argv[0] == "polster" else sys.executable
        if case.run is not None:
            result = case.run([program, *case.argv[1:]], cwd, env_for(folder, case.env))
            verdict = judge(case, folder, before, result)
        else:
            verdict = run_plain(case, folder, cwd, before, program)
    shutil.rmtree(folder, ignore_errors=True)
    return verdict


def run_plain(
    case: Case, folder: Path, cwd: Path, before: dict[str, str], program: str
) -> tuple[str, str, subprocess.CompletedProcess | None]:
    # In a session of its own: a case that was not refused (e.g. a UI that started) is
    # stopped with every process it started, by their group's id.
    process = subprocess.Popen(
        [program, *case.argv[1:]],
        cwd=cwd,
        env=env_for(folder, case.env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return "broke", "did not end within 120 s (killed)", None
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return judge(case, folder, before, result)


def judge(
    case: Case, folder: Path, before: dict[str, str], result: subprocess.CompletedProcess
) -> tuple[str, str, subprocess.CompletedProcess | None]:
    after = tree(folder)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    problems = []
    if case.exit_code is not None and result.returncode != case.exit_code:
        problems.append(f"exit code {result.returncode}, not {case.exit_code}")
    if result.returncode == 0:
        problems.append("exit code 0")
    if "Traceback" in result.stderr or "Traceback" in result.stdout:
        problems.append("traceback")
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr")
    if before != after:
        changed = sorted(set(before.items()) ^ set(after.items()))
        problems.append(f"files changed ({changed[0][0]}{', ...' if len(changed) > 1 else ''})")
    if case.check is not None:
        problems += case.check(folder, result)
    return (
        ("held", lines[0] if lines else "", result)
        if not problems
        else ("broke", "; ".join(problems), result)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="show what broke printed")
    parser.add_argument("-k", metavar="TEXT", help="only the cases whose name contains TEXT")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="polster-hostile-"))
    try:
        template = make_template(base)
        tried = held = 0
        for case in cases():
            if args.k and args.k not in case.name:
                continue
            outcome, detail, result = try_case(case, template, base)
            if outcome == "skipped":
                print(f"  skip   {case.name}: {detail}", flush=True)
                continue
            tried += 1
            held += outcome == "held"
            mark = "held " if outcome == "held" else "BROKE"
            print(f"  {mark}  {case.name}: {detail[:150]}", flush=True)
            if args.verbose and outcome == "broke" and result is not None:
                for line in (result.stderr.strip().splitlines() or ["(nothing on stderr)"])[-12:]:
                    print(f"           | {line}")
        print(f"{tried} tried, {held} held")
        return 0 if tried == held else 1
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
