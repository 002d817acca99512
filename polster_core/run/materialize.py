"""Materialising the pipeline: the job, the executor, the run in this process or in workers
(``--workers``, a plugin's executor), ``run_polster.py --worker``, and what a run refuses
before it starts (layer-rule breaks, definitions that do not load).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import time
import uuid
import warnings
from contextlib import nullcontext
from pathlib import Path

from ..errors import user_message
from ..exceptions import (
    PolsterError,
    exception_chain,
    first_line,
    one_line,
)
from ..project.definitions_check import where_in_project
from ..secrets import Redactor, known_secrets
from .dagster_private import notices
from .instance import history_problem, project_instance, quick_history
from .interrupts import EXIT_CODE, interrupted_line, noted_signals
from .partition_runs import describe, run_tags
from .pool_size import bounded_size
from .quiet_children import quiet_step_processes
from .settings import add_src_to_pythonpath
from .step_progress import RunProgress, step_label

JOB_NAME = "polster_pipeline"


# The executor run_polster.py uses when --executor is not given (see polster_core.specs.Executor).
EXECUTOR_ENV = "POLSTER_EXECUTOR"


def pipeline_job():
    """The project's pipeline job, with the executor named in ``$POLSTER_EXECUTOR`` (set by
    ``run_polster.py`` for the run); workers of other processes and machines rebuild it."""

    name = os.environ.get(EXECUTOR_ENV)
    if name in _JOBS:
        # Dagster asks again for every reconstructable copy of the job (about 0.5 s each on a
        # 93-asset project); the project's code does not change during a process.
        return _JOBS[name]
    job = importlib.import_module("orchestration.definitions").defs.resolve_job_def(JOB_NAME)
    if name:
        from ..plugin_system.manager import get_plugins

        executor = get_plugins().executor(name)
        if executor.executor_def is not None:
            job = job.with_executor_def(executor.executor_def())
    _JOBS[name] = job
    return job


_JOBS: dict = {}


def choose_executor(name: str | None, workers: int):
    """The executor of a run: ``--executor`` (or ``$POLSTER_EXECUTOR``), else ``multiprocess``
    with ``--workers`` and ``in-process`` without."""
    from ..plugin_system.manager import get_plugins

    name = (name or "").strip() or ("multiprocess" if workers else "in-process")
    return get_plugins().executor(name)


def run_worker(root: Path, name: str | None, workers: int) -> int:
    """``run_polster.py --worker``: the executor's worker for this project, until stopped."""
    from ..plugin_system.manager import get_plugins

    if not (name or "").strip():
        print(
            "error: --worker needs an executor with workers: add --executor NAME (e.g. celery) "
            f"or set {EXECUTOR_ENV} in .env",
            file=sys.stderr,
        )
        return 2
    executor = get_plugins().executor(name.strip())
    if executor.worker is None:
        print(
            f"error: the {executor.name} executor has no workers to start: --worker is for "
            "executors that run steps elsewhere, e.g. celery",
            file=sys.stderr,
        )
        return 2
    # The worker rebuilds the pipeline job with this executor (see pipeline_job).
    os.environ[EXECUTOR_ENV] = executor.name
    add_src_to_pythonpath(root)
    # Loaded now, once: the worker's processes (forked from this one) start with the project
    # imported, so a run's first steps do not wait for it; a project that does not load is
    # one line here rather than a failure of every step. What it loaded lives as long as the
    # worker: frozen, as in a run (see materialize), it is left out of every collection.
    try:
        pipeline_job()
    except Exception as exc:
        print(masked_text(f"error: {definitions_error(exc)}"), file=sys.stderr)
        return 1
    problem = history_problem()
    if problem:
        print(masked_text(f"error: {problem}"), file=sys.stderr)
        return 1
    gc.freeze()
    if workers:  # processes of this machine, whatever the executor makes of them
        requested = workers
        workers, why = bounded_size(workers)
        if why:
            print(f"--workers {requested}: using {workers} ({why})", flush=True)
    # Steps in the worker record their events as a run in this process does (quick_history):
    # with the project's SQLite history, a held connection per database instead of one per
    # event, and no disk sync per event.
    with quick_history(Path(os.environ["DAGSTER_HOME"])):
        return executor.worker(root, [f"--concurrency={workers}"] if workers else [])


def materialize(
    root: Path,
    workers: int = 0,
    select: list[str] | None = None,
    verbose: bool = False,
    executor: str | None = None,
    partitions: tuple = (None, None, None),
) -> int:
    """Run the pipeline job (in this process, or in ``workers`` processes); print progress."""

    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    print(f"Running {JOB_NAME} of {root.name} ...", flush=True)
    # Loading Dagster, the project and the instance creates about a million objects that live
    # until the end, and next to no garbage: collecting during the load costs ~0.2 s for
    # nothing. Once loaded, they are frozen (left out of every later collection) and the
    # collector runs again for the pipeline itself.
    gc.disable()

    try:
        chosen = choose_executor(executor, workers)
        with quick_history(Path(os.environ["DAGSTER_HOME"])), noted_signals() as received:
            try:
                return _materialize(
                    root, workers, select, started, verbose, chosen, partitions, received
                )
            except BaseException:
                if not received():
                    raise
        print(interrupted_line(received()), file=sys.stderr, flush=True)
        return EXIT_CODE
    finally:
        gc.enable()
        from .pool_choice import shutdown

        shutdown()


def _materialize(
    root: Path,
    workers: int,
    select: list[str] | None,
    started: float,
    verbose: bool = False,
    executor=None,
    partitions: tuple = (None, None, None),
    interrupted=lambda: None,
) -> int:
    """Long: one run from the loaded definitions to the summary: executor, history, signals and
    progress share its state; the parts that stand alone live beside it."""
    in_process = executor is None or executor.in_process
    try:
        import dagster as dg

        if not in_process:
            os.environ[EXECUTOR_ENV] = executor.name
        job = pipeline_job()
    except Exception as exc:  # the user's code failed to import: say where, briefly
        print(masked_text(f"error: {definitions_error(exc)}"), file=sys.stderr)
        return 1
    refused = layer_rules_problem(root)
    if refused:
        print(masked_text(f"error: {refused}"), file=sys.stderr)
        return 1
    keys = None
    if select:
        known = {node.name for node in job.graph.node_defs}
        unknown = [name for name in select if name not in known]
        if unknown:
            choices = ", ".join(sorted(known))
            print(
                f"error: no asset named {', '.join(unknown)}: choose from {choices}",
                file=sys.stderr,
            )
            return 2
        keys = [dg.AssetKey(name) for name in select]
    if not in_process and executor.preflight is not None:
        problem = executor.preflight(os.environ)
        if problem:
            print(masked_text(f"error: {problem}"), file=sys.stderr)
            return 1
    problem = history_problem()
    if problem:
        print(masked_text(f"error: {problem}"), file=sys.stderr)
        return 1

    tags = run_tags(job, *partitions)
    if tags:
        print(f"  {describe(tags)}", flush=True)
    instance = project_instance()
    if verbose:  # where Polster uses Dagster's stock behaviour instead of its faster path
        for line in notices():
            print(line, flush=True)
    gc.freeze()
    gc.enable()
    run_id = str(uuid.uuid4())
    if workers and not in_process and not executor.remote:
        # Processes of this machine: bounded by the work and the machine (see pool.py).
        requested = workers
        workers, why = bounded_size(workers, len(select or job.graph.node_defs))
        if why:
            print(f"  --workers {requested}: using {workers} ({why})", flush=True)
    config = {} if in_process else executor.run_config(os.environ, workers)
    level = "DEBUG" if verbose else "CRITICAL"
    quiet = {"loggers": {"console": {"config": {"log_level": level}}}}
    recon_job = run_config = None
    if not in_process:
        add_src_to_pythonpath(root)  # worker processes import the project too
        run_config = {**quiet, "execution": {"config": config}}
        recon_job = dg.reconstructable(pipeline_job)
    from .dagster_private import step_pool

    if executor is not None and executor.name == "multiprocess" and step_pool.AVAILABLE:
        # multiprocess is Polster's pool here (else Dagster's own executor, the boundary's
        # fallback: dagster_private/step_pool.py).
        from . import pool

        # The workers start now, with the project loaded, before the progress thread, and
        # plan the run (the job as execute_run will subset it) while it is being created.
        planned = recon_job.get_subset(asset_selection=frozenset(keys)) if keys else recon_job
        pool.prefork(config["max_concurrent"], instance.get_ref(), planned, run_config)
    # Out of process, Dagster creates the run itself: the watcher finds it and polls its events.
    total_steps = len(select or job.graph.node_defs)
    watcher = RunProgress(instance, run_id if in_process else None, total_steps)
    watcher.start()
    try:
        if not in_process:
            with nullcontext() if verbose else quiet_step_processes():
                result = dg.execute_job(
                    recon_job,
                    instance,
                    run_config=run_config,
                    asset_selection=keys,
                    tags=tags,
                )
        else:
            result = job.execute_in_process(
                instance=instance,
                run_id=run_id,
                raise_on_error=False,
                run_config=quiet,
                asset_selection=keys,
                tags=tags,
            )
    except PolsterError as exc:
        watcher.stop()
        print(masked_text(f"error: {exc}"), file=sys.stderr)
        if verbose and exc.details:
            print(masked_text(exc.details), file=sys.stderr)
        return 1
    watcher.stop()
    steps = watcher.finish()
    expected = select or [node.name for node in job.graph.node_defs]
    ok = [s for s in steps.values() if s["status"] == "ok"]
    # A step that only checks assets (a contract's rules) materialises nothing.
    checked = [s for s in ok if step_label(s) == "check"]
    how = interrupted()
    if how:  # Ctrl+C or SIGTERM: what Dagster made of it is no failure of an asset
        print(interrupted_line(how, len(ok), len(expected)), file=sys.stderr, flush=True)
        return EXIT_CODE
    failed = [s for s in steps.values() if s["status"] == "failed"]
    done = {s["name"] for s in ok + failed}
    skipped = [name for name in expected if name not in done]
    why = "the run stopped" if watcher.run_error and not failed else "an upstream asset failed"
    for name in skipped:
        print(f"  skip  {name:<40} ({why})")
    total_rows = sum(s["rows"] or 0 for s in ok)
    checks = len(watcher.failed_checks)
    print(
        f"{'Succeeded' if result.success else 'FAILED'}: {len(ok) - len(checked)} materialised"
        f"{f', {len(checked)} checked' if checked else ''}, {len(failed)} "
        f"failed, {len(skipped)} skipped, {total_rows:,} rows"
        f"{f', {checks} check(s) failed' if checks else ''} in "
        f"{time.perf_counter() - started:.2f}s (run {result.run_id[:8]})"
    )
    fell_back = [s["name"] for s in ok if s.get("fell_back")]
    if fell_back:
        print(
            f"WARNING: {len(fell_back)} fell back to local storage ({', '.join(fell_back)}): "
            "their newest data is on this machine only; the warnings above say why"
        )
    for step in failed:
        print(f"error in {step['name']}: {step['error']}", file=sys.stderr)
        if verbose and step.get("details"):
            print(f"{step['details']}\n", file=sys.stderr)
    if not failed and not result.success and watcher.run_error:
        print(masked_text(f"error: {watcher.run_error}"), file=sys.stderr)
    return 0 if result.success else 1


def masked_text(text: str) -> str:
    """``text`` without the project's secrets (events come masked by Polster's instance)."""

    return Redactor(known_secrets(Path.cwd()))(text)


def layer_rules_problem(root: Path) -> str | None:
    """What the run refuses before it starts, as ``polster check`` would: an asset reading a
    layer the rules forbid (``allow_same_layer_deps`` applies). Wrappers left unregistered are
    said on stdout: Dagster never sees them, so they do not run."""
    from ..project.asset_plans import load_assets
    from ..project.model import load_project

    try:
        assets = load_assets(load_project(root))
        problems = assets.problems()
    except (PolsterError, OSError, SyntaxError, ValueError):
        return None  # the definitions loaded: what check cannot read, the run need not judge
    for problem in problems:
        if problem.rule == "unregistered":
            print(f"Not run: {problem} (polster check lists it too)", flush=True)
    broken = [problem for problem in problems if problem.rule == "layer-rule"]
    if not broken:
        return None
    more = f" (and {len(broken) - 1} more: polster check lists them)" if len(broken) > 1 else ""
    return f"{broken[0]}{more}; the run keeps the layer rules, as polster check does"


def definitions_error(exc: Exception) -> str:
    """Why the definitions did not load, in a line; the asset graph's own problems (a cycle,
    a missing upstream asset) point to ``polster check``, which names the files to fix."""

    own = user_message(exc) if not isinstance(exc, (ImportError, SyntaxError)) else None
    if own is not None:
        return one_line(own)
    chain = list(exception_chain(exc))
    text = one_line(f"{type(exc).__name__}: {first_line(exc)}")
    if any(type(e).__name__ == "CircularDependencyError" for e in chain):
        return (
            "the project's assets depend on each other in a cycle, so its definitions cannot "
            "load: run `polster check` to see the cycle, then remove one of its dependencies"
        )
    if any(type(e).__module__.startswith("dagster") for e in chain):
        return (
            f"the project's definitions are invalid ({text}): run `polster check`, which "
            "names the files with broken dependencies or registrations"
        )

    where = where_in_project(exc, Path.cwd())  # the run works in the project's root
    if where:
        return f"the project's definitions failed to load: {where}: {text}: fix it there"
    return f"the project's definitions failed to load: {text}"
