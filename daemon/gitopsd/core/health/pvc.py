"""Health of a core/v1 PersistentVolumeClaim from its phase.

Bound is Healthy and Lost is Degraded. A Pending claim is Progressing while a
provisioner works on it, but Healthy while it waits for its first consumer
(``WaitForFirstConsumer`` storage classes): the Pod that consumes it often
comes in a later wave, and waiting for the claim would wait forever.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus

PROVISIONER_ANNOTATIONS = (
    "volume.kubernetes.io/storage-provisioner",
    "volume.beta.kubernetes.io/storage-provisioner",
)


def pvc_health(obj: Mapping[str, Any]) -> Health:
    """Health of a PersistentVolumeClaim from ``status.phase``."""
    phase = fields.string(obj, "status", "phase")
    if phase == "Bound":
        return Health(HealthStatus.HEALTHY)
    if phase == "Lost":
        return Health(HealthStatus.DEGRADED, "Claim lost its bound volume")
    if phase == "Pending":
        provisioner = next(
            (fields.annotation(obj, a) for a in PROVISIONER_ANNOTATIONS if fields.annotation(obj, a)),
            "",
        )
        if provisioner:
            return Health(HealthStatus.PROGRESSING, f"Waiting for {provisioner} to provision a volume")
        return Health(HealthStatus.HEALTHY, "Waiting for a consumer before binding")
    if not phase:
        return Health(HealthStatus.PROGRESSING, "Claim has no phase yet")
    return Health(HealthStatus.UNKNOWN, f"Claim is in unknown phase {phase}")
