"""The ``polster`` command line: the typer app (:mod:`.app`: init, setup, plugins and the error
boundary) and its command groups, each joining the app with ``register(app)``.

Runs at CLI start: nothing here imports Dagster, polars or a cloud SDK at module level
(tests/test_architecture.py checks it).
"""

from .app import app, main

__all__ = ["app", "main"]
