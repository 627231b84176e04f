"""Run a sync plan against one cluster: wave by wave, with a health gate between waves.

The last wave is not gated: the sync ends once everything is applied, and the
instance's health is then followed from the watches, as Argo CD reports a
synced application Progressing until its workloads are ready.

Applies use server-side apply (field manager ``gitopsd``); an object whose
fields gitopsd once wrote by a create or update has them moved to its apply
manager first (``core/managedfields.py``); hooks are created,
awaited and cleaned up by their delete policies, and prunes delete with the
application's propagation policy, both through ``engine.lifecycle``. A prune
or a ``Replace=true,Force=true`` recreate deletes only the object the
comparison checked (its uid and resourceVersion as preconditions); an object
that is no longer the application's by then is left alone and reported
skipped. A prune is confirmed when its object is gone: the executor follows
prunes for a short while (``PRUNE_SETTLE`` seconds, within the deadline), and
those still being deleted then are reported pending, not failed. Every
step ends as a ``Change``; a failing wave stops the sync and the partial
ChangeSet is returned with the reason. Nothing here decides what to do: the
plan and the comparison did that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import structlog

from gitopsd.core import health as healthmod
from gitopsd.core.diff.normalize import rules_for
from gitopsd.core.diff.respect import respect_ignored
from gitopsd.core.health.custom import Assess
from gitopsd.core.managedfields import upgraded
from gitopsd.core.ownership import OwnershipState, ownership
from gitopsd.core.plan import Plan, SkipReason, SyncTask, TaskAction
from gitopsd.engine.clock import Clock
from gitopsd.engine.lifecycle import Lifecycle, Target, reason
from gitopsd.engine.ports import ClusterPort, NoTracing, Obj, Step, TracingPort
from gitopsd.engine.sync.compare import Comparison
from gitopsd.engine.sync.result import ExecResult
from gitopsd.errors import ApiError, ClusterError, OwnershipConflict, SyncError, UnknownKind
from gitopsd.model import (
    Change,
    ChangeAction,
    Health,
    HealthStatus,
    IgnoreDifference,
    ResourceKey,
    objects,
)

T = TypeVar("T")
log = structlog.get_logger("gitopsd.sync")
PRUNE_SETTLE = 5.0  # seconds a sync follows its prunes to confirm them gone


class Executor:
    def __init__(self, cluster: ClusterPort, clock: Clock, *, fleet: str, poll: float = 0.5,
                 concurrency: int = 8, tracing: TracingPort | None = None,
                 assess: Assess = healthmod.assess, prune_settle: float = PRUNE_SETTLE,
                 writable: Callable[[], bool] = lambda: True) -> None:
        self.writable = writable  # checked before each wave: a daemon that lost its Lease stops
        self.cluster = cluster
        self.fleet = fleet
        self.prune_settle = prune_settle
        self._app = ""
        self._settle_until: float | None = None
        self.tracing = tracing or NoTracing()
        self.assess = assess
        self.concurrency = concurrency
        self.clock = clock
        self.poll = poll
        self.lifecycle = Lifecycle(cluster, clock, poll=poll, assess=assess)
        self.crd_groups: set[str] = set()
        self._respect: tuple[IgnoreDifference, ...] = ()
        self._deadline = 0.0

    async def run(self, plan: Plan, cmp: Comparison, *, deadline: float,
                  app: str, ignore: Sequence[IgnoreDifference] = ()) -> ExecResult:
        """Run PLAN of application APP wave by wave (with RespectIgnoreDifferences, what IGNORE
        names stays as live has it)."""
        result = ExecResult(tracing=self.tracing)
        self._respect = tuple(ignore) if plan.options.respect_ignore_differences else ()
        self.crd_groups = set()
        self._deadline = deadline
        self._app = app
        self._settle_until = None
        for skip in plan.skipped:
            if skip.reason is SkipReason.PRUNE_NOT_OURS:
                self._release(skip.key, skip.message, result)
        waves = list(plan.waves())
        for i, ((phase, wave), tasks) in enumerate(waves):
            if not self.writable():
                result.error = ("this daemon no longer holds the cluster's Lease (or, sharing the fleet, "
                                f"owns the instance); the sync stopped before wave {phase.value}/{wave}")
                return result
            kind = tasks[0].action
            step = Step.PRUNE if kind is TaskAction.PRUNE else Step.APPLY_WAVE
            with self.tracing.span(step, phase=phase.value, wave=wave, tasks=len(tasks)) as span:
                if kind is TaskAction.PRUNE:
                    await self._prune(tasks, plan, cmp, result)
                else:
                    await self._apply_wave(tasks, plan, cmp, result, deadline,
                                           gated=i < len(waves) - 1)
                if result.error:
                    span.fail(result.error)
            if result.error:
                return result
        return result

    async def run_hooks(self, tasks: Sequence[SyncTask], deadline: float) -> ExecResult:
        result = ExecResult(tracing=self.tracing)
        for task in tasks:
            await self._hook(task, result, deadline)
        return result

    # -- applies and hooks --------------------------------------------------

    async def _apply_wave(self, tasks: Sequence[SyncTask], plan: Plan, cmp: Comparison,
                          result: ExecResult, deadline: float, *, gated: bool = True) -> None:
        gate: list[SyncTask] = []
        failed: list[str] = []
        for group in _groups(tasks):
            if group[0].action is TaskAction.HOOK:
                for task in group:
                    if not await self._hook(task, result, deadline):
                        failed.append(str(task.key))
                continue
            outcomes = await self._gather(self._apply(t, plan, cmp) for t in group)
            for task, (outcome, change) in zip(group, outcomes, strict=True):
                result.add(change.key, change.action, change.message)
                if outcome is None:
                    failed.append(str(task.key))
                elif outcome or task.key in cmp.live:
                    gate.append(task)
        if failed:
            where = f"{tasks[0].phase.value}/{tasks[0].wave}"
            details = "; ".join(f"{c.key}: {c.message}" if c.message else str(c.key)
                                for c in result.changes if c.action is ChangeAction.FAILED)
            result.error = f"{len(failed)} object(s) failed in wave {where}: {details}"[:1500]
            return
        if gate and gated:
            with self.tracing.span(Step.HEALTH, objects=len(gate)):
                await self._health_gate(gate, cmp, result, deadline)

    async def _gather(self, coros: Iterable[Awaitable[T]]) -> list[T]:
        """Run COROS with at most ``concurrency`` at a time; results in order."""
        slots = asyncio.Semaphore(self.concurrency)

        async def one(coro: Awaitable[T]) -> T:
            async with slots:
                return await coro
        return list(await asyncio.gather(*(one(c) for c in coros)))

    async def _apply(self, task: SyncTask, plan: Plan,
                     cmp: Comparison) -> tuple[bool | None, Change]:
        """Apply one object: True if written, False if unchanged, None if it failed."""
        assert task.manifest is not None
        key = task.key
        owner = cmp.owners.get(key)
        if owner is not None and not owner.writable(fail_on_shared_resource=plan.fail_on_shared_resource):
            why = owner.reason or f"{key} is not managed by this application"
            if owner.state is OwnershipState.UNTRACKED:
                why += " (FailOnSharedResource=true)"
            return None, Change(key, ChangeAction.FAILED, why)
        before = cmp.live.get(key)
        if before is not None and not task.options.replace and \
                (entries := upgraded(objects.meta(before).get("managedFields") or ())):
            try:  # fields an old create or update gave gitopsd become its apply's again
                before = cmp.live[key] = await self.cluster.set_managed_fields(before, entries)
            except (ApiError, ClusterError) as e:
                return None, Change(key, ChangeAction.FAILED, reason(e))
        diff = cmp.diffs.get(key)
        if diff is not None and diff.in_sync and task.tracked:
            return False, Change(key, ChangeAction.UNCHANGED)
        if before is None and not task.tracked and key not in cmp.live:
            # the CreateNamespace Namespace is not compared: an existing one is left as it is
            before = await self._existing(task)
            if before is not None:
                cmp.live[key] = before
                return False, Change(key, ChangeAction.UNCHANGED)
        existed = before is not None
        body = task.manifest.body
        if before is not None and (rules := rules_for(key, self._respect)):
            body = respect_ignored(body, before, rules)
        try:
            live = await self._write(task, body, before, plan)
        except (ApiError, ClusterError, SyncError) as e:
            return None, Change(key, ChangeAction.FAILED, reason(e))
        if key.kind == "CustomResourceDefinition":
            group = str(((task.manifest.body.get("spec") or {}).get("group")) or "")
            self.crd_groups.add(group)
            self.cluster.invalidate(group)
        cmp.live[key] = live
        return True, Change(key, ChangeAction.CONFIGURED if existed else ChangeAction.CREATED)

    async def _existing(self, task: SyncTask) -> Obj | None:
        """The live object of an untracked task, or None when absent or unreadable (then applied)."""
        try:
            return await self.cluster.get(task.api_version, task.key.kind, task.key.name,
                                          task.key.namespace)
        except (ApiError, ClusterError):
            return None

    async def _write(self, task: SyncTask, body: Mapping[str, Any], live: Obj | None,
                     plan: Plan) -> Obj:
        """Apply (or replace) one object, waiting for its kind when this sync adds its CRD."""
        while True:
            try:
                if task.options.replace and task.options.force and live is not None:
                    return await self._recreate(task, body, live, plan)
                if task.options.replace:
                    return await self.cluster.replace(body)
                return await self.cluster.apply(body, force=True)
            except UnknownKind:
                if task.key.group not in self.crd_groups or self.clock.now() >= self._deadline:
                    raise
                self.cluster.invalidate(task.key.group)
                await self.clock.sleep(self.poll)

    async def _recreate(self, task: SyncTask, body: Mapping[str, Any], live: Obj,
                        plan: Plan) -> Obj:
        """``Replace=true,Force=true``: delete the object this sync read (by uid and
        resourceVersion), wait until it is gone, then create it from BODY (``kubectl replace
        --force``). An object someone else has made theirs since is not deleted."""
        key = task.key

        def check(key: ResourceKey, current: Obj) -> str:
            owner = ownership(current, fleet=self.fleet, app=self._app, key=key)
            if owner.writable(fail_on_shared_resource=plan.fail_on_shared_resource):
                return ""
            return owner.reason or f"{key} is not managed by this application"

        other = await self.lifecycle.delete_and_wait(
            Target(str(body.get("apiVersion", "")), key, objects.uid(live) or None,
                   objects.resource_version(live) or None), propagation="Background",
            deadline=self._deadline, check=check,
            late=f"{key} was not deleted before the sync deadline (Replace=true,Force=true recreates it)")
        if other is not None:
            raise OwnershipConflict(f"{key} was taken by someone else while being recreated")
        return await self.cluster.create(body)

    async def _health_gate(self, tasks: Sequence[SyncTask], cmp: Comparison, result: ExecResult,
                           deadline: float) -> None:
        """Wait until every object of the wave is Healthy or Suspended, or the deadline passes.

        The first look uses what the apply returned; only unsettled objects are read again.
        """
        pending = {t.key: t for t in tasks}
        last: dict[ResourceKey, Health] = {}
        seen: dict[ResourceKey, Obj | Health | None] = {t.key: cmp.live.get(t.key) for t in tasks}
        while True:
            unseen = [k for k in pending if seen.get(k) is None]
            fetched = await self._gather(self._read(pending[k]) for k in unseen)
            seen.update(zip(unseen, fetched, strict=True))
            for key in list(pending):
                live = seen.pop(key, None)
                h = live if isinstance(live, Health) else (
                    Health(HealthStatus.MISSING, "not found") if live is None else self.assess(live))
                last[key] = h
                result.healths[key] = h
                if h.status.is_settled:
                    del pending[key]
                    if key.kind == "CustomResourceDefinition":
                        self.cluster.invalidate()
            if not pending:
                return
            if self.clock.now() >= deadline:
                waiting = "; ".join(f"{k} is {last[k].status.value}"
                                    + (f" ({last[k].message})" if last[k].message else "")
                                    for k in sorted(pending) if k in last)
                result.error = f"sync deadline reached while waiting for health: {waiting}"[:1500]
                return
            await self.clock.sleep(min(self.poll, max(deadline - self.clock.now(), 0.01)))

    async def _read(self, task: SyncTask) -> Obj | Health | None:
        api_version = task.manifest.api_version if task.manifest else task.api_version
        key = task.key
        try:
            return await self.cluster.get(api_version, key.kind, key.name, key.namespace)
        except (ApiError, ClusterError) as e:
            return Health(HealthStatus.UNKNOWN, reason(e))

    async def _previous_hook(self, task: SyncTask) -> Obj | None:
        """The object that holds a named hook's name now, when it is this application's (it is
        deleted first with BeforeHookCreation); anything else holding the name fails the hook."""
        assert task.manifest is not None
        key = task.key
        if not key.name:
            return None
        live = await self.cluster.get(task.manifest.api_version, key.kind, key.name, key.namespace)
        if live is not None and ownership(live, fleet=self.fleet, app=self._app, key=key).state \
                is not OwnershipState.OURS:
            raise SyncError(f"{key} exists and is not this application's; the hook is not run")
        return live

    async def _hook(self, task: SyncTask, result: ExecResult, deadline: float) -> bool:
        assert task.manifest is not None
        assert task.hook is not None
        key = task.key
        with self.tracing.span(Step.HOOK, f"hook {task.hook.phase.value} {key.kind}/{key.name}") as span:
            try:
                previous = await self._previous_hook(task)
            except (ApiError, ClusterError, SyncError) as e:
                result.add(key, ChangeAction.FAILED, f"hook: {reason(e)}")
                span.fail(f"hook: {reason(e)}")
                return False
            run = await self.lifecycle.run_hook(task.manifest.body, task.hook.delete_policies,
                                                deadline=deadline, previous=previous)
            if run.error is not None:
                what = "hook cleanup" if run.stage == "cleanup" else "hook"
                message = f"{what}: {reason(run.error)}"
            elif run.succeeded:
                result.add(key, ChangeAction.CREATED, "hook succeeded")
                return True
            else:
                message = f"hook failed: {run.state.message}"
            result.add(key, ChangeAction.FAILED, message)
            span.fail(message)
            return False

    # -- prunes -------------------------------------------------------------

    async def _prune(self, tasks: Sequence[SyncTask], plan: Plan, cmp: Comparison,
                     result: ExecResult) -> None:
        """Delete the wave's objects with the application's propagation policy, each only while it
        is the object the comparison checked and still the application's; then follow them until
        they are gone, until ``prune_settle`` seconds after the sync's first prune at most.

        Nothing is sent for a task without preconditions: the comparison found no live object.
        """
        if self._settle_until is None:
            self._settle_until = min(self._deadline, self.clock.now() + self.prune_settle)
        targets = [Target(t.api_version, t.key, t.preconditions.uid or None,
                          t.preconditions.resource_version or None)
                   for t in tasks if t.preconditions is not None]
        wave = await self.lifecycle.delete_wave(
            targets, propagation=plan.propagation_policy.value, deadline=self._settle_until,
            check=self._still_ours)
        failed = dict(wave.failed)
        lost = dict(wave.lost)
        pending = set(wave.pending)
        absent = set(wave.absent)
        for task in tasks:
            key = task.key
            if task.preconditions is None and key in cmp.unreadable:
                failed[key] = f"cannot read it to check its owner: {cmp.unreadable[key]}"
            if key in failed:
                result.failed_prunes.add(key)
                result.add(key, ChangeAction.FAILED, f"prune: {failed[key]}")
            elif key in lost:
                self._release(key, f"not pruned: {lost[key]}", result)
            elif key in pending:
                result.pending_prunes.add(key)
                result.add(key, ChangeAction.PRUNED, "still being deleted")
            else:
                result.pruned.add(key)
                gone = task.preconditions is None or key in absent
                result.add(key, ChangeAction.PRUNED, "already gone" if gone else "")
        if result.failed_prunes:
            result.error = f"{len(result.failed_prunes)} prune(s) failed"

    def _still_ours(self, key: ResourceKey, live: Obj) -> str:
        owner = ownership(live, fleet=self.fleet, app=self._app, key=key)
        return "" if owner.state is OwnershipState.OURS else owner.reason or "not this application's"

    def _release(self, key: ResourceKey, message: str, result: ExecResult) -> None:
        """KEY's object is no longer the application's: left alone, and out of its inventory."""
        result.released.add(key)
        result.add(key, ChangeAction.SKIPPED, message)
        log.info("prune.skipped", app=self._app, object=str(key), reason=message)


def _groups(tasks: Sequence[SyncTask]) -> list[list[SyncTask]]:
    """Consecutive tasks of one action and kind rank: applies inside a group run concurrently,
    groups (a Namespace before what it holds, a CRD before its resources) one after another."""
    groups: list[list[SyncTask]] = []
    for task in tasks:
        if groups and groups[-1][0].action is task.action and groups[-1][0].kind_rank == task.kind_rank:
            groups[-1].append(task)
        else:
            groups.append([task])
    return groups
