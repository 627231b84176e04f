"""Health of an Ingress (networking.k8s.io, or the old extensions group).

An Ingress is Healthy once its controller published an entry in
``status.loadBalancer.ingress`` (an entry without an address counts, as in
Argo CD); before that it is Progressing. This module
must not look at the backing Services or the IngressClass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health.service import load_balancer_health
from gitopsd.model.health import Health


def ingress_health(obj: Mapping[str, Any]) -> Health:
    """Health of an Ingress from its load balancer status."""
    return load_balancer_health(obj, "Waiting for the ingress controller to assign an address")
