"""Built-in asset templates: ``default``, a working starting point for each layer."""

from polster_core.plugin_system.hookspecs import hookimpl
from polster_core.plugin_system.specs import AssetContext, AssetTemplate
from polster_core.project.partition_specs import NONE, Partitioning
from polster_core.project.render import render

FUNCTIONS = {"bronze": "extract", "silver": "transform", "gold": "aggregate"}


def wrapper(context: AssetContext) -> str:
    """The Dagster wrapper every built-in template uses."""
    if context.partitions != NONE:
        return partitioned_wrapper(context)
    lazy = _lazy(context)
    return render(
        "assets/wrapper.py.j2",
        asset_key=context.asset_key,
        module=context.module,
        func=FUNCTIONS[context.layer],
        layer=context.layer,
        upstream=list(context.upstream),
        # Silver assets come with the standard quality checks (polster_core.runtime).
        checks=context.layer == "silver" and bool(context.upstream),
        frame_type="pl.LazyFrame" if lazy else "pl.DataFrame",
    )


def partitioned_wrapper(context: AssetContext) -> str:
    """The wrapper of a partitioned asset: one frame per partition key of the run."""
    partitioning = Partitioning(context.partitions, context.start, getattr(context, "timezone", ""))
    return render(
        "assets/wrapper_partitioned.py.j2",
        asset_key=context.asset_key,
        module=context.module,
        func=FUNCTIONS[context.layer],
        layer=context.layer,
        name=context.name,
        kind=context.partitions,
        definition=partitioning.definition(),
        arg=partitioning.argument,
        example=partitioning.example_key,
        upstream=[
            {"key": key, "partitioned": key in context.partitioned_upstream}
            for key in context.upstream
        ],
        checks=context.layer == "silver" and bool(context.upstream),
    )


def _lazy(context: AssetContext) -> bool:
    """An unpartitioned gold asset over one partitioned upstream scans it lazily (flat memory)."""
    return (
        context.layer == "gold"
        and context.partitions == NONE
        and len(context.upstream) == 1
        and bool(context.partitioned_upstream)
    )


def _default_core(context: AssetContext) -> str:
    upstream = [_split(key, context) for key in context.upstream]
    partitioning = Partitioning(context.partitions, context.start)
    return render(
        f"assets/default_{context.layer}.py.j2",
        project_name=context.project_name,
        layer=context.layer,
        name=context.name,
        upstream=upstream,
        partitioned=partitioning.partitioned,
        arg=partitioning.argument,
        example=partitioning.example_key,
        lazy=_lazy(context),
    )


def _split(asset_key: str, context: AssetContext | None = None) -> dict:
    _, layer, name = asset_key.split("_", 2)
    partitioned = context is not None and asset_key in context.partitioned_upstream
    return {"key": asset_key, "layer": layer, "name": name, "partitioned": partitioned}


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
            partitions=True,
        )
    )
