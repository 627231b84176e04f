"""Health of KEDA's ScaledObject and ScaledJob (``keda.sh``).

Autoscaling paused by annotation (``autoscaling.keda.sh/paused`` "true" or
``autoscaling.keda.sh/paused-replicas``) or by a true ``Paused`` condition is
Suspended. Then ``Ready``: False is Degraded (a scaler cannot reach its
source, the target is missing), True is Healthy unless ``Fallback`` is true,
which means the scaler is failing and fallback replicas are in use
(Degraded). ``Active`` False only means there is nothing to scale for and
stays Healthy. No Ready condition yet is Progressing. This module must not
look at the HorizontalPodAutoscaler KEDA creates nor at the target.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import conditions, fields
from gitopsd.model.health import Health, HealthStatus

PAUSED_ANNOTATION = "autoscaling.keda.sh/paused"
PAUSED_REPLICAS_ANNOTATION = "autoscaling.keda.sh/paused-replicas"


def keda_health(obj: Mapping[str, Any]) -> Health:
    """Health of a ScaledObject or ScaledJob from its annotations and conditions."""
    found = conditions.by_type(obj)
    paused = conditions.true(found, "Paused")
    replicas = fields.annotation(obj, PAUSED_REPLICAS_ANNOTATION)
    if paused is not None or replicas or fields.annotation(obj, PAUSED_ANNOTATION) == "true":
        detail = (paused.explain() if paused is not None else "") or (
            f"paused at {replicas} replicas" if replicas else "paused by annotation")
        return Health(HealthStatus.SUSPENDED, f"Autoscaling is paused: {detail}")
    lag = fields.generation_lag(obj)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    ready = found.get("Ready")
    if ready is not None and ready.is_false:
        return Health(HealthStatus.DEGRADED, f"Not Ready: {ready.explain() or 'no reason given'}")
    fallback = conditions.true(found, "Fallback")
    if fallback is not None:
        return Health(HealthStatus.DEGRADED,
                      f"Scaler is failing, fallback in use: {fallback.explain() or 'no reason given'}")
    return conditions.judge(obj, ready, waiting="Waiting for KEDA to check the scalers")
