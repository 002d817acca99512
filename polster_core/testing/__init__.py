"""Test helpers for plugin authors, Polster's own and third parties' alike.

- :mod:`.storage`: :class:`StorageContract`, the suite every storage backend should pass;
- :mod:`.ci`: rendering and validating CI platform files (check-jsonschema, actionlint);
- :mod:`.assets`: asset templates in a real generated project (add-asset's checks, ruff);
- :mod:`.projects`: the real ``polster`` in a subprocess, projects made with ``polster init``;
- :mod:`.pipeline`: :class:`~.pipeline.PipelineContract`, a generated project's example
  pipeline on a storage backend, run as users run it; :mod:`.writes`: a write killed part-way;
- :mod:`.servers`, :mod:`.services`: real servers (moto, Azurite, OpenSSH; PostgreSQL, Redis,
  RabbitMQ) on 127.0.0.1, whose fixtures Polster's pytest plugin (:mod:`.pytest_plugin`)
  gives every test suite; :mod:`.secrets`: fake secrets to grep for.

Those import pytest (and :mod:`.pipeline` polars), so they are not imported here. Nothing
here is imported by the CLI.
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
