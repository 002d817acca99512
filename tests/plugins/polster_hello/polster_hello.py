"""A third-party plugin as a user would write one: a storage backend, a CI platform, a template."""

from polster_core import hookimpl
from polster_core.specs import AssetTemplate, CIPlatform, Setting, StorageBackend


def _backend(settings):
    from polster_core.storage import LocalBackend

    backend = LocalBackend(settings.root / settings.get("HELLO_DIR", "hello-store"))
    backend.name = "hello"
    return backend


@hookimpl
def polster_storage_backends(register):
    register(
        StorageBackend(
            name="hello",
            description="Parquet files in a directory of their own",
            factory=_backend,
            settings=(Setting("HELLO_DIR", "Directory of the hello store", "hello-store"),),
        )
    )


def _render(context):
    return {".hello-ci.yml": f"# hello CI for {context.project_name}\nrun: pytest\n"}


@hookimpl
def polster_ci_platforms(register):
    register(
        CIPlatform(
            name="hello-ci", description="A CI that says hello", render=_render, aliases=("hci",)
        )
    )


@hookimpl
def polster_asset_templates(register):
    register(
        AssetTemplate(
            name="hello",
            layers=("bronze",),
            description="Greets the world",
            render_core=lambda ctx: "",
            render_wrapper=lambda ctx: "",
        )
    )


@hookimpl
def polster_project_files(context):
    return {"HELLO.md": f"Hello from a plugin, {context.project_name}!\n"}
