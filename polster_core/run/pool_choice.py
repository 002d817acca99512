"""Which ``multiprocess`` executor a run uses: Polster's pool (pool.py) where the pool boundary's
check passed (dagster_private/step_pool.py), else Dagster's own multiprocess executor. pool.py
imports the boundary's private names, so it is imported only after the check."""

from __future__ import annotations

from typing import Any

import dagster as dg

from .dagster_private.step_pool import AVAILABLE


def shutdown() -> None:
    """Stop the pool's workers (:func:`polster_core.pool.shutdown`), if it was used."""
    if AVAILABLE:
        from . import pool  # lazy: only when the check passed (it imports the private names)

        pool.shutdown()


def executor_def() -> Any:
    """The ``multiprocess`` executor: Polster's pool, or Dagster's own multiprocess executor
    (the same config: ``max_concurrent``) when the check failed."""
    if AVAILABLE:
        from .pool import pool_executor  # lazy: only when the check passed

        return pool_executor
    return dg.multiprocess_executor
