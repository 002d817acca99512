"""``polster_core.partitions``: a stable public path of :mod:`polster_core.run.partitions`
(the same module object): generated projects and plugins import it (docs/plugins.md, "Public
API")."""

import sys

from .run import partitions as _module

sys.modules[__name__] = _module
