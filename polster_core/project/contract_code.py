"""The Python of a data contract in an asset's core file (see contracts.py for what it does).

``polster add-asset --contract`` writes an empty contract for the user to fill;
``polster contract infer`` writes one from the asset's stored table. Imports nothing heavy:
:func:`infer_columns` imports polars inside.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from ..exceptions import PolsterError

# What happens to the rows that break a contract (``CONTRACT_POLICY``): see run/contracts.py.
POLICIES = ("fail", "quarantine", "warn")
IMPORT = "import dataframely as dy\n"
MARKER = "class Contract(dy.Schema):"
# Names a dataframely schema uses itself: a column by that name needs an alias.
_RESERVED = {"columns", "column_names", "filter", "validate", "cast", "sample", "primary_key"}
_INTS = {f"{p}Int{n}" for p in ("", "U") for n in (8, 16, 32, 64)}
_SIMPLE = {"Float32", "Float64", "String", "Boolean", "Date", "Time", "Binary", "Null"}


@dataclass
class InferredColumn:
    name: str
    dtype: str  # dataframely's constructor, e.g. "dy.Int64" or "dy.Datetime(time_unit='us'"
    nullable: bool
    key: bool = False


POLICY_COMMENT = (
    "# The data contract (dataframely), checked whenever the table is written. Rows that break\n"
    '# it: "fail" writes nothing, "quarantine" writes them to {table}__rejected, "warn" logs.\n'
)


def contract_block(layer: str, name: str, columns: list[InferredColumn] | None = None) -> str:
    """The policy and the ``Contract`` class, for the core file of ``layer``/``name``."""
    lines = [
        POLICY_COMMENT.format(table=f"{layer}/{name}"),
        'CONTRACT_POLICY = "fail"\n\n\n',
        f"{MARKER}\n",
    ]
    if not columns:
        lines.append(
            f'    """The columns {layer}/{name} keeps. Declare each, e.g.\n'
            "    `id = dy.Int64(primary_key=True)` or `email = dy.String(nullable=True)`, or run\n"
            f"    `polster contract infer {layer} {name}` once the table is stored. Until a\n"
            '    column is declared, nothing is checked."""\n'
        )
        return "".join(lines)
    lines.append(
        f'    """Inferred from the stored {layer}/{name}: tighten it (ranges, regexes, rules)."""\n'
        "\n"
    )
    for column in columns:
        attribute, alias = python_name(column.name)
        options = []
        if column.key:
            options.append("primary_key=True")
        elif column.nullable:
            options.append("nullable=True")
        if alias:
            options.append(f"alias={alias!r}")
        call = column.dtype
        if call.endswith("("):
            call += ", ".join(options) + ")" if options else ")"
            call = call.replace("(, ", "(")
        else:
            call += "(" + ", ".join(options) + ")"
        lines.append(f"    {attribute} = {call}\n")
    return "".join(lines)


def python_name(column: str) -> tuple[str, str | None]:
    """An attribute name for ``column``, and the alias when it differs from the column."""
    attribute = re.sub(r"\W", "_", column)
    if not attribute or attribute[0].isdigit() or keyword.iskeyword(attribute):
        attribute = f"col_{attribute}"
    if attribute.startswith("_") or attribute in _RESERVED:
        attribute = f"col{attribute}" if attribute.startswith("_") else f"col_{attribute}"
    return attribute, (None if attribute == column else column)


def dataframely_type(dtype) -> str:
    """``dy.Int64`` for ``pl.Int64``; an open call (``dy.Datetime(time_unit='us', ``) for a
    type with parameters, closed by :func:`contract_block`."""
    import polars as pl

    base = dtype.base_type().__name__ if hasattr(dtype, "base_type") else str(dtype)
    if base in _INTS or base in {"Float32", "Float64", "String", "Date", "Time", "Binary"}:
        return f"dy.{base}"
    if base == "Boolean":
        return "dy.Bool"
    if isinstance(dtype, pl.Datetime):
        zone = f", time_zone={dtype.time_zone!r}" if dtype.time_zone else ""
        return f"dy.Datetime(time_unit={dtype.time_unit!r}{zone}, "
    if isinstance(dtype, pl.Duration):
        return f"dy.Duration(time_unit={dtype.time_unit!r}, "
    if isinstance(dtype, pl.Decimal):
        return f"dy.Decimal({dtype.precision}, {dtype.scale}, "
    if isinstance(dtype, pl.Enum):
        return f"dy.Enum({list(dtype.categories)!r}, "
    if base == "Categorical":
        return "dy.Categorical"
    return "dy.Any"  # lists, structs, ...: any type; make it precise by hand


def infer_columns(frame, within: str | None = None) -> list[InferredColumn]:
    """Each column's type and nullability as found in ``frame`` (a LazyFrame), and the first
    column that is never null and unique (an ``id`` column first) as the key candidate.

    ``within`` names a column of ``frame`` that says which partition each row came from: it
    is no contract column, and a key need only be unique within each partition (as a
    partitioned asset's writes are validated)."""
    import polars as pl

    schema = frame.collect_schema()
    names = [c for c in schema.names() if c != within]
    keyable = [(i, c) for i, c in enumerate(names) if _keyable(schema[c])]
    stats = frame.select(
        pl.len().alias("\0rows"),
        *[pl.col(c).null_count().alias(f"\0null{i}") for i, c in enumerate(names)],
    ).collect()
    unique = [pl.col(c).n_unique().eq(pl.len()).alias(f"\0uniq{i}") for i, c in keyable]
    if within is None or not unique:
        unique_stats = frame.select(unique).collect() if unique else pl.DataFrame()
    else:
        unique_stats = frame.group_by(within).agg(unique).select(pl.exclude(within).all())
        unique_stats = unique_stats.collect()
    rows = stats["\0rows"][0]
    columns = []
    for i, column in enumerate(names):
        dtype = schema[column]
        if dataframely_type(dtype) == "dy.Any":
            columns.append(InferredColumn(column, "dy.Any", False))
            continue
        nullable = stats[f"\0null{i}"][0] > 0
        columns.append(InferredColumn(column, dataframely_type(dtype), nullable))
    candidates = [
        c
        for i, c in enumerate(columns)
        if rows
        and not c.nullable
        and f"\0uniq{i}" in unique_stats.columns
        and unique_stats[f"\0uniq{i}"][0]
    ]
    candidates.sort(key=lambda c: not re.search(r"(^|_)id$", c.name.lower()))
    if candidates:
        candidates[0].key = True
    return columns


def _keyable(dtype) -> bool:
    return not dtype.is_nested() and not dtype.is_float()


def has_contract(text: str) -> bool:
    return re.search(r"^(class Contract\b|CONTRACT\s*=)", text, re.MULTILINE) is not None


def add_contract(text: str, block: str, where: str) -> str:
    """The core file ``text`` with ``import dataframely as dy`` among its imports and
    ``block`` before its first function; raises PolsterError when there is no place."""
    if has_contract(text):
        raise PolsterError(
            f"{where} already declares a contract: edit it, or delete it (class Contract and "
            "CONTRACT_POLICY) to write a new one"
        )
    lines = text.splitlines(keepends=True)
    definition = next(
        (i for i, line in enumerate(lines) if re.match(r"(def|class|@|if __name__)", line)),
        None,
    )
    polars = next((i for i, line in enumerate(lines) if line.startswith("import polars")), None)
    if definition is None or polars is None or polars > definition:
        raise PolsterError(
            f"{where} has no `import polars` and function to put the contract beside: add it "
            "by hand (see docs/assets.md)"
        )
    if IMPORT not in lines:
        # Among the plain imports of polars' block, in order (ruff's isort: `import x` lines
        # before `from x import y` lines in each section).
        first = polars
        while first > 0 and re.match(r"import \S+", lines[first - 1]):
            first -= 1
        at = first
        while re.match(r"import \S+", lines[at]) and lines[at].split()[1] < "dataframely":
            at += 1
        lines.insert(at, IMPORT)
        definition += 1
    return "".join(lines[:definition]) + block + "\n\n" + "".join(lines[definition:])
