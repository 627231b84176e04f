"""Health of apps/Deployment, with the rules Argo CD users already rely on.

Order matters and follows Argo CD: a paused rollout is Suspended; a status
older than the spec is Progressing; an exceeded progress deadline is
Degraded; then replica counts decide between Progressing and Healthy. This
module reads one object and must not look at its ReplicaSets or Pods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus


def deployment_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Deployment from its spec and status."""
    if fields.flag(obj, "spec", "paused"):
        return Health(HealthStatus.SUSPENDED, "Deployment is paused")
    lag = fields.rollout_lag(obj)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    progressing = fields.condition(obj, "Progressing")
    if progressing is not None and progressing.reason == "ProgressDeadlineExceeded":
        detail = fields.one_line(progressing.message)
        message = "Deployment exceeded its progress deadline"
        return Health(HealthStatus.DEGRADED, f"{message}: {detail}" if detail else message)
    wanted = fields.integer(obj, "spec", "replicas", default=1)
    replicas = fields.integer(obj, "status", "replicas")
    updated = fields.integer(obj, "status", "updatedReplicas")
    available = fields.integer(obj, "status", "availableReplicas")
    if updated < wanted:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout: {updated} of {wanted} replicas updated",
        )
    if replicas > updated:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout: {replicas - updated} old replicas pending termination",
        )
    if available < updated:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout: {available} of {updated} updated replicas are available",
        )
    return Health(HealthStatus.HEALTHY)
