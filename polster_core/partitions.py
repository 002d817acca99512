"""``polster_core.partitions``: the stable public path of partitioned tables
(:mod:`polster_core.run.partitions`) and of what the example scripts call to read and write a
table (:mod:`polster_core.run.script_io`: ``read_table``, ``write_table``), which every
generated ``core/storage.py`` imports from here (docs/plugins.md, "Public API")."""

from .run.partitions import *  # noqa: F403
from .run.partitions import PART, PartitionedTable, delete_file, delete_folder, list_folder
from .run.script_io import check_script_key, read_table, write_table

__all__ = [
    "PART",
    "PartitionedTable",
    "check_script_key",
    "delete_file",
    "delete_folder",
    "list_folder",
    "read_table",
    "write_table",
]
