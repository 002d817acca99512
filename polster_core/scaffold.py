"""``polster_core.scaffold``: a stable public path of :mod:`polster_core.project.scaffold`
(the same module object): generated projects and plugins import it (docs/plugins.md, "Public
API")."""

import sys

from .project import scaffold as _module

sys.modules[__name__] = _module
