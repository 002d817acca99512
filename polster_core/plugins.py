"""``polster_core.plugins``: a stable public path of :mod:`polster_core.plugin_system.manager`
(the same module object): generated projects and plugins import it (docs/plugins.md, "Public
API")."""

import sys

from .plugin_system import manager as _module

sys.modules[__name__] = _module
