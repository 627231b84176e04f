"""Which objects that left the desired state are deleted, in what order, and when not.

A prune candidate is an inventory entry that is no longer desired. A candidate
whose live object is no longer this application's (the comparison found another
tracking id, or none) is never pruned, nor is one that lies outside the
application's project (a project narrowed after it was applied). It is pruned
only when pruning is on (automated prune, or an explicit prune request), its
live object does not say ``Prune=false`` (``Prune=confirm`` needs the explicit
request), and it is not a Namespace that still holds desired objects. Then the
guard looks at the whole set: it refuses a sync that would delete more than
``SyncPolicy.max_prune_share`` of an inventory of two or more objects, or that
would empty an application without ``allow_empty`` (an inventory of one object
is only caught by that second rule, which is what an emptied directory looks
like). ``allow_mass_prune`` overrides both.

This module never deletes anything and never asks a cluster; the live objects'
annotations, ownership verdicts and identities (``Preconditions``, which the
delete sends) arrive as arguments.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gitopsd.core.kinds import kind_rank
from gitopsd.core.plan.hooks import Phase, read_wave
from gitopsd.core.plan.options import (
    Permission,
    ResourceOptions,
    object_options,
)
from gitopsd.core.plan.tasks import Preconditions, Skipped, SkipReason, SyncTask, TaskAction
from gitopsd.errors import SyncError
from gitopsd.model.fleet import SyncPolicy
from gitopsd.model.resources import ResourceKey

_NAMESPACE = ("", "Namespace")
_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")


def live_deletion_options(annotations: Mapping[str, Any], defaults: ResourceOptions | None = None,
                          ) -> tuple[int, ResourceOptions]:
    """The sync wave and the sync options a live object's annotations give it when it is deleted.

    Raises ``ValueError`` (naming the annotation, not the object) when either is
    unreadable: whoever deletes must then leave the object alone rather than guess.
    """
    wave = read_wave(annotations)
    options, problems = object_options(annotations, defaults)
    if problems:
        raise ValueError("; ".join(problems))
    return wave, options


@dataclass(frozen=True)
class PrunePlan:
    """Prune tasks (unordered), the candidates kept and why, and the guard's verdict."""

    tasks: tuple[SyncTask, ...]
    skipped: tuple[Skipped, ...]
    refused: str | None = None


def plan_prunes(candidates: Sequence[tuple[ResourceKey, str]], *,
                live_annotations: Mapping[ResourceKey, Mapping[str, Any]],
                defaults: ResourceOptions,
                enabled: bool,
                requested: bool,
                desired_namespaces: Collection[str],
                preconditions: Mapping[ResourceKey, Preconditions] | None = None,
                not_ours: Mapping[ResourceKey, str] | None = None,
                outside_project: Mapping[ResourceKey, str] | None = None) -> PrunePlan:
    """Prune tasks for ``candidates`` (key, live apiVersion), before the guard.

    ``enabled`` is automated prune or an explicit request; ``requested`` is the
    explicit request alone (what ``Prune=confirm`` needs). ``preconditions`` name
    the live object each task deletes; ``not_ours`` says why a candidate's live
    object is not this application's any more (it is skipped); ``outside_project`` why
    a candidate lies outside the application's project (skipped, and kept). Raises ``SyncError``
    naming the live object when its sync-wave or sync-options annotation is
    invalid, because guessing could delete something its owner meant to keep.
    """
    tasks: list[SyncTask] = []
    skipped: list[Skipped] = []
    for key, api_version in candidates:
        if outside_project and key in outside_project:
            skipped.append(Skipped(key, SkipReason.PRUNE_OUTSIDE_PROJECT,
                                   f"not pruned: {outside_project[key]}"))
            continue
        if not_ours and key in not_ours:
            skipped.append(Skipped(key, SkipReason.PRUNE_NOT_OURS, f"not pruned: {not_ours[key]}"))
            continue
        try:
            wave, options = live_deletion_options(live_annotations.get(key, {}), defaults)
        except ValueError as exc:
            raise SyncError(f"live object {key}: {exc}") from None
        if options.prune is Permission.DENY:
            skipped.append(Skipped(key, SkipReason.PRUNE_DISABLED,
                                   "not pruned: the live object says Prune=false"))
        elif options.prune is Permission.CONFIRM and not requested:
            skipped.append(Skipped(key, SkipReason.PRUNE_NEEDS_CONFIRM,
                                   "not pruned: Prune=confirm needs an explicit prune request"))
        elif not enabled:
            skipped.append(Skipped(key, SkipReason.PRUNE_NOT_ENABLED,
                                   "requires pruning: automated prune is off and no prune "
                                   "was requested"))
        elif (key.group, key.kind) == _NAMESPACE and key.name in desired_namespaces:
            skipped.append(Skipped(key, SkipReason.PRUNE_IN_USE,
                                   "not pruned: desired objects still live in this Namespace"))
        else:
            tasks.append(SyncTask(Phase.SYNC, wave, kind_rank(key.group, key.kind), key,
                                  TaskAction.PRUNE, None, options, api_version=api_version,
                                  prune_last=options.prune_last,
                                  preconditions=(preconditions or {}).get(key)))
    return PrunePlan(tuple(_after_dependents(tasks)), tuple(skipped))


def _after_dependents(tasks: list[SyncTask]) -> list[SyncTask]:
    """Move each pruned Namespace or CRD to or after the prunes of what it holds.

    Prunes run in reverse wave order, so "later" means a lower wave, or the
    final PruneLast wave when any dependent is PruneLast. A CRD's dependents
    are the pruned objects of its API group (its name is ``<plural>.<group>``;
    the kind is not known without the live body), which only reorders prunes.
    """
    fixed: list[SyncTask] = []
    for task in tasks:
        dependents = [t for t in tasks if t is not task and _depends_on(t.key, task.key)]
        if not dependents or task.prune_last:
            fixed.append(task)
        elif any(t.prune_last for t in dependents):
            fixed.append(replace(task, prune_last=True))
        else:
            fixed.append(replace(task, wave=min(task.wave, *(t.wave for t in dependents))))
    return fixed


def _depends_on(key: ResourceKey, dependency: ResourceKey) -> bool:
    if (dependency.group, dependency.kind) == _NAMESPACE:
        return key.namespace == dependency.name
    if (dependency.group, dependency.kind) == _CRD:
        _, _, group = dependency.name.partition(".")
        return bool(group) and key.group == group and (key.group, key.kind) != _CRD
    return False


def prune_guard(prune_count: int, *, inventory_size: int, desired_resources: int,
                policy: SyncPolicy, allow_mass_prune: bool = False) -> str | None:
    """Why this many prunes are refused, or None when they may go ahead.

    ``desired_resources`` counts desired objects that are not hooks. See the
    module docstring for the two rules.
    """
    if allow_mass_prune or prune_count == 0:
        return None
    if desired_resources == 0 and not policy.allow_empty:
        return (f"refusing to prune all {prune_count} object(s): the desired state is empty "
                "and allowEmpty is off (sync with allow_mass_prune to confirm)")
    limit = policy.max_prune_share * inventory_size
    if inventory_size >= 2 and prune_count > limit:
        return (f"refusing to prune {prune_count} of {inventory_size} objects: more than "
                f"{policy.max_prune_share:.0%} of the inventory (sync with allow_mass_prune "
                "to confirm)")
    return None
