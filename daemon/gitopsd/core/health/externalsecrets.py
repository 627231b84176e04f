"""Health of External Secrets Operator kinds (``external-secrets.io``).

ExternalSecret, ClusterExternalSecret, PushSecret, SecretStore and
ClusterSecretStore each summarise themselves in a ``Ready`` condition: True is
Healthy, False is Degraded (the provider refused, the remote key is missing,
the store is misconfigured) and Unknown or absent is Progressing. A status
older than the spec is Progressing. This module must not look at the Secrets
the operator writes nor at the provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import conditions, fields
from gitopsd.model.health import Health, HealthStatus


def externalsecrets_health(obj: Mapping[str, Any]) -> Health:
    """Health of an External Secrets object from its Ready condition."""
    lag = fields.generation_lag(obj)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    ready = conditions.by_type(obj).get("Ready")
    if ready is not None and ready.is_false:
        return Health(HealthStatus.DEGRADED, f"Not Ready: {ready.explain() or 'no reason given'}")
    return conditions.judge(obj, ready, waiting="Waiting for the operator to reconcile")
