"""Dagster's private internals, behind one boundary module per concern.

Polster uses a few of Dagster's private names (``dagster._core...``, ``dagster._serdes``,
``dagster._cli``) where Dagster's public API has no way to do the same thing as fast. Each
use lives in one module of this package (the Celery plugin's in
``polster_celery.dagster_private``), which checks at import that the names are there with the
shape Polster expects:

- :mod:`.history`: the quicker SQLite history (``polster_core.sqlite_history``);
- :mod:`.step_pool`: the worker pool of ``--workers N`` (``polster_core.pool``) and its
  run config resolved once per worker;
- :mod:`.dev`: ``dagster dev`` without its warning (``run_polster.py --ui``);
- :mod:`.instance`: the instance's masking of secrets (no fallback: see its docstring).

When a check fails (a Dagster whose private names moved), or when ``POLSTER_DAGSTER_FALLBACK``
names the concern (``all``, or a comma-separated list of ``history``, ``pool``, ``celery``,
``dev``: what the range tests use), Polster uses Dagster's stock behaviour instead: slower,
the same results. ``run_polster.py --verbose`` says so, once per run (:func:`notices`).
docs/dagster-upgrades.md lists each dependency, what it buys and its fallback.

Nothing here imports Dagster: each concern's module does, when it is imported.
"""

from __future__ import annotations

import inspect
import os
import threading

FALLBACK_ENV = "POLSTER_DAGSTER_FALLBACK"
CONCERNS = ("history", "pool", "celery", "dev")

# Why each concern fell back, in this process: {concern: reason}.
_FELL_BACK: dict[str, str] = {}
_SAID: set[str] = set()
_LOCK = threading.Lock()


def forced(concern: str) -> bool:
    """Whether ``POLSTER_DAGSTER_FALLBACK`` asks for Dagster's stock behaviour for ``concern``."""
    names = {n.strip().lower() for n in os.environ.get(FALLBACK_ENV, "").split(",")}
    return concern in names or "all" in names


def check(concern: str, probe) -> bool:
    """Whether ``concern`` may use Dagster's private names: not forced off, and ``probe()``
    (the concern's feature check) returns ``None``; else the reason is kept for
    :func:`notices` and the answer is ``False``. ``probe`` may raise: that is a failed check."""
    if forced(concern):
        reason = f"{FALLBACK_ENV}={os.environ.get(FALLBACK_ENV, '')}"
    else:
        try:
            reason = probe()
        except Exception as exc:  # ImportError, AttributeError, a changed signature ...
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        if reason is not None:
            reason = f"this Dagster differs from the one Polster's faster path needs: {reason}"
    if reason is None:
        return True
    with _LOCK:
        _FELL_BACK[concern] = reason
    return False


WHAT = {
    "history": "Dagster's stock SQLite history (slower per event)",
    "pool": "Dagster's multiprocess executor for --workers (a new process per step)",
    "celery": "dagster-celery's own executor loop and worker task (slower per step)",
    "dev": "Dagster's own `dagster dev` entry point",
}


def notices() -> list[str]:
    """One line for each concern that fell back in this process and was not said yet."""
    lines = []
    with _LOCK:
        for concern, reason in _FELL_BACK.items():
            if concern in _SAID:
                continue
            _SAID.add(concern)
            lines.append(
                f"  note: using {WHAT.get(concern, concern)} ({reason}); see "
                "docs/dagster-upgrades.md"
            )
    return lines


def has_attributes(owner, *names: str) -> str | None:
    """``None`` if ``owner`` has every attribute in ``names``, else which it lacks."""
    missing = [name for name in names if not hasattr(owner, name)]
    if missing:
        return f"{getattr(owner, '__name__', owner)} has no {', '.join(missing)}"
    return None


def has_parameters(function, *names: str) -> str | None:
    """``None`` if ``function`` takes each parameter in ``names``, else which it lacks."""
    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError) as exc:
        return f"cannot read the signature of {function!r}: {exc}"
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None  # **extra takes any keyword (click's Command.main: auto_envvar_prefix)
    missing = [name for name in names if name not in params]
    if missing:
        name = getattr(function, "__qualname__", repr(function))
        return f"{name} takes no {', '.join(missing)}"
    return None
