"""A contract broken under the ``fail`` policy, shown in Dagster's UI rule by rule.

The contract's rules are asset checks of their own step (``contracts.rule_checks``), which
reads the counts the write recorded in the materialisation. Under ``fail`` nothing is
materialised and the run fails at the write, so Dagster skips that step: the write records
the results itself, one asset check evaluation per rule (failed with its failing rows, or
passed), through Dagster's public ``DagsterInstance.report_runless_asset_event``, with the id
of the run that failed in their metadata. The run then fails with its one line.
"""

from __future__ import annotations

from typing import Any


def report_broken_rules(
    context: Any, results: list[tuple[str, str, int]], module: str, where: str
) -> bool:
    """Record ``results`` (``[(check name, rule, failing rows)]``) as evaluations of the asset
    checks of ``context``'s asset; False when the context belongs to no Dagster step (a
    context built by hand, or a core file run on its own)."""
    import dagster as dg

    try:
        instance = context.step_context.instance
        key = context.asset_key
        run_id = str(context.run_id)
    except Exception:  # no step, no instance: the one-line failure says it all
        return False
    for check, rule, failing in results:
        instance.report_runless_asset_event(
            dg.AssetCheckEvaluation(
                asset_key=key,
                check_name=check,
                passed=failing == 0,
                severity=dg.AssetCheckSeverity.ERROR,
                description=(
                    f"Contract rule {rule} ({module}.Contract) when run {run_id} wrote {where}: "
                    + (f"{failing} failing row(s), nothing was written" if failing else "kept")
                ),
                metadata={
                    "rule": dg.MetadataValue.text(rule),
                    "failing_rows": dg.MetadataValue.int(failing),
                    "validated": dg.MetadataValue.text(f"run {run_id} (failed: nothing written)"),
                    "run_id": dg.MetadataValue.text(run_id),
                },
            )
        )
    return True
