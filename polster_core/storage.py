"""``polster_core.storage``: a stable public path of :mod:`polster_core.run.storage`
(the same module object): generated projects and plugins import it (docs/plugins.md, "Public
API")."""

import sys

from .run import storage as _module

sys.modules[__name__] = _module
