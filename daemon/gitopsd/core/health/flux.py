"""Health of Flux objects: Kustomization, HelmRelease and the sources.

Flux controllers follow kstatus. In order: ``spec.suspend`` is Suspended; a
status older than the spec is Progressing; a true ``Reconciling`` is
Progressing; a true ``Stalled`` is Degraded; then ``Ready``: True is Healthy,
False is Progressing when its reason is Progressing (and Degraded otherwise),
Unknown or absent is Progressing. A HelmRepository of type ``oci`` is never
reconciled by current Flux versions and carries no Ready condition: it is
Healthy. This module reads one object and must not follow source references.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import conditions, fields
from gitopsd.model.health import Health, HealthStatus


def flux_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Flux object from spec.suspend and its kstatus conditions."""
    kind = fields.string(obj, "kind") or "Object"
    if fields.flag(obj, "spec", "suspend"):
        return Health(HealthStatus.SUSPENDED, f"{kind} is suspended")
    lag = fields.generation_lag(obj)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    found = conditions.by_type(obj)
    reconciling = conditions.true(found, "Reconciling")
    if reconciling is not None:
        return Health(HealthStatus.PROGRESSING,
                      f"Reconciling: {reconciling.explain() or 'no reason given'}")
    settled = conditions.kstatus(found)
    if settled is not None:
        return settled
    ready = found.get("Ready")
    if ready is None and kind == "HelmRepository" and fields.string(obj, "spec", "type") == "oci":
        return Health(HealthStatus.HEALTHY, "OCI HelmRepository is not reconciled")
    if ready is not None and ready.is_false and not conditions.stale(obj, ready):
        detail = ready.explain() or "no reason given"
        if ready.reason == "Progressing":
            return Health(HealthStatus.PROGRESSING, f"Not yet Ready: {detail}")
        return Health(HealthStatus.DEGRADED, f"Not Ready: {detail}")
    return conditions.judge(obj, ready, waiting=f"Waiting for Flux to reconcile the {kind}")
