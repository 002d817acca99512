"""Data contracts (issue 30): writing a 5-million-row silver table through Polster's IO
manager hook (``contracts.enforce``, then ``Storage.write``) against the same write without a
contract, side by side in one run, on local storage.

    .venv/bin/python bench/bench_contracts.py [--rows 5000000] [--repeat 5] [--json FILE]

The contract has ten rules (dataframely's count: the primary key, nullability, a regex,
ranges and one row rule). Three timings alternate ``--repeat`` times so machine noise hits
each alike: the write without a contract (the baseline), the write validated under ``fail``
with every row valid, and the write under ``quarantine`` with 1 % of the rows failing (the
valid rows and ``silver/bench__rejected`` written). The figures are ratios of the medians.
Goals: at most 1.3x validated, 1.5x quarantined.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

GOALS = {"validated": 1.3, "quarantined": 1.5}


def frame(rows: int, failing: float = 0.0):
    import polars as pl

    index = pl.int_range(rows, dtype=pl.Int64)
    amount = (index.hash(3) % 10_000).cast(pl.Int32)
    if failing:
        every = int(round(1 / failing))
        amount = pl.when(index % every == 0).then(pl.lit(-1, pl.Int32)).otherwise(amount)
    return pl.select(
        # The key in no particular order, as real keys are (a sorted one is unique for free).
        id=index.shuffle(seed=7),
        value=(index.hash(1) % 1_000_003) / 7.0,
        category=pl.format("c{}", index.hash(2) % 100),
        amount=amount,
        ts=index * 1_000,
    )


def contract_module(policy: str):
    import dataframely as dy
    import polars as pl

    class Contract(dy.Schema):
        id = dy.Int64(primary_key=True)
        value = dy.Float64(nullable=True, allow_inf=True, allow_nan=True)
        category = dy.String(regex=r"^c\d+$")
        amount = dy.Int32(min=0, max=9_999)
        ts = dy.Int64(min=0)

        @dy.rule()
        def value_follows_amount(cls) -> pl.Expr:
            return pl.col("value").is_null() | (pl.col("amount") >= 0)

    module = types.ModuleType("core.silver_bench")
    module.Contract = Contract
    module.CONTRACT_POLICY = policy
    return module


class Context:
    """What ``contracts.enforce`` reads of Dagster's OutputContext."""

    has_asset_partitions = False
    run_id = "bench"

    class log:  # noqa: N801
        @staticmethod
        def warning(message: str) -> None:
            pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import polars as pl  # noqa: F401

    from polster_core import contracts
    from polster_core.plugins import Plugins
    from polster_core.settings import Settings
    from polster_core.storage import Storage

    sys.modules.setdefault("core", types.ModuleType("core"))
    valid, broken = frame(args.rows), frame(args.rows, failing=0.01)
    with tempfile.TemporaryDirectory(prefix="bench-contracts-") as tmp:
        env = {"STORAGE_BACKEND": "local", "LOCAL_DATA_DIR": str(Path(tmp) / "data")}
        storage = Storage(Settings(Path(tmp), "bench", env), plugins=Plugins(autoload=False))
        fail, quarantine = contract_module("fail"), contract_module("quarantine")
        rules = contracts.rule_names(fail.Contract)

        def plain():
            storage.write(valid, "silver", "bench")

        def validated():
            sys.modules["core.silver_bench"] = fail
            written, _ = contracts.enforce(Context(), valid, storage, "silver", "bench")
            storage.write(written, "silver", "bench")

        def quarantined():
            sys.modules["core.silver_bench"] = quarantine
            written, metadata = contracts.enforce(Context(), broken, storage, "silver", "bench")
            storage.write(written, "silver", "bench")
            return metadata

        plain()  # warm up: the folder, the first parquet write
        metadata = quarantined()
        times: dict[str, list[float]] = {"plain": [], "validated": [], "quarantined": []}
        for _ in range(args.repeat):
            for name, function in (("plain", plain), ("validated", validated)):
                started = time.perf_counter()
                function()
                times[name].append(time.perf_counter() - started)
            started = time.perf_counter()
            quarantined()
            times["quarantined"].append(time.perf_counter() - started)
        rejected = storage.read("silver", "bench__rejected").height

    medians = {name: statistics.median(values) for name, values in times.items()}
    ratios = {name: medians[name] / medians["plain"] for name in GOALS}
    print(
        f"contracts: {args.rows:,} rows, {len(rules)} rules, {args.repeat} repeats, "
        f"local storage; quarantined {rejected:,} rows "
        f"({metadata['contract/quarantined_rows'].value:,} in the metadata)"
    )
    print(f"  write without contract     {medians['plain']:.3f}s (median)")
    ok = True
    for name, goal in GOALS.items():
        verdict = "ok" if ratios[name] <= goal else "OVER"
        ok &= ratios[name] <= goal
        print(
            f"  write {name:<20} {medians[name]:.3f}s  {ratios[name]:.2f}x  "
            f"(goal <= {goal}x: {verdict})"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"rows": args.rows, "rules": len(rules), "medians": medians, **ratios})
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
