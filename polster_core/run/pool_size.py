"""How many worker processes a run gets for ``--workers N``: without Dagster, so the runner
can say it whichever executor runs the steps (Polster's pool, :mod:`polster_core.pool`, or
Dagster's own multiprocess executor when the pool falls back)."""

from __future__ import annotations

import os

# Worker processes per CPU of this machine, at most: more only wait for each other, each with
# its own copy of the project in memory (``--workers 1000`` would fork until the machine stops).
PER_CPU = 4


def machine_cpus() -> int:
    """The CPUs this process may run on (its affinity, as a container's limit sets it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def bounded_size(requested: int, steps: int | None = None) -> tuple[int, str | None]:
    """How many workers a run of ``steps`` steps gets for ``--workers requested`` (0: one per
    CPU): never more than its steps (no more can run at once) nor :data:`PER_CPU` per CPU of
    this machine. With why, in a few words, when that is fewer than the user asked for."""
    cpus = machine_cpus()
    size = requested or cpus
    why = None
    if steps is not None and size > max(1, steps):
        size = max(1, steps)
        why = f"the run has {steps} asset{'s' if steps != 1 else ''}: no more can run at once"
    if size > PER_CPU * cpus:
        size = PER_CPU * cpus
        why = f"at most {PER_CPU} per CPU, and this machine has {cpus}"
    return size, why if requested and size < requested else None
