"""Health of a core/v1 Pod, which also decides whether a hook Pod succeeded.

A Pod that restarts forever (``restartPolicy: Always``) is Healthy when Ready
and Degraded when a container is stuck in an error or back-off state. A Pod
that runs to completion (``Never`` / ``OnFailure``, typically a hook) is
Progressing until it Succeeded (Healthy) or Failed (Degraded); a waiting
error such as ImagePullBackOff keeps it Progressing, because the kubelet may
still recover and a hook failed too early would run after its sync ended.
The annotation ``argocd.argoproj.io/ignore-restart-policy: "true"`` judges a
Pod as a long-running one, except on a hook (an ``argocd.argoproj.io/hook``
other than Skip alone, or a ``helm.sh/hook`` other than ``crd-install``): a
hook Pod must run to its end, as in Argo CD. This module reads one Pod and
nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import fields
from gitopsd.core.marks import (
    HELM_HOOK_ANNOTATION,
    HOOK_ANNOTATION,
    IGNORE_RESTART_POLICY_ANNOTATION,
)
from gitopsd.model.health import Health, HealthStatus


def _container_statuses(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        *fields.items(obj, "status", "initContainerStatuses"),
        *fields.items(obj, "status", "containerStatuses"),
    ]


def _is_waiting_error(reason: str) -> bool:
    return reason.startswith("Err") or reason.endswith(("Error", "BackOff"))


def _waiting(obj: Mapping[str, Any], *, errors_only: bool) -> list[str]:
    """``container 'x' Reason: message`` for each waiting container."""
    found = []
    for ctr in _container_statuses(obj):
        reason = fields.string(ctr, "state", "waiting", "reason")
        if not reason or (errors_only and not _is_waiting_error(reason)):
            continue
        detail = fields.one_line(fields.string(ctr, "state", "waiting", "message"))
        name = fields.string(ctr, "name")
        found.append(f"container {name!r} {reason}" + (f": {detail}" if detail else ""))
    return found


def _termination(ctr: Mapping[str, Any], state: str) -> str:
    terminated = fields.mapping(ctr, state, "terminated")
    if not terminated:
        return ""
    name = fields.string(ctr, "name")
    message = fields.one_line(fields.string(terminated, "message"))
    reason = fields.string(terminated, "reason")
    code = fields.integer(terminated, "exitCode")
    if message:
        return f"container {name!r} terminated: {message}"
    if reason == "OOMKilled":
        return f"container {name!r} was OOMKilled"
    if code != 0:
        return f"container {name!r} failed with exit code {code}"
    return ""


def _failure(obj: Mapping[str, Any]) -> str:
    reason = fields.string(obj, "status", "reason")
    message = fields.one_line(fields.string(obj, "status", "message"))
    if message:
        return f"{reason}: {message}" if reason else message
    for ctr in _container_statuses(obj):
        why = _termination(ctr, "state")
        if why:
            return why
    return reason


def _pending_reason(obj: Mapping[str, Any]) -> str:
    message = fields.one_line(fields.string(obj, "status", "message"))
    if message:
        return message
    scheduled = fields.condition(obj, "PodScheduled")
    if scheduled is not None and scheduled.is_false:
        return scheduled.explain()
    return "; ".join(_waiting(obj, errors_only=False))


def _is_ready(obj: Mapping[str, Any]) -> bool:
    ready = fields.condition(obj, "Ready")
    return ready is not None and ready.is_true


def _is_hook(obj: Mapping[str, Any]) -> bool:
    """True when the hook annotations make the Pod a hook (Argo CD's rule)."""
    annotations = fields.mapping(obj, "metadata", "annotations")
    if HOOK_ANNOTATION in annotations:
        types = [t.strip() for t in fields.annotation(obj, HOOK_ANNOTATION).split(",") if t.strip()]
        return types != ["Skip"]
    return HELM_HOOK_ANNOTATION in annotations and (
        fields.annotation(obj, HELM_HOOK_ANNOTATION) != "crd-install")


def _runs_forever(obj: Mapping[str, Any]) -> bool:
    if fields.annotation(obj, IGNORE_RESTART_POLICY_ANNOTATION) == "true" and not _is_hook(obj):
        return True
    return (fields.string(obj, "spec", "restartPolicy") or "Always") == "Always"


def is_finished(obj: Mapping[str, Any]) -> bool:
    """True when the Pod has reached a phase it never leaves."""
    return fields.string(obj, "status", "phase") in ("Succeeded", "Failed")


def pod_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Pod from its phase, conditions and container states."""
    phase = fields.string(obj, "status", "phase")
    forever = _runs_forever(obj)
    waiting_errors = _waiting(obj, errors_only=True)
    if forever and waiting_errors and phase not in ("Succeeded", "Failed"):
        return Health(HealthStatus.DEGRADED, "; ".join(waiting_errors))
    if phase == "Succeeded":
        return Health(HealthStatus.HEALTHY, "Pod completed")
    if phase == "Failed":
        why = _failure(obj)
        return Health(HealthStatus.DEGRADED, f"Pod failed: {why}" if why else "Pod failed")
    if phase == "Pending":
        detail = _pending_reason(obj)
        return Health(HealthStatus.PROGRESSING,
                      f"Pod is pending: {detail}" if detail else "Pod is pending")
    if phase == "Running":
        if not forever:
            detail = "; ".join(waiting_errors)
            return Health(HealthStatus.PROGRESSING,
                          f"Pod is running: {detail}" if detail else "Pod is running to completion")
        if _is_ready(obj):
            return Health(HealthStatus.HEALTHY)
        for ctr in fields.items(obj, "status", "containerStatuses"):
            if fields.mapping(ctr, "lastState", "terminated"):
                why = _termination(ctr, "lastState") or (
                    f"container {fields.string(ctr, 'name')!r} restarted")
                return Health(HealthStatus.DEGRADED, f"Pod is not ready: {why}")
        return Health(HealthStatus.PROGRESSING, "Pod is running but not ready")
    if not phase:
        return Health(HealthStatus.PROGRESSING, "Pod has no phase yet")
    reason = fields.one_line(fields.string(obj, "status", "message")) or f"phase {phase}"
    return Health(HealthStatus.UNKNOWN, f"Pod state is unknown: {reason}")
