"""``polster enable NAME``: add a storage backend, a CI platform or an executor to a project.

The same plugins' contributions as ``polster init --storage/--platform``, applied as a plan:
dependencies and ``[tool.polster]`` in pyproject.toml, the settings in ``.env`` and
``.env.example``, the README's settings table, and a platform's CI files. An executor plugin
(``celery``) adds its dependency, ``[tool.polster] executor`` and its settings.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from ..exceptions import PolsterError
from ..project.plan import Plan
from .common import say_relock


def enable(
    name: str = typer.Argument(
        ...,
        help="A storage backend (e.g. adls, s3), CI platform "
        "(e.g. github, gitlab, azure-devops) or executor (e.g. celery) from an installed plugin.",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the changes, write nothing."),
    force: bool = typer.Option(False, "--force", help="Overwrite CI files that exist already."),
    path: Path | None = typer.Option(None, "--path", help="Project directory (default: here)."),
    install: bool = typer.Option(
        True,
        "--install/--no-install",
        help="Install a missing plugin (e.g. polster-adls) from where polster came from.",
    ),
) -> None:
    """Add a storage backend, a CI platform or an executor to this project.

    \f
    Long: typer declares every option in the signature; the body is the command's flow, read
    top to bottom (prompts, checks, plan, apply, what to do next).
    """
    from ..plugin_system.manager import KNOWN_PLUGINS, get_plugins
    from ..project.model import find_project, hold_for_command

    project = find_project(path)
    if not dry_run:
        project = hold_for_command(project, "enable")
    plugins = get_plugins()
    key = name.strip().lower()
    installed = False
    if install and not dry_run and _missing(plugins, key):
        from ..project.plugin_install import install_plugin

        installed = install_plugin(_known_dists()[key], project.root, typer.echo)
        plugins = get_plugins()
    if key in plugins.storage_backends():
        plan, notes = storage_plan(project, plugins, key, installed)
        answer = {"storage": plugins.storage_backend(key).name}
    elif key in plugins.ci_platforms():
        plan, notes = platform_plan(project, plugins, key, force)
        answer = {"platform": plugins.ci_platform(key).name}
    elif key in plugins.executors() and plugins.executor(key).requirement:
        plan, notes = executor_plan(project, plugins, key, installed)
        answer = {}
    else:
        known = {**KNOWN_PLUGINS["storage"], **KNOWN_PLUGINS["platform"]}
        known.update(KNOWN_PLUGINS["executor"])
        if key in known:
            from ..project.hints import install_command

            raise PolsterError(
                f"'{key}' is not installed: run `{install_command(known[key])}`, "
                f"then `polster enable {key}`"
            )
        choices = sorted(
            set(plugins.unique_names(plugins.storage_backends()))
            | set(plugins.unique_names(plugins.ci_platforms()))
        )
        raise PolsterError(
            f"unknown storage backend or CI platform '{name}': choose one of {', '.join(choices)}"
        )
    if not plan.ops:
        typer.echo(f"Nothing to change: {project.name} already has everything {key} adds.")
        return
    from ..project.record import follow

    def change(answers):
        if not answer:
            return
        if "platform" in answer:
            answers.set_platform(answer["platform"])
        else:
            answers.storage = answer["storage"]

    generated = {}
    if "platform" not in answer:
        from ..project.scaffold import env_file

        storage = answer.get("storage", project.storage)
        executor = None if answer else key
        context = _context(project, plugins, storage, project.platform, executor)
        generated[".env.example"] = env_file(context, example=True)
    follow(plan, plugins, change, generated)
    typer.echo(("Would change" if dry_run else "Changing") + f" {project.root}:")
    for line in plan.describe():
        typer.echo(line)
    if dry_run:
        typer.echo("Nothing was written (--dry-run).")
        return
    plan.apply()
    for note in notes:
        typer.echo(note)
    say_relock(project.root, plan)


def _known_dists() -> dict[str, str]:
    """Plugin name -> its distribution, for every plugin Polster knows by name."""
    from ..plugin_system.manager import KNOWN_PLUGINS

    return {name: dist for kind in KNOWN_PLUGINS.values() for name, dist in kind.items()}


def _missing(plugins, key: str) -> bool:
    """``key`` is one of Polster's own plugins and its distribution is not installed at all
    (installed but switched off, e.g. by POLSTER_DISABLE_PLUGIN_AUTOLOAD, is no reason)."""
    from ..project.plugin_install import is_installed

    known = _known_dists()
    if key not in known or key in plugins.storage_backends() or key in plugins.ci_platforms():
        return False
    return key not in plugins.executors() and not is_installed(known[key])


def _context(project, plugins, storage: str, platform: str, executor: str | None = None):
    from ..project.scaffold import build_context

    if executor is None:
        executor = str(project.config.get("executor", ""))
    return build_context(project.name, plugins, storage, platform, executor=executor)


def executor_plan(project, plugins, name: str, installed: bool = False):
    """Add executor ``name``'s plugin: dependency, ``[tool.polster] executor``, its settings in
    ``.env`` and ``.env.example`` (secret values empty) and the README's settings table.
    ``installed``: the plugin was just installed into ``.venv`` too (no `polster setup` to do)."""
    from ..project.scaffold import STORAGE_END, STORAGE_START, setting_note, storage_section

    executor = plugins.executor(name)
    context = _context(project, plugins, project.storage, project.platform, executor.name)
    plan = Plan(project.root)
    pyproject = _pyproject_with(project, executor.requirement, executor=executor.name)
    if pyproject != (project.root / "pyproject.toml").read_text(encoding="utf-8"):
        plan.update("pyproject.toml", pyproject)
    for rel in (".env", ".env.example"):
        path = project.root / rel
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        present = set(re.findall(r"(?m)^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", old))
        added = [s for s in executor.settings if s.name not in present]
        if added:
            lines = old.rstrip("\n").splitlines() + ["", f"# Added by `polster enable {name}`"]
            for setting in added:
                lines.append(f"# {setting.description}{setting_note(setting, context.settings)}")
                lines.append(f"{setting.name}={'' if setting.secret else setting.default}")
            text = "\n".join(lines).lstrip("\n") + "\n"
            plan.update(rel, text) if path.exists() else plan.create(rel, text)
    notes = []
    readme = project.root / "README.md"
    if readme.exists():
        old = readme.read_text(encoding="utf-8")
        text = _replace_between(old, storage_section(context), STORAGE_START, STORAGE_END)
        if text is None:
            notes.append("README.md has no storage section markers: its table was left as is")
        elif text != old:
            plan.update("README.md", text)
    # What to do first fits the executor: settings to fill in, workers to start (issue 28).
    steps = (["fill in .env"] if executor.settings else []) + (
        [] if installed else ["run `polster setup`"]
    )
    if executor.worker is not None:
        steps.append(
            f"start workers with `python run_polster.py --worker --executor {executor.name}`"
        )
    notes.append(
        f"{project.name} can now run its steps with the {executor.name} executor: "
        f"{', '.join(steps)}, then run `python run_polster.py --executor {executor.name}` "
        f"(or set POLSTER_EXECUTOR={executor.name} in .env)."
    )
    return plan, notes


def storage_plan(project, plugins, name: str, installed: bool = False):
    """Switch the project to backend ``name``: dependency, settings, README table.
    ``installed``: the plugin was just installed into ``.venv`` too (no `polster setup` to do)."""
    from ..plugin_system.specs import describe_needed, needed_settings
    from ..project.scaffold import (
        STORAGE_END,
        STORAGE_START,
        env_file,
        settings_table,
        storage_section,
    )

    backend = plugins.storage_backend(name)
    if project.storage == backend.name:
        raise PolsterError(f"{project.name} already uses the {backend.name} storage backend")
    context = _context(project, plugins, backend.name, project.platform)
    plan = Plan(project.root)
    pyproject = _pyproject_with(project, backend.requirement, storage=backend.name)
    plan.update("pyproject.toml", pyproject)
    for rel, example in ((".env", False), (".env.example", True)):
        path = project.root / rel
        if path.exists():
            text = _merge_env(path.read_text(encoding="utf-8"), context, example)
            if text != path.read_text(encoding="utf-8"):
                plan.update(rel, text)
        else:
            plan.create(rel, env_file(context, example))
    readme = project.root / "README.md"
    notes = []
    if readme.exists():
        old = readme.read_text(encoding="utf-8")
        # The whole storage section; a README from before it had markers: its table only.
        text = _replace_between(old, storage_section(context), STORAGE_START, STORAGE_END)
        if text is None:
            text = _replace_table(old, settings_table(context))
        if text is None:
            notes.append("README.md has no settings table markers: its table was left as is")
        elif text != readme.read_text(encoding="utf-8"):
            plan.update("README.md", text)
    _recompose_ci(project, plugins, plan, context, notes)
    needed = [describe_needed(group) for group in needed_settings(backend.settings)]
    notes.append(f"{project.name} now stores its tables with {backend.name}.")
    if needed:
        notes.append(
            f"Fill in .env: {', '.join(needed)} (the others are optional; "
            "secret values stay in .env only)."
        )
    if backend.requirement and not installed:
        notes.append(f"Run `polster setup` to install {backend.requirement} into .venv.")
    return plan, notes


def platform_plan(project, plugins, name: str, force: bool):
    """Add CI platform ``name``'s files; refuse files that exist unless ``force``."""

    platform = plugins.ci_platform(name)
    context = _context(project, plugins, project.storage, platform.name)
    plan = Plan(project.root)
    existing = []
    for rel, text in sorted(platform.render(context).items()):
        path = project.root / rel
        if not path.exists():
            plan.create(rel, text)
        elif path.read_text(encoding="utf-8") != text:
            if not force:
                existing.append(rel)
            else:
                plan.update(rel, text)
    if existing:
        raise PolsterError(f"{', '.join(existing)} already exist: pass --force to overwrite")
    if project.platform != platform.name or context.dev_dependencies:
        text = _pyproject_with(project, None, dev=context.dev_dependencies, platform=platform.name)
        if text != (project.root / "pyproject.toml").read_text(encoding="utf-8"):
            plan.update("pyproject.toml", text)
    notes = [f"{project.name} now has {platform.name} CI: commit the new files and push."]
    _readme_ci_update(project, plan, context, notes)
    return plan, notes


def _pyproject_with(
    project, requirement: str | None, dev: list[str] | tuple = (), **polster_keys: str
) -> str:
    """pyproject.toml with ``requirement`` added (and ``dev`` to the dev dependency group) and
    ``[tool.polster]`` keys set, comments kept (:func:`..pyproject_edit.edit_pyproject`)."""
    from ..project.pyproject_edit import edit_pyproject

    text = (project.root / "pyproject.toml").read_text(encoding="utf-8")
    edited = edit_pyproject(text, [requirement] if requirement else [], dev, polster_keys)
    if edited is None:
        wanted = ", ".join([*([requirement] if requirement else []), *dev]) or "the change"
        raise PolsterError(
            f"{project.root / 'pyproject.toml'} could not be edited safely: add {wanted} to "
            "its dependencies by hand, then run the command again"
        )
    return edited


def _merge_env(text: str, context, example: bool) -> str:
    """Set STORAGE_BACKEND and append the settings the file lacks (secret values left empty)."""
    from ..project.envfile import parse
    from ..project.scaffold import setting_note

    lines = re.split(r"\r\n|\n|\r", text)
    if lines[-1] == "":
        lines.pop()
    # Each setting's last line (the one that is used), read as the run time reads .env.
    present = {b.key: b.line - 1 for b in parse(text) if b.key is not None and b.value is not None}
    if "STORAGE_BACKEND" in present:
        lines[present["STORAGE_BACKEND"]] = f"STORAGE_BACKEND={context.storage}"
    added = [s for s in context.settings if s.name not in present]
    if added:
        lines += ["", f"# Added by `polster enable {context.storage}`"]
        for setting in added:
            value = context.storage if setting.name == "STORAGE_BACKEND" else setting.default
            if setting.secret:
                value = ""
            lines.append(f"# {setting.description}{setting_note(setting, context.settings)}")
            lines.append(f"{setting.name}={value}")
    return "\n".join(lines) + "\n"


def _replace_table(text: str, table: str) -> str | None:
    from ..project.scaffold import TABLE_END, TABLE_START

    return _replace_between(text, table, TABLE_START, TABLE_END)


def _replace_between(text: str, block: str, start_marker: str, end_marker: str) -> str | None:
    """``text`` with the part from ``start_marker`` to ``end_marker`` replaced by ``block``
    (which carries the markers itself), or None when the markers are missing."""
    start = text.find(start_marker)
    end = text.find(end_marker)
    if start < 0 or end < start:
        return None
    return text[:start] + block + text[end + len(end_marker) :]


def _readme_ci_update(project, plan, context, notes: list[str]) -> None:
    """Rewrite the README's CI section (between its markers) for ``context``."""
    from ..project.scaffold import PLATFORM_END, PLATFORM_START, platform_section

    readme = project.root / "README.md"
    if not readme.exists():
        return
    old = readme.read_text(encoding="utf-8")
    new = _replace_between(old, platform_section(context), PLATFORM_START, PLATFORM_END)
    if new is None:
        notes.append("README.md has no CI section markers: its CI section was left as is")
    elif new != old:
        for op in plan.ops:  # one README edit per plan: build on an update already planned
            if op.path == readme and op.content is not None:
                op.content = _replace_between(
                    op.content, platform_section(context), PLATFORM_START, PLATFORM_END
                )
                return
        plan.update("README.md", new)


def _recompose_ci(project, plugins, plan, context, notes: list[str]) -> None:
    """After a storage change, re-render the project's CI files with the new backend's settings.

    A CI file edited by hand (not what the old settings would render) is left alone and named.
    """
    if not project.platform or project.platform not in plugins.ci_platforms():
        return
    platform = plugins.ci_platform(project.platform)
    before = platform.render(_context(project, plugins, project.storage, platform.name))
    after = platform.render(context)
    for rel, text in sorted(after.items()):
        path = project.root / rel
        if not path.exists() or path.read_text(encoding="utf-8") == text:
            continue
        if path.read_text(encoding="utf-8") == before.get(rel):
            plan.update(rel, text)
        else:
            notes.append(
                f"{rel} was edited by hand and still has the old storage settings: "
                f"review it, or regenerate it with `polster enable {platform.name} --force`"
            )
    _readme_ci_update(project, plan, context, notes)


def register(app: typer.Typer) -> None:
    """Add ``enable`` to ``app``."""
    app.command()(enable)
