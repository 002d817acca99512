"""``polster_core.runner``: the stable public path of ``run_polster.py``'s engine (every
generated ``run_polster.py`` calls ``polster_core.runner.main``), which lives in
:mod:`polster_core.run`: :mod:`~polster_core.run.main` (arguments, the error boundary),
:mod:`~polster_core.run.instance` (Dagster's instance, PostgreSQL, the history),
:mod:`~polster_core.run.materialize` with :mod:`~polster_core.run.step_progress`, and
:mod:`~polster_core.run.ui`.
"""

from .run.instance import (
    DAGSTER_YAML,
    INSTANCE_CLASS,
    POSTGRES_ENV,
    dagster_home,
    history_problem,
    mask_url,
    postgres_problem,
    quick_history,
)
from .run.main import main, parse_args
from .run.materialize import EXECUTOR_ENV, JOB_NAME, materialize, pipeline_job
from .run.ui import start_ui, ui_address_problem

__all__ = [
    "DAGSTER_YAML",
    "EXECUTOR_ENV",
    "INSTANCE_CLASS",
    "JOB_NAME",
    "POSTGRES_ENV",
    "dagster_home",
    "history_problem",
    "main",
    "mask_url",
    "materialize",
    "parse_args",
    "pipeline_job",
    "postgres_problem",
    "quick_history",
    "start_ui",
    "ui_address_problem",
]
