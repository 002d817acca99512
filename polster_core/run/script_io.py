"""What a project's example scripts call to read and write a table (``core/storage.py``:
``read_table``, ``write_table``): one partition or the whole table, the key checked against the
asset's partitions definition, the table's data contract enforced on write. Public as
``polster_core.partitions.read_table`` / ``write_table``.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from ..exceptions import PolsterError
from ..project.graph import asset_function, wrapper_path
from ..project.names import asset_key
from ..project.partition_keys import KeyProblem
from ..project.partition_specs import partitioning_of
from . import delta
from .contracts import enforce_in_script
from .partitions import PartitionedTable, collected, partition_layer, warn_once


def read_table(
    storage: Any,
    layer: str,
    name: str,
    partition: str | None,
    lazy: bool,
    version: int | None = None,
    as_of: Any = None,
) -> Any:
    """What the example scripts read: one partition, or the table (all its partitions when it
    is partitioned and no unpartitioned version exists); a Delta table's current version, or
    the one of ``version`` / ``as_of``."""
    if version is not None or as_of is not None or delta.script_reads_delta(storage, layer, name):
        return delta.read(
            storage, layer, name, lazy=lazy, version=version, as_of=as_of, partition=partition
        )
    table = PartitionedTable(storage, layer, name)
    if partition is not None:
        check_script_key(storage, layer, name, partition)
        return table.scan(partition) if lazy else table.read(partition)
    if _partitioned_only(storage, table):
        frame = table.scan_all()
        return frame if lazy else collected(frame)
    return storage.scan(layer, name) if lazy else storage.read(layer, name)


def write_table(storage: Any, frame: Any, layer: str, name: str, partition: str | None) -> Any:
    """What the example scripts write: one partition, or the whole table."""
    spec = delta.script_spec(storage, layer, name)  # a Delta table: its wrapper's strategy
    if spec is not None:
        if partition is not None:
            check_script_key(storage, layer, name, partition)
        frame = enforce_in_script(storage, frame, layer, name, partition)
        return delta.write(storage, frame, layer, name, spec, partition=partition)
    if partition is not None:
        check_script_key(storage, layer, name, partition)
        frame = enforce_in_script(storage, frame, layer, name, partition)
        return PartitionedTable(storage, layer, name).write(frame, partition)
    if _has_partitions(PartitionedTable(storage, layer, name)):
        warn_once(
            f"NOTE: {layer}/{name} has partitions stored; this unpartitioned write goes to its "
            "own file beside them and they are kept (pass a partition to write one of them)"
        )
    return storage.write(enforce_in_script(storage, frame, layer, name, None), layer, name)


def check_script_key(storage: Any, layer: str, name: str, key: str) -> None:
    """PolsterError (one line naming a valid neighbour) unless ``key`` is a partition of the
    asset's partitions definition, read off its wrapper (``run_{layer}_{name}.py``) without
    importing Dagster. A table without a wrapper, or a definition polster cannot compute
    (custom arguments), gets the checks every key gets (:func:`partition_layer`)."""
    partition_layer(layer, name, key)
    root = getattr(getattr(storage, "settings", None), "root", None)
    partitioning = None if root is None else asset_partitioning(Path(root), layer, name)
    model = partitioning.model() if partitioning is not None else None
    if model is None:
        return

    try:
        problem = model.problem(key)
    except KeyProblem as exc:  # the wrapper's own definition cannot work
        problem = f"{layer}/{name}'s partitions definition cannot work: {exc}"
    if problem:
        raise PolsterError(f"{problem} ({layer}/{name} is partitioned {partitioning.describe()})")


def asset_partitioning(root: Path, layer: str, name: str) -> Any | None:
    """The Partitioning of asset ``layer``/``name`` read off its wrapper; None without one."""

    path = root / wrapper_path(layer, name)
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    function = asset_function(tree, asset_key(layer, name))
    return None if function is None else partitioning_of(function, tree)


def _has_partitions(table: PartitionedTable) -> bool:
    """Whether partitions are stored; False when the store cannot be asked (the read or
    write that follows reports that problem, in one line, through the Storage)."""
    try:
        return bool(table.keys())
    except Exception:
        return False


def _partitioned_only(storage: Any, table: PartitionedTable) -> bool:
    try:
        if storage.exists(table.layer, table.name):
            return False
    except Exception:
        return False
    return _has_partitions(table)
