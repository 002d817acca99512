"""contract_rules.broken_rules, the cheap "does any row break this rule?" of a contract's
validation: a bitmap for dense integer keys, distinct values for string rules. Each case is
checked against dataframely's own ``filter``: the same rows kept, counted and quarantined."""

from __future__ import annotations

import pytest

from .test_contracts import assert_same_as_dataframely_filter

ROWS = 30_000  # above contract_rules.SAMPLE_ROWS: the distinct-value path is taken


def schemas():
    import dataframely as dy
    import polars as pl

    class Contract(dy.Schema):
        id = dy.Int64(primary_key=True)
        name = dy.String(nullable=True, regex=r"^[a-z]+\d$", max_length=4)
        amount = dy.Float64(min=0, max=100)

        @dy.rule()
        def name_set_when_big(cls) -> pl.Expr:
            return pl.col("amount").lt(50) | pl.col("name").is_not_null()

    class Small(dy.Schema):
        id = dy.Int8(primary_key=True)
        name = dy.String(nullable=True)

    return Contract, Small


def frames():
    """(case, schema, frame): the key dense or sparse, unique or not, negative, with nulls;
    the strings few or many, valid or one bad value among many."""
    import polars as pl

    contract, small = schemas()
    index = pl.int_range(ROWS, dtype=pl.Int64, eager=True)
    few = pl.format("{}{}", pl.lit("ab"), index % 7)
    valid = pl.DataFrame({"id": index.shuffle(seed=1)}).with_columns(
        name=few, amount=(index % 40).cast(pl.Float64)
    )
    one_bad = valid.with_columns(
        name=pl.when(pl.col("id") == 12_345).then(pl.lit("AB1")).otherwise("name")
    )
    nulls = valid.with_columns(
        name=pl.when(pl.col("id") % 1000 == 0).then(None).otherwise("name"),
        amount=pl.when(pl.col("id") == 7).then(70.0).otherwise("amount"),
    )
    duplicate = valid.with_columns(id=pl.when(pl.col("id") == 5).then(6).otherwise("id"))
    return [
        ("valid, dense key", contract, valid),
        ("one bad name among few distinct", contract, one_bad),
        ("nulls in a checked column", contract, nulls),
        ("one duplicated key", contract, duplicate),
        ("negative keys", contract, valid.with_columns(id=pl.col("id") - ROWS * 2)),
        ("sparse keys, one duplicate", contract, duplicate.with_columns(id=pl.col("id") * 1000)),
        ("null key", contract, valid.with_columns(id=pl.when(pl.col("id") == 3).then(None)
                                                   .otherwise("id"))),
        ("many distinct names, one bad", contract,
         one_bad.with_columns(name=pl.format("{}{}", pl.col("id"), pl.lit("x")))),
        ("int8 key over its whole range", small,
         pl.DataFrame({"id": pl.int_range(-128, 128, eager=True).cast(pl.Int8).append(
             pl.Series([5], dtype=pl.Int8)), "name": "x"})),
    ]  # fmt: skip


@pytest.mark.parametrize("case", range(len(frames())), ids=[c[0] for c in frames()])
def test_the_cheap_checks_find_what_dataframely_filter_finds(case):
    _, schema, frame = frames()[case]
    assert_same_as_dataframely_filter(schema, frame)


def test_the_cases_take_the_cheap_paths_and_find_the_broken_rules():
    """The cases above reach the bitmap and the distinct values (else they test nothing new),
    and a single bad value among 30,000 rows of seven distinct ones is found."""
    from polster_core.run import contract_rules
    from polster_core.run.contracts import _rule_expressions

    cases = {name: (schema, frame) for name, schema, frame in frames()}
    schema, valid = cases["valid, dense key"]
    rules = _rule_expressions(schema)
    assert contract_rules.few_distinct(valid["name"])
    assert not contract_rules.few_distinct(cases["many distinct names, one bad"][1]["name"])
    assert not any(contract_rules.broken_rules(schema, valid, rules).values())
    bad = contract_rules.broken_rules(schema, cases["one bad name among few distinct"][1], rules)
    assert [rule for rule, broken in bad.items() if broken] == ["name|regex"]
    duplicate = cases["one duplicated key"][1]
    assert contract_rules.duplicated_keys(duplicate, ["id"]) == 1
    assert contract_rules.duplicated_keys(cases["sparse keys, one duplicate"][1], ["id"]) == 1
