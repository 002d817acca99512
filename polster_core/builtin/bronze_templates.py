"""Built-in bronze asset templates for the seed's "Common Data Patterns".

``csv``, ``parquet``, ``excel``, ``api`` (HTTP JSON) and ``database`` (a SQL query through a
connection URI). Each reads its source from settings (environment variables or ``.env``, named
after the asset) and returns sample rows until the source is set up, so a new asset never
breaks the pipeline.
"""

from polster_core.builtin.asset_templates import wrapper
from polster_core.plugin_system.hookspecs import hookimpl
from polster_core.plugin_system.specs import AssetContext, AssetTemplate, Setting
from polster_core.project.render import render


def _core(kind: str):
    def render_core(context: AssetContext) -> str:
        return render(
            f"assets/bronze_{kind}.py.j2",
            name=context.name,
            prefix=context.env_prefix,
        )

    return render_core


def _csv_settings(c: AssetContext) -> tuple[Setting, ...]:
    return (
        Setting(
            f"{c.env_prefix}_CSV_PATH",
            "The CSV file, relative to the project",
            default=f"data/sources/{c.name}.csv",
        ),
    )


def _parquet_settings(c: AssetContext) -> tuple[Setting, ...]:
    return (
        Setting(
            f"{c.env_prefix}_PARQUET_PATH",
            "The Parquet file or glob, relative to the project",
            default=f"data/sources/{c.name}.parquet",
        ),
    )


def _excel_settings(c: AssetContext) -> tuple[Setting, ...]:
    return (
        Setting(
            f"{c.env_prefix}_EXCEL_PATH",
            "The workbook (.xlsx), relative to the project",
            default=f"data/sources/{c.name}.xlsx",
        ),
        Setting(
            f"{c.env_prefix}_EXCEL_SHEET",
            "The worksheet (default: the first one)",
            example="Q4 Sales",
        ),
    )


def _api_settings(c: AssetContext) -> tuple[Setting, ...]:
    return (
        Setting(
            f"{c.env_prefix}_API_URL",
            "The URL that returns JSON",
            required=True,
            example="https://api.example.com/orders",
        ),
        Setting(f"{c.env_prefix}_API_TOKEN", "Bearer token sent with each request", secret=True),
        Setting(
            f"{c.env_prefix}_API_RECORDS_KEY",
            "Key of the list of records in a JSON object response",
            example="data",
        ),
    )


def _database_settings(c: AssetContext) -> tuple[Setting, ...]:
    return (
        Setting(
            f"{c.env_prefix}_DATABASE_URI",
            "Connection URI of the database",
            secret=True,
            required=True,
            example="postgresql://user:password@localhost:5432/db",
        ),
        Setting(
            f"{c.env_prefix}_DATABASE_QUERY",
            "The SQL query to run",
            default=f"SELECT * FROM {c.name}",
        ),
    )


TEMPLATES = (
    ("csv", "A CSV file (path from settings), every column as text", _csv_settings, ()),
    ("parquet", "A Parquet file or glob (path from settings)", _parquet_settings, ()),
    (
        "excel",
        "An Excel worksheet (needs fastexcel, added to the project)",
        _excel_settings,
        ("fastexcel>=0.11",),
    ),
    ("api", "An HTTP JSON API (URL and token from settings)", _api_settings, ()),
    (
        "database",
        "A SQL query through a connection URI (needs connectorx, added to the project)",
        _database_settings,
        ("connectorx>=0.3.2",),
    ),
)


@hookimpl
def polster_asset_templates(register):
    for name, description, settings, requirements in TEMPLATES:
        register(
            AssetTemplate(
                name=name,
                layers=("bronze",),
                description=description,
                render_core=_core(name),
                render_wrapper=wrapper,
                settings=settings,
                requirements=requirements,
            )
        )
