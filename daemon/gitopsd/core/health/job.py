"""Health of batch/Job, which also decides whether a hook Job succeeded.

Complete is Healthy and Failed is Degraded; both are final. A suspended Job is
Suspended, explained by its ``Suspended`` condition's message as in Argo CD;
anything else is still running and Progressing, including a Job
whose outcome is decided (``SuccessCriteriaMet`` / ``FailureTarget``) while
its pods are still being terminated. This module reads one Job and must not
look at its Pods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus


def _true(obj: Mapping[str, Any], type_: str) -> fields.Condition | None:
    cond = fields.condition(obj, type_)
    return cond if cond is not None and cond.is_true else None


def is_finished(obj: Mapping[str, Any]) -> bool:
    """True when the Job has reached Complete or Failed, which it never leaves."""
    return _true(obj, "Complete") is not None or _true(obj, "Failed") is not None


def job_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Job from its conditions and pod counters."""
    failed = _true(obj, "Failed")
    if failed is not None:
        return Health(HealthStatus.DEGRADED,
                      f"Job failed: {failed.explain()}" if failed.explain() else "Job failed")
    if _true(obj, "Complete") is not None:
        return Health(HealthStatus.HEALTHY, "Job completed")
    suspended = _true(obj, "Suspended")
    if suspended is not None or fields.flag(obj, "spec", "suspend"):
        said = fields.one_line(suspended.message) if suspended is not None else ""
        return Health(HealthStatus.SUSPENDED, said or "Job is suspended")
    failing = _true(obj, "FailureTarget")
    if failing is not None:
        return Health(HealthStatus.PROGRESSING,
                      f"Job is failing, waiting for its pods to stop: {failing.explain()}")
    if _true(obj, "SuccessCriteriaMet") is not None:
        return Health(HealthStatus.PROGRESSING,
                      "Job succeeded, waiting for its pods to stop")
    active = fields.integer(obj, "status", "active")
    succeeded = fields.integer(obj, "status", "succeeded")
    failures = fields.integer(obj, "status", "failed")
    completions = fields.optional_integer(obj, "spec", "completions")
    done = f"{succeeded} of {completions}" if completions is not None else f"{succeeded}"
    message = f"Job is running: {active} active, {done} succeeded"
    if failures:
        message += f", {failures} failed"
    return Health(HealthStatus.PROGRESSING, message)
