"""``polster_core.history``: a stable public path of :mod:`polster_core.run.history`
(the same module object): generated projects and plugins import it (docs/plugins.md, "Public
API")."""

import sys

from .run import history as _module

sys.modules[__name__] = _module
