"""Health of apps/DaemonSet: every scheduled node runs an available new pod.

An OnDelete set is Healthy once the controller has seen its spec, since new
pods only appear when old ones are deleted. This module reads one object and
must not look at nodes or Pods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus


def daemonset_health(obj: Mapping[str, Any]) -> Health:
    """Health of a DaemonSet from its spec and status."""
    lag = fields.rollout_lag(obj)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    desired = fields.integer(obj, "status", "desiredNumberScheduled")
    updated = fields.integer(obj, "status", "updatedNumberScheduled")
    if fields.string(obj, "spec", "updateStrategy", "type") == "OnDelete":
        return Health(
            HealthStatus.HEALTHY,
            f"{updated} of {desired} pods updated; updates wait for pod deletion",
        )
    if updated < desired:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout: {updated} of {desired} scheduled pods updated",
        )
    available = fields.integer(obj, "status", "numberAvailable")
    if available < desired:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout: {available} of {desired} updated pods are available",
        )
    return Health(HealthStatus.HEALTHY)
