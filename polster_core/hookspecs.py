"""``polster_core.hookspecs``: a stable public path of :mod:`polster_core.plugin_system.hookspecs`
(the same module object): generated projects and plugins import it (docs/plugins.md, "Public
API")."""

import sys

from .plugin_system import hookspecs as _module

sys.modules[__name__] = _module
