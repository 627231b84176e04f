"""``plan_sync``: from desired manifests and the previous inventory to a ``Plan``.

It reads every object's hook, wave and sync-option annotations, builds one
task per applied object and per hook phase, applies the dependency fixes
(Namespaces and CRDs before what needs them), adds the CreateNamespace task,
plans prunes and runs the prune guard. It is a pure function of its arguments:
the output does not depend on the order of the input sequences, and nothing
here reads a clock, a random source or a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Final

from gitopsd.core.kinds import UNKNOWN_KIND_RANK, kind_rank
from gitopsd.core.plan.hooks import (
    HookMarking,
    HookRole,
    HookSpec,
    Phase,
    generated_name,
    read_hook,
    read_wave,
)
from gitopsd.core.plan.options import (
    AppOptions,
    ResourceOptions,
    object_options,
    parse_app_options,
)
from gitopsd.core.plan.prune import plan_prunes, prune_guard
from gitopsd.core.plan.tasks import (
    Plan,
    Preconditions,
    Skipped,
    SkipReason,
    SyncTask,
    TaskAction,
    sort_tasks,
)
from gitopsd.errors import ManifestError
from gitopsd.model import objects
from gitopsd.model.fleet import SyncPolicy
from gitopsd.model.resources import Manifest, ResourceKey

_NAMESPACE: Final = ("", "Namespace")
_CRD: Final = ("apiextensions.k8s.io", "CustomResourceDefinition")
_NO_ANNOTATIONS: Final[Mapping[ResourceKey, Mapping[str, Any]]] = MappingProxyType({})

CREATED_NAMESPACE_RANK: Final = -1
"""``SyncTask.kind_rank`` of the Namespace that ``CreateNamespace`` adds: first of all."""


def plan_sync(desired: Sequence[Manifest], *,
              previous_inventory: Sequence[tuple[ResourceKey, str]],
              policy: SyncPolicy,
              namespace: str,
              sync_id: str,
              out_of_sync: Collection[ResourceKey] | None = None,
              live_prune_options: Mapping[ResourceKey, Mapping[str, Any]] = _NO_ANNOTATIONS,
              prune: bool = False,
              allow_mass_prune: bool = False,
              prune_preconditions: Mapping[ResourceKey, Preconditions] | None = None,
              not_ours: Mapping[ResourceKey, str] | None = None,
              outside_project: Mapping[ResourceKey, str] | None = None) -> Plan:
    """Plan one sync of an application instance.

    ``desired`` are the rendered objects; ``previous_inventory`` the (key,
    apiVersion) pairs the instance owned before; ``namespace`` its destination
    namespace; ``sync_id`` names ``generateName`` hooks deterministically.
    With ``ApplyOutOfSyncOnly=true``, objects whose key is not in
    ``out_of_sync`` are skipped (when ``out_of_sync`` is None every object is
    applied; hooks and the CreateNamespace Namespace always run).
    ``live_prune_options`` are the live annotations of inventory
    objects, read for their sync wave and ``Prune=``/``PruneLast=`` options;
    ``prune_preconditions`` the identity of each such object (a prune deletes only
    that incarnation); ``not_ours`` the inventory entries whose live object is no
    longer this application's, with why (never pruned, never counted by the guard);
    ``outside_project`` the entries the application's project no longer covers (the same).
    ``prune`` is an explicit prune request (a manual sync with prune); pruning
    happens when it or ``policy.prune`` is set. ``allow_mass_prune`` overrides
    the prune guard.

    Raises ``ManifestError`` naming the object for invalid annotations,
    duplicates and CRDs that claim a built-in kind, ``SyncError`` for invalid
    annotations on live objects and ``ConfigError`` for unknown app-level sync
    options.
    """
    options = parse_app_options(policy.sync_options)
    tasks: list[SyncTask] = []
    skipped: list[Skipped] = []
    desired_keys: set[ResourceKey] = set()
    resources = 0
    for manifest in sorted(desired, key=_input_order):
        marking, wave, own = _read(manifest, options.defaults)
        generate = _generate_name(manifest)
        if marking.role is HookRole.HOOK and generate:
            tasks.extend(_hook_tasks(manifest, marking, wave, own, sync_id, generate))
            continue
        if generate and marking.role is HookRole.PLAIN:
            raise ManifestError(f"{_describe(manifest)}: metadata.name is missing "
                                "(metadata.generateName is allowed only on hooks)")
        if manifest.key in desired_keys:
            raise ManifestError(f"{_describe(manifest)}: the object is defined twice")
        desired_keys.add(manifest.key)
        if marking.role in (HookRole.PLAIN, HookRole.SKIP):
            resources += 1
        if marking.role is HookRole.HOOK:
            tasks.extend(_hook_tasks(manifest, marking, wave, own, sync_id, ""))
        elif marking.role is not HookRole.PLAIN:
            reason = (SkipReason.HOOK_SKIP if marking.role is HookRole.SKIP
                      else SkipReason.HOOK_NOT_RUN)
            skipped.append(Skipped(manifest.key, reason, marking.reason))
        elif (options.apply_out_of_sync_only and out_of_sync is not None
              and manifest.key not in out_of_sync):
            skipped.append(Skipped(manifest.key, SkipReason.IN_SYNC,
                                   "in sync (ApplyOutOfSyncOnly)"))
        else:
            tasks.append(SyncTask(Phase.SYNC, wave, kind_rank(manifest.key.group,
                                                              manifest.key.kind),
                                  manifest.key, TaskAction.APPLY, manifest, own,
                                  api_version=manifest.api_version))
    _check_unique(tasks)
    tasks = _before_dependents(tasks)
    created = _created_namespace(tasks, options, namespace, desired_keys)
    if created is not None:
        tasks.insert(0, created)
        desired_keys.add(created.key)
    desired_keys.update(t.key for t in tasks)

    inventory = _distinct(previous_inventory)
    candidates = [(key, version) for key, version in inventory if key not in desired_keys]
    prunes = plan_prunes(candidates, live_annotations=live_prune_options,
                         defaults=options.defaults, enabled=policy.prune or prune,
                         requested=prune,
                         desired_namespaces={k.namespace for k in desired_keys if k.namespace},
                         preconditions=prune_preconditions, not_ours=not_ours,
                         outside_project=outside_project)
    skipped.extend(prunes.skipped)
    owned = [key for key, _ in inventory if not not_ours or key not in not_ours]
    refused = prune_guard(len(prunes.tasks), inventory_size=len(owned),
                          desired_resources=resources, policy=policy,
                          allow_mass_prune=allow_mass_prune)
    if refused is None:
        tasks.extend(prunes.tasks)
    else:
        skipped.extend(Skipped(t.key, SkipReason.PRUNE_REFUSED, f"not pruned: {refused}")
                       for t in prunes.tasks)
    ordered = sort_tasks(tasks)
    return Plan(
        tasks=tuple(t for t in ordered if t.phase is not Phase.SYNC_FAIL),
        sync_fail_hooks=tuple(t for t in ordered if t.phase is Phase.SYNC_FAIL),
        skipped=tuple(sorted(skipped, key=lambda s: (s.key, s.reason.value))),
        prune_refused=refused,
        options=options,
    )


def _input_order(manifest: Manifest) -> tuple[ResourceKey, str]:
    return manifest.key, json.dumps(manifest.body, sort_keys=True, default=str)


def _describe(manifest: Manifest) -> str:
    where = str(manifest.source)
    return f"{manifest.key} ({where})" if where else str(manifest.key)


def _read(manifest: Manifest, defaults: ResourceOptions,
          ) -> tuple[HookMarking, int, ResourceOptions]:
    """Hook marking, wave and effective options of a desired object, or ManifestError."""
    annotations = manifest.annotations
    try:
        marking = read_hook(annotations)
        wave = read_wave(annotations)
    except ValueError as exc:
        raise ManifestError(f"{_describe(manifest)}: {exc}") from None
    own, problems = object_options(annotations, defaults)
    if problems:
        raise ManifestError(f"{_describe(manifest)}: {'; '.join(problems)}")
    return marking, wave, own


def _generate_name(manifest: Manifest) -> str:
    """``metadata.generateName`` when the object has no ``metadata.name``, else ""."""
    meta = objects.meta(manifest.body)
    generate = meta.get("generateName")
    if meta.get("name") or not isinstance(generate, str):
        return ""
    return generate


def _hook_tasks(manifest: Manifest, marking: HookMarking, wave: int, options: ResourceOptions,
                sync_id: str, generate: str) -> list[SyncTask]:
    tasks = []
    for phase in marking.phases:
        item = manifest
        if generate:
            name = generated_name(generate, sync_id=sync_id, phase=phase, body=manifest.body)
            meta = {k: v for k, v in objects.meta(manifest.body).items()
                    if k != "generateName"}
            body = {**manifest.body, "metadata": {**meta, "name": name}}
            item = Manifest(replace(manifest.key, name=name), body, manifest.source)
        tasks.append(SyncTask(phase, wave, kind_rank(item.key.group, item.key.kind), item.key,
                              TaskAction.HOOK, item, options,
                              HookSpec(phase, marking.delete_policies, generate),
                              api_version=item.api_version))
    return tasks


def _check_unique(tasks: list[SyncTask]) -> None:
    seen: set[tuple[Phase, ResourceKey]] = set()
    for task in tasks:
        if (task.phase, task.key) in seen:
            where = _describe(task.manifest) if task.manifest else str(task.key)
            raise ManifestError(f"{where}: the object is defined twice")
        seen.add((task.phase, task.key))


def _dependency_of(task: SyncTask) -> tuple[str, str] | None:
    """What an applied Namespace or CRD provides: ("namespace", name) or (group, kind)."""
    if task.action is not TaskAction.APPLY or task.manifest is None:
        return None
    if (task.key.group, task.key.kind) == _NAMESPACE:
        return ("namespace", task.key.name)
    if (task.key.group, task.key.kind) != _CRD:
        return None
    spec = task.manifest.body.get("spec") or {}
    names = spec.get("names") or {}
    group, kind = spec.get("group"), names.get("kind")
    if not isinstance(group, str) or not isinstance(kind, str) or not group or not kind:
        return None
    if kind_rank(group, kind) != UNKNOWN_KIND_RANK:
        raise ManifestError(f"{_describe(task.manifest)}: defines {kind}.{group}, which is "
                            "a built-in kind")
    return (group, kind)


def _needs(task: SyncTask, provided: tuple[str, str]) -> bool:
    if provided[0] == "namespace":
        return task.key.namespace == provided[1]
    return (task.key.group, task.key.kind) == provided


def _before_dependents(tasks: list[SyncTask]) -> list[SyncTask]:
    """Move each applied Namespace or CRD up to the earliest (phase, wave) that needs it.

    Only the dependency moves, and only earlier (possibly into an earlier
    phase): the objects that need it keep their phase and wave, so hooks stay
    hooks of their phase. Within one (phase, wave) the kind rank then puts it
    first (Namespace ranks first of all; a CRD before every custom resource,
    which ranks last). Hook Namespaces and CRDs are never moved.
    """
    fixed: list[SyncTask] = []
    for task in tasks:
        provided = _dependency_of(task)
        if provided is None:
            fixed.append(task)
            continue
        slots = [(t.phase.order, t.wave) for t in tasks
                 if t is not task and _needs(t, provided)]
        earliest = min([(task.phase.order, task.wave), *slots])
        if earliest == (task.phase.order, task.wave):
            fixed.append(task)
        else:
            fixed.append(replace(task, phase=list(Phase)[earliest[0]], wave=earliest[1]))
    return fixed


def _created_namespace(tasks: list[SyncTask], options: AppOptions, namespace: str,
                       desired: Collection[ResourceKey]) -> SyncTask | None:
    """The CreateNamespace task: first of all, untracked; None when not wanted."""
    key = ResourceKey("", "Namespace", "", namespace)
    if not options.create_namespace or not namespace or key in desired:
        return None
    runs = [(t.phase.order, t.wave) for t in tasks if t.phase is not Phase.SYNC_FAIL]
    phase_order, wave = min(runs, default=(Phase.SYNC.order, 0))
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    return SyncTask(list(Phase)[phase_order], wave, CREATED_NAMESPACE_RANK, key,
                    TaskAction.APPLY, Manifest(key, body), options.defaults,
                    api_version="v1", tracked=False)


def _distinct(inventory: Sequence[tuple[ResourceKey, str]]) -> list[tuple[ResourceKey, str]]:
    """One (key, apiVersion) per key, in key order (the lowest apiVersion on duplicates)."""
    first: dict[ResourceKey, str] = {}
    for key, version in sorted(inventory):
        first.setdefault(key, version)
    return sorted(first.items())
