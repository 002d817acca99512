"""Built-in asset templates: ``default``, a working starting point for each layer."""

from polster_core.hookspecs import hookimpl
from polster_core.render import render
from polster_core.specs import AssetContext, AssetTemplate

FUNCTIONS = {"bronze": "extract", "silver": "transform", "gold": "aggregate"}


def wrapper(context: AssetContext) -> str:
    """The Dagster wrapper every built-in template uses."""
    return render(
        "assets/wrapper.py.j2",
        asset_key=context.asset_key,
        module=context.module,
        func=FUNCTIONS[context.layer],
        layer=context.layer,
        upstream=list(context.upstream),
        # Silver assets come with the standard quality checks (polster_core.runtime).
        checks=context.layer == "silver" and bool(context.upstream),
    )


def _default_core(context: AssetContext) -> str:
    upstream = [_split(key) for key in context.upstream]
    return render(
        f"assets/default_{context.layer}.py.j2",
        project_name=context.project_name,
        layer=context.layer,
        name=context.name,
        upstream=upstream,
    )


def _split(asset_key: str) -> dict:
    _, layer, name = asset_key.split("_", 2)
    return {"key": asset_key, "layer": layer, "name": name}


@hookimpl
def polster_asset_templates(register):
    register(
        AssetTemplate(
            name="default",
            layers=("bronze", "silver", "gold"),
            description="A working starting point: sample rows (bronze), cleaning (silver), "
            "a count per group (gold)",
            render_core=_default_core,
            render_wrapper=wrapper,
        )
    )
