"""Health of a core/v1 Service: a LoadBalancer needs an address.

Every other Service type is Healthy as soon as it exists. This module must not
look at Endpoints or EndpointSlices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus


def load_balancer_addresses(obj: Mapping[str, Any]) -> list[str]:
    """IPs and host names in ``status.loadBalancer.ingress``."""
    found = []
    for entry in fields.items(obj, "status", "loadBalancer", "ingress"):
        address = fields.string(entry, "ip") or fields.string(entry, "hostname")
        if address:
            found.append(address)
    return found


def service_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Service from its type and load balancer status."""
    if fields.string(obj, "spec", "type") != "LoadBalancer":
        return Health(HealthStatus.HEALTHY)
    if load_balancer_addresses(obj):
        return Health(HealthStatus.HEALTHY)
    return Health(HealthStatus.PROGRESSING, "Waiting for a load balancer address")
