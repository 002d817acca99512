"""``polster init`` as a plan: every file of a new project, rendered before anything is written."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, requires, version
from pathlib import Path

from .. import __version__
from ..exceptions import PolsterError
from ..plugin_system.specs import Setting, compatible_requirement, describe_needed, needed_settings
from . import record
from .model import is_polster_project
from .names import package_name
from .plan import Plan, recover_folder

# The Python versions a generated project supports, oldest first: its `requires-python` and
# classifiers say so, and its CI runs the tests on the oldest and the newest.
PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13", "3.14")

# The files a user edits and that --force never replaces.
KEEP_ON_FORCE = {".env"}


@dataclass
class ProjectContext:
    """What plugins know about the project being created (``polster_project_files(context)``)."""

    project_name: str
    storage: str = "local"
    platform: str = ""
    polster_version: str = __version__
    dependencies: list[str] = field(default_factory=list)
    # The dev dependency group's extra entries: the CI platform's plugin, so that `polster check`
    # in CI (and on a teammate's machine) knows the platform.
    dev_dependencies: list[str] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)
    # The CI platform's README section (CIPlatform.readme_section), filled in by build_context.
    platform_readme: str = ""
    # The Python versions the project declares (its classifiers); CI tests the first and last.
    python_versions: tuple[str, ...] = PYTHON_VERSIONS
    # Names of the storage backends installed (registered) when the project was built.
    storage_backends: tuple[str, ...] = ()

    @property
    def package(self) -> str:
        return package_name(self.project_name)

    def example_upstream(self, layer: str) -> tuple[str, ...]:
        return {"bronze": (), "silver": ("run_bronze_example",), "gold": ("run_silver_example",)}[
            layer
        ]

    def template_values(self) -> dict:
        return {
            "project_name": self.project_name,
            "package": self.package,
            "storage": self.storage,
            "platform": self.platform,
            "polster_version": self.polster_version,
            "dependencies": self.dependencies,
            "dev_dependencies": self.dev_dependencies,
            "python_versions": self.python_versions,
            "storage_section": storage_section(self),
            "platform_section": platform_section(self),
        }


def runtime_requirements() -> list[str]:
    """``polster`` plus its ``runtime`` extra, as a generated project's dependencies."""

    try:
        reqs = requires("polster") or []
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        reqs = []
    marker = re.compile(r"extra\s*==\s*['\"]runtime['\"]")
    runtime = [r.split(";")[0].strip() for r in reqs if marker.search(r)]

    return [compatible_requirement("polster", __version__), *runtime]


def build_context(
    name: str, plugins, storage: str, platform: str, executor: str = ""
) -> ProjectContext:
    """The context of a new project (``polster init``) or of an existing one (``enable``);
    ``executor`` (``[tool.polster] executor``) adds its plugin's settings and requirement."""
    backend = plugins.storage_backend(storage)
    deps = runtime_requirements()
    if backend.requirement:
        deps.append(backend.requirement)
    context = ProjectContext(
        project_name=name,
        storage=backend.name,
        platform=platform,
        dependencies=deps,
        storage_backends=tuple(plugins.unique_names(plugins.storage_backends())),
    )
    context.settings = project_settings(context, plugins)
    if executor and executor in plugins.executors():
        spec = plugins.executor(executor)
        if spec.requirement:
            context.dependencies.append(spec.requirement)
        context.settings = _unique_settings([*context.settings, *spec.settings])
    if platform:
        ci_platform = plugins.ci_platform(platform)
        requirement = plugin_requirement(ci_platform.plugin)
        if requirement:
            context.dev_dependencies.append(requirement)
        if ci_platform.readme_section is not None:
            context.platform_readme = readme_section(ci_platform, context)
    return context


def plugin_requirement(dist: str) -> str | None:
    """``polster-github>=0.1.1,<0.2`` for an installed plugin distribution; None for polster's
    own built-ins (or a plugin that is not a distribution, e.g. registered by a test)."""

    if not dist or dist == "polster":
        return None
    try:
        return compatible_requirement(dist, version(dist))
    except (PackageNotFoundError, ValueError):
        return None


def readme_section(platform, context: ProjectContext) -> str:
    """The platform's README section, under a heading of its own: the plugin's first line when
    that is a Markdown heading, else ``### Continuous Integration (<platform>)``."""
    text = (platform.readme_section(context) or "").strip()
    if not text or text.startswith("#"):
        return text
    title = platform.description.split(" (")[0].strip() or platform.name
    return f"### Continuous Integration ({title})\n\n{text}"


def project_settings(context: ProjectContext, plugins) -> list[Setting]:
    """The core's and plugins' settings (``polster_env_vars``), then the backend's own."""
    backend = plugins.storage_backend(context.storage)
    settings: list[Setting] = []
    for result in plugins.pm.hook.polster_env_vars(context=context):
        settings.extend(result or [])
    settings.extend(backend.settings)
    return _unique_settings(settings)


def _unique_settings(settings: list[Setting]) -> list[Setting]:
    seen: dict[str, Setting] = {}
    for setting in settings:
        seen.setdefault(setting.name, setting)
    return list(seen.values())


def env_file(context: ProjectContext, example: bool) -> str:
    """``.env`` (values) or ``.env.example`` for the project's settings.

    ``.env.example`` lists every setting, so that a copy of it is a complete ``.env``: a secret
    by its name with an empty value, never its value (nor a default the plugin gives it)."""
    head = (
        f"# Settings of {context.project_name}: a copy of .env without secrets, safe to commit.\n"
        if example
        else f"# Settings of {context.project_name}, read by the pipeline, the example scripts "
        "and Dagster.\n# Never commit this file (it is in .gitignore); .env.example is the "
        "shareable copy.\n"
    )
    lines = [head + "# Variables set in the environment win over this file.", ""]
    for setting in context.settings:
        value = setting.default
        if setting.name == "STORAGE_BACKEND":
            value = context.storage
        if setting.secret:
            value = "" if example else setting.default
        lines.append(f"# {setting.description}{setting_note(setting, context.settings)}")
        lines.append(f"{setting.name}={value}")
    return "\n".join(lines) + "\n"


def setting_note(setting: Setting, settings: list[Setting]) -> str:
    """What a ``.env`` comment or the README adds to a setting's description: whether it must
    be filled in (``needed_settings``: required, or one of a group) and whether it is secret."""
    notes = []
    group = next((g for g in needed_settings(settings) if setting in g), ())
    if len(group) == 1:
        notes.append("required")
    elif group:
        notes.append(f"required: {describe_needed(group)}")
    if setting.secret:
        notes.append("secret")
    return f" ({', '.join(notes)})" if notes else ""


TABLE_START = "<!-- polster:settings (polster enable rewrites this table) -->"
TABLE_END = "<!-- /polster:settings -->"


def settings_table(context: ProjectContext) -> str:
    """The README's settings table, between markers so ``polster enable`` can rewrite it."""
    rows = [
        TABLE_START,
        "| Variable | Description | Default |",
        "|----------|-------------|---------|",
    ]
    for s in context.settings:
        default = "-" if s.secret or not s.default else s.default
        note = setting_note(s, context.settings)
        rows.append(f"| `{s.name}` | {s.description}{note} | {default} |")
    rows.append(TABLE_END)
    return "\n".join(rows)


PLATFORM_START = "<!-- polster:ci -->"
PLATFORM_END = "<!-- /polster:ci -->"


def platform_section(context: ProjectContext) -> str:
    """The README's CI section between markers (empty without a platform), so a later
    ``polster enable PLATFORM`` can fill it in place."""
    body = f"{context.platform_readme}\n" if context.platform_readme else ""
    return f"{PLATFORM_START}\n{body}{PLATFORM_END}"


STORAGE_START = "<!-- polster:storage (polster enable rewrites this section) -->"
STORAGE_END = "<!-- /polster:storage -->"


def storage_section(context: ProjectContext) -> str:
    """The README's storage sections between markers, so ``polster enable BACKEND`` rewrites
    them whole: what the project stores where, how to switch, and the settings table."""
    if context.storage == "local":
        body = (
            "### Local Development\n\n"
            "Default settings work out of the box:\n\n"
            "```bash\n"
            "# Everything runs locally in data/ directory\n"
            "python run_polster.py --materialize\n"
            "```\n\n"
            "### Cloud Storage (ADLS)\n\n"
            "This project stores its tables locally, in `data/`. Cloud backends are plugins: "
            "install one, then let `polster enable` switch the project to it (dependency, "
            "`[tool.polster]`, `.env`, `.env.example`, this README and the CI files):\n\n"
            "```bash\n"
            "pip install polster-adls      # Azure Data Lake Storage Gen2 (polster-s3 for S3)\n"
            "polster enable adls          # or: polster enable s3\n"
            "polster setup                # installs the backend into .venv\n"
            "```\n\n"
            "Then fill in its settings in `.env` (the values below are placeholders):\n\n"
            "```bash\n"
            "STORAGE_BACKEND=adls\n"
            "ADLS_ACCOUNT_NAME=your_storage_account\n"
            "ADLS_CONTAINER=your_container\n"
            f"ADLS_BASE_PATH={context.project_name}/data\n"
            "ADLS_ACCOUNT_KEY=your_key_here\n"
            "```"
        )
    else:
        names = "\n".join(
            f"{s.name}={'your_value_here' if s.secret else s.default}"
            for s in context.settings
            if s.name.startswith(context.storage.upper())
        )
        body = (
            "### Local Development\n\n"
            "To run without the cloud (a laptop, a test), set `STORAGE_BACKEND=local` in the "
            "environment: tables then go to `data/`.\n\n"
            "```bash\n"
            "STORAGE_BACKEND=local python run_polster.py\n"
            "```\n\n"
            f"### Cloud Storage ({context.storage})\n\n"
            f"This project stores its tables with the `{context.storage}` backend. "
            "Set its settings in `.env`:\n\n"
            f"```bash\nSTORAGE_BACKEND={context.storage}\n{names}\n```"
        )
    return (
        f"{STORAGE_START}\n{body}\n\n### Environment Variables\n\n"
        f"{settings_table(context)}\n{STORAGE_END}"
    )


def project_files(context: ProjectContext, plugins) -> dict[str, str]:
    """Every file of the new project, from the ``polster_project_files`` hook and the core."""
    files: dict[str, str] = {}
    owner: dict[str, str] = {}
    hook = plugins.pm.hook.polster_project_files
    for impl in hook.get_hookimpls():
        result = impl.function(context=context) or {}
        for path, text in result.items():
            if path in files:
                raise PolsterError(
                    f"plugins {owner[path]} and {impl.plugin_name} both write {path}: "
                    "uninstall one of them"
                )
            files[path], owner[path] = text, impl.plugin_name
    files[".env"] = env_file(context, example=False)
    files[".env.example"] = env_file(context, example=True)
    if context.platform:
        platform = plugins.ci_platform(context.platform)
        for path, text in platform.render(context).items():
            if path in files:
                raise PolsterError(f"CI platform {platform.name} would overwrite {path}")
            files[path] = text
    return files


def check_target(target: Path, force: bool) -> None:
    """Refuse a target that exists, unless --force and it is empty or a Polster project."""

    recover_folder(target)  # an init a kill cut short: finished or undone first
    if not target.exists():
        return
    if not target.is_dir():
        raise PolsterError(f"{target} exists and is not a directory: choose another name")
    empty = not any(target.iterdir())
    if not force:
        what = "an empty directory" if empty else "a directory that is not empty"
        hint = "pass --force to create the project in it" if empty else "choose another name"
        if not empty and is_polster_project(target):
            hint = "pass --force to write the project's files again"
        raise PolsterError(f"{target} is already {what}: {hint}")
    if not empty and not is_polster_project(target):
        raise PolsterError(
            f"{target} is not empty and is not a Polster project: --force only writes into an "
            "empty directory or one polster init created; choose another name"
        )


def init_plan(target: Path, context: ProjectContext, plugins) -> Plan:

    plan = Plan(target)
    files = project_files(context, plugins)
    for rel, text in sorted(files.items()):
        path = target / rel
        executable = rel == "run_polster.py"
        if not path.exists():
            plan.create(rel, text, executable=executable)
        elif rel not in KEEP_ON_FORCE and path.read_text(encoding="utf-8") != text:
            plan.update(rel, text)
    answers = record.Answers(context.project_name, context.storage, context.platform)
    generated = record.Record(
        answers, record.recordable(files), plugins=record.plugin_versions(plugins)
    )
    record.put(plan, generated)
    return plan


def git_available() -> bool:

    return shutil.which("git") is not None


def inside_git_repo(directory: Path) -> bool:
    try:
        out = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "--is-inside-work-tree"],
            capture_output=True,
            text=True,
        )
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == "true"


def git_init(root: Path) -> None:
    """``git init``, then a first commit of the generated tree (.env, .venv, data/ ignored).

    All or nothing: a repository this call started is removed again if it fails or is
    interrupted before the commit.
    """
    fresh = not (root / ".git").exists()
    try:
        _git_init(root)
    except BaseException:
        if fresh:
            shutil.rmtree(root / ".git", ignore_errors=True)
        raise


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def _git_commit(root: Path, message: str) -> None:
    identity: list[str] = []
    if _git(root, "config", "user.email").returncode != 0:
        identity = ["-c", "user.name=Polster", "-c", "user.email=polster@localhost"]
    result = _git(root, *identity, "commit", "-q", "-m", message)
    if result.returncode != 0:
        raise PolsterError(f"git commit failed: {result.stderr.strip()}")


def _git_init(root: Path) -> None:
    steps = [("init", "-q", "-b", "main"), ("add", "-A")]
    for step in steps:
        result = _git(root, *step)
        if result.returncode != 0:
            raise PolsterError(f"git {step[0]} failed: {result.stderr.strip()}")
    _git_commit(root, "Initial commit: polster init")


def git_commit_lock(root: Path) -> bool:
    """Commit ``uv.lock`` that ``polster setup`` wrote after the first commit (if it did)."""
    if not (root / "uv.lock").is_file() or _git(root, "ls-files", "uv.lock").stdout.strip():
        return False
    result = _git(root, "add", "uv.lock")
    if result.returncode != 0:
        raise PolsterError(f"git add uv.lock failed: {result.stderr.strip()}")
    _git_commit(root, "Lock the dependencies: uv.lock (polster setup)")
    return True
