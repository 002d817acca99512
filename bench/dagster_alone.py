"""The Dagster floor for the bench's small project: the same graph in plain Dagster.

    python bench/dagster_alone.py CHAINS ephemeral|sqlite

CHAINS bronze -> silver -> gold chains of tiny polars frames, each silver asset with three
asset checks (as Polster's silver assets have), materialised with ``dg.materialize`` and
Dagster's default IO manager, on an ephemeral instance or on Dagster's default SQLite instance
in a new temporary DAGSTER_HOME. bench_scaleout.py times it beside ``run_polster.py``.
"""

from __future__ import annotations

import sys
import tempfile

import dagster as dg
import polars as pl

CHECKS = ["required_columns_present", "key_columns_not_null", "row_count_above_zero"]


def chain(i: int) -> list:
    @dg.asset(name=f"b{i}", group_name="bronze")
    def bronze() -> pl.DataFrame:
        return pl.DataFrame({"id": range(25), "value": [v * 1.5 for v in range(25)]})

    @dg.asset(
        name=f"s{i}",
        group_name="silver",
        ins={"upstream": dg.AssetIn(f"b{i}")},
        check_specs=[dg.AssetCheckSpec(name, asset=f"s{i}") for name in CHECKS],
    )
    def silver(upstream: pl.DataFrame):
        df = upstream.filter(pl.col("value") > 1)
        yield dg.Output(df)
        yield dg.AssetCheckResult(check_name=CHECKS[0], passed="id" in df.columns)
        yield dg.AssetCheckResult(check_name=CHECKS[1], passed=df["id"].null_count() == 0)
        yield dg.AssetCheckResult(check_name=CHECKS[2], passed=df.height > 0)

    @dg.asset(name=f"g{i}", group_name="gold", ins={"upstream": dg.AssetIn(f"s{i}")})
    def gold(upstream: pl.DataFrame) -> pl.DataFrame:
        return upstream.group_by("id").agg(pl.col("value").sum())

    return [bronze, silver, gold]


def main() -> None:
    chains, kind = int(sys.argv[1]), sys.argv[2]
    assets = [a for i in range(chains) for a in chain(i)]
    with tempfile.TemporaryDirectory() as home:
        if kind == "ephemeral":
            instance = dg.DagsterInstance.ephemeral()
        else:
            instance = dg.DagsterInstance.from_config(home)
        resources = {"io_manager": dg.FilesystemIOManager(base_dir=f"{home}/storage")}
        with instance:
            result = dg.materialize(
                assets,
                instance=instance,
                resources=resources,
                run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            )
        assert result.success


if __name__ == "__main__":
    main()
