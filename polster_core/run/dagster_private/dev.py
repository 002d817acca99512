"""The dev concern: Dagster's ``dagster dev`` run from its private click group
(``dagster._cli.cli``), for ``run_polster.py --ui`` (``python -m polster_core.run.dagster_dev``).

What it buys: no warning that ``dg dev`` supersedes ``dagster dev`` (``dg`` is a development
dependency a production environment may not have), and Ctrl+C ends with the run's exit code
130 and no click "Aborted!". When ``dagster._cli.cli`` is not a click command, or
``POLSTER_DAGSTER_FALLBACK`` names ``dev``, it is Dagster's own entry point
(``python -m dagster dev ...``), warning included.
"""

from __future__ import annotations

import runpy
import sys
import warnings

from . import check, has_parameters


def _probe() -> str | None:
    import click
    from dagster import _cli

    group = getattr(_cli, "cli", None)
    if not isinstance(group, click.Command):
        return "dagster._cli.cli is not a click command"
    return has_parameters(group.main, "auto_envvar_prefix", "standalone_mode")


def main(argv: list[str]) -> None:
    import dagster

    warnings.filterwarnings("ignore", category=dagster.SupersessionWarning)
    sys.argv = ["dagster", "dev", *argv]
    if not check("dev", _probe):  # Dagster's own entry point, as `dagster dev` runs it
        runpy.run_module("dagster", run_name="__main__", alter_sys=True)
        return
    import click
    from dagster import _cli

    # Not click's standalone mode, which answers Ctrl+C with "Aborted!" and exit code 1:
    # run_polster.py says the one line, and the exit code is 130, as for any Ctrl+C.
    try:
        _cli.cli.main(
            auto_envvar_prefix=getattr(_cli, "ENV_PREFIX", "DAGSTER_CLI"), standalone_mode=False
        )
    except (KeyboardInterrupt, click.exceptions.Abort):
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
