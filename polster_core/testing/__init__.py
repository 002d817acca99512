"""Test helpers for plugin authors, Polster's own and third parties' alike.

- :mod:`.storage`: :class:`StorageContract`, the suite every storage backend should pass;
- :mod:`.ci`: rendering and validating CI platform files (check-jsonschema, actionlint);
- :mod:`.assets`: asset templates in a real generated project (add-asset's checks, ruff).

Nothing here is imported by the CLI.
"""

from .assets import add_asset, new_project, ruff_errors
from .ci import (
    ACTIONLINT_VERSION,
    SCHEMAS,
    STALE_ACTIONLINT_MESSAGES,
    VAULT_SETTINGS,
    actionlint,
    actionlint_dir,
    ci_context,
    schema_arguments,
    schema_errors,
)
from .storage import StorageContract, failing_frame, table

__all__ = [
    "ACTIONLINT_VERSION",
    "SCHEMAS",
    "STALE_ACTIONLINT_MESSAGES",
    "VAULT_SETTINGS",
    "StorageContract",
    "actionlint",
    "add_asset",
    "actionlint_dir",
    "ci_context",
    "failing_frame",
    "new_project",
    "ruff_errors",
    "schema_arguments",
    "schema_errors",
    "table",
]
