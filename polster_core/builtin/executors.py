"""The built-in executors, registered through ``polster_executors`` like a plugin's.

``in-process`` runs every step in ``run_polster.py``'s own process (the default: fastest for
small pipelines). ``multiprocess`` runs steps in long-lived worker processes of this machine
(``--workers N``): each loads the project once, then runs step after step
(:mod:`polster_core.pool`). ``dagster-multiprocess`` is Dagster's own executor, which starts
a new Python process per step: kept for comparison (see BENCHMARKS.md).
"""

from __future__ import annotations

import os

from ..plugin_system.hookspecs import hookimpl
from ..plugin_system.specs import Executor


def _pool_def():
    # Polster's pool, or Dagster's own multiprocess executor where this Dagster's internals
    # differ from the pool's (dagster_private/step_pool.py).
    from ..run.pool_choice import executor_def

    return executor_def()


def _pool_config(settings, workers: int) -> dict:
    return {"max_concurrent": workers or os.cpu_count() or 1}


def _dagster_multiprocess_def():
    import dagster as dg

    return dg.multiprocess_executor


def _dagster_multiprocess_config(settings, workers: int) -> dict:
    return {"max_concurrent": workers or os.cpu_count() or 1}


@hookimpl
def polster_executors(register):
    register(
        Executor(
            name="in-process",
            description="every step in run_polster.py's own process (the default)",
            in_process=True,
        )
    )
    register(
        Executor(
            name="multiprocess",
            description="steps in N long-lived worker processes of this machine (--workers N)",
            executor_def=_pool_def,
            run_config=_pool_config,
        )
    )
    register(
        Executor(
            name="dagster-multiprocess",
            description="Dagster's own multiprocess executor: a new process per step (slow start)",
            executor_def=_dagster_multiprocess_def,
            run_config=_dagster_multiprocess_config,
        )
    )
