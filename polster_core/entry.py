"""The ``polster`` console script: load the CLI, then run it.

Ctrl+C while the CLI is still loading (typer, click: a fraction of a second) has nothing to
undo: it ends polster quietly with exit code 130 instead of an import traceback. From then on
the CLI's own error boundary (:func:`polster_core.cli.app.main`) handles it.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli.app import main as run
    except KeyboardInterrupt:
        sys.exit(130)
    run()
