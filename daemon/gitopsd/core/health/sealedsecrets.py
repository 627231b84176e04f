"""Health of Bitnami's SealedSecret (``bitnami.com``).

The sealed-secrets controller reports one ``Synced`` condition: True once it
unsealed the data into a Secret, False with the reason in its message when it
could not (no matching key, a Secret owned by someone else). A status older
than the spec is Progressing. This module must not look at the Secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import conditions, fields
from gitopsd.model.health import Health, HealthStatus


def sealedsecret_health(obj: Mapping[str, Any]) -> Health:
    """Health of a SealedSecret from its observed generation and Synced condition."""
    lag = fields.generation_lag(obj)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    synced = conditions.by_type(obj).get("Synced")
    if synced is None:
        return Health(HealthStatus.PROGRESSING, "Waiting for the controller to unseal the secret")
    if synced.is_true:
        return Health(HealthStatus.HEALTHY, "Secret is unsealed")
    message = fields.one_line(synced.message) or synced.reason or "no reason given"
    if synced.is_false:
        return Health(HealthStatus.DEGRADED, f"Secret not unsealed: {message}")
    return Health(HealthStatus.PROGRESSING, f"Unsealing: {message}")
