"""``python -m polster_core.run.dagster_dev ARGS``: Dagster's ``dagster dev ARGS``, without its
warning that ``dg dev`` supersedes it.

``run_polster.py --ui`` must work in a project's production environment, where the ``dg`` CLI
(a development dependency) may not be installed, so it keeps Dagster's own ``dagster dev``; the
warning would only tell users to install something they do not need. Dagster's private CLI
group it runs is behind the boundary :mod:`polster_core.run.dagster_private.dev`.
"""

from __future__ import annotations

import sys

from .dagster_private.dev import main

if __name__ == "__main__":
    main(sys.argv[1:])
