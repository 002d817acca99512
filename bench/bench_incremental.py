"""Incremental Delta tables (issue 29) against their baselines, measured in one run.

1. Upsert of 1% changed rows into an N-row silver table (default 10 million):
   - Polster's merge (``polster_core.run.delta.write``, strategy merge, with its key checks),
   - deltalake's own ``DeltaTable.merge`` of the same rows into an identical copy,
   - Polster's full refresh today: the asset recomputes the whole table (the previous table
     with the changed rows applied) and ``Storage.write`` rewrites it as one parquet file.
   The changed rows are the newest keys (half updated, half new), as change data usually is;
   ``--spread random`` spreads the updates over every key instead (every file is rewritten).
2. A daily incremental load over D days (default 365): wall time and table size of appending
   each day's rows to a Delta table against a full refresh of a parquet table each day, and
   the read of the current version against the same rows as one plain parquet file (before
   and after ``polster_core.run.delta.upkeep`` compacts and vacuums).

Prints each figure and its ratio to the baseline. Example:

    .venv/bin/python bench/bench_incremental.py                 # the issue's sizes
    .venv/bin/python bench/bench_incremental.py --rows 1000000 --days 60 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import polars as pl

from polster_core.run import delta
from polster_core.settings import Settings
from polster_core.storage import Storage


def table(rows: int, start: int = 0, seed: int = 0) -> pl.DataFrame:
    ids = pl.int_range(start, start + rows, eager=True, dtype=pl.Int64)
    return pl.DataFrame(
        {
            "customer_id": ids,
            "name": ("customer-" + ids.cast(pl.String)),
            "city": (ids % 97).cast(pl.String),
            "score": ((ids * 7919 + seed) % 1000).cast(pl.Float64),
            "updated_at": pl.Series([seed] * rows, dtype=pl.Int64),
        }
    )


def changes(rows: int, fraction: float, spread: str) -> pl.DataFrame:
    count = max(2, int(rows * fraction))
    half = count // 2
    if spread == "random":
        updated = (
            pl.int_range(0, rows, eager=True, dtype=pl.Int64)
            .sample(half, seed=1)
            .sort()
            .to_frame("customer_id")
        )
    else:  # the newest keys change most
        updated = pl.int_range(rows - half, rows, eager=True, dtype=pl.Int64).to_frame(
            "customer_id"
        )
    updates = updated.join(table(rows), on="customer_id").with_columns(
        pl.col("score") + 1, pl.lit(1, dtype=pl.Int64).alias("updated_at")
    )
    inserts = table(count - half, start=rows, seed=1)
    return pl.concat([updates, inserts])


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def project(args, work: Path) -> Storage:
    """A storage in a project folder whose pyproject.toml holds the Delta settings asked for."""
    work.mkdir(parents=True, exist_ok=True)
    lines = ["[tool.polster]"]
    if args.file_mb:
        lines.append(f"delta_target_file_mb = {args.file_mb}")
    if args.compact_files is not None:
        lines.append(f"delta_compact_small_files = {args.compact_files}")
    (work / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return Storage(Settings(work, "bench", {}))


def upsert(args, work: Path) -> dict:
    from deltalake import DeltaTable

    storage = project(args, work)
    rows = args.rows
    base = table(rows)
    batch = changes(rows, args.fraction, args.spread)
    seed_dir = storage.local.base / "silver" / "seed"
    # The silver table as Polster's first run of the asset left it.
    delta.write(storage, base, "silver", "seed", delta.TableSpec("merge", ("customer_id",)))
    storage.write(base, "silver", "full")  # the parquet table of today's full refresh
    print(
        f"upsert: {len(batch):,} changed rows ({args.fraction:.0%}, {args.spread}) into "
        f"{rows:,} rows ({len(list(seed_dir.glob('*.parquet')))} files of "
        f"{args.file_mb or delta.TARGET_FILE_BYTES // 2**20} MiB)"
    )
    spec = delta.TableSpec("merge", ("customer_id",))
    figures: dict[str, list[float]] = {"polster": [], "deltalake": [], "full": []}
    for attempt in range(args.repeat):
        for what in ("polster", "deltalake"):
            target = storage.local.base / "silver" / what
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(seed_dir, target)

        def polster_merge() -> None:
            delta.write(storage, batch, "silver", "polster", spec)

        def own_merge() -> None:
            DeltaTable(str(storage.local.base / "silver" / "deltalake")).merge(
                batch.to_arrow(compat_level=pl.CompatLevel.oldest()),
                predicate="t.customer_id = s.customer_id",
                source_alias="s",
                target_alias="t",
                streamed_exec=False,
            ).when_matched_update_all().when_not_matched_insert_all().execute()

        # Alternate which goes first, so neither always meets a colder cache.
        pair = [("polster", polster_merge), ("deltalake", own_merge)]
        for what, function in pair if attempt % 2 == 0 else pair[::-1]:
            figures[what].append(timed(function))

        def full_refresh() -> None:
            previous = storage.read("silver", "full")
            refreshed = pl.concat([previous.join(batch, on="customer_id", how="anti"), batch]).sort(
                "customer_id"
            )
            storage.write(refreshed, "silver", "full")

        figures["full"].append(timed(full_refresh))
    polster = statistics.median(figures["polster"])
    own = statistics.median(figures["deltalake"])
    full = statistics.median(figures["full"])
    check = delta.read(storage, "silver", "polster")
    assert check.height == rows + len(batch) // 2 + len(batch) % 2, check.height
    print(f"  polster merge        {polster:8.2f} s")
    print(f"  deltalake merge      {own:8.2f} s   polster / deltalake = {polster / own:.2f}x")
    print(f"  full refresh         {full:8.2f} s   full refresh / polster = {full / polster:.1f}x")
    return {
        "rows": rows,
        "changed": len(batch),
        "polster_s": polster,
        "deltalake_s": own,
        "full_refresh_s": full,
        "over_deltalake": polster / own,
        "full_over_polster": full / polster,
    }


def daily(args, work: Path) -> dict:
    storage = project(args, work)
    days, per_day = args.days, args.daily_rows
    spec = delta.TableSpec("append")
    incremental = 0.0
    full = 0.0
    compactions = 0
    for day in range(days):
        batch = table(per_day, start=day * per_day, seed=day)
        started = time.perf_counter()
        compactions += bool(delta.write(storage, batch, "silver", "daily", spec).compacted)
        incremental += time.perf_counter() - started
        started = time.perf_counter()
        previous = storage.read("silver", "daily_full") if day else None
        whole = batch if previous is None else pl.concat([previous, batch])
        storage.write(whole, "silver", "daily_full")
        full += time.perf_counter() - started
    delta_dir = storage.local.base / "silver" / "daily"
    parquet = storage.local.path("silver", "daily_full")
    total = days * per_day
    print(f"daily load: {days} days of {per_day:,} rows ({total:,} rows at the end)")
    print(
        f"  wall time            incremental {incremental:7.2f} s   full refresh {full:7.2f} s   "
        f"full / incremental = {full / incremental:.1f}x ({compactions} automatic compactions)"
    )
    print(
        f"  table size           delta {folder_bytes(delta_dir) / 1e6:7.1f} MB "
        f"({len(delta.open_table(delta.location(storage, 'silver', 'daily')).file_uris())} "
        "files in the current version)   parquet "
        f"{parquet.stat().st_size / 1e6:7.1f} MB"
    )

    def read_delta() -> None:
        assert delta.read(storage, "silver", "daily").height == total

    def read_parquet() -> None:
        assert storage.read("silver", "daily_full").height == total

    def median(function) -> float:
        function()  # warm the page cache for both alike
        return statistics.median(timed(function) for _ in range(args.repeat_reads))

    before = median(read_delta)
    plain = median(read_parquet)
    result = delta.upkeep(storage, "silver", "daily", retention_hours=0)
    after = median(read_delta)
    print(
        f"  read current version delta {before:.3f} s ({before / plain:.2f}x parquet's "
        f"{plain:.3f} s); after upkeep (compacted {result.files_compacted} files into "
        f"{result.files_added}, vacuumed {result.files_vacuumed}) {after:.3f} s "
        f"({after / plain:.2f}x); size after upkeep {folder_bytes(delta_dir) / 1e6:.1f} MB"
    )
    return {
        "days": days,
        "rows": total,
        "incremental_s": incremental,
        "full_refresh_s": full,
        "full_over_incremental": full / incremental,
        "read_over_parquet": before / plain,
        "read_over_parquet_after_upkeep": after / plain,
        "automatic_compactions": compactions,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--spread", choices=("newest", "random"), default="newest")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--daily-rows", type=int, default=5_000)
    parser.add_argument("--repeat-reads", type=int, default=5)
    parser.add_argument("--only", choices=("upsert", "daily"), default=None)
    parser.add_argument(
        "--file-mb", type=int, default=None, help="data file size (default: Polster's)"
    )
    parser.add_argument(
        "--compact-files",
        type=int,
        default=None,
        help="compact after a commit past this many small files (0: never; default: Polster's)",
    )
    parser.add_argument("--json", type=Path, help="write the figures here (bench/run_all.py)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-incremental-") as folder:
        work = Path(folder)
        report = {}
        if args.only in (None, "upsert"):
            report["upsert"] = upsert(args, work / "upsert")
        if args.only in (None, "daily"):
            report["daily"] = daily(args, work / "daily")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
