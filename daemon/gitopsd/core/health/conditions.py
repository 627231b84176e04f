"""Verdicts from one summary condition, shared by the generic rule and the family checks.

Most controllers summarise an object in one condition (``Ready``, ``Synced``,
``Available``...). Reading it is the same everywhere: a condition written for
an older generation is Progressing; True is Healthy; Unknown is Progressing;
False is Degraded when its reason names a failure, or when nothing says work
is under way, and Progressing otherwise. Family modules decide which
condition summarises their kind and what counts as work under way; this
module only applies that reading and must not know any kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus

# Fragments of condition reasons (lower case) that mean "not done yet", unless
# the reason also speaks of a failure or an error.
PROGRESS_REASONS = (
    "progress", "reconcil", "pending", "waiting", "creating", "provisioning",
    "initializ", "installing", "upgrading", "updating", "scaling", "starting",
    "deploying", "issuing", "unpacking", "dependencynotready",
)

# Reasons that name a failure without saying "fail" or "error".
FAILURE_REASONS = frozenset({
    "ProgressDeadlineExceeded", "BackoffLimitExceeded", "DeadlineExceeded",
    "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "Denied", "InvalidRequest",
    "InvalidSpec", "Invalid", "Unauthorized", "Forbidden", "NotFound", "Exhausted",
})


def is_failure(reason: str) -> bool:
    """True when a condition reason names a failure."""
    lowered = reason.lower()
    return "fail" in lowered or "error" in lowered or reason in FAILURE_REASONS


def in_progress(reason: str) -> bool:
    """True when a condition reason says work is under way (and names no failure)."""
    if is_failure(reason):
        return False
    lowered = reason.lower()
    return any(fragment in lowered for fragment in PROGRESS_REASONS)


def by_type(obj: Mapping[str, Any]) -> dict[str, fields.Condition]:
    """The object's conditions by type (the last one wins, as the server lists them)."""
    return {cond.type: cond for cond in fields.conditions(obj)}


def true(found: Mapping[str, fields.Condition], type_: str) -> fields.Condition | None:
    """The condition ``type_`` when it is present and True."""
    cond = found.get(type_)
    return cond if cond is not None and cond.is_true else None


def false(found: Mapping[str, fields.Condition], type_: str) -> fields.Condition | None:
    """The condition ``type_`` when it is present and False."""
    cond = found.get(type_)
    return cond if cond is not None and cond.is_false else None


def kstatus(found: Mapping[str, fields.Condition]) -> Health | None:
    """The verdict of the kstatus conditions: Stalled true is Degraded, Reconciling true is
    Progressing; None when neither is true."""
    stalled = true(found, "Stalled")
    if stalled is not None:
        return Health(HealthStatus.DEGRADED, f"Stalled: {stalled.explain() or 'no reason given'}")
    reconciling = true(found, "Reconciling")
    if reconciling is not None:
        return Health(HealthStatus.PROGRESSING,
                      f"Reconciling: {reconciling.explain() or 'no reason given'}")
    return None


def stale(obj: Mapping[str, Any], cond: fields.Condition) -> str:
    """Why ``cond`` describes an older spec, or empty when it is current."""
    observed = cond.observed_generation
    wanted = fields.generation(obj)
    if observed is not None and observed < wanted:
        return (f"Waiting for the controller to report on generation {wanted} "
                f"({cond.type} describes generation {observed})")
    return ""


def judge(obj: Mapping[str, Any], cond: fields.Condition | None, *, waiting: str,
          working: bool = False) -> Health:
    """The verdict of summary condition ``cond`` (None: not written yet, ``waiting``)."""
    if cond is None:
        return Health(HealthStatus.PROGRESSING, waiting)
    lag = stale(obj, cond)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    detail = cond.explain() or "no reason given"
    if cond.is_true:
        return Health(HealthStatus.HEALTHY, cond.explain())
    if cond.is_false and (is_failure(cond.reason) or not (working or in_progress(cond.reason))):
        return Health(HealthStatus.DEGRADED, f"Not {cond.type}: {detail}")
    return Health(HealthStatus.PROGRESSING, f"Not yet {cond.type}: {detail}")
