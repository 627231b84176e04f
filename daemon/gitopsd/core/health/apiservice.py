"""Health of an apiregistration.k8s.io APIService from its Available condition.

An APIService that is not (yet) Available is Progressing, as in Argo CD: the
backing Service often starts in the same sync and becomes reachable later.
This module must not probe the service itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus


def apiservice_health(obj: Mapping[str, Any]) -> Health:
    """Health of an APIService from its ``Available`` condition."""
    available = fields.condition(obj, "Available")
    if available is None:
        return Health(HealthStatus.PROGRESSING, "Waiting for the aggregator to check the service")
    if available.is_true:
        return Health(HealthStatus.HEALTHY, available.explain())
    detail = available.explain()
    return Health(HealthStatus.PROGRESSING,
                  f"APIService is not available: {detail}" if detail else "APIService is not available")
