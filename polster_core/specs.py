"""``polster_core.specs``: a stable public path of :mod:`polster_core.plugin_system.specs`
(the same module object): generated projects and plugins import it (docs/plugins.md, "Public
API")."""

import sys

from .plugin_system import specs as _module

sys.modules[__name__] = _module
