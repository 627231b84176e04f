"""Health of kinds without a dedicated check, custom resources above all.

The conventions most controllers follow are read, in this order: a status
older than the spec (``status.observedGeneration`` or a condition's own
``observedGeneration`` below ``metadata.generation``) is Progressing; the
kstatus conditions ``Stalled`` (Degraded) and ``Reconciling`` (Progressing)
when true; then ``Ready``, else ``Available``: True is Healthy, Unknown is
Progressing, False is Degraded unless its reason, or a true ``Progressing``
or ``Issuing`` condition, says work is under way. An object with no status
or no such condition is Healthy, as Argo CD treats kinds it has no check for.
This module must not special-case any kind: a kind that needs its own rules
gets its own module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus

SUMMARY_CONDITIONS = ("Ready", "Available")

# Conditions that, when true, say the controller is still working on the object.
WORK_CONDITIONS = ("Reconciling", "Progressing", "Issuing")

# Fragments of condition reasons (lower case) that mean "not done yet", unless
# the reason also speaks of a failure or an error.
PROGRESS_REASONS = (
    "progress", "reconcil", "pending", "waiting", "creating", "provisioning",
    "initializ", "installing", "upgrading", "updating", "scaling", "starting",
    "deploying", "issuing", "dependencynotready",
)


def _in_progress(reason: str) -> bool:
    lowered = reason.lower()
    if "fail" in lowered or "error" in lowered:
        return False
    return any(fragment in lowered for fragment in PROGRESS_REASONS)


def _stale_condition(obj: Mapping[str, Any], cond: fields.Condition) -> bool:
    observed = cond.observed_generation
    return observed is not None and observed < fields.generation(obj)


def generic_health(obj: Mapping[str, Any]) -> Health:
    """Health of any object from the status conventions most controllers follow."""
    lag = fields.generation_lag(obj)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    by_type = {cond.type: cond for cond in fields.conditions(obj)}
    stalled = by_type.get("Stalled")
    if stalled is not None and stalled.is_true:
        return Health(HealthStatus.DEGRADED, f"Stalled: {stalled.explain() or 'no reason given'}")
    reconciling = by_type.get("Reconciling")
    if reconciling is not None and reconciling.is_true:
        return Health(HealthStatus.PROGRESSING,
                      f"Reconciling: {reconciling.explain() or 'no reason given'}")
    summary = next((by_type[t] for t in SUMMARY_CONDITIONS if t in by_type), None)
    if summary is None:
        return Health(HealthStatus.HEALTHY)
    if _stale_condition(obj, summary):
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for the controller to report on generation {fields.generation(obj)} "
            f"({summary.type} describes generation {summary.observed_generation})",
        )
    detail = summary.explain()
    if summary.is_true:
        return Health(HealthStatus.HEALTHY, detail)
    working = any(by_type[t].is_true for t in WORK_CONDITIONS if t in by_type)
    if summary.is_false and not working and not _in_progress(summary.reason):
        return Health(HealthStatus.DEGRADED, f"Not {summary.type}: {detail or 'no reason given'}")
    return Health(HealthStatus.PROGRESSING,
                  f"Not yet {summary.type}: {detail or 'no reason given'}")
