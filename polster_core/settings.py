"""``polster_core.settings``: a stable public path of :mod:`polster_core.run.settings`
(the same module object): generated projects and plugins import it (docs/plugins.md, "Public
API")."""

import sys

from .run import settings as _module

sys.modules[__name__] = _module
