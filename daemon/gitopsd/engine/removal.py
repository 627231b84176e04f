"""What happens to an application's objects once it has left the fleet.

An inventory ConfigMap of this fleet whose application has no instance on its
cluster any more (the entry was removed from the fleet file, its Argo CD
Application file was deleted, or its destination stopped selecting the
cluster) is an orphan. When the inventory records ``cascadeDelete``, every
object in it that is still this application's (its tracking id names the
application and the object, and no other fleet's label is on it) is deleted,
highest sync wave first, each wave gone before the next, with the recorded
propagation policy; objects marked ``Delete=false`` are left in
place. The application's ``PreDelete`` hooks (recorded with the inventory) run
and must succeed first (once: the inventory records it), its ``PostDelete``
hooks after; a failed hook stops the removal until the next sweep tries again.
The hook objects are deleted with the inventory. Once nothing but the objects
left in place remains, the inventory itself is deleted. Waves and sync options
are read as the sync's prunes read them (``core.plan``); an object whose
annotations cannot be read is not deleted. Hooks run, and waves are deleted
and waited for, through ``engine.lifecycle``. An
inventory without ``cascadeDelete`` is left alone and reported once. The
project the inventory records still bounds the removal: an object outside it
(as the fleet now defines it) is kept, a hook outside it is not run, and when
the fleet no longer has that project nothing is deleted. This
module must never delete an object whose tracking id is not the application's,
and never acts on a fleet it was not given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import structlog

from gitopsd.core.health import assess as builtin_assess
from gitopsd.core.health.custom import Assess
from gitopsd.core.inventory import (
    FLEET_LABEL,
    TRACKING_ANNOTATION,
    Inventory,
    InventoryEntry,
    parse_tracking_id,
)
from gitopsd.core.ownership import OwnershipState, ownership
from gitopsd.core.plan import Permission, live_deletion_options
from gitopsd.core.plan.hooks import deletion_hook_types, read_hook, read_wave
from gitopsd.core.policy.projects import Scope
from gitopsd.core.removal import deletion_hooks, recorded_project, removal
from gitopsd.engine.clock import Clock
from gitopsd.engine.lifecycle import Lifecycle, Target, reason
from gitopsd.engine.ports import ClusterPort, HistoryPort, Obj
from gitopsd.errors import ApiError, ClusterError, InventoryError
from gitopsd.model import ResourceKey
from gitopsd.model import objects as fields

log = structlog.get_logger("gitopsd.removal")
PREDELETE_DONE = "gitopsd.io/predelete-done"  # on the inventory: its PreDelete hooks succeeded


@dataclass
class RemovalResult:
    """What one pass over an orphaned inventory did."""

    app: str
    deleted: list[ResourceKey] = field(default_factory=list)
    hooks: list[tuple[str, ResourceKey]] = field(default_factory=list)  # (phase, hook) that succeeded
    created: list[tuple[str, ResourceKey, str]] = field(default_factory=list)  # hooks: apiVersion, key, uid
    kept: list[tuple[ResourceKey, str]] = field(default_factory=list)
    failed: list[tuple[ResourceKey, str]] = field(default_factory=list)
    finished: bool = False  # the inventory is gone: nothing is left to do

    def summary(self) -> str:
        parts = [f"{len(self.deleted)} deleted"]
        if self.hooks:
            parts.append(f"{len(self.hooks)} hook(s) run")
        if self.kept:
            parts.append(f"{len(self.kept)} kept ({'; '.join(f'{k}: {why}' for k, why in self.kept)})")
        if self.failed:
            parts.append(f"{len(self.failed)} failed ({'; '.join(f'{k}: {e}' for k, e in self.failed)})")
        return ", ".join(parts)


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _hook_wave(hook: Mapping[str, Any]) -> int:
    try:
        return read_wave(_annotations(hook))
    except ValueError:
        return 0


def _types(hook: Mapping[str, Any]) -> tuple[str, ...]:
    try:
        return deletion_hook_types((hook.get("metadata") or {}).get("annotations") or {})
    except ValueError:
        return ()


@dataclass
class Remover:
    """Deletes the objects of applications that left FLEET on one cluster."""

    cluster: str
    objects: ClusterPort
    _: KW_ONLY
    fleet: str
    namespace: str
    clock: Clock
    history: HistoryPort | None = None
    poll: float = 0.5
    wave_timeout: float = 300.0
    assess: Assess = builtin_assess
    # a recorded project's bounds on this cluster (None: no such project); None: unbounded (tests)
    scopes: Callable[[str], Scope | None] | None = None
    _reported: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.lifecycle = Lifecycle(self.objects, self.clock, poll=self.poll, assess=self.assess)

    async def sweep(self, current: Iterable[str]) -> list[RemovalResult]:
        """Handle every inventory of this fleet on this cluster whose application is not in CURRENT."""
        keep = set(current)
        found = await self.objects.select("v1", "ConfigMap", namespace=self.namespace,
                                          label_selector=f"{FLEET_LABEL}={self.fleet}")
        results = []
        for body in sorted(found, key=lambda b: str((b.get("metadata") or {}).get("name", ""))):
            app, propagation = removal(body)
            if not app or app in keep:
                continue
            if propagation is None:
                if app not in self._reported:
                    self._reported.add(app)
                    log.info("removal.orphaned", app=app, cluster=self.cluster,
                             reason="the application left the fleet without cascadeDelete; "
                                    "its objects stay in place")
                continue
            results.append(await self.remove(app, body, propagation))
        return results

    async def remove(self, app: str, body: Obj, propagation: str) -> RemovalResult:
        started, wall = self.clock.now(), time.time()
        result = RemovalResult(app)
        try:
            inventory = Inventory.from_configmap(body, app=app)
        except InventoryError as e:
            result.failed.append((ResourceKey("", "ConfigMap", self.namespace,
                                              str(body["metadata"]["name"])), str(e)))
            return result
        hooks = deletion_hooks(body)
        bounded = self._bounded(body, inventory, hooks, result)
        if bounded is None:
            return await self._finish(app, result, started, wall)
        annotations = (body.get("metadata") or {}).get("annotations") or {}
        pre_done = annotations.get(PREDELETE_DONE) == "true"  # an earlier sweep ran them
        if pre_done or await self._hooks("PreDelete", hooks, result, app):
            if not pre_done and any("PreDelete" in _types(h) for h in hooks):
                await self._mark_predelete_done(body)
            await self._delete_objects(app, bounded, propagation, result)
        if not result.failed and await self._hooks("PostDelete", hooks, result, app):
            await self._clean_hooks(hooks, app, result)
            await self._drop_inventory(body, result)
        return await self._finish(app, result, started, wall)

    def _bounded(self, body: Obj, inventory: Inventory, hooks: list[Obj], result: RemovalResult
                 ) -> Inventory | None:
        """INVENTORY without the entries outside the recorded project (kept, in RESULT); None,
        with the reason in RESULT, when the project is gone or a deletion hook lies outside it."""
        if self.scopes is None:
            return inventory
        project = recorded_project(body)
        scope = self.scopes(project)
        here = ResourceKey("", "ConfigMap", self.namespace, fields.name(body))
        if scope is None:
            result.failed.append((here, f"project {project} is no longer in the fleet; nothing is "
                                        "deleted until it is back"))
            return None
        for hook in hooks:
            key = ResourceKey.of(hook)
            if (refused := scope.outside(key)) is not None:
                result.failed.append((key, f"deletion hook outside project {project}, not run: "
                                           f"{refused.message} ({refused.rule})"))
                return None
        outside = {e.key: v for e in inventory if (v := scope.outside(e.key)) is not None}
        result.kept.extend((key, f"outside project {project}: {v.message} ({v.rule})")
                           for key, v in outside.items())
        return inventory.without(outside)

    async def _finish(self, app: str, result: RemovalResult, started: float, wall: float
                      ) -> RemovalResult:
        log.info("removal.done" if result.finished else "removal.partial", app=app, cluster=self.cluster,
                 summary=result.summary())
        if self.history is not None:
            await self.history.record(
                app, self.cluster, revision="", started=wall, duration=self.clock.now() - started,
                result="Deleted" if result.finished else "Failed",
                message=f"left the fleet: {result.summary()}",
                changes={"pruned": len(result.deleted), "kept": len(result.kept),
                         "failed": len(result.failed)})
        return result

    async def _delete_objects(self, app: str, inventory: Inventory, propagation: str,
                              result: RemovalResult) -> None:
        waves: dict[int, list[tuple[InventoryEntry, Obj]]] = {}
        for entry in inventory:
            try:
                live = await self.objects.get(entry.api_version, entry.kind, entry.name, entry.namespace)
            except ClusterError as e:
                result.failed.append((entry.key, str(e)))
                continue
            if live is None:
                continue
            owner = ownership(live, fleet=self.fleet, app=app, key=entry.key)
            if owner.state is not OwnershipState.OURS:
                result.kept.append((entry.key, "not this application's"))
                continue
            try:
                wave, options = live_deletion_options(_annotations(live))
            except ValueError as e:  # guessing could delete what its owner meant to keep
                result.failed.append((entry.key, f"not deleted: {e}"))
                continue
            if options.delete is not Permission.ALLOW:
                result.kept.append((entry.key, "Delete=false"))
            else:
                waves.setdefault(wave, []).append((entry, live))
        for wave in sorted(waves, reverse=True):
            await self._delete_wave(app, waves[wave], propagation, result)
            if result.failed:
                return  # a lower wave may be what the stuck one needs to finish deleting

    async def _hooks(self, phase: str, hooks: list[Obj], result: RemovalResult, app: str) -> bool:
        """Run the PHASE hooks among HOOKS one by one (by wave, then name); False when one fails."""
        chosen = [h for h in hooks if phase in _types(h)]
        for body in sorted(chosen, key=lambda h: (_hook_wave(h), str(h.get("kind")),
                                                  str((h.get("metadata") or {}).get("name")))):
            if not await self._hook(phase, body, result, app):
                return False
        return True

    async def _hook(self, phase: str, body: Obj, result: RemovalResult, app: str) -> bool:
        meta = body.get("metadata") or {}
        api_version, kind = str(body.get("apiVersion", "")), str(body.get("kind", ""))
        namespace = str(meta.get("namespace") or "")
        key = ResourceKey(api_version.rpartition("/")[0], kind, namespace,
                          str(meta.get("name") or meta.get("generateName") or ""))
        policies = read_hook(meta.get("annotations") or {}).delete_policies
        marks = parse_tracking_id(str((meta.get("annotations") or {}).get(TRACKING_ANNOTATION, "")))
        if (meta.get("labels") or {}).get(FLEET_LABEL) != self.fleet or marks is None or marks[0] != app:
            result.failed.append((key, f"{phase} hook does not carry this application's marks; not run"))
            return False
        try:
            previous = await self.objects.get(api_version, kind, key.name, namespace) \
                if meta.get("name") else None
        except ClusterError as e:
            result.failed.append((key, f"{phase} hook: {reason(e)}"))
            return False
        if previous is not None and ownership(previous, fleet=self.fleet, app=app, key=marks[1]).state \
                is not OwnershipState.OURS:
            result.failed.append((key, f"{phase} hook {key} exists and is not this application's"))
            return False
        run = await self.lifecycle.run_hook(body, policies, deadline=self.clock.now() + self.wave_timeout,
                                            previous=previous)
        if run.created is not None:
            key = run.key  # with the name the API server gave a generateName hook
            result.created.append((api_version, key,
                                   str((run.created.get("metadata") or {}).get("uid") or "")))
        if run.error is not None:
            result.failed.append((key, f"{phase} hook: {reason(run.error)}"))
            return False
        if not run.succeeded:
            result.failed.append((key, f"{phase} hook failed: {run.state.message}"))
            return False
        log.info("removal.hook", cluster=self.cluster, phase=phase, hook=str(key))
        result.hooks.append((phase, key))
        return True

    async def _delete_wave(self, app: str, items: list[tuple[InventoryEntry, Obj]], propagation: str,
                           result: RemovalResult) -> None:
        """Delete one wave (each object by the uid and resourceVersion read, so a replacement, or
        the same object re-marked for someone else since, is left alone) and wait until all of it
        is gone; what is still there after ``wave_timeout`` has failed."""
        def check(key: ResourceKey, live: Obj) -> str:
            owner = ownership(live, fleet=self.fleet, app=app, key=key)
            return "" if owner.state is OwnershipState.OURS else "not this application's any more"

        targets = [Target(entry.api_version, entry.key, fields.uid(live) or None,
                          fields.resource_version(live) or None)
                   for entry, live in sorted(items, key=lambda item: item[0].key)]
        wave = await self.lifecycle.delete_wave(targets, propagation=propagation,
                                                deadline=self.clock.now() + self.wave_timeout,
                                                check=check)
        for key, why in wave.lost:
            log.info("removal.kept", app=app, cluster=self.cluster, object=str(key), reason=why)
        result.deleted.extend(wave.absent)
        result.deleted.extend(wave.deleted)
        result.kept.extend(wave.lost)
        result.failed.extend(wave.failed)
        result.failed.extend((key, "still being deleted") for key in wave.pending)

    async def _mark_predelete_done(self, body: Obj) -> None:
        """Record on the inventory that the PreDelete hooks ran, so a later sweep (after a partial
        removal) does not run them again against what is already gone."""
        meta = body.get("metadata") or {}
        doc = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": meta.get("name"), "namespace": self.namespace,
                            "labels": dict(meta.get("labels") or {}),
                            "annotations": {**(meta.get("annotations") or {}), PREDELETE_DONE: "true"}},
               "data": dict(body.get("data") or {})}
        try:
            await self.objects.apply(doc, force=True)
        except (ApiError, ClusterError) as e:
            log.warning("removal.mark.failed", cluster=self.cluster, inventory=str(meta.get("name")),
                        error=str(e))

    async def _clean_hooks(self, hooks: list[Obj], app: str, result: RemovalResult) -> None:
        """Delete the hook objects of this removal (nothing will ever replace them): those this
        sweep created, by uid, and named ones an earlier sweep left, while still the app's."""
        targets = {(key, uid): api_version for api_version, key, uid in result.created}
        seen = {key for key, _ in targets}
        for hook in hooks:
            meta = hook.get("metadata") or {}
            api_version, kind = str(hook.get("apiVersion", "")), str(hook.get("kind", ""))
            key = ResourceKey(api_version.rpartition("/")[0], kind, str(meta.get("namespace") or ""),
                              str(meta.get("name") or ""))
            if not key.name or key in seen:
                continue
            try:
                live = await self.objects.get(api_version, kind, key.name, key.namespace)
            except ClusterError:
                continue
            if live is not None and ownership(live, fleet=self.fleet, app=app, key=key).state \
                    is OwnershipState.OURS:
                targets[(key, str((live.get("metadata") or {}).get("uid") or ""))] = api_version
        for (key, uid), api_version in targets.items():
            try:
                await self.objects.delete(api_version, key.kind, key.name, key.namespace,
                                          propagation="Background", uid=uid or None)
            except (ApiError, ClusterError) as e:
                log.warning("removal.hook.cleanup.failed", cluster=self.cluster, hook=str(key), error=str(e))

    async def _drop_inventory(self, body: Obj, result: RemovalResult) -> None:
        meta = body.get("metadata") or {}
        try:
            await self.objects.delete("v1", "ConfigMap", str(meta.get("name")), self.namespace,
                                      propagation="Background", uid=str(meta.get("uid") or "") or None)
        except (ApiError, ClusterError) as e:
            result.failed.append((ResourceKey("", "ConfigMap", self.namespace, str(meta.get("name"))),
                                  str(e)))
            return
        result.finished = True


async def sweep_forever(remover: Remover, current: Iterable[str], *, interval: float,
                        writable: Callable[[], bool] = lambda: True) -> None:
    """Sweep now and every INTERVAL seconds (a failed removal is tried again on the next sweep),
    each time this daemon may write to the cluster."""
    apps = tuple(current)
    while True:
        if writable():
            await remover.sweep(apps)
        await remover.clock.sleep(interval)

