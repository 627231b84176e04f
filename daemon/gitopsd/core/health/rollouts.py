"""Health of an Argo Rollouts ``argoproj.io`` Rollout.

Order matters: a status older than the spec is Progressing (old controllers
write ``status.observedGeneration`` as a string); an aborted rollout
(``status.abort``) is Degraded, as is an ``InvalidSpec`` condition or an
exceeded progress deadline; a paused rollout (``spec.paused``, pause
conditions or phase Paused) is Suspended; then ``status.phase`` (Healthy,
Progressing, Degraded) decides, with ``status.message`` as the reason. A
controller too old to write a phase is judged by its replica counts. This
module reads one Rollout and must not look at its ReplicaSets, analyses or
experiments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitopsd.core.health import conditions, fields
from gitopsd.model.health import Health, HealthStatus


def _observed(obj: Mapping[str, Any]) -> int | None:
    value = fields.get(obj, "status", "observedGeneration")
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return fields.optional_integer(obj, "status", "observedGeneration")


def _replica_health(obj: Mapping[str, Any]) -> Health:
    wanted = fields.integer(obj, "spec", "replicas", default=1)
    updated = fields.integer(obj, "status", "updatedReplicas")
    available = fields.integer(obj, "status", "availableReplicas")
    if updated < wanted:
        return Health(HealthStatus.PROGRESSING,
                      f"Waiting for rollout: {updated} of {wanted} replicas updated")
    if available < wanted:
        return Health(HealthStatus.PROGRESSING,
                      f"Waiting for rollout: {available} of {wanted} replicas are available")
    return Health(HealthStatus.HEALTHY)


def rollout_health(obj: Mapping[str, Any]) -> Health:
    """Health of a Rollout from its spec, phase and conditions."""
    observed = _observed(obj)
    wanted = fields.generation(obj)
    if observed is not None and observed < wanted:
        return Health(HealthStatus.PROGRESSING,
                      f"Waiting for the rollout controller to observe generation {wanted} "
                      f"(observed {observed})")
    message = fields.one_line(fields.string(obj, "status", "message"))
    if fields.flag(obj, "status", "abort"):
        return Health(HealthStatus.DEGRADED,
                      f"Rollout is aborted: {message}" if message else "Rollout is aborted")
    found = conditions.by_type(obj)
    invalid = conditions.true(found, "InvalidSpec")
    if invalid is not None:
        return Health(HealthStatus.DEGRADED, f"Invalid spec: {invalid.explain()}")
    progressing = found.get("Progressing")
    if progressing is not None and progressing.reason == "ProgressDeadlineExceeded":
        return Health(HealthStatus.DEGRADED,
                      f"Rollout exceeded its progress deadline: {progressing.explain()}")
    phase = fields.string(obj, "status", "phase")
    paused = (fields.flag(obj, "spec", "paused") or phase == "Paused"
              or bool(fields.items(obj, "status", "pauseConditions")))
    if paused:
        reasons = [fields.string(p, "reason") for p in fields.items(obj, "status", "pauseConditions")]
        why = ", ".join(r for r in reasons if r) or message
        return Health(HealthStatus.SUSPENDED, f"Rollout is paused: {why}" if why else "Rollout is paused")
    if phase == "Healthy":
        return Health(HealthStatus.HEALTHY, message)
    if phase == "Degraded":
        return Health(HealthStatus.DEGRADED, message or "Rollout is degraded")
    if phase == "Progressing":
        return Health(HealthStatus.PROGRESSING, message or "Rollout is progressing")
    if phase:
        return Health(HealthStatus.UNKNOWN, f"Rollout phase {phase} is unknown")
    if not fields.mapping(obj, "status"):
        return Health(HealthStatus.PROGRESSING, "Waiting for the rollout controller")
    return _replica_health(obj)
