"""Health of an autoscaling HorizontalPodAutoscaler from its conditions.

The verdict matches Argo CD's on the objects the controller writes, without
depending on the order of the conditions: a known failure is Degraded first,
whatever else the conditions say (AbleToScale failing to get or update the
scale, ScalingActive failing to read a metric such as
``FailedGetResourceMetric`` or ``FailedGetObjectMetric``, or an invalid
selector); then AbleToScale or ScalingLimited true is Healthy; no telling
condition yet is Progressing. autoscaling/v1 objects carry their conditions as JSON in an
annotation. This module must not look at the scale target or its metrics.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus

V1_CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"

SCALE_FAILURES = frozenset({"FailedGetScale", "FailedUpdateScale"})
METRIC_FAILURES = frozenset({
    "FailedGetResourceMetric",
    "FailedGetContainerResourceMetric",
    "FailedGetPodsMetric",
    "FailedGetObjectMetric",
    "FailedGetExternalMetric",
    "FailedComputeMetricsReplicas",
    "InvalidSelector",
    "InvalidMetricSourceType",
})

WAITING = Health(HealthStatus.PROGRESSING, "Waiting for the autoscaler to report")


def _hpa_conditions(obj: Mapping[str, Any]) -> dict[str, fields.Condition]:
    found = fields.conditions(obj)
    if not found:
        raw = fields.annotation(obj, V1_CONDITIONS)
        try:
            decoded = json.loads(raw) if raw else []
        except ValueError:
            decoded = []
        found = fields.conditions_from(decoded) if isinstance(decoded, list) else []
    return {cond.type: cond for cond in found}


def hpa_health(obj: Mapping[str, Any]) -> Health:
    """Health of a HorizontalPodAutoscaler from its conditions."""
    by_type = _hpa_conditions(obj)
    able = by_type.get("AbleToScale")
    active = by_type.get("ScalingActive")
    limited = by_type.get("ScalingLimited")
    if able is not None and able.reason in SCALE_FAILURES:
        return Health(HealthStatus.DEGRADED, able.explain())
    if active is not None and active.reason in METRIC_FAILURES:
        return Health(HealthStatus.DEGRADED, active.explain())
    for healthy in (able, limited):
        if healthy is not None and healthy.is_true:
            return Health(HealthStatus.HEALTHY, healthy.explain())
    return WAITING
