"""The instance concern: Dagster's private names that Polster's instance
(:mod:`polster_core.history`) uses to mask secrets, imported here and nowhere else.

``PolsterInstance`` sets the instance's default storage and compute log manager (Dagster's
``InstanceRef.config_defaults``, ``ConfigurableClassData``, ``compute_logs_directory``), and
``RedactingComputeLogManager`` overrides ``LocalComputeLogManager.capture_logs`` to mask what
steps print. There is no fallback: Dagster's stock instance would store secrets in the run
history and the compute logs, so a Dagster without these names fails at start, with this
module's check naming what is missing (:data:`PROBLEM`) and the range Polster supports.
"""

from __future__ import annotations

from . import has_attributes, has_parameters

try:
    from dagster._core.instance.ref import InstanceRef, compute_logs_directory
    from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
    from dagster._core.storage.local_compute_log_manager import (
        IO_TYPE_EXTENSION,
        LocalComputeLogManager,
    )
    from dagster._serdes import ConfigurableClassData
    from dagster._utils import ensure_file, touch_file
except ImportError as exc:
    raise ImportError(
        f"Polster's instance needs Dagster internals this Dagster does not have ({exc}): "
        "install the Dagster range Polster declares (pip install 'polster[runtime]')"
    ) from exc

PROBLEM = (
    has_attributes(InstanceRef, "config_defaults")
    or has_attributes(
        LocalComputeLogManager,
        "capture_logs",
        "get_captured_local_path",
        "complete_artifact_path",
        "_base_dir",
    )
    or has_parameters(LocalComputeLogManager.capture_logs, "log_key")
)
# _base_dir is an instance attribute: a class without it is fine if __init__ sets it.
if PROBLEM and "_base_dir" in PROBLEM:
    PROBLEM = None if "_base_dir" in LocalComputeLogManager.__init__.__code__.co_names else PROBLEM
if PROBLEM:
    raise ImportError(
        f"Polster's instance needs Dagster internals of another shape ({PROBLEM}): install "
        "the Dagster range Polster declares (pip install 'polster[runtime]')"
    )

__all__ = [
    "IO_TYPE_EXTENSION",
    "CapturedLogContext",
    "ComputeIOType",
    "ConfigurableClassData",
    "InstanceRef",
    "LocalComputeLogManager",
    "compute_logs_directory",
    "ensure_file",
    "touch_file",
]
