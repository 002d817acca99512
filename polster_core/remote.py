"""``polster_core.remote``: a stable public path of :mod:`polster_core.run.remote`
(the same module object): generated projects and plugins import it (docs/plugins.md, "Public
API")."""

import sys

from .run import remote as _module

sys.modules[__name__] = _module
