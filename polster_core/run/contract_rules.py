"""Which rules of a data contract some row breaks, found cheaply (``contracts.validate``).

A write whose rows all keep the contract is the usual case, so the first question is only
"does any row break this rule?", asked in the cheapest way that gives dataframely's answer:

- the primary key: a single integer key without nulls whose values span a range not much
  wider than the rows is unique exactly when a bitmap over that range has a bit set for each
  row (a scatter, ~8x faster than hashing 5M keys); any other key counts its distinct values;
- a value-wise rule of a string column (``regex``, ``min_length``, ``max_length``,
  ``is_in``) holds for every row exactly when it holds for every distinct value: on a column
  with few distinct values (judged from a strided sample) it is evaluated on those;
- every other rule is summed in one ``select``.

Which rows break a rule, and how many, is computed only for the rules found broken
(``contracts.validate_eagerly``).
"""

from __future__ import annotations

from typing import Any

PRIMARY_KEY = "primary_key"
# Rules dataframely builds for a column from its arguments that look at one value at a time.
VALUE_RULES = ("regex", "min_length", "max_length", "is_in")
# A bitmap up to this many times the rows (one byte per possible key value).
BITMAP_SPAN = 4
# The distinct values of a string column are used when a sample has at most this share of them.
SAMPLE_ROWS = 10_000
DISTINCT_SHARE = 0.125


def broken_rules(schema: Any, frame: Any, rules: dict[str, Any]) -> dict[str, bool]:
    """``{rule: whether some row of frame breaks it}`` for dataframely's ``rules``
    (``{name: boolean expression per row}``; a null result keeps the rule, as the per-row
    evaluation counts it)."""
    import polars as pl

    found: dict[str, bool] = {}
    by_column: dict[str, dict[str, Any]] = {}
    summed: dict[str, Any] = {}
    strings = {name for name, dtype in frame.schema.items() if dtype in (pl.String, pl.Categorical)}
    for name, expr in rules.items():
        column, _, kind = name.partition("|")
        if name == PRIMARY_KEY:
            found[name] = duplicated_keys(frame, schema.primary_key()) > 0
        elif kind in VALUE_RULES and column in strings and _one_column(expr, column):
            by_column.setdefault(column, {})[name] = expr
        else:
            summed[name] = expr
    for column, column_rules in by_column.items():
        distinct = few_distinct(frame[column])
        values = frame.select(pl.col(column).unique() if distinct else pl.col(column))
        found.update(_any_broken(values, column_rules))
    found.update(_any_broken(frame, summed))
    return {name: found[name] for name in rules}


def _any_broken(frame: Any, rules: dict[str, Any]) -> dict[str, bool]:
    if not rules:
        return {}
    row = frame.select(
        expr.fill_null(True).not_().any().alias(name) for name, expr in rules.items()
    ).row(0, named=True)
    return {name: bool(value) for name, value in row.items()}


def _one_column(expr: Any, column: str) -> bool:
    try:
        return expr.meta.root_names() == [column]
    except Exception:  # a polars whose expression metadata differs: evaluate per row
        return False


def few_distinct(series: Any) -> bool:
    """Whether a strided sample of ``series`` has few distinct values (then its distinct
    values are cheaper to check than its rows)."""
    if series.len() <= SAMPLE_ROWS:
        return False
    sample = series.gather_every(series.len() // SAMPLE_ROWS)
    return sample.n_unique() <= DISTINCT_SHARE * sample.len()


def duplicated_keys(frame: Any, keys: list[str]) -> int:
    """The number of rows minus the number of distinct keys (0: the key is unique)."""
    import polars as pl

    rows = frame.height
    if len(keys) > 1:
        return rows - frame.select(pl.struct(keys).n_unique()).item()
    series = frame[keys[0]]
    if rows and series.dtype.is_integer() and series.dtype != pl.UInt64 and not series.null_count():
        low, high = series.min(), series.max()
        if high - low < BITMAP_SPAN * rows:
            return rows - _bitmap_distinct(series, low, high)
    return rows - series.n_unique()


def _bitmap_distinct(series: Any, low: int, high: int) -> int:
    """The distinct values of an integer series without nulls in ``[low, high]``."""
    import numpy as np
    import polars as pl

    values = series.cast(pl.Int64).to_numpy()
    seen = np.zeros(int(high) - int(low) + 1, dtype=np.bool_)
    seen[values - np.int64(low)] = True
    return int(np.count_nonzero(seen))
