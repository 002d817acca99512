"""What the benchmarks that run generated projects share: the ``polster`` command, the
environment of a project's ``run_polster.py``, and the CPU time of finished child processes."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def polster(*args: str, cwd: Path) -> None:
    """``polster ARGS`` in ``cwd`` (plugins not auto-loaded); a failure ends the benchmark."""
    result = subprocess.run(
        [str(BIN / "polster"), *args],
        cwd=cwd,
        env={**os.environ, "POLSTER_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"polster {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def env_for(project: Path) -> dict[str, str]:
    """This environment without Polster's and Dagster's settings, the project's ``src`` on the
    path: each run reads its own ``.env`` and ``.dagster`` as a user's would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLSTER_", "DAGSTER_"))}
    env["POLSTER_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONPATH"] = str(project / "src")
    return env


def children_cpu() -> float:
    """CPU seconds (user + system) of every child process waited for so far, theirs included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
