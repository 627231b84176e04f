"""Health of apps/ReplicaSet: enough available pods and no replica failure.

A ``ReplicaFailure`` condition (quota exceeded, admission denied) is Degraded
because the controller cannot create pods until somebody acts. This module
reads one object and must not look at its Pods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus


def replicaset_health(obj: Mapping[str, Any]) -> Health:
    """Health of a ReplicaSet from its spec and status."""
    lag = fields.rollout_lag(obj)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    failure = fields.condition(obj, "ReplicaFailure")
    if failure is not None and failure.is_true:
        return Health(HealthStatus.DEGRADED, failure.explain() or "Replica creation failed")
    wanted = fields.integer(obj, "spec", "replicas", default=1)
    available = fields.integer(obj, "status", "availableReplicas")
    if available < wanted:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout: {available} of {wanted} replicas are available",
        )
    return Health(HealthStatus.HEALTHY)
