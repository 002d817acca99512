"""Built-in plugin that writes a new project: the template tree and the core settings."""

from polster_core import LAYERS
from polster_core.builtin.asset_templates import wrapper
from polster_core.plugin_system.hookspecs import hookimpl
from polster_core.plugin_system.specs import AssetContext, Setting
from polster_core.project.render import project_templates, render


@hookimpl
def polster_project_files(context):
    values = context.template_values()
    files = {out: render(template, **values) for template, out in project_templates()}
    for layer in LAYERS:
        asset = AssetContext(
            context.project_name, layer, "example", context.example_upstream(layer)
        )
        files[f"src/orchestration/assets/{layer}/run_{layer}_example.py"] = wrapper(asset)
    return files


def _backends_note(context) -> str:
    """What the project's own environment can store with: local, and the backend it was made
    or enabled with (the polster CLI may have more plugins than the project installs)."""
    own = sorted({"local", getattr(context, "storage", "local") or "local"})
    return (
        f"{', '.join(own)} (this project installs {'both' if len(own) > 1 else 'only local'}; "
        "`polster enable NAME` adds another: `polster plugins` lists them)"
    )


@hookimpl
def polster_env_vars(context):
    return [
        Setting(
            "STORAGE_BACKEND",
            f"Where tables are stored: {_backends_note(context)}",
            default="local",
        ),
        Setting("LOCAL_DATA_DIR", "Directory of local tables, relative to the project", "data"),
        Setting("DUAL_WRITE_SAMPLE_SIZE", "Rows for local samples of remote writes", "50"),
        Setting("DISABLE_LOCAL_SAMPLE", "Skip local sample writing", "false"),
    ]
