"""``polster_core.runtime``: a stable public path of :mod:`polster_core.run.io_manager`
(the same module object): generated projects and plugins import it (docs/plugins.md, "Public
API")."""

import sys

from .run import io_manager as _module

sys.modules[__name__] = _module
