"""Health of kinds without a dedicated check, custom resources above all.

The conventions most controllers follow are read, in this order: a status
older than the spec (``status.observedGeneration`` below
``metadata.generation``) is Progressing; a true ``Stalled`` (kstatus) or a
true failure condition (``Failed``, ``Failure``, ``Degraded``) is Degraded; a
true ``Reconciling`` is Progressing; then ``Ready``, else ``Available``, is
read as ``conditions.judge`` reads a summary (a true ``Progressing`` or
``Issuing`` condition counts as work under way); then ``status.phase``:
Failed, Error and their kin are Degraded, Pending and other phases of work
are Progressing, Paused or Suspended is Suspended, and Running, Succeeded,
Active, Bound and the like are Healthy. An object with nothing to judge is
Healthy with the message "no health check", as Argo CD leaves kinds it has no
check for. This module must not special-case any kind: a kind that needs its
own rules gets its own module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import conditions, fields
from gitopsd.model.health import Health, HealthStatus

NO_CHECK = "no health check"

SUMMARY_CONDITIONS = ("Ready", "Available")

# Conditions that, when true, say the controller is still working on the object.
WORK_CONDITIONS = ("Reconciling", "Progressing", "Issuing")

# Conditions that, when true, say the object failed.
FAILURE_CONDITIONS = ("Stalled", "Failed", "Failure", "Degraded")

# ``status.phase`` values (lower case) by the verdict they carry.
DEGRADED_PHASES = frozenset({
    "failed", "failure", "error", "errored", "degraded", "crashloopbackoff", "lost",
    "invalid", "unhealthy", "aborted",
})
PROGRESSING_PHASES = frozenset({
    "pending", "provisioning", "creating", "initializing", "initialising", "installing",
    "deploying", "updating", "upgrading", "progressing", "scaling", "starting",
    "reconciling", "terminating", "deleting", "waiting", "building", "queued",
})
SUSPENDED_PHASES = frozenset({"paused", "suspended"})


def phase_health(obj: Mapping[str, Any]) -> Health | None:
    """The verdict of ``status.phase`` (None when there is no phase)."""
    phase = fields.string(obj, "status", "phase")
    if not phase:
        return None
    said = fields.one_line(fields.string(obj, "status", "message"))
    detail = f"Phase {phase}" + (f": {said}" if said else "")
    lowered = phase.lower()
    if lowered in DEGRADED_PHASES:
        return Health(HealthStatus.DEGRADED, detail)
    if lowered in PROGRESSING_PHASES:
        return Health(HealthStatus.PROGRESSING, detail)
    if lowered in SUSPENDED_PHASES:
        return Health(HealthStatus.SUSPENDED, detail)
    return Health(HealthStatus.HEALTHY, detail)


def generic_health(obj: Mapping[str, Any]) -> Health:
    """Health of any object from the status conventions most controllers follow."""
    lag = fields.generation_lag(obj)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    found = conditions.by_type(obj)
    for type_ in FAILURE_CONDITIONS:
        failed = conditions.true(found, type_)
        if failed is not None:
            return Health(HealthStatus.DEGRADED,
                          f"{type_}: {failed.explain() or 'no reason given'}")
    reconciling = conditions.true(found, "Reconciling")
    if reconciling is not None:
        return Health(HealthStatus.PROGRESSING,
                      f"Reconciling: {reconciling.explain() or 'no reason given'}")
    summary = next((found[t] for t in SUMMARY_CONDITIONS if t in found), None)
    if summary is not None:
        working = any(conditions.true(found, t) is not None for t in WORK_CONDITIONS)
        return conditions.judge(obj, summary, waiting="", working=working)
    return phase_health(obj) or Health(HealthStatus.HEALTHY, NO_CHECK)
