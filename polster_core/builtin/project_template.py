"""Built-in plugin that writes a new project: the template tree and the core settings."""

from polster_core import LAYERS
from polster_core.builtin.asset_templates import wrapper
from polster_core.hookspecs import hookimpl
from polster_core.render import project_templates, render
from polster_core.specs import AssetContext, Setting


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


@hookimpl
def polster_env_vars(context):
    return [
        Setting(
            "STORAGE_BACKEND",
            "Where tables are stored: local, or a backend a plugin adds (adls, s3)",
            default="local",
        ),
        Setting("LOCAL_DATA_DIR", "Directory of local tables, relative to the project", "data"),
        Setting("DUAL_WRITE_SAMPLE_SIZE", "Rows for local samples of remote writes", "50"),
        Setting("DISABLE_LOCAL_SAMPLE", "Skip local sample writing", "false"),
    ]
