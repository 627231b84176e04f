"""Health of an Argo Workflows ``argoproj.io`` Workflow, which also decides a hook Workflow's result.

A Workflow reports ``status.phase``: without one, Pending or Running it is
Progressing; Succeeded is Healthy; Failed and Error are Degraded and final, as
in Argo CD's built-in check. ``status.message`` explains the verdict. This
module reads one Workflow and must not look at the Pods it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus

_FINAL = ("Succeeded", "Failed", "Error")


def is_finished(obj: Mapping[str, Any]) -> bool:
    """True when the Workflow has reached a phase it never leaves."""
    return fields.string(obj, "status", "phase") in _FINAL


def workflow_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Workflow from its phase and message."""
    phase = fields.string(obj, "status", "phase")
    message = fields.one_line(fields.string(obj, "status", "message"))
    detail = f": {message}" if message else ""
    if phase == "Succeeded":
        return Health(HealthStatus.HEALTHY, message)
    if phase in ("Failed", "Error"):
        return Health(HealthStatus.DEGRADED, f"Workflow {phase.lower()}{detail}")
    if phase in ("", "Pending", "Running"):
        state = phase.lower() if phase else "not started yet"
        return Health(HealthStatus.PROGRESSING, f"Workflow is {state}{detail}")
    return Health(HealthStatus.UNKNOWN, f"Workflow phase {phase} is unknown{detail}")
