"""``python -m polster_core.dagster_dev ARGS``: Dagster's ``dagster dev ARGS``, without its
warning that ``dg dev`` supersedes it.

``run_polster.py --ui`` must work in a project's production environment, where the ``dg`` CLI
(a development dependency) may not be installed, so it keeps Dagster's own ``dagster dev``; the
warning would only tell users to install something they do not need.
"""

from __future__ import annotations

import sys
import warnings


def main(argv: list[str]) -> None:
    import dagster
    from dagster._cli import main as dagster_main

    warnings.filterwarnings("ignore", category=dagster.SupersessionWarning)
    sys.argv = ["dagster", "dev", *argv]
    dagster_main()


if __name__ == "__main__":
    main(sys.argv[1:])
