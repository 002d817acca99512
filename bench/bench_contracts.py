"""Data contracts (issue 30): writing a 5-million-row silver table through Polster's IO
manager hook (``contracts.enforce``, then ``Storage.write``) against the same write without a
contract, side by side in one run, on local storage (and on Azurite and moto, started here
on 127.0.0.1 and stopped by PID, with ``--backends``).

    .venv/bin/python bench/bench_contracts.py [--rows 5000000] [--repeat 5]
        [--backends local,adls,s3] [--json FILE]

The contract has ten rules (dataframely's count: the primary key, nullability, a regex,
ranges and one row rule). Three timings alternate ``--repeat`` times so machine noise hits
each alike: the write without a contract (the baseline), the write validated under ``fail``
with every row valid, and the write under ``quarantine`` with 1 % of the rows failing (the
valid rows and ``silver/bench__rejected`` written). The figures are ratios of the medians;
the contract's part (``contracts.enforce`` alone: validation and the quarantine's write) is
printed beside them, a figure the machine's load moves less.
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


def bench_backend(name: str, rows: int, repeat: int, root: Path, servers: dict) -> dict:
    """The three timings on one backend: ``{"plain"|"validated"|"quarantined": [seconds]}``."""
    from bench_storage import backend_env, storage_for

    from polster_core.run import contracts

    root.mkdir(parents=True, exist_ok=True)
    storage = storage_for(
        root, {**backend_env(name, root, servers), "DISABLE_LOCAL_SAMPLE": "true"}
    )
    valid, broken = frame(rows), frame(rows, failing=0.01)
    fail, quarantine = contract_module("fail"), contract_module("quarantine")

    def plain():
        storage.write(valid, "silver", "bench")

    enforced: dict[str, list[float]] = {"validated": [], "quarantined": []}

    def enforce(key: str, frame):
        started = time.perf_counter()
        out = contracts.enforce(Context(), frame, storage, "silver", "bench")
        enforced[key].append(time.perf_counter() - started)
        return out

    def validated():
        sys.modules["core.silver_bench"] = fail
        written, _ = enforce("validated", valid)
        storage.write(written, "silver", "bench")

    def quarantined():
        sys.modules["core.silver_bench"] = quarantine
        written, metadata = enforce("quarantined", broken)
        storage.write(written, "silver", "bench")
        return metadata

    plain()  # warm up: the folder or bucket, the first parquet write
    metadata = quarantined()
    assert (
        metadata["contract/quarantined_rows"].value
        == storage.read("silver", "bench__rejected").height
    )
    times: dict[str, list[float]] = {"plain": [], "validated": [], "quarantined": []}
    for _ in range(repeat):
        for key, function in (
            ("plain", plain),
            ("validated", validated),
            ("quarantined", quarantined),
        ):
            started = time.perf_counter()
            function()
            times[key].append(time.perf_counter() - started)
    times["quarantined_rows"] = metadata["contract/quarantined_rows"].value
    # The contract's own part (validation, and the quarantine's write), without the warm-up.
    times["enforce"] = {k: statistics.median(v[-repeat:]) for k, v in enforced.items()}
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backends", default="local", help="local, adls, s3 (comma-separated)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    sys.path.insert(0, str(REPO / "bench"))
    sys.modules.setdefault("core", types.ModuleType("core"))
    import warnings

    from polster_core.run import contracts
    from polster_core.testing import servers as storage_servers

    warnings.filterwarnings("ignore")
    rules = contracts.rule_names(contract_module("fail").Contract)
    print(f"contracts: {args.rows:,} rows, {len(rules)} rules, median of {args.repeat}")
    servers: dict = {}
    report: dict = {"rows": args.rows, "rules": len(rules), "backends": {}}
    ok = True
    try:
        if "adls" in names:
            servers["adls"] = storage_servers.start_azurite()
        if "s3" in names:
            servers["s3"] = storage_servers.start_moto()
        with tempfile.TemporaryDirectory(prefix="bench-contracts-") as tmp:
            for name in names:
                times = bench_backend(name, args.rows, args.repeat, Path(tmp) / name, servers)
                medians = {
                    k: statistics.median(times[k]) for k in ("plain", "validated", "quarantined")
                }
                ratios = {k: medians[k] / medians["plain"] for k in GOALS}
                print(
                    f"{name}: write without contract {medians['plain']:.3f}s; quarantined "
                    f"{times['quarantined_rows']:,} rows"
                )
                for key, goal in GOALS.items():
                    verdict = "ok" if ratios[key] <= goal else "OVER"
                    ok &= ratios[key] <= goal
                    print(
                        f"  write {key:<12} {medians[key]:.3f}s  {ratios[key]:.2f}x  "
                        f"(goal <= {goal}x: {verdict}); the contract's part "
                        f"{times['enforce'][key]:.3f}s"
                    )
                report["backends"][name] = {
                    "medians": medians,
                    "enforce": times["enforce"],
                    **ratios,
                }
    finally:
        for server in servers.values():
            server.stop()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
