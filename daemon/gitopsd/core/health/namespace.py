"""Health of a core/v1 Namespace: Active, or on its way out.

A terminating Namespace is Progressing while content and finalizers are
removed, and Degraded when the namespace controller reports that it cannot
delete something. This module must not look at the objects in the
Namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus

DELETION_FAILURES = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
)


def namespace_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Namespace from ``status.phase`` and its deletion conditions."""
    phase = fields.string(obj, "status", "phase")
    if phase == "Terminating":
        for cond in fields.conditions(obj):
            if cond.type in DELETION_FAILURES and cond.is_true:
                return Health(HealthStatus.DEGRADED,
                              f"Namespace cannot be deleted: {cond.explain() or cond.type}")
        return Health(HealthStatus.PROGRESSING, "Namespace is terminating")
    if phase in ("Active", ""):
        return Health(HealthStatus.HEALTHY)
    return Health(HealthStatus.UNKNOWN, f"Namespace is in unknown phase {phase}")


def is_terminating(obj: Mapping[str, Any]) -> bool:
    """True when the namespace controller reports the Namespace as terminating."""
    return fields.string(obj, "status", "phase") == "Terminating"
