"""One instance's objects as the status pages show them: a read-only comparison, folded to rows.

The instance page lists every object an instance deploys with its sync wave,
sync state, health and the masked diff ``gitopsd diff`` prints; this module
turns a ``Comparison`` into those JSON-ready rows. It asks the reconciler for
a comparison and must never write to a cluster, nor carry an object's body
(a Secret's data) into what it returns: only the already masked diff text.
"""

from __future__ import annotations

from typing import Any

from gitopsd.core.plan.hooks import read_wave
from gitopsd.engine.sync import Comparison
from gitopsd.model import Health, HealthStatus

__all__ = ["object_rows"]


def _wave(annotations: Any) -> int:
    try:
        return read_wave(annotations)
    except ValueError:
        return 0


def object_rows(cmp: Comparison) -> dict[str, Any]:
    """The comparison as ``{"revision", "summary", "objects": [...]}``; each object row has
    wave, group, kind, namespace, name, sync, health, message and diff, ordered by wave."""
    rows: list[dict[str, Any]] = []
    for m in cmp.tracked:
        key = m.key
        live = cmp.live.get(key)
        health = Health(HealthStatus.MISSING, "does not exist") if live is None else cmp.assess(live)
        diff = cmp.diffs[key]
        rows.append({"wave": _wave(m.annotations), "group": key.group, "kind": key.kind,
                     "namespace": key.namespace, "name": key.name, "sync": diff.state.value,
                     "health": health.status.value, "message": health.message,
                     "diff": "" if diff.in_sync else diff.text})
    for key in cmp.extraneous:
        rows.append({"wave": 0, "group": key.group, "kind": key.kind, "namespace": key.namespace,
                     "name": key.name, "sync": "Extraneous", "health": "", "message": "left Git",
                     "diff": ""})
    for key, owner in cmp.conflicts.items():
        for row in rows:
            if (row["group"], row["kind"], row["namespace"], row["name"]) == \
                    (key.group, key.kind, key.namespace, key.name):
                row["message"] = owner.reason or f"owned by {owner.owner}"
    rows.sort(key=lambda r: (r["wave"], r["kind"], r["namespace"], r["name"]))
    return {"revision": cmp.revision.sha, "summary": cmp.summary() or "in sync", "objects": rows}
