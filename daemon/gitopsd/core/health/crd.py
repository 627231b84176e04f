"""Health of an apiextensions.k8s.io CustomResourceDefinition.

Established with accepted names and a structural schema is Healthy. Names in
conflict or a non-structural schema are Degraded, since only an edit fixes
them. A definition still being installed or being deleted is Progressing.
This module must not look at the custom resources the definition serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus


def crd_health(obj: Mapping[str, Any]) -> Health:
    """Health of a CustomResourceDefinition from its conditions."""
    found = {cond.type: cond for cond in fields.conditions(obj)}
    if not found:
        return Health(HealthStatus.PROGRESSING, "Waiting for the API server to accept the CRD")
    terminating = found.get("Terminating")
    if terminating is not None and terminating.is_true:
        return Health(HealthStatus.PROGRESSING,
                      f"CRD is terminating: {terminating.explain() or 'instances are removed'}")
    names = found.get("NamesAccepted")
    if names is not None and names.is_false:
        return Health(HealthStatus.DEGRADED, f"CRD names not accepted: {names.explain()}")
    nonstructural = found.get("NonStructuralSchema")
    if nonstructural is not None and nonstructural.is_true:
        return Health(HealthStatus.DEGRADED,
                      f"CRD schema is not structural: {nonstructural.explain()}")
    established = found.get("Established")
    if established is None or not established.is_true:
        detail = established.explain() if established is not None else ""
        if established is None or established.reason == "Installing":
            return Health(HealthStatus.PROGRESSING,
                          f"CRD is not established yet: {detail or 'installing'}")
        return Health(HealthStatus.DEGRADED, f"CRD is not established: {detail or 'no reason'}")
    return Health(HealthStatus.HEALTHY)


def is_terminating(obj: Mapping[str, Any]) -> bool:
    """True when the API server reports the definition as being removed."""
    cond = fields.condition(obj, "Terminating")
    return cond is not None and cond.is_true
