"""A run's progress as it happens, read off Dagster's events: a line per step as it starts
and ends, failures with their error, the summary (the display itself:
:mod:`polster_core.run.progress`).
"""

from __future__ import annotations

import threading
import time

from ..exceptions import (
    FULL_CAUSE,
    exception_line,
)
from .progress import Display, time_left
from .progress import parse as parse_progress


def seconds_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}s"


class RunProgress:
    """Prints one line per finished asset as it happens.

    In one process it listens to the instance's events as they are stored; with ``--workers``
    (the run is created by Dagster, in other processes) it polls the run's event log.
    """

    def __init__(self, instance, run_id: str | None, total_steps: int = 0):

        self.instance = instance
        self.display = Display(total_steps)
        self.run_id = run_id
        self.created_after = time.time()
        self.steps: dict[str, dict] = {}
        self.failed_checks: list[str] = []
        # Why the run failed outside its steps (its executor raised), as one line.
        self.run_error: str | None = None
        self._cursor: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        if self.run_id is not None:
            self.instance.add_event_listener(self.run_id, self.handle)
        else:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.display.close()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self.poll()

    def finish(self) -> dict[str, dict]:
        if self._thread.ident is not None:
            self.poll()
        self.display.close()
        return self.steps

    def poll(self) -> None:
        try:
            if self.run_id is None:
                runs = self.instance.get_runs(limit=1)
                record = self.instance.get_run_record_by_id(runs[0].run_id) if runs else None
                if record is None or record.create_timestamp.timestamp() < self.created_after:
                    return
                self.run_id = runs[0].run_id
            # Only the events stored since the last poll (reading the whole log each time
            # cost more than the run's own steps on a large pipeline).
            found = self.instance.get_records_for_run(self.run_id, cursor=self._cursor)
        except Exception:  # the run may not exist yet
            return
        for record in found.records:
            self.handle(record.event_log_entry)
        self._cursor = found.cursor

    def _step(self, key: str) -> dict:
        return self.steps.setdefault(
            key,
            {
                "name": key,
                "status": "running",
                "start": None,
                "rows": None,
                "seconds": None,
                "error": None,
            },
        )

    def handle(self, entry) -> None:
        event = entry.dagster_event
        if event is None:  # a log message: the full cause of an asset's error, or its progress
            text = entry.user_message or ""
            if entry.step_key and text.startswith(FULL_CAUSE):
                step = self._step(entry.step_key)
                step["details"] = text[len(FULL_CAUSE) :].strip()
            elif entry.step_key and (done := parse_progress(text)) is not None:
                step = self._step(entry.step_key)
                left = time_left(step["start"], entry.timestamp, *done)
                self.display.partitions(step["name"], *done, left)
            return
        if event.event_type_value == "PIPELINE_FAILURE":
            if getattr(event.event_specific_data, "error", None) is not None:
                self.run_error = error_text(event)
            return
        if not event.step_key:
            return
        step = self._step(event.step_key)
        kind = event.event_type_value
        if kind == "STEP_START":
            step["start"] = entry.timestamp
            self.display.started(step["name"])
        elif kind == "ASSET_MATERIALIZATION":
            step["materialized"] = True
            meta = event.event_specific_data.materialization.metadata
            rows = getattr(meta.get("dagster/row_count"), "value", None)
            fell_back = bool(getattr(meta.get("fell_back_to_local"), "value", False))
            if event.partition:  # one event per partition written, each with its own rows
                step["partitions"] = step.get("partitions", 0) + 1
                if step["partitions"] > 1 and rows is not None:
                    rows += step["rows"] or 0
                fell_back = fell_back or step.get("fell_back", False)
            step["rows"] = rows
            step["fell_back"] = fell_back
        elif kind == "ASSET_CHECK_EVALUATION":
            step["checks"] = step.get("checks", 0) + 1
            evaluation = event.event_specific_data
            if not evaluation.passed:
                detail = ", ".join(
                    f"{key}: {getattr(value, 'value', value)}"
                    for key, value in (evaluation.metadata or {}).items()
                )
                self.failed_checks.append(f"{step['name']}.{evaluation.check_name}")
                self.display.line(
                    f"  CHECK {step['name']}: {evaluation.check_name} failed ({detail})"
                )
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            if step["start"] is not None:
                step["seconds"] = entry.timestamp - step["start"]
            self.display.ended(step["name"])
            if kind == "STEP_SUCCESS":
                step["status"] = "ok"
                rows = "-" if step["rows"] is None else f"{step['rows']:,} rows"
                fallback = "  (fell back to local storage)" if step.get("fell_back") else ""
                if step.get("partitions"):
                    fallback += f"  ({step['partitions']} partition(s))"
                self.display.line(
                    f"  {step_label(step):<5} {step['name']:<40} {rows:>14} "
                    f"{seconds_text(step['seconds']):>8}"
                    f"{fallback}{self.display.counter()}"
                )
            elif kind == "STEP_FAILURE":
                step["status"] = "failed"
                step["error"] = error_text(event)
                self.display.line(f"  FAIL  {step['name']:<40} {step['error']}")
            else:
                step["status"] = "skipped"


def step_label(step: dict) -> str:
    """``ok`` for a step that materialised, ``check`` for one that only checked assets."""
    return "check" if step.get("checks") and not step.get("materialized") else "ok"


def error_text(event) -> str:
    data = event.event_specific_data
    error = getattr(data, "error", None)
    # Dagster wraps the user's exception (whose own causes are the user's: not shown here).
    while (
        error is not None
        and error.cause is not None
        and (error.cls_name or "").startswith("Dagster")
    ):
        error = error.cause
    if error is None:
        return "failed"
    if error.cls_name == "DagsterExecutionInterruptedError":
        return "interrupted (Ctrl+C or SIGTERM)"

    # The line an example script prints for the same error (errors.error_line).
    return exception_line(error.message or "") or error.cls_name or "failed"
