"""Health of a core/v1 Service: a LoadBalancer needs a load balancer entry.

A LoadBalancer Service is Healthy once ``status.loadBalancer.ingress`` holds
any entry, even one without an IP or host name (some cloud controllers publish
``{}`` first, and Argo CD counts it too). Every other Service type is Healthy
as soon as it exists. This module must not look at Endpoints or
EndpointSlices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.model.health import Health, HealthStatus


def load_balancer_entries(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The entries of ``status.loadBalancer.ingress``, empty ones included."""
    return fields.items(obj, "status", "loadBalancer", "ingress")


def load_balancer_addresses(obj: Mapping[str, Any]) -> list[str]:
    """IPs and host names in ``status.loadBalancer.ingress``."""
    found = []
    for entry in load_balancer_entries(obj):
        address = fields.string(entry, "ip") or fields.string(entry, "hostname")
        if address:
            found.append(address)
    return found


def load_balancer_health(obj: Mapping[str, Any], waiting: str) -> Health:
    """Healthy once the load balancer status has an entry, naming its addresses."""
    if not load_balancer_entries(obj):
        return Health(HealthStatus.PROGRESSING, waiting)
    addresses = load_balancer_addresses(obj)
    if addresses:
        return Health(HealthStatus.HEALTHY, f"Load balancer at {', '.join(addresses)}")
    return Health(HealthStatus.HEALTHY, "Load balancer entry published without an address")


def service_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Service from its type and load balancer status."""
    if fields.string(obj, "spec", "type") != "LoadBalancer":
        return Health(HealthStatus.HEALTHY)
    return load_balancer_health(obj, "Waiting for a load balancer address")
