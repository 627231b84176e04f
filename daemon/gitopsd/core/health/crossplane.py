"""Health of Crossplane objects: managed resources, claims, composites and packages.

Crossplane kinds are too many to list (every provider brings its own), so
``is_crossplane`` recognises them: any kind in a ``*.crossplane.io`` group, or
any object whose ``Synced`` condition has Crossplane's reconciler reasons
(``ReconcileSuccess``, ``ReconcileError``, ``ReconcilePaused``), as the
managed resources of Upbound's providers and custom composites have.

Managed resources, claims and composites: paused (the ``crossplane.io/paused``
annotation or reason ReconcilePaused) is Suspended; a status older than the
spec is Progressing; ``Synced`` False (the provider cannot reach or change the
external resource) or ``LastAsyncOperation`` False is Degraded; ``Ready`` True
is Healthy; Ready False is Progressing while the resource is being created or
deleted and Degraded when its reason names a failure, Progressing otherwise.
Packages (Provider, Configuration, Function in ``pkg.crossplane.io``) are
Healthy once ``Installed`` and ``Healthy`` are both true. Kinds without these
conditions (definitions, compositions, provider configs) get the generic rule.
This module must not follow resource references or composed resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import conditions, fields
from gitopsd.core.health.generic import generic_health
from gitopsd.model.health import Health, HealthStatus

PAUSED_ANNOTATION = "crossplane.io/paused"
RECONCILER_REASONS = frozenset({"ReconcileSuccess", "ReconcileError", "ReconcilePaused"})
PACKAGE_KINDS = frozenset({"Provider", "Configuration", "Function"})
_WORKING_REASONS = frozenset({"Creating", "Deleting"})


def _group(obj: Mapping[str, Any]) -> str:
    return fields.string(obj, "apiVersion").rpartition("/")[0]


def is_crossplane(obj: Mapping[str, Any]) -> bool:
    """True for kinds in a crossplane.io group and objects with Crossplane's Synced condition."""
    group = _group(obj)
    if group == "crossplane.io" or group.endswith(".crossplane.io"):
        return True
    synced = fields.condition(obj, "Synced")
    return synced is not None and synced.reason in RECONCILER_REASONS


def _package_health(obj: Mapping[str, Any]) -> Health:
    found = conditions.by_type(obj)
    installed, healthy = found.get("Installed"), found.get("Healthy")
    if installed is None and healthy is None:
        return Health(HealthStatus.PROGRESSING, "Waiting for the package manager")
    if installed is not None and not installed.is_true:
        return conditions.judge(obj, installed, waiting="")
    if healthy is None:
        return Health(HealthStatus.PROGRESSING, "Installed; waiting for the package to report health")
    if healthy.is_false:
        return Health(HealthStatus.DEGRADED,
                      f"Package is not healthy: {healthy.explain() or 'no reason given'}")
    return conditions.judge(obj, healthy, waiting="")


def _ready_health(obj: Mapping[str, Any], ready: fields.Condition | None) -> Health:
    if ready is None:
        return Health(HealthStatus.PROGRESSING, "Synced; waiting for the resource to become ready")
    lag = conditions.stale(obj, ready)
    if lag or ready.is_true:
        return conditions.judge(obj, ready, waiting="")
    detail = ready.explain() or "no reason given"
    if ready.is_false and conditions.is_failure(ready.reason):
        return Health(HealthStatus.DEGRADED, f"Not Ready: {detail}")
    if ready.reason in _WORKING_REASONS:
        said = fields.one_line(ready.message) or "in progress"
        return Health(HealthStatus.PROGRESSING, f"{ready.reason}: {said}")
    return Health(HealthStatus.PROGRESSING, f"Not yet Ready: {detail}")


def crossplane_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Crossplane object from its Synced and Ready (or package) conditions."""
    found = conditions.by_type(obj)
    synced = found.get("Synced")
    if fields.annotation(obj, PAUSED_ANNOTATION) == "true" or (
            synced is not None and synced.reason == "ReconcilePaused"):
        return Health(HealthStatus.SUSPENDED, "Reconciliation is paused")
    if _group(obj) == "pkg.crossplane.io" and fields.string(obj, "kind") in PACKAGE_KINDS:
        return _package_health(obj)
    ready = found.get("Ready")
    if synced is None and ready is None:
        return generic_health(obj)
    lag = fields.generation_lag(obj)
    if lag:
        return Health(HealthStatus.PROGRESSING, lag)
    if synced is not None and synced.is_false:
        return Health(HealthStatus.DEGRADED, f"Not Synced: {synced.explain() or 'no reason given'}")
    failed_async = conditions.false(found, "LastAsyncOperation")
    if failed_async is not None:
        return Health(HealthStatus.DEGRADED,
                      f"Last async operation failed: {failed_async.explain() or 'no reason given'}")
    return _ready_health(obj, ready)
