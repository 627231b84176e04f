"""Health of apps/StatefulSet, aware of partitioned and OnDelete updates.

A partitioned rolling update is finished once the ordinals at or above the
partition run the new revision; an OnDelete set is finished once its pods are
ready, because new pods only appear when somebody deletes old ones. This
module reads one object and must not look at its Pods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus


def statefulset_health(obj: Mapping[str, Any]) -> Health:
    """Health of a StatefulSet from its spec and status."""
    lag = fields.rollout_lag(obj)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    wanted = fields.integer(obj, "spec", "replicas", default=1)
    ready = fields.integer(obj, "status", "readyReplicas")
    if ready < wanted:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout: {ready} of {wanted} pods are ready",
        )
    strategy = fields.string(obj, "spec", "updateStrategy", "type") or "RollingUpdate"
    if strategy == "OnDelete":
        return Health(HealthStatus.HEALTHY, f"{ready} pods ready; updates wait for pod deletion")
    updated = fields.integer(obj, "status", "updatedReplicas")
    partition = fields.integer(obj, "spec", "updateStrategy", "rollingUpdate", "partition")
    to_update = max(wanted - partition, 0)
    if updated < to_update:
        scope = f" at or above partition {partition}" if partition else ""
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout: {updated} of {to_update} pods{scope} updated",
        )
    if partition:
        return Health(HealthStatus.HEALTHY, f"Partitioned rollout complete: {updated} pods updated")
    current_revision = fields.string(obj, "status", "currentRevision")
    update_revision = fields.string(obj, "status", "updateRevision")
    if current_revision and update_revision and current_revision != update_revision:
        return Health(
            HealthStatus.PROGRESSING,
            f"Waiting for rollout: revision {update_revision} not yet current "
            f"(current {current_revision})",
        )
    return Health(HealthStatus.HEALTHY)
