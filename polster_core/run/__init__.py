"""The run time: what a generated project loads (the IO manager, the storage facade,
partitions, Dagster's instance and history, executors) and ``run_polster.py``'s engine.

Imports Dagster and polars (inside the functions that need them where a module is also
used by the example scripts, which run without Dagster).
"""
