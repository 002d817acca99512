"""``polster_core.pool``: a stable public path of :mod:`polster_core.run.pool`
(the same module object): generated projects and plugins import it (docs/plugins.md, "Public
API")."""

import sys

from .run import pool as _module

sys.modules[__name__] = _module
