"""The objects plugins register through the hooks in :mod:`polster_core.hookspecs`.

They are plain dataclasses so that a plugin needs nothing but ``polster_core`` to build them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


def compatible_requirement(dist: str, version: str) -> str:
    """``dist`` at ``version`` or any later release of the same minor line, e.g.
    ``polster-s3>=0.1.1,<0.2``: the requirement a generated project pins a plugin with, so a
    later incompatible release is never picked up by a lock."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return f"{dist}>={version},<{major}.{minor + 1}"


@dataclass(frozen=True)
class Setting:
    """One environment variable a plugin reads at run time.

    A ``secret`` setting's value is written only to ``.env`` (``.env.example`` names it with an
    empty value; CI files, logs and metadata never show it); ``default`` is what the plugin
    uses when the variable is unset.

    What a user must fill in: a ``required`` setting, and one setting of each ``one_of`` group
    (settings sharing a label, e.g. ``one_of="credentials"`` on a password and a key file).
    Every other setting is optional, with a default or without one (then the plugin's own
    behaviour applies). :func:`needed_settings` is the one place that decides.
    """

    name: str
    description: str
    default: str = ""
    secret: bool = False
    example: str = ""
    required: bool = False
    one_of: str = ""


def needed_settings(settings: Iterable[Setting]) -> list[tuple[Setting, ...]]:
    """What must be filled in, in order: each required setting alone, each ``one_of`` group
    together (a group counts as filled when any of its settings is)."""
    groups: list[tuple[Setting, ...]] = []
    labels: dict[str, int] = {}
    for setting in settings:
        if setting.required:
            groups.append((setting,))
        elif setting.one_of:
            if setting.one_of in labels:
                index = labels[setting.one_of]
                groups[index] = (*groups[index], setting)
            else:
                labels[setting.one_of] = len(groups)
                groups.append((setting,))
    return groups


def describe_needed(group: tuple[Setting, ...]) -> str:
    """``NAME``, or ``one of A or B`` for a group."""
    if len(group) == 1:
        return group[0].name
    return "one of " + " or ".join(s.name for s in group)


def missing_settings(settings: Iterable[Setting], get: Callable[[str], str]) -> list[str]:
    """What is needed and not set (``get(name)`` empty), described for a message."""
    return [
        describe_needed(group)
        for group in needed_settings(settings)
        if not any((get(s.name) or "").strip() for s in group)
    ]


@dataclass(frozen=True)
class StorageBackend:
    """A storage backend: where a project's parquet files live.

    ``factory(settings)`` returns an object with ``write``, ``read``, ``scan``, ``exists`` and
    ``uri`` methods (see :class:`polster_core.storage.Backend`). ``settings`` is the project's
    :class:`polster_core.settings.Settings`: the environment over ``.env``, read with
    ``settings.get(NAME)``, ``settings.flag(NAME)``, ``settings.seconds(NAME, default)``;
    ``settings.root`` is the project's root.
    """

    name: str
    description: str
    factory: Callable[..., Any]
    settings: tuple[Setting, ...] = ()
    # Requirement added to a generated project's dependencies when it uses this backend.
    requirement: str | None = None
    # Distribution that provides it, e.g. "polster-adls"; filled in by the plugin manager.
    plugin: str = ""
    # Whether it hosts Delta tables (incremental assets): its backend object then has
    # delta_storage_options() (see polster_core/run/delta.py and docs/plugins.md).
    delta: bool = False


@dataclass(frozen=True)
class Executor:
    """How ``run_polster.py`` runs a pipeline's steps: in its own process, in worker processes
    of this machine, or on other machines (Celery, Kubernetes, ...).

    ``executor_def()`` returns the Dagster ``ExecutorDefinition``; ``run_config(settings,
    workers)`` returns its config (the ``execution: config:`` of the run), built from the
    environment (``.env`` loaded) and ``--workers N`` (0 when not given). An ``in_process``
    executor runs the job with ``execute_in_process`` (no executor definition needed).

    ``remote`` executors run steps on other machines: they need storage every machine reaches
    (not ``STORAGE_BACKEND=local`` unless the disk is shared) and a shared Dagster history
    (``DAGSTER_POSTGRES_URL``). ``preflight(settings)`` returns why a run cannot start (a
    broker that does not answer), in one line, or ``None``; it must not hang.
    ``worker(root, argv)`` starts a worker for the project (``run_polster.py --worker``) and
    returns its exit code. ``settings`` (secret ones marked) and ``requirement`` are added to a
    project by ``polster enable NAME``.
    """

    name: str
    description: str
    executor_def: Callable[[], Any] | None = None
    run_config: Callable[[Any, int], dict] | None = None
    settings: tuple[Setting, ...] = ()
    requirement: str | None = None
    in_process: bool = False
    remote: bool = False
    preflight: Callable[[Any], str | None] | None = None
    worker: Callable[[Any, list[str]], int] | None = None
    plugin: str = ""


@dataclass(frozen=True)
class CIPlatform:
    """A CI/CD platform: the files it writes into a project and what its pipeline needs.

    ``render(context)`` returns ``{relative path: file text}``; ``context`` is the
    :class:`polster_core.scaffold.ProjectContext` of the project (``polster init`` and
    ``polster enable`` both call it, so it must depend on the context only). The pipeline's
    secrets and variables come from ``context.settings`` (see :mod:`polster_core.ci`), never
    from names hard-coded in the plugin, and a secret's value never appears in a rendered file.

    ``polster init --create-remote`` runs ``create_remote(context)`` (an argv, run in the
    project's root) with the platform's CLI ``cli``, after ``login_check`` exits 0. The command
    either adds the ``origin`` remote itself (``gh repo create --source . --remote origin``) or,
    with ``remote_url_on_stdout``, prints the new repository's clone URL as its last line of
    output; polster then adds ``origin`` and pushes. ``login_hint`` are the shell lines printed
    for a user whose CLI is missing or logged out. ``readme_section(context)`` returns Markdown
    for the generated README (what the pipeline does, which secrets to set), or is ``None``.
    ``run_trigger`` says, in the platform's words, what starts the pipeline run (the run never
    has a CI timer: the schedule is Dagster's), e.g. "on manual dispatch (Actions > polster >
    Run workflow)"; :func:`polster_core.ci.header` writes it, "on manual trigger" when empty.
    """

    name: str
    description: str
    render: Callable[[Any], dict[str, str]]
    aliases: tuple[str, ...] = ()
    create_remote: Callable[[Any], list[str] | None] | None = None
    plugin: str = ""
    cli: str = ""
    login_check: tuple[str, ...] = ()
    login_hint: tuple[str, ...] = ()
    remote_url_on_stdout: bool = False
    readme_section: Callable[[Any], str] | None = None
    run_trigger: str = ""


@dataclass(frozen=True)
class AssetTemplate:
    """A starting point for a new asset: renders its core file and its Dagster wrapper.

    ``render_core(context)`` and ``render_wrapper(context)`` return file text; ``context`` is an
    :class:`AssetContext`. The wrapper's ``@dg.asset`` function is named ``context.asset_key``
    and takes one parameter per key in ``context.upstream``, in that order.
    ``settings(context)`` lists the environment variables the generated code reads (added,
    commented out, to the project's ``.env.example``); ``requirements`` are packages the
    generated code needs, added to the project's dependencies. A template that renders
    partitioned assets (``context.partitions`` other than ``"none"``) sets ``partitions=True``;
    ``add-asset --partitions`` refuses the others.
    """

    name: str
    layers: tuple[str, ...]
    description: str
    render_core: Callable[[Any], str]
    render_wrapper: Callable[[Any], str]
    settings: Callable[[Any], tuple[Setting, ...]] | None = None
    requirements: tuple[str, ...] = ()
    plugin: str = ""
    partitions: bool = False


@dataclass(frozen=True)
class AssetContext:
    """What an asset template needs to render one asset."""

    project_name: str
    layer: str
    name: str
    upstream: tuple[str, ...] = ()  # asset keys, e.g. ("run_bronze_example",)
    extra: dict[str, Any] = field(default_factory=dict)
    # The asset's partitioning (daily, hourly, weekly, monthly or none), its first partition,
    # and which upstream keys are partitioned the same way (read one partition of each).
    partitions: str = "none"
    start: str = ""
    partitioned_upstream: tuple[str, ...] = ()
    timezone: str = ""  # the partitions' time zone ("": UTC), like the project's others

    @property
    def module(self) -> str:
        return f"{self.layer}_{self.name}"

    @property
    def asset_key(self) -> str:
        return f"run_{self.layer}_{self.name}"

    @property
    def env_prefix(self) -> str:
        """Prefix of the asset's own settings: ``BRONZE_ORDERS`` for bronze ``orders``."""
        return f"{self.layer}_{self.name}".upper()
