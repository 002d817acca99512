"""The ``polster`` command line. Thin: it parses, prompts and prints; modules do the work.

Nothing heavy is imported at start: plugins load on first use, Dagster and polars never.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import typer
import typer.core
from typer.core import TyperCommand, TyperGroup

from .. import __version__
from ..exceptions import Interrupted, PolsterError
from . import assets as _assets
from . import contract as _contract
from . import enable as _enable
from . import listing as _listing
from . import plugin as _plugin
from . import upgrade as _upgrade
from . import upkeep as _upkeep
from .common import choose, may_prompt
from .init_steps import (
    check_remote_options,
    finish_init,
    next_steps,
    start_dagster_ui,
)


class PolsterGroup(TyperGroup):
    """``polster --help`` imports the third-party plugins first, so that one that fails to
    import is named on stderr (one line), as every other command names it. It needs nothing
    else of them: the plugin manager (pluggy, the built-ins, the registries) is not built."""

    def format_help(self, ctx, formatter):
        from ..plugin_system.discovery import autoload, load_entry_points

        if autoload():
            load_entry_points()
        super().format_help(ctx, formatter)


app = typer.Typer(
    cls=PolsterGroup,
    help="Polster: dbt init for Python data engineering (Dagster + Polars, bronze/silver/gold).",
    no_args_is_help=True,
    add_completion=True,  # --install-completion, --show-completion (bash, zsh, fish, pwsh)
    context_settings={"help_option_names": ["-h", "--help"]},
)


class PluginChoicesCommand(TyperCommand):
    """Fills ``{storage}`` / ``{platform}`` in option help with the installed plugins' names."""

    def format_help(self, ctx, formatter):
        from ..plugin_system.manager import get_plugins

        plugins = get_plugins()
        choices = {
            "storage": ", ".join(plugins.unique_names(plugins.storage_backends())) or "none",
            "platform": ", ".join(plugins.unique_names(plugins.ci_platforms())) or "none installed",
        }
        for param in self.params:
            if getattr(param, "help", None) and "{" in param.help:
                param.help = param.help.format(**choices)
        super().format_help(ctx, formatter)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"polster {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        callback=_version,
        is_eager=True,
        help="Show the version and exit.",
    ),
) -> None:
    pass


@app.command(cls=PluginChoicesCommand)
def init(
    name: str | None = typer.Argument(None, help="Project name, e.g. dna-platform."),
    git: bool | None = typer.Option(
        None,
        "--git/--no-git",
        help="Initialise a git repository with a first commit "
        "(default: when git is installed and the target is not inside a repository).",
    ),
    platform: str | None = typer.Option(None, "--platform", help="CI/CD platform: {platform}."),
    storage: str | None = typer.Option(
        None, "--storage", help="Storage backend: {storage} (default local)."
    ),
    start_dagster: bool = typer.Option(
        False, "--start-dagster", help="Launch the Dagster UI after creation."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Preview what would be created."),
    setup: bool = typer.Option(
        True, "--setup/--no-setup", help="Create .venv and install the project (default on)."
    ),
    path: Path | None = typer.Option(
        None, "--path", help="Directory to create the project in (default: current)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Write into an existing empty directory, or one polster created."
    ),
    no_input: bool = typer.Option(
        False, "--no-input", help="Never prompt (also the default when stdin is not a terminal)."
    ),
    remote_url: str | None = typer.Option(
        None,
        "--remote-url",
        metavar="URL",
        help="Add URL as the 'origin' remote and push main to it (needs --git).",
    ),
    create_remote: bool = typer.Option(
        False,
        "--create-remote",
        help="Create the remote repository with the platform's CLI (gh, glab, az) and push "
        "main to it (needs --git and --platform).",
    ),
) -> None:
    """Create a new Polster project with all the right structure.

    \f
    Long: typer declares every option in the signature; the body is the command's flow, read
    top to bottom (prompts, checks, plan, apply, what to do next).
    """
    from ..plugin_system.manager import get_plugins
    from ..project.model import is_polster_project
    from ..project.names import validate_project_name
    from ..project.scaffold import (
        build_context,
        check_target,
        git_available,
        init_plan,
        inside_git_repo,
    )

    interactive = may_prompt(no_input)
    if name is None and interactive:
        name = typer.prompt("Project name", default="my-project")
    name = validate_project_name(name)
    parent = (path or Path.cwd()).expanduser()
    if not parent.is_dir():
        raise PolsterError(f"--path {parent} is not a directory: create it first")
    parent = parent.resolve()
    target = parent / name
    check_target(target, force)
    if not dry_run and is_polster_project(target):  # --force: nothing else may change it now
        from ..project.lock import hold

        hold(target, "init")

    plugins = get_plugins()
    backends = plugins.unique_names(plugins.storage_backends())
    if storage is None:
        storage = "local"
        if interactive and len(backends) > 1:
            storage = choose("Storage backend", backends, default="local")
    platforms = plugins.unique_names(plugins.ci_platforms())
    if platform is None and interactive and platforms:
        platform = choose("CI/CD platform", ["none", *platforms], default="none")
    if platform in (None, "", "none"):
        platform = ""
    else:
        platform = plugins.ci_platform(platform.lower()).name
    if git is None:
        default_git = git_available() and not inside_git_repo(parent)
        git = (
            typer.confirm("Initialise a git repository?", default=default_git)
            if interactive
            else default_git
        )
    elif git and not git_available():
        raise PolsterError("--git needs git, which is not installed: install it or pass --no-git")
    if remote_url is not None or create_remote:
        remote_url = check_remote_options(remote_url, create_remote, git, platform, parent)

    context = build_context(name, plugins, storage.lower(), platform)
    plan = init_plan(target, context, plugins)
    remote = None
    if create_remote:
        from ..project.git import remote_plan

        remote = remote_plan(plugins.ci_platform(platform), context)

    if dry_run:
        typer.echo(
            f"Would create {target} ({len(plan.ops)} files, storage {context.storage}"
            f"{', platform ' + platform if platform else ''}):"
        )
        for line in plan.describe():
            typer.echo(line)
        if git:
            typer.echo("Would run: git init, then commit every file (.env, .venv, data/ ignored)")
        if setup:
            typer.echo("Would run: polster setup (create .venv and install the project)")
        if remote_url:
            from ..project.git import push_commands

            typer.echo(f"Would run in {target}: {' && '.join(push_commands(remote_url))}")
        if remote:
            typer.echo(f"Would create the remote repository with {remote.cli}, in {target}:")
            for line in remote.commands():
                typer.echo(f"  {line}")
        typer.echo("Nothing was written (--dry-run).")
        return

    try:
        plan.apply()  # all-or-nothing: interrupted or failed, it leaves nothing behind
    except KeyboardInterrupt:
        raise Interrupted(f"Interrupted: nothing was written ({target} is as it was)") from None
    typer.echo(f"Created {target} ({len(plan.ops)} files)")
    finish_init(target, git, setup, remote_url, remote, interactive)
    next_steps(target, parent, setup)
    if start_dagster:
        start_dagster_ui(target, setup)


@app.command()
def setup(
    force: bool = typer.Option(False, "--force", help="Recreate .venv even if it exists."),
) -> None:
    """Create or repair the project's virtual environment (.venv) and install the project."""
    from ..project.model import find_project
    from ..project.venv import setup as run_setup

    run_setup(find_project(), force=force, echo=typer.echo)


@app.command()
def plugins(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List every loaded plugin: name, version, source, distribution and what it provides."""

    from ..plugin_system.manager import get_plugins

    loaded = get_plugins()
    # Building the registries also finds duplicate names, reported below.
    loaded.storage_backends()
    loaded.ci_platforms()
    loaded.asset_templates()
    loaded.executors()
    rows = [
        {
            "name": info.name,
            "version": info.version,
            "source": info.source,
            "distribution": info.distribution,
            "module": info.module,
            "hooks": info.hooks,
            "provides": loaded.offers.get(info.name, {}),
        }
        for info in loaded.info.values()
    ]
    failed = [f.__dict__ for f in loaded.failed]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "plugins": rows,
                    "aliases": {k: list(v) for k, v in loaded.aliases.items()},
                    "failed": failed,
                    "problems": loaded.problems,
                },
                indent=2,
            )
        )
        return
    typer.echo(f"{'NAME':<20} {'VERSION':<10} {'SOURCE':<12} {'DISTRIBUTION':<18} PROVIDES")
    for row in rows:
        typer.echo(
            f"{row['name']:<20} {row['version']:<10} {row['source']:<12} "
            f"{row['distribution']:<18} "
            f"{_provides(row['hooks'], row['provides'], loaded.aliases)}"
        )
    for failure in failed:
        typer.echo(
            f"{failure['name']:<20} FAILED to load ({failure['distribution']}): {failure['error']}"
        )
    for problem in loaded.problems:
        typer.echo(f"warning: {problem}", err=True)


# How `polster plugins` names what a registration hook offered.
_OFFER_LABELS = {
    "polster_storage_backends": "storage",
    "polster_ci_platforms": "ci",
    "polster_asset_templates": "templates",
    "polster_executors": "executors",
}


def _provides(hooks: list[str], offers: dict[str, list[str]], aliases: dict | None = None) -> str:
    """``storage: s3; ci: azure-devops (alias azdo); project_files``: what each hook
    registered (with its aliases), or the hook's name."""
    aliases = aliases or {}

    def shown(name: str) -> str:
        other = aliases.get(name, ())
        return f"{name} (alias {', '.join(other)})" if other else name

    parts = []
    for hook in hooks:
        if hook in _OFFER_LABELS:
            names = ", ".join(shown(n) for n in offers.get(hook, [])) or "-"
            parts.append(f"{_OFFER_LABELS[hook]}: {names}")
        else:
            parts.append(hook.removeprefix("polster_"))
    return "; ".join(parts) or "-"


def main() -> None:
    """Console entry point, and the CLI's one error boundary: whatever a user can fix (a
    PolsterError, a usage mistake, a read-only or full disk, a file that is not UTF-8 or not
    TOML) is one line on stderr and a non-zero exit (1; 3 when init created the project but a
    later step failed; 130 when interrupted); only bugs keep their traceback."""
    from ..project.lock import release_held

    _stop_on_sigterm()
    try:
        try:
            code = app(standalone_mode=False)
        finally:
            release_held()
    except KeyboardInterrupt:
        typer.echo("Aborted.", err=True)
        code = 130
    except Exception as exc:
        code = _refused(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _stop_on_sigterm() -> None:
    """SIGTERM (``kill``, a closing terminal, a CI job cancelled) stops a command as Ctrl+C
    does: what it was writing is put back, and it exits 130."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, interrupt)
    except (ValueError, OSError):  # not the main thread: leave it as it is
        pass


def _refused(exc: Exception) -> int:
    """Print a user error as one line and return the exit code; re-raise a bug."""
    from ..errors import one_line, user_message

    # Typer may bring its own copy of click: its exceptions are told apart by class name.
    kinds = {kind.__name__ for kind in type(exc).__mro__}
    prefix = "Error: "
    if "NoArgsIsHelpError" in kinds:  # `polster` alone: the help, as typer shows it
        if not getattr(typer.core, "HAS_RICH", False):  # with rich, typer printed it already
            exc.show()
        return exc.exit_code
    if "Abort" in kinds:
        typer.echo("Aborted.", err=True)
        return 130 if isinstance(exc.__cause__, KeyboardInterrupt) else 1
    if "ClickException" in kinds:
        message = exc.format_message().rstrip(".")
        context = getattr(exc, "ctx", None)
        if "UsageError" in kinds:
            message += f": see `{context.command_path if context else 'polster'} --help`"
        code = exc.exit_code
    else:
        message = user_message(exc)
        if message is None:
            raise exc
        code = getattr(exc, "exit_code", 1)  # PolsterError subclasses say their own
        prefix = getattr(exc, "prefix", prefix)
    typer.secho(f"{prefix}{one_line(message)}", err=True, fg="red")
    return code


# Command groups that live in their own modules (polster_core/cli/), in the order
# `polster --help` lists them; they import nothing heavy at module level.
for _group in (_assets, _listing, _enable, _upgrade, _upkeep, _plugin, _contract):
    _group.register(app)
