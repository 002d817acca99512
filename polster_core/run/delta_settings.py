"""The ``[tool.polster]`` settings of a project's Delta tables (issue 29), read at run time from
its ``pyproject.toml`` (once per change of the file):

- ``delta_target_file_mb`` (default 4): the size of the data files a table is written and
  compacted in (the table's ``delta.targetFileSize``);
- ``delta_compact_small_files`` (default 8; 0 turns it off): after a commit, a table with more
  small files (under a quarter of the target size) than this in one partition is compacted in
  the same run, so reads stay fast without ``polster upkeep``;
- ``delta_retention_hours`` (default 168, Delta's 7 days): what ``polster upkeep`` keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import PolsterError
from ..project.model import read_pyproject
from ..project.table_spec import DEFAULT_RETENTION_HOURS

MIB = 1024 * 1024


@dataclass(frozen=True)
class DeltaSettings:
    target_file_mb: int = 4
    compact_small_files: int = 8
    retention_hours: int = DEFAULT_RETENTION_HOURS

    @property
    def target_file_bytes(self) -> int:
        return self.target_file_mb * MIB


DEFAULTS = DeltaSettings()
_KEYS = {
    "delta_target_file_mb": ("target_file_mb", 1),
    "delta_compact_small_files": ("compact_small_files", 0),
    "delta_retention_hours": ("retention_hours", 0),
}


def from_config(config: dict) -> DeltaSettings:
    """The settings in a ``[tool.polster]`` table; a wrong value is one line."""
    values: dict[str, int] = {}
    for key, (field_name, least) in _KEYS.items():
        value = config.get(key, getattr(DEFAULTS, field_name))
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise PolsterError(
                f"[tool.polster] {key} in pyproject.toml must be a whole number ({least} or "
                f"more), not {value!r}: fix it"
            )
        values[field_name] = value
    return DeltaSettings(**values)


_read: dict[Path, tuple[int, DeltaSettings]] = {}


def of_project(root: Any) -> DeltaSettings:
    """The settings of the project at ``root`` (the defaults where it has no pyproject.toml,
    e.g. a storage made for a test)."""
    if root is None:
        return DEFAULTS
    path = Path(root) / "pyproject.toml"
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return DEFAULTS
    cached = _read.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    config = read_pyproject(path).get("tool", {}).get("polster", {})
    found = from_config(config if isinstance(config, dict) else {})
    _read[path] = (stamp, found)
    return found


def retention_hours(config: dict) -> int:
    """``[tool.polster] delta_retention_hours`` (default 168: Delta's 7 days)."""
    value = config.get("delta_retention_hours", DEFAULT_RETENTION_HOURS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolsterError(
            "[tool.polster] delta_retention_hours in pyproject.toml must be a whole number of "
            f"hours (0 or more), not {value!r}: fix it"
        )
    return value
