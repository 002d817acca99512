"""Load a project's Dagster definitions as ``run_polster.py`` does, for ``polster check``.

``polster check`` stays free of Dagster: it runs this module with the project's own Python
(``.venv``, or the one running polster when the project has none yet), in a subprocess, in the
project's root with ``src`` on the path, and reads one JSON line back: ``{"ok": true}`` or the
error with the project file and line it came from. ``where_in_project`` names that file and
line for ``run_polster.py``'s own error too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

from ..secrets import mask

DEFINITIONS = "orchestration.definitions"
LOAD_TIMEOUT = 300  # seconds: a definitions module that takes longer is reported as such


def where_in_project(exc: BaseException, root: Path) -> str | None:
    """``src/core/x.py:12``: the last line of the project's own code that ``exc`` (or an
    exception it was raised from) passed through; None when it never did."""
    root = root.resolve()
    seen: set[int] = set()
    found = None
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SyntaxError) and current.filename and current.lineno:
            rel = _relative(current.filename, root)
            if rel:
                return f"{rel}:{current.lineno}"
        for frame in traceback.extract_tb(current.__traceback__):
            rel = _relative(frame.filename, root)
            if rel:
                found = f"{rel}:{frame.lineno}"
        if found:
            return found
        current = current.__cause__ or current.__context__
    return found


def _relative(filename: str, root: Path) -> str | None:
    try:
        path = Path(filename).resolve()
        rel = path.relative_to(root)
    except (OSError, ValueError):
        return None
    parts = rel.parts
    # The project's environments (.venv, a .venv.polster-new-* being built) and history.
    if not parts or parts[0].startswith(".venv") or parts[0] == ".dagster":
        return None
    return rel.as_posix()


def project_python(root: Path) -> str:
    """The project's own Python (``.venv``), or this one when it has none yet."""
    venv = root / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    return str(venv) if venv.is_file() else sys.executable


def load_problem(root: Path) -> tuple[tuple[str, str] | None, str | None]:
    """``(problem, note)``: where and why the definitions do not load (``("src/core/x.py:3",
    "NameError: ...")``; where is ``""`` when no file of the project is to blame), or a note
    when they could not be tried (no Dagster in the project's Python)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(root / "src")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("DAGSTER_HOME", str(root / ".dagster"))
    python = project_python(root)
    try:
        done = subprocess.run(
            [python, "-m", "polster_core.project.definitions_check"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=LOAD_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return ("", f"the definitions did not load within {LOAD_TIMEOUT} s"), None
    except OSError as exc:
        return None, f"the definitions were not loaded ({python}: {exc.strerror})"
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    try:
        answer = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        return None, f"the definitions were not loaded ({python}: {tail[:200]})"
    if answer.get("ok"):
        return None, None
    if answer.get("missing"):
        return None, (
            f"the definitions were not loaded: {python} has no {answer['missing']}: "
            "run `polster setup` to build the project's .venv"
        )
    return (answer.get("where") or "", answer["error"]), None


def main() -> int:
    """In the project's Python: import the definitions, print one JSON line."""
    root = Path.cwd()
    for module in ("dagster", "polars", "polster_core.runtime"):
        try:
            __import__(module)
        except ImportError:
            print(json.dumps({"missing": module.split(".")[0]}))
            return 0
    try:
        __import__(DEFINITIONS)
    except BaseException as exc:  # whatever the project's code raises is the answer
        where = where_in_project(exc, root)
        first = (str(exc).strip().splitlines() or [""])[0]
        text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        print(json.dumps({"where": where, "error": mask(text, root)}))
        return 0
    print(json.dumps({"ok": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
