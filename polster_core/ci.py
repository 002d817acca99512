"""``polster_core.ci``: a stable public path of :mod:`polster_core.project.ci`
(the same module object): generated projects and plugins import it (docs/plugins.md, "Public
API")."""

import sys

from .project import ci as _module

sys.modules[__name__] = _module
