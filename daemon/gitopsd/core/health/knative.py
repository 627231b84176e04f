"""Health of Knative Serving's Service, Configuration, Route and Revision (``serving.knative.dev``).

Knative summarises each object in ``Ready``, built from sub-conditions
(``ConfigurationsReady`` and ``RoutesReady`` on a Service). A status older
than the spec is Progressing. Ready True is Healthy; Ready False is Degraded
and Ready Unknown is Progressing, each explained by the first sub-condition
that is not true and says why (the one that names the cause), else by Ready
itself. This
module must not look at the Revisions or Routes a Service owns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import conditions, fields
from gitopsd.model.health import Health, HealthStatus

SUB_CONDITIONS = ("ConfigurationsReady", "RoutesReady", "ConfigurationReady", "AllTrafficAssigned",
                  "IngressReady", "ResourcesAvailable", "ContainerHealthy")


def knative_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Knative Serving object from its Ready condition and sub-conditions."""
    lag = fields.generation_lag(obj)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    found = conditions.by_type(obj)
    ready = found.get("Ready")
    if ready is None:
        return Health(HealthStatus.PROGRESSING, "Waiting for Knative to reconcile")
    if ready.is_true:
        url = fields.string(obj, "status", "url")
        return Health(HealthStatus.HEALTHY, f"Serving at {url}" if url else "")
    cause = next((found[t] for t in SUB_CONDITIONS
                  if t in found and not found[t].is_true and found[t].explain()), ready)
    detail = f"{cause.type}: {cause.explain() or 'no reason given'}"
    if ready.is_false:
        return Health(HealthStatus.DEGRADED, f"Not Ready: {detail}")
    return Health(HealthStatus.PROGRESSING, f"Not yet Ready: {detail}")
