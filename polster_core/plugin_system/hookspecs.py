"""Every hook a Polster plugin can implement.

A plugin is a module (or object) with functions named like these hooks and decorated with
``polster_core.hookimpl``; it announces itself with an entry point in the group ``polster``.
The ``polster_*`` registration hooks receive a ``register`` callback, as in llm: call it once
per thing you offer. ``docs/plugins.md`` is the guide; a test keeps it in step with this file.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("polster")
hookimpl = pluggy.HookimplMarker("polster")


@hookspec
def polster_storage_backends(register):
    """Register storage backends: call ``register(StorageBackend(...))`` for each.

    The backend's ``name`` is what users put in ``STORAGE_BACKEND`` and ``polster init
    --storage``; its ``settings`` are the environment variables it reads (secret ones marked).
    """


@hookspec
def polster_ci_platforms(register):
    """Register CI/CD platforms: call ``register(CIPlatform(...))`` for each.

    The platform's ``name`` and ``aliases`` are what users pass to ``polster init --platform``.
    """


@hookspec
def polster_asset_templates(register):
    """Register asset templates: call ``register(AssetTemplate(...))`` for each.

    ``polster add-asset --template NAME`` renders the template's core file and Dagster wrapper.
    """


@hookspec
def polster_executors(register):
    """Register executors: call ``register(Executor(...))`` for each.

    The executor's ``name`` is what users pass to ``run_polster.py --executor`` (or set in
    ``POLSTER_EXECUTOR``); see :class:`polster_core.specs.Executor` for what it provides.
    """


@hookspec
def polster_project_files(context):
    """Return ``{relative path: text}`` of files to add to a new project (or ``None``).

    ``context`` is a :class:`polster_core.scaffold.ProjectContext` (project name, storage
    backend, CI platform, settings). Later plugins cannot overwrite a file another plugin
    returned: two plugins returning the same path is an error.
    """


@hookspec
def polster_env_vars(context):
    """Return a list of :class:`polster_core.specs.Setting` to add to a new project's ``.env``.

    Use it for settings that are not a storage backend's own (those come from
    ``StorageBackend.settings``). They also appear in ``.env.example`` and the README's table.
    """
