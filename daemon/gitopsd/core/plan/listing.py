"""The desired objects of one application, listed in the order a sync applies them.

``gitopsd render`` shows what a sync would do with each rendered object. The
order and the fate of every object come from ``plan_sync`` (the one home of
phase, wave and kind order); this module only maps the plan's tasks back to
the manifests as written (a ``generateName`` hook is listed once, without its
derived name) and says how a sync uses each one. It is pure and formats
nothing: how a ``Listed`` is shown is the caller's business.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from gitopsd.core.plan.hooks import Phase, generated_name
from gitopsd.core.plan.planner import plan_sync
from gitopsd.core.plan.tasks import SyncTask, TaskAction
from gitopsd.model.fleet import SyncPolicy
from gitopsd.model.resources import Manifest, ResourceKey

NOT_PART_OF_A_SYNC = "not part of a sync"


class SyncUse(enum.Enum):
    """How a sync uses a listed object."""

    APPLIED = "applied"                # applied, or run as a hook, as written
    SYNC_FAIL_HOOK = "sync-fail-hook"  # a SyncFail hook: runs only when a sync fails
    CREATED = "created"                # not in Git: added by syncOptions CreateNamespace=true
    NOT_APPLIED = "not-applied"        # never applied; ``Listed.reason`` says why


@dataclass(frozen=True)
class Listed:
    """One desired object and how a sync uses it (``reason`` only for NOT_APPLIED)."""

    manifest: Manifest
    use: SyncUse
    reason: str = ""


def sync_order(manifests: Sequence[Manifest], *, policy: SyncPolicy, namespace: str,
               sync_id: str) -> tuple[Listed, ...]:
    """Every desired object once, in the order a sync of an empty cluster applies it.

    Objects a sync applies or runs come first, in ``plan_sync``'s order, then
    SyncFail hooks, then the objects no sync applies (skipped hooks, hooks of
    events a sync does not run) in input order with the planner's reason.
    The Namespace that ``CreateNamespace=true`` adds is listed as CREATED.
    ``namespace`` is the destination namespace and ``sync_id`` names
    ``generateName`` hooks as in ``plan_sync``; its errors propagate.
    """
    plan = plan_sync(manifests, previous_inventory=(), policy=policy, namespace=namespace,
                     sync_id=sync_id)
    by_key = {m.key: m for m in manifests}
    generated = [m for m in manifests if _generate_name(m)]
    out: list[Listed] = []
    shown: set[int] = set()

    def emit(m: Manifest, use: SyncUse, reason: str = "") -> None:
        if id(m) not in shown:
            shown.add(id(m))
            out.append(Listed(m, use, reason))

    for task in (*plan.tasks, *plan.sync_fail_hooks):
        if task.action is TaskAction.PRUNE or task.manifest is None:
            continue
        if not task.tracked:
            emit(task.manifest, SyncUse.CREATED)
            continue
        use = SyncUse.SYNC_FAIL_HOOK if task.phase is Phase.SYNC_FAIL else SyncUse.APPLIED
        emit(_written(task, task.manifest, by_key, generated, sync_id), use)
    reasons = {s.key: s.message for s in plan.skipped}
    for m in manifests:
        emit(m, SyncUse.NOT_APPLIED, reasons.get(m.key, NOT_PART_OF_A_SYNC))
    return tuple(out)


def _generate_name(manifest: Manifest) -> str:
    meta = manifest.body.get("metadata") or {}
    generate = meta.get("generateName")
    return generate if isinstance(generate, str) and not meta.get("name") else ""


def _written(task: SyncTask, planned: Manifest, by_key: Mapping[ResourceKey, Manifest],
             generated: Sequence[Manifest], sync_id: str) -> Manifest:
    """The manifest TASK (whose body is PLANNED) came from: the one with its key, or the
    ``generateName`` hook its derived name comes from; PLANNED when there is none."""
    if task.hook is None or not task.hook.generate_name:
        return by_key.get(task.key, planned)
    for m in generated:
        name = generated_name(_generate_name(m), sync_id=sync_id, phase=task.phase, body=m.body)
        if replace(m.key, name=name) == task.key:
            return m
    return planned
