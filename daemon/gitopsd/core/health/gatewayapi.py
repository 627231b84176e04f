"""Health of Gateway API objects (``gateway.networking.k8s.io``): Gateways and routes.

A Gateway is Healthy once its controller reports both ``Accepted`` and
``Programmed`` true for the current generation. Either one False is Degraded
unless its reason is Pending (the controller has not got to it yet), which is
Progressing like a missing or Unknown condition.

Routes (HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute) report per parent
in ``status.parents[].conditions``: no parent yet is Progressing; any
``Accepted`` or ``ResolvedRefs`` False is Degraded with that parent's name
and message; a parent whose conditions describe an older generation, or that
has not accepted the route yet, is Progressing. This module must not look at
the parents, backends or listeners themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import conditions, fields
from gitopsd.model.health import Health, HealthStatus

GATEWAY_CONDITIONS = ("Accepted", "Programmed")
ROUTE_CONDITIONS = ("Accepted", "ResolvedRefs")


def gateway_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Gateway from its Accepted and Programmed conditions."""
    found = conditions.by_type(obj)
    for type_ in GATEWAY_CONDITIONS:
        cond = found.get(type_)
        if cond is None:
            return Health(HealthStatus.PROGRESSING, f"Waiting for the gateway controller ({type_})")
        lag = conditions.stale(obj, cond)
        if lag:
            return Health(HealthStatus.PROGRESSING, lag)
        if cond.is_false and cond.reason != "Pending":
            return Health(HealthStatus.DEGRADED, f"Not {type_}: {cond.explain() or 'no reason given'}")
        if not cond.is_true:
            return Health(HealthStatus.PROGRESSING,
                          f"Not yet {type_}: {cond.explain() or 'no reason given'}")
    return Health(HealthStatus.HEALTHY, "Gateway is accepted and programmed")


def _parent_name(parent: Mapping[str, Any]) -> str:
    ref = fields.mapping(parent, "parentRef")
    kind = fields.string(ref, "kind") or "Gateway"
    namespace = fields.string(ref, "namespace")
    name = fields.string(ref, "name") or "?"
    section = fields.string(ref, "sectionName")
    where = f"{namespace}/{name}" if namespace else name
    return f"{kind} {where}" + (f" ({section})" if section else "")


def route_health(obj: Mapping[str, Any]) -> Health:
    """Health of a route from the conditions each parent reports."""
    parents = fields.items(obj, "status", "parents")
    if not parents:
        return Health(HealthStatus.PROGRESSING, "Waiting for a parent to accept the route")
    waiting = ""
    for parent in parents:
        found = {c.type: c for c in fields.conditions_from(fields.items(parent, "conditions"))}
        for type_ in ROUTE_CONDITIONS:
            cond = found.get(type_)
            if cond is not None and cond.is_false and not conditions.stale(obj, cond):
                return Health(HealthStatus.DEGRADED,
                              f"{_parent_name(parent)}: not {type_}: "
                              f"{cond.explain() or 'no reason given'}")
        accepted = found.get("Accepted")
        if not waiting:
            if accepted is None or not accepted.is_true:
                waiting = f"Waiting for {_parent_name(parent)} to accept the route"
            elif conditions.stale(obj, accepted):
                waiting = f"{_parent_name(parent)}: {conditions.stale(obj, accepted)}"
    if waiting:
        return Health(HealthStatus.PROGRESSING, waiting)
    return Health(HealthStatus.HEALTHY,
                  f"Accepted by {', '.join(_parent_name(p) for p in parents)}")
