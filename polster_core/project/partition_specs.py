"""The partitionings ``add-asset --partitions`` offers, and reading an asset's off its wrapper.

File-only: ``polster add-asset``, ``list`` and ``check`` use it without importing Dagster. A
wrapper's partitioning is read with ``ast`` from ``partitions_def=`` of its ``@dg.asset``
(a ``dg.DailyPartitionsDefinition(start_date=...)`` call, or a module-level name bound to one).
"""

from __future__ import annotations

import ast
import datetime as _dt
import re
from dataclasses import dataclass

from ..exceptions import PolsterError

NONE = "none"
CUSTOM = "custom"  # a partitions_def polster does not recognise (static, dynamic, ...)
KINDS = {
    "daily": "DailyPartitionsDefinition",
    "hourly": "HourlyPartitionsDefinition",
    "weekly": "WeeklyPartitionsDefinition",
    "monthly": "MonthlyPartitionsDefinition",
}
# What the core function calls the partition it computes.
ARGUMENT = {"daily": "day", "hourly": "hour", "weekly": "week", "monthly": "month"}
EXAMPLE_KEY = {"daily": "2026-11-02", "hourly": "2026-11-02-13:00"}
# A start date as written in a wrapper and in the record: YYYY-MM-DD.
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Partitioning:
    kind: str = NONE  # one of KINDS, NONE or CUSTOM
    start: str = ""
    timezone: str = ""  # a wrapper's timezone= ("" when it sets none: UTC)
    # How the wrapper spells start_date ("2026-11-01-00:00"), and whether the definition is
    # exactly ``{Kind}PartitionsDefinition(start_date, timezone)`` with constant arguments
    # (else polster cannot compute its keys and leaves them to Dagster).
    start_date: str = ""
    exact: bool = True

    @property
    def partitioned(self) -> bool:
        return self.kind != NONE

    @property
    def known(self) -> bool:
        return self.kind in KINDS

    def describe(self) -> str:
        if self.kind in KINDS:
            text = f"{self.kind} from {self.start}" if self.start else self.kind
            return f"{text} in {self.timezone}" if self.timezone not in ("", "UTC") else text
        return self.kind

    def model(self):
        """Its keys in plain datetime (a
        :class:`~polster_core.project.partition_keys.TimePartitions`), or None when polster
        cannot compute them (custom arguments, or no start date)."""
        from .partition_keys import TimePartitions

        if self.kind not in KINDS or not self.exact or not self.start:
            return None
        return TimePartitions(self.kind, self.start_date or self.start, self.timezone or "UTC")

    def same_as(self, other: Partitioning) -> bool:
        """Whether Dagster sees one partitions definition (what one asset job needs)."""
        return self._identity() == other._identity()

    def _identity(self) -> tuple:
        start = self.start_date or self.start
        if self.kind == "hourly" and len(start) == 10:
            start += "-00:00"
        return (self.kind, start, self.timezone or "UTC", self.exact)

    def definition(self) -> str:
        """The Python expression of the partitions definition, for a wrapper."""
        start = self.start + ("-00:00" if self.kind == "hourly" else "")
        if self.timezone and self.timezone != "UTC":
            return f'dg.{KINDS[self.kind]}(start_date="{start}", timezone="{self.timezone}")'
        return f'dg.{KINDS[self.kind]}(start_date="{start}")'

    @property
    def argument(self) -> str:
        return ARGUMENT.get(self.kind, "partition")

    @property
    def example_key(self) -> str:
        return EXAMPLE_KEY.get(self.kind, self.start or "2026-11-01")


def default_start(today: _dt.date | None = None) -> str:
    """The default ``--start``: the first day of the previous month."""
    today = today or _dt.date.today()
    first = today.replace(day=1)
    return (first - _dt.timedelta(days=1)).replace(day=1).isoformat()


def parse_partitions(kind: str | None, start: str | None) -> Partitioning:
    """Validate ``--partitions`` and ``--start``; raises PolsterError with what to pass."""
    kind = (kind or NONE).strip().lower()
    if kind not in KINDS and kind != NONE:
        raise PolsterError(f"--partitions must be one of {', '.join([*KINDS, NONE])}, not '{kind}'")
    if kind == NONE:
        if start:
            raise PolsterError("--start needs --partitions daily, hourly, weekly or monthly")
        return Partitioning()
    if start is None:
        return Partitioning(kind, default_start())
    start = start.strip()
    from .partition_keys import KeyProblem, check_start

    try:
        if not DATE_PATTERN.match(start):
            raise KeyProblem(f"--start must be a date like 2026-11-01 (YYYY-MM-DD), not '{start}'")
        check_start(start)
    except KeyProblem as exc:
        raise PolsterError(str(exc)) from None
    return Partitioning(kind, start)


def partitioning_of(function: ast.FunctionDef, tree: ast.Module) -> Partitioning:
    """The partitioning of an ``@dg.asset`` function, read from its decorator."""
    for decorator in function.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        for keyword in decorator.keywords:
            if keyword.arg == "partitions_def":
                return _definition(keyword.value, tree)
    return Partitioning()


def _definition(node: ast.expr, tree: ast.Module) -> Partitioning:
    if isinstance(node, ast.Name):
        for statement in tree.body:
            if isinstance(statement, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == node.id for t in statement.targets
            ):
                return _definition(statement.value, tree)
        return Partitioning(CUSTOM)
    if isinstance(node, ast.Constant) and node.value is None:
        return Partitioning()
    if not isinstance(node, ast.Call):
        return Partitioning(CUSTOM)
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    kind = next((k for k, cls in KINDS.items() if cls == called), None)
    if kind is None:
        return Partitioning(CUSTOM)
    start = timezone = ""
    exact = all(isinstance(a, ast.Constant) for a in node.args[:1]) and len(node.args) <= 1
    for keyword in node.keywords:
        constant = isinstance(keyword.value, ast.Constant)
        if keyword.arg == "start_date" and constant:
            start = str(keyword.value.value)
        elif keyword.arg == "timezone" and constant and keyword.value.value is not None:
            timezone = str(keyword.value.value)
        elif not (keyword.arg in ("end_offset",) and constant and keyword.value.value == 0):
            exact = False  # hour_offset=, fmt=, end_date=, a variable: Dagster's to compute
    if not start and node.args and isinstance(node.args[0], ast.Constant):
        start = str(node.args[0].value)
    return Partitioning(kind, start[:10], timezone, start, exact)


def choose_partitioning(assets, upstream: list[str], kind, start, template, ask=None):
    """The new asset's partitioning, the upstream keys partitioned the same way, and a note
    for the user (or ""). By default an asset is partitioned like its partitioned upstream;
    ``ask(question, default)`` (interactive mode, a template that renders partitions) asks.
    Raises PolsterError for what cannot work."""
    ups = [assets.assets[k] for k in upstream if k in assets.assets]
    parted = [u for u in ups if u.partitions != NONE]
    kinds = sorted({u.partitions for u in parted})
    inherited = kinds[0] if len(kinds) == 1 and kinds[0] in KINDS else NONE
    note = ""
    asking = ask is not None and getattr(template, "partitions", False)
    if kind is None and asking:
        kind = ask("Partitions", inherited)
    if kind is None:
        kind = inherited
        if inherited != NONE:
            note = (
                f"Partitioned {inherited} like its upstream "
                f"{', '.join(u.key for u in parted)} (pass --partitions none to read all "
                "its partitions as one table instead)."
            )
    kind = kind.strip().lower()
    # Dagster runs every asset of the pipeline in one job, and the partitioned ones of a job
    # share one partitions definition: a new asset takes the project's.
    project = project_partitioning(assets)
    if kind != NONE and start is None:
        starts = [u.partitions_start for u in parted if u.partitions == kind and u.partitions_start]
        if project is not None and project.kind == kind:
            start = project.start
        elif starts:
            start = max(starts)
        elif kind in KINDS and asking:
            start = ask("First partition (YYYY-MM-DD)", default_start())
        elif kind in KINDS:
            start = default_start()
            note = (
                f"Partitions start at {start} (the first day of last month): pass --start "
                "YYYY-MM-DD for another date, or edit start_date in the wrapper."
            )
    partitioning = parse_partitions(kind, start)
    if partitioning.partitioned and not getattr(template, "partitions", False):
        raise PolsterError(
            f"asset template '{template.name}' does not render partitioned assets: use "
            "--template default with --partitions, or add a partitions_def to the wrapper "
            "by hand"
        )
    if partitioning.partitioned:
        other = [u for u in parted if u.partitions != partitioning.kind]
        if other:
            raise PolsterError(
                f"{other[0].key} is {other[0].partitions} partitioned, so a "
                f"{partitioning.kind} asset cannot read its partitions one to one: pass "
                f"--partitions {other[0].partitions} or --partitions none"
            )
    if project is not None and partitioning.partitioned:
        partitioning = Partitioning(partitioning.kind, partitioning.start, project.timezone)
        if not partitioning.same_as(project):
            owner = next(
                a.key for a in assets.assets.values() if getattr(a, "partitioning", None) == project
            )
            raise PolsterError(
                f"{owner} is partitioned {project.describe()}, and the partitioned assets of "
                "the pipeline run in one Dagster job, which needs one partitions definition: "
                f"pass --partitions {project.kind} --start {project.start} (or --partitions "
                "none to read all partitions as one table)"
            )
    same = tuple(u.key for u in parted)
    return partitioning, same, note


def project_partitioning(assets) -> Partitioning | None:
    """The partitioning the project's partitioned assets share (the first one's when they
    differ, which ``polster check`` reports); None when none is partitioned, or one has a
    partitions_def polster cannot read."""
    found = [getattr(a, "partitioning", None) for a in assets.sorted_assets()]
    found = [p for p in found if p is not None and p.partitioned]
    if not found or any(p.kind == CUSTOM or not p.exact for p in found):
        return None
    return found[0]
