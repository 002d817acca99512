"""``python -m polster_core.run.dagster_dev ARGS``: Dagster's ``dagster dev ARGS``, without its
warning that ``dg dev`` supersedes it.

``run_polster.py --ui`` must work in a project's production environment, where the ``dg`` CLI
(a development dependency) may not be installed, so it keeps Dagster's own ``dagster dev``; the
warning would only tell users to install something they do not need.
"""

from __future__ import annotations

import sys
import warnings


def main(argv: list[str]) -> None:
    import click
    import dagster
    from dagster import _cli

    warnings.filterwarnings("ignore", category=dagster.SupersessionWarning)
    sys.argv = ["dagster", "dev", *argv]
    group = getattr(_cli, "cli", None)
    if not isinstance(group, click.Command):  # Dagster moved it: its own entry point, as is
        _cli.main()
        return
    # Not click's standalone mode, which answers Ctrl+C with "Aborted!" and exit code 1:
    # run_polster.py says the one line, and the exit code is 130, as for any Ctrl+C.
    try:
        group.main(
            auto_envvar_prefix=getattr(_cli, "ENV_PREFIX", "DAGSTER_CLI"), standalone_mode=False
        )
    except (KeyboardInterrupt, click.exceptions.Abort):
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main(sys.argv[1:])
