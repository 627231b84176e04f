"""Health of Cluster API's Cluster, Machine and MachineDeployment (``cluster.x-k8s.io``).

Cluster API reports a ``status.phase`` and summary conditions (``Ready`` in
v1beta1, ``Available`` in v1beta2). A paused object (``spec.paused`` or the
``cluster.x-k8s.io/paused`` annotation) is Suspended; a status older than the
spec is Progressing; a terminal failure (``failureReason`` /
``failureMessage``, also under ``status.deprecated.v1beta1``) or phase Failed
is Degraded; phases of work (Pending, Provisioning, Deleting, ScalingUp...)
are Progressing. The summary condition False is Degraded only when its
severity is Error, since Cluster API reports waiting for infrastructure as
False too; otherwise it is Progressing. This module reads one object and must
not look at infrastructure or bootstrap objects, nor at Nodes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import conditions, fields
from gitopsd.model.health import Health, HealthStatus

PAUSED_ANNOTATION = "cluster.x-k8s.io/paused"
WORK_PHASES = frozenset({"Pending", "Provisioning", "Provisioned", "Deleting", "Deleted",
                         "ScalingUp", "ScalingDown"})
SUMMARY_CONDITIONS = ("Available", "Ready")


def _failure(obj: Mapping[str, Any]) -> str:
    for base in (("status",), ("status", "deprecated", "v1beta1")):
        reason = fields.string(obj, *base, "failureReason")
        message = fields.one_line(fields.string(obj, *base, "failureMessage"))
        if reason or message:
            return ": ".join(p for p in (reason, message) if p)
    return ""


def _severity(obj: Mapping[str, Any], type_: str) -> str:
    for raw in fields.items(obj, "status", "conditions"):
        if fields.string(raw, "type") == type_:
            return fields.string(raw, "severity")
    return ""


def _common(obj: Mapping[str, Any], *, paused: bool) -> Health | None:
    """The verdicts every Cluster API kind shares, or None when they say nothing."""
    kind = fields.string(obj, "kind") or "Object"
    if paused or fields.annotation(obj, PAUSED_ANNOTATION) == "true":
        return Health(HealthStatus.SUSPENDED, f"{kind} is paused")
    lag = fields.generation_lag(obj)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    failure = _failure(obj)
    phase = fields.string(obj, "status", "phase")
    if failure or phase == "Failed":
        return Health(HealthStatus.DEGRADED, f"{kind} failed: {failure or 'phase Failed'}")
    if phase in WORK_PHASES and not (kind == "Cluster" and phase == "Provisioned"):
        return Health(HealthStatus.PROGRESSING, f"{kind} is {phase}")
    return None


def _summary(obj: Mapping[str, Any], settled: str) -> Health:
    found = conditions.by_type(obj)
    summary = next((found[t] for t in SUMMARY_CONDITIONS if t in found), None)
    if summary is None:
        phase = fields.string(obj, "status", "phase")
        if phase == settled:
            return Health(HealthStatus.HEALTHY, f"Phase {phase}")
        return Health(HealthStatus.PROGRESSING,
                      f"Waiting for Cluster API to report (phase {phase or 'not set'})")
    if summary.is_false and _severity(obj, summary.type) == "Error":
        return Health(HealthStatus.DEGRADED, f"Not {summary.type}: {summary.explain()}")
    if summary.is_false:
        return Health(HealthStatus.PROGRESSING,
                      f"Not yet {summary.type}: {summary.explain() or 'no reason given'}")
    return conditions.judge(obj, summary, waiting="")


def cluster_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Cluster from spec.paused, its phase and its summary condition."""
    return (_common(obj, paused=fields.flag(obj, "spec", "paused"))
            or _summary(obj, settled="Provisioned"))


def machine_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Machine from its phase, failure fields and summary condition."""
    return _common(obj, paused=False) or _summary(obj, settled="Running")


def machinedeployment_health(obj: Mapping[str, Any]) -> Health:
    """Health of a MachineDeployment from spec.paused, its phase, replica counts and conditions."""
    common = _common(obj, paused=fields.flag(obj, "spec", "paused"))
    if common is not None:
        return common
    wanted = fields.integer(obj, "spec", "replicas", default=1)
    updated = fields.optional_integer(obj, "status", "upToDateReplicas")
    if updated is None:
        updated = fields.integer(obj, "status", "updatedReplicas")
    available = fields.integer(obj, "status", "availableReplicas")
    if updated < wanted:
        return Health(HealthStatus.PROGRESSING,
                      f"Waiting for rollout: {updated} of {wanted} machines up to date")
    if available < wanted:
        return Health(HealthStatus.PROGRESSING,
                      f"Waiting for rollout: {available} of {wanted} machines are available")
    return _summary(obj, settled="Running")
