"""``polster contract infer LAYER NAME``: write an asset's data contract from its stored table.

``register(app)`` adds the ``contract`` group to the CLI it is handed. Nothing heavy at import:
polars (and the storage backend) only when a table is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..exceptions import PolsterError
from ..project.plan import Plan

contract_app = typer.Typer(
    help="Data contracts (dataframely schemas checked on every write): "
    "`polster contract infer silver orders`.",
    no_args_is_help=True,
)


@contract_app.command("infer")
def infer(
    layer: str = typer.Argument(..., help="bronze, silver or gold."),
    name: str = typer.Argument(..., help="The asset's name, e.g. orders."),
    path: Path | None = typer.Option(None, "--path", help="Project directory (default: here)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the contract, write nothing."),
) -> None:
    """Write the asset's contract from its stored table: types, nullability, a key candidate.

    The contract goes into the asset's core file (src/core/LAYER_NAME.py), for you to tighten.
    A partitioned table is read whole (every stored partition); its key candidate is unique
    within each partition, and the folders' partition column (date=...) is not a column of
    the contract unless the asset's data has it.
    """
    from ..project.asset_plans import validate_layer
    from ..project.contract_code import add_contract, contract_block, infer_columns
    from ..project.names import validate_asset_name
    from .assets import project_at

    layer = validate_layer(layer)
    name = validate_asset_name(name)
    project = project_at(path, lock=None if dry_run else "contract infer")
    rel = f"src/core/{layer}_{name}.py"
    core = project.root / rel
    if not core.is_file():
        raise PolsterError(
            f"{rel} does not exist: `polster list` shows the project's assets (add one with "
            f"`polster add-asset --layer {layer} --name {name}`)"
        )
    text = core.read_text(encoding="utf-8")
    empty = contract_block(layer, name)  # what `add-asset --contract` wrote, to fill in
    if empty not in text:
        add_contract(text, "", rel)  # refuses a core file that has one, before reading data
    frame, within, read = stored_table(project.root, layer, name)
    columns = infer_columns(frame, within)
    block = contract_block(layer, name, columns)
    edited = text.replace(empty, block) if empty in text else add_contract(text, block, rel)
    keys = [c.name for c in columns if c.key]
    unique = " (unique within each partition)" if keys and within else ""
    what = f"{len(columns)} columns; key candidate: {keys[0] if keys else 'none found'}{unique}"
    typer.echo(f"Read {layer}/{name}: {read}.")
    if dry_run:
        typer.echo(f"Would add to {rel} ({what}):\n")
        typer.echo(contract_block(layer, name, columns))
        typer.echo("Nothing was written (--dry-run).")
        return
    plan = Plan(project.root, command="contract infer")
    plan.update(rel, edited)
    plan.apply()
    typer.echo(f"Wrote the contract of {layer}/{name} into {rel} ({what}).")
    typer.echo(
        "Next: tighten it (ranges, regexes, rules; CONTRACT_POLICY fail, quarantine or warn), "
        f"then run `python run_polster.py --select run_{layer}_{name}`."
    )


# The column that says which stored partition a row came from (no column of the data).
PARTITION_ROW = "\0partition"


def stored_table(root: Path, layer: str, name: str) -> tuple[Any, str | None, str]:
    """The asset's stored table, lazily, the column naming each row's partition (None for a
    table without partitions) and what was read; one line when there is none.

    A partitioned table is read partition by partition, as the asset wrote them: the hive
    column of the folders (``date=...``) is not added, since the frames the asset returns
    (and the contract checks) do not have it unless the data does."""
    import polars as pl

    from ..run.partitions import PartitionedTable
    from ..run.storage import get_storage

    storage = get_storage(root)
    if storage.exists(layer, name):
        return storage.scan(layer, name), None, storage.uri(layer, name)
    table = PartitionedTable(storage, layer, name)
    keys = table.keys()
    if keys:
        parts = [
            table.scan(key).with_columns(pl.lit(i, pl.UInt32).alias(PARTITION_ROW))
            for i, key in enumerate(keys)
        ]
        span = keys[0] if len(keys) == 1 else f"{keys[0]} to {keys[-1]}"
        read = f"{len(keys)} partition{'s' if len(keys) != 1 else ''}, {span}"
        return pl.concat(parts, how="diagonal_relaxed"), PARTITION_ROW, read
    raise PolsterError(
        f"{layer}/{name} has no stored table yet ({storage.uri(layer, name)}): run "
        f"`python run_polster.py --select run_{layer}_{name}` first; nothing was changed"
    )


def register(app: typer.Typer) -> None:
    """Add the ``contract`` command group to ``app``."""
    app.add_typer(contract_app, name="contract")
