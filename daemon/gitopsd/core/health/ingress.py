"""Health of an Ingress (networking.k8s.io, or the old extensions group).

An Ingress is Healthy once its controller published an address in
``status.loadBalancer.ingress``; before that it is Progressing. This module
must not look at the backing Services or the IngressClass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health.service import load_balancer_addresses
from gitopsd.model.health import Health, HealthStatus


def ingress_health(obj: Mapping[str, Any]) -> Health:
    """Health of an Ingress from its load balancer status."""
    if load_balancer_addresses(obj):
        return Health(HealthStatus.HEALTHY)
    return Health(HealthStatus.PROGRESSING, "Waiting for the ingress controller to assign an address")
