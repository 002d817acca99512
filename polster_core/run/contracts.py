"""Data contracts: a ``dataframely`` schema in an asset's core file, enforced at every write.

An asset's core file (``src/core/{layer}_{name}.py``) declares its contract as a class
``Contract(dy.Schema)`` (or a module attribute ``CONTRACT`` naming one) and, optionally, what
happens to rows that break it::

    CONTRACT_POLICY = "quarantine"  # or "fail" (the default), or "warn"

The IO manager calls :func:`enforce` before it writes the asset's table (and
``core.storage.write``, in a core file run on its own, :func:`enforce_in_script`):

- ``fail``: nothing is written; the run fails with one line naming the first rules broken
  and how many rows broke each (each rule's asset check is still recorded: contract_report).
- ``quarantine``: the valid rows are written; the failing rows go to
  ``{layer}/{name}__rejected`` (one file per partition for a partitioned asset) with the rules
  each broke (``failed_rules``) and the run id (``run_id``), readable with ``storage.read``.
- ``warn``: the table is written as the asset returned it; the broken rules are logged.

With ``fail`` and ``quarantine`` the written table has exactly the contract's columns, in its
order (dataframely's ``filter``). A missing column or a column of the wrong type fails the
write under ``fail`` and ``quarantine`` (no row could be kept), and is logged under ``warn``.
Validation is per partition: group rules (the primary key's uniqueness) hold across each
partition written.

In Dagster (:func:`with_contracts`, from ``prepare_assets``): the contract's columns are the
asset's column schema, and each rule is an asset check whose result is the failing rows the
write counted (read back from the materialisations, so nothing is validated twice).

Nothing here imports dataframely unless an asset's core file declares a contract.

Long: one concern (a contract, from its declaration to its checks in the UI) read top to
bottom; its halves share the Declared and Outcome records and the rule names.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import PolsterError
from ..project.contract_code import POLICIES
from ..project.names import RUN_ASSET_KEY
from .contract_report import report_broken_rules
from .contract_rules import broken_rules
from .partitions import PartitionedTable

DEFAULT_POLICY = "fail"
REJECTED_SUFFIX = "__rejected"
FAILED_RULES = "failed_rules"
RUN_ID = "run_id"
# How many broken rules the one-line failure names.
FIRST_RULES = 3


@dataclass(frozen=True)
class Declared:
    """An asset's contract as its core file declares it."""

    schema: Any
    policy: str
    module: str


@dataclass
class Outcome:
    """What the validation of one frame (one partition) found and kept."""

    frame: Any  # what is written to the table
    rows: int
    failing_rows: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    schema_error: str | None = None
    rejected: Any = None  # the quarantined rows (``quarantine`` only)


def core_module_name(layer: str, name: str) -> str:
    return f"core.{layer}_{name}"


def declared(layer: str, name: str) -> Declared | None:
    """The contract of asset ``layer``/``name`` from its core module, or None.

    Raises ``ValueError`` (one line) for a ``CONTRACT_POLICY`` Polster does not know, or a
    ``CONTRACT`` that is not a dataframely schema.
    """

    module_name = core_module_name(layer, name)
    module = sys.modules.get(module_name)
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name in (module_name, "core"):
                return None
            raise
    return declared_in(module)


def declared_in(module: Any) -> Declared | None:
    """The contract a loaded core module declares, or None."""
    schema = getattr(module, "CONTRACT", None) or getattr(module, "Contract", None)
    if schema is None or "dataframely" not in sys.modules:
        return None
    import dataframely as dy

    where = getattr(module, "__name__", "the core module")
    if not (isinstance(schema, type) and issubclass(schema, dy.Schema)):
        raise ValueError(
            f"{where}: CONTRACT must be a dataframely schema (class Contract(dy.Schema)), "
            f"not {type(schema).__name__}"
        )
    if not schema.column_names():
        return None  # declared, not filled in yet: nothing to check
    policy = getattr(module, "CONTRACT_POLICY", DEFAULT_POLICY)
    if not isinstance(policy, str) or policy not in POLICIES:
        shown = repr(policy) if isinstance(policy, str) else type(policy).__name__
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise ValueError(
            f"{where}: CONTRACT_POLICY is {shown}: set it to one of {', '.join(POLICIES)}"
        )
    return Declared(schema=schema, policy=policy, module=where)


_RULES: dict[Any, list[str]] = {}


def rule_names(schema: Any) -> list[str]:
    """The names of the contract's rules, as dataframely reports their failures."""
    if schema not in _RULES:
        # Without running polars where it can (definitions load in the process that forks
        # the --workers pool, and polars' thread pool does not survive a fork): dataframely's
        # own rule table, else the rule columns of the filter of an empty frame.
        own = getattr(schema, "_validation_rules", None)
        try:
            _RULES[schema] = list(own(with_cast=False)) if own else []
        except TypeError:
            _RULES[schema] = []
        if not _RULES[schema]:
            details = schema.filter(schema.create_empty()).failure.details()
            columns = set(schema.column_names())
            _RULES[schema] = [c for c in details.columns if c not in columns]
    return _RULES[schema]


def check_name(rule: str) -> str:
    """A Dagster asset check name for a rule (``amount|min`` -> ``contract_amount_min``)."""
    return "contract_" + re.sub(r"[^A-Za-z0-9_]+", "_", rule).strip("_")


def validate(schema: Any, frame: Any, policy: str, run_id: str = "") -> Outcome:
    """Validate one frame (eager or lazy) against ``schema`` under ``policy``."""
    fast = validate_eagerly(schema, frame, policy, run_id)
    if fast is not None:
        return fast
    return validate_with_filter(schema, frame, policy, run_id)


def _rule_expressions(schema: Any) -> dict[str, Any] | None:
    """``{rule: boolean expression per row}`` from dataframely's own rule table (no public
    API gives it), or None when this dataframely has no such table: then its ``filter`` is
    used. Every rule of dataframely 3 is row-wise (a group rule is an ``over`` window)."""
    own = getattr(schema, "_validation_rules", None)
    if own is None:
        return None
    try:
        rules = own(with_cast=False)
        return {name: rule.expr for name, rule in rules.items()}
    except Exception:  # a dataframely whose rule table is not this shape
        return None


def validate_eagerly(schema: Any, frame: Any, policy: str, run_id: str) -> Outcome | None:
    """The same result as dataframely's ``filter``, faster on the usual case: whether any row
    breaks each rule is found cheaply (``contract_rules.broken_rules``); only the rules
    broken are then evaluated row by row. None for a LazyFrame (its
    plan would run twice) or when the rule table is not available."""
    import polars as pl
    from dataframely.exc import SchemaError

    if not isinstance(frame, pl.DataFrame):
        return None
    rules = _rule_expressions(schema)
    if rules is None:
        return None
    try:  # the columns and their types, as dataframely checks them (on no rows: instant)
        schema.filter(frame.clear())
    except SchemaError as exc:
        text = str(exc).strip().splitlines()
        return Outcome(frame=frame, rows=0, schema_error=text[0] if text else type(exc).__name__)
    columns = schema.column_names()
    keys = schema.primary_key()
    rows = frame.height
    found = broken_rules(schema, frame, rules)
    kept = frame if policy == "warn" or frame.columns == columns else frame.select(columns)
    if not any(found.values()):
        outcome = Outcome(frame=kept, rows=rows)
        if policy == "quarantine":  # an empty quarantine: the last run's rejects are gone
            outcome.rejected = (
                frame.select(columns)
                .clear()
                .with_columns(
                    pl.lit("", pl.String).alias(FAILED_RULES),
                    pl.lit(run_id, pl.String).alias(RUN_ID),
                )
            )
        return outcome
    # Only the rules some row breaks, row by row (a single-column key without a struct).
    names = [name for name in rules if found[name]]
    exprs = [
        pl.col(keys[0]).is_unique() if name == "primary_key" and len(keys) == 1 else rules[name]
        for name in names
    ]
    evaluated = frame.select(**{f"\0{i}": expr.fill_null(True) for i, expr in enumerate(exprs)})
    counts = {
        name: n
        for name, n in zip(names, evaluated.select(pl.all().not_().sum()).row(0), strict=True)
        if n
    }
    valid = pl.all_horizontal(pl.all())
    mask = evaluated.select(valid.alias("valid")).to_series()
    failing = rows - int(mask.sum())
    if policy == "warn":
        return Outcome(frame=frame, rows=rows, failing_rows=failing, counts=counts)
    outcome = Outcome(
        frame=frame.select(columns).filter(mask), rows=rows, failing_rows=failing, counts=counts
    )
    if policy == "quarantine":
        broken = pl.concat_str(
            [pl.when(~pl.col(f"\0{i}")).then(pl.lit(n)) for i, n in enumerate(names)],
            separator=", ",
            ignore_nulls=True,
        )
        # The rules each failing row broke, built for those rows only.
        failed = evaluated.filter(~mask).select(broken.alias(FAILED_RULES)).to_series()
        outcome.rejected = (
            frame.select(columns)
            .filter(~mask)
            .with_columns(failed, pl.lit(run_id, pl.String).alias(RUN_ID))
        )
    return outcome


def validate_with_filter(schema: Any, frame: Any, policy: str, run_id: str = "") -> Outcome:
    """Validate with dataframely's own ``filter`` (a LazyFrame, or no rule table)."""
    import polars as pl
    from dataframely.exc import SchemaError

    try:
        result = schema.filter(frame)
        if isinstance(frame, pl.LazyFrame):
            result = result.collect_all()
    except SchemaError as exc:
        text = str(exc).strip().splitlines()
        return Outcome(frame=frame, rows=0, schema_error=text[0] if text else type(exc).__name__)
    failing = len(result.failure)
    counts = result.failure.counts() if failing else {}
    rows = result.result.height + failing
    if policy == "warn":
        return Outcome(frame=frame, rows=rows, failing_rows=failing, counts=counts)
    outcome = Outcome(frame=result.result, rows=rows, failing_rows=failing, counts=counts)
    if policy == "quarantine":
        outcome.rejected = rejected_rows(result.failure, schema, run_id)
    return outcome


def rejected_rows(failure: Any, schema: Any, run_id: str) -> Any:
    """The failing rows with the rules each broke and the run id."""
    import polars as pl

    rules = rule_names(schema)
    if not len(failure):
        return schema.create_empty().with_columns(
            pl.lit("", pl.String).alias(FAILED_RULES), pl.lit(run_id, pl.String).alias(RUN_ID)
        )
    details = failure.details()
    broken = pl.concat_str(
        [pl.when(pl.col(r) == "invalid").then(pl.lit(r)) for r in rules],
        separator=", ",
        ignore_nulls=True,
    )
    return details.select(
        pl.exclude(rules), broken.alias(FAILED_RULES), pl.lit(run_id, pl.String).alias(RUN_ID)
    )


def summary(counts: dict[str, int], limit: int = FIRST_RULES) -> str:
    """``primary_key: 2 rows, amount|min: 1 row`` (the most broken first)."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    parts = [f"{rule}: {n} row{'s' if n != 1 else ''}" for rule, n in ordered[:limit]]
    if len(ordered) > limit:
        parts.append(f"and {len(ordered) - limit} more rule(s)")
    return ", ".join(parts)


def enforce(context: Any, obj: Any, storage: Any, layer: str, name: str) -> tuple[Any, dict]:
    """Validate an asset's output against its contract before the IO manager writes it.

    Returns what to write (the frame, or a dict of frames per partition) and the metadata to
    add to the materialisation. Without a contract, returns ``obj`` unchanged and no metadata.
    Raises ``PolsterError`` (one line, nothing written) when the policy is ``fail`` and a
    rule is broken.
    """

    try:
        contract = declared(layer, name)
    except ValueError as exc:
        raise PolsterError(str(exc)) from None
    if contract is None or obj is None:
        return obj, {}
    import polars as pl

    values = obj.values() if isinstance(obj, dict) else [obj]
    if not all(isinstance(v, (pl.DataFrame, pl.LazyFrame)) for v in values):
        return obj, {}  # not a frame: the IO manager says what to return instead
    run_id = _run_id(context)
    partitioned = isinstance(obj, dict) or getattr(context, "has_asset_partitions", False)
    if partitioned and not isinstance(obj, dict) and len(list(context.asset_partition_keys)) != 1:
        return obj, {}  # one frame for a range: partitioned_io refuses it
    frames = obj if isinstance(obj, dict) else {_partition_key(context, partitioned): obj}
    outcomes = apply(contract, frames, storage, layer, name, run_id, partitioned, context)
    metadata = outcome_metadata(contract, list(outcomes.values()), layer, name)
    if partitioned and all(k is not None for k in outcomes):
        from .partitioned_io import add_partition_metadata

        # Each partition's materialisation carries its own counts (the checks add them up).
        per_key = {k: outcome_metadata(contract, [o], layer, name) for k, o in outcomes.items()}
        if all(add_partition_metadata(context, k, m) for k, m in per_key.items()):
            metadata = {"contract/policy": metadata["contract/policy"]}
    written = {k: o.frame for k, o in outcomes.items()}
    return (written if isinstance(obj, dict) else next(iter(written.values()))), metadata


def apply(
    contract: Declared,
    frames: dict,
    storage: Any,
    layer: str,
    name: str,
    run_id: str,
    partitioned: bool,
    context: Any = None,
) -> dict:
    """Validate ``frames`` ({partition key or None: frame}) under the contract's policy and
    quarantine the failing rows; returns the outcomes. Raises ``PolsterError`` (one line,
    nothing written) for ``fail``, or a column missing or of the wrong type."""

    if contract.policy == "quarantine":  # before any line: the run stops here
        refuse_link_out(storage, layer, f"{name}{REJECTED_SUFFIX}")
    outcomes = {
        key: validate(contract.schema, frame, contract.policy, run_id)
        for key, frame in frames.items()
    }
    table = f"{layer}/{name}"
    broken = {k: o for k, o in outcomes.items() if o.schema_error or o.failing_rows}
    for key, outcome in broken.items():
        where = f"{table}" + (f" (partition {key})" if key is not None else "")
        problem = outcome.schema_error or summary(outcome.counts)
        if contract.policy == "fail" or (outcome.schema_error and contract.policy != "warn"):
            if not outcome.schema_error:  # the rules' asset checks, as the UI shows them
                _report_rules(context, contract, outcomes, table)
            raise PolsterError(
                f"{where} breaks its contract ({contract.module}.Contract, policy "
                f"{contract.policy}): {problem}; nothing was written"
            )
        _log(context, f"{where} breaks its contract ({contract.policy}): {problem}")
    if contract.policy == "quarantine":
        _quarantine(storage, layer, name, outcomes, partitioned)
    return outcomes


def _report_rules(context: Any, contract: Declared, outcomes: dict, table: str) -> None:
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        for rule, n in outcome.counts.items():
            counts[rule] = counts.get(rule, 0) + n
    results = [(check_name(r), r, counts.get(r, 0)) for r in rule_names(contract.schema)]
    if context is not None:
        report_broken_rules(context, results, contract.module, table)


def enforce_in_script(storage: Any, frame: Any, layer: str, name: str, partition: Any) -> Any:
    """The same contract, for ``core.storage.write`` in a core file run on its own
    (``python src/core/silver_x.py``): what to write, without Dagster."""

    try:
        contract = declared(layer, name)
    except ValueError as exc:
        raise PolsterError(str(exc)) from None
    if contract is None:
        return frame
    outcomes = apply(contract, {partition: frame}, storage, layer, name, "", partition is not None)
    return outcomes[partition].frame


def outcome_metadata(contract: Declared, outcomes: list, layer: str, name: str) -> dict:
    """The materialisation metadata of validated frames: the policy, failing rows per rule,
    the quarantined rows, and the contract's columns."""
    import dagster as dg

    counts: dict[str, int] = {}
    for outcome in outcomes:
        for rule, n in outcome.counts.items():
            counts[rule] = counts.get(rule, 0) + n
    failing = sum(o.failing_rows for o in outcomes)
    metadata: dict[str, Any] = {
        "contract/policy": dg.MetadataValue.text(contract.policy),
        "contract/failing_rows": dg.MetadataValue.int(failing),
        "contract/failures": dg.MetadataValue.json(
            {rule: counts.get(rule, 0) for rule in rule_names(contract.schema)}
        ),
    }
    if contract.policy == "quarantine":
        metadata["contract/quarantined_rows"] = dg.MetadataValue.int(failing)
        metadata["contract/quarantine_table"] = dg.MetadataValue.text(
            f"{layer}/{name}{REJECTED_SUFFIX}"
        )
    if contract.policy != "warn":
        metadata["dagster/column_schema"] = column_schema(contract.schema)
    return metadata


def _quarantine(storage: Any, layer: str, name: str, outcomes: dict, partitioned: bool) -> None:
    rejected_name = f"{name}{REJECTED_SUFFIX}"
    if not partitioned:
        storage.write(next(iter(outcomes.values())).rejected, layer, rejected_name)
        return

    table = PartitionedTable(storage, layer, rejected_name)
    for key, outcome in outcomes.items():
        table.write(outcome.rejected, key)


def refuse_link_out(storage: Any, layer: str, name: str) -> None:
    """Raise PolsterError (one line, before anything is written) when the local file or
    folder of table ``layer``/``name`` is a link (or under one) leading out of the data
    folder (:meth:`LocalBackend.refuse_link_out`, which every local write checks too): checked
    before the valid rows are written, so that a refused quarantine writes nothing."""
    for backend in {id(b): b for b in (storage.backend, getattr(storage, "local", None))}.values():
        if getattr(backend, "name", None) == "local" and hasattr(backend, "refuse_link_out"):
            backend.refuse_link_out(layer, name)


def column_schema(schema: Any) -> Any:
    """The contract's columns, types, nullability and descriptions for Dagster's UI."""
    import dagster as dg

    key = set(schema.primary_key())
    columns = []
    for column_name, column in schema.columns().items():
        columns.append(
            dg.TableColumn(
                name=column_name,
                type=str(column.dtype),
                description=column.description,
                constraints=dg.TableColumnConstraints(
                    nullable=bool(column.nullable), unique=column_name in key and len(key) == 1
                ),
            )
        )
    return dg.TableSchema(columns=columns)


def _run_id(context: Any) -> str:
    try:
        return str(context.run_id)
    except Exception:  # a context built by hand belongs to no run
        return ""


def _partition_key(context: Any, partitioned: bool) -> str | None:
    if not partitioned:
        return None
    keys = list(context.asset_partition_keys)
    return keys[0] if len(keys) == 1 else None


def _log(context: Any, message: str) -> None:
    try:
        context.log.warning(message)
    except Exception:  # no log outside a run
        print(f"WARNING: {message}", file=sys.stderr)


# ------------------------------------------------------------------- Dagster's UI


def with_contracts(assets: list) -> list:
    """The project's assets with their contracts shown in Dagster: the contract's columns as
    each asset's column schema, and one asset check per rule (its failing rows in the last
    materialisation), appended to the list. Assets without a contract are left as they are."""
    import dagster as dg

    found: dict[Any, Declared] = {}
    for asset in assets:
        for spec in getattr(asset, "specs", ()):
            match = RUN_ASSET_KEY.match(spec.key.path[-1])
            if not match:
                continue
            try:
                contract = declared(match.group(1), match.group(2))
            except ValueError:
                continue  # the write names the problem, in one line
            if contract is not None:
                found[spec.key] = contract
    if not found:
        return assets

    def described(spec: dg.AssetSpec) -> dg.AssetSpec:
        contract = found.get(spec.key)
        if contract is None or "dagster/column_schema" in (spec.metadata or {}):
            return spec
        return spec.merge_attributes(
            metadata={"dagster/column_schema": column_schema(contract.schema)}
        )

    mapped = list(dg.map_asset_specs(described, assets))
    return [*mapped, *(rule_checks(key, contract) for key, contract in found.items())]


def rule_checks(key: Any, contract: Declared) -> Any:
    """One asset check per rule of ``contract`` on asset ``key``: the failing rows the IO
    manager counted when it wrote the asset (read from the materialisations of this run, or
    the latest one), so the data is not read or validated again."""
    import dagster as dg

    rules = rule_names(contract.schema)
    severity = (
        dg.AssetCheckSeverity.ERROR if contract.policy == "fail" else (dg.AssetCheckSeverity.WARN)
    )
    specs = [
        dg.AssetCheckSpec(
            name=check_name(rule),
            asset=key,
            description=f"Contract rule {rule} ({contract.module}.Contract): no row breaks it",
        )
        for rule in rules
    ]

    @dg.multi_asset_check(specs=specs, name=f"{key.path[-1]}_contract")
    def _contract_checks(context):
        counts, source = recorded_failures(context.instance, key, context.run.run_id)
        for rule in rules:
            failing = counts.get(rule) if counts is not None else None
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name=check_name(rule),
                passed=failing == 0,
                severity=severity,
                metadata={
                    "rule": dg.MetadataValue.text(rule),
                    "failing_rows": dg.MetadataValue.int(failing or 0),
                    "validated": dg.MetadataValue.text(source),
                },
            )

    return _contract_checks


def recorded_failures(instance: Any, key: Any, run_id: str) -> tuple[dict | None, str]:
    """Failing rows per rule of the materialisations of ``key`` in run ``run_id`` (summed over
    its partitions), or of its latest validated materialisation; None when there is none."""
    records = instance.fetch_materializations(key, limit=1000).records
    validated = [
        r for r in records if "contract/failures" in (r.asset_materialization.metadata or {})
    ]
    mine = [r for r in validated if r.run_id == run_id] or validated[:1]
    if not mine:
        return None, "no materialisation validated against the contract yet"
    counts: dict[str, int] = {}
    for record in mine:
        for rule, n in record.asset_materialization.metadata["contract/failures"].value.items():
            counts[rule] = counts.get(rule, 0) + int(n)
    where = "this run" if mine[0].run_id == run_id else f"run {mine[0].run_id}"
    return counts, f"{len(mine)} materialisation(s) of {where}"
