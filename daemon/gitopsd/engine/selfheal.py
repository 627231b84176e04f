"""Targeted self-heal: put one drifted object back without a full sync.

When a watch shows that an owned object no longer carries what the last sync
applied, the quickest correct repair is one server-side apply of that same
desired body, which is what this module does (after the self-heal backoff the
daemon decided). The write is conditional, so that it can never land on an
object someone else took over meanwhile: an edited object is applied with the
resourceVersion the watch last showed (on a conflict it is read again and the
apply repeated only while the object is still this application's), a deleted
one is created (which fails if it exists again). Anything it cannot do safely (the instance is syncing,
the object asks for Replace, the object changed again, the write fails) falls
back to a full reconcile at drift priority, whose comparison checks ownership.
Each repair is reported like a sync: one trace, status, metrics and history.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from opentelemetry import trace

from gitopsd.core.diff.normalize import rules_for
from gitopsd.core.inventory import OwnershipState, ownership
from gitopsd.core.plan import parse_app_options
from gitopsd.edges.telemetry import semconv as sc
from gitopsd.engine.clock import Clock
from gitopsd.engine.ports import ClusterPort, HistoryPort, MetricsPort
from gitopsd.engine.queue import Priority, WorkQueue
from gitopsd.engine.status import StatusBoard
from gitopsd.errors import ApiError, GitopsdError, OwnershipConflict
from gitopsd.model import (
    AppInstance,
    Application,
    Change,
    ChangeAction,
    ChangeSet,
    Outcome,
    OutcomeKind,
    ResourceKey,
)

log = structlog.get_logger("gitopsd.selfheal")
tracer = trace.get_tracer("gitopsd.engine")
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
HASH_ANNOTATION = "gitopsd.io/desired-hash"


def _desired_hash(body: Mapping[str, Any] | None) -> object:
    if body is None:
        return None
    return ((body.get("metadata") or {}).get("annotations") or {}).get(HASH_ANNOTATION)


def repairable(body: Mapping[str, Any], app: Application, key: ResourceKey) -> bool:
    """False for objects that must be replaced rather than applied, and for objects whose ignored
    fields must come from a fresh read (RespectIgnoreDifferences), which only a full sync makes."""
    options = ((body.get("metadata") or {}).get("annotations") or {}).get(SYNC_OPTIONS, "")
    if "replace=true" in str(options).replace(" ", "").lower():
        return False
    return not (rules_for(key, app.ignore_differences)
                and parse_app_options(app.sync_policy.sync_options).respect_ignore_differences)


class Repairer:
    def __init__(self, *, clock: Clock, queue: WorkQueue, board: StatusBoard,
                 metrics: MetricsPort | None, history: HistoryPort | None,
                 on_hold: Callable[[str, ResourceKey], None], fleet: str = "") -> None:
        self.fleet = fleet
        self.clock = clock
        self.queue = queue
        self.board = board
        self.metrics = metrics
        self.history = history
        self.on_hold = on_hold
        self._tasks: dict[tuple[str, ResourceKey], asyncio.Task[None]] = {}

    def schedule(self, inst: AppInstance, objects: ClusterPort, key: ResourceKey,
                 body: Mapping[str, Any], delay: float, *, deleted: bool = False,
                 version: int = -1, latest: Callable[[], int] | None = None,
                 settle: float = 0.0,
                 current: Callable[[], Mapping[str, Any] | None] | None = None) -> None:
        """Repair KEY after DELAY: create it if DELETED, else apply BODY if the object is still
        at resourceVersion VERSION (-1: unknown, a full reconcile decides). LATEST gives the
        newest version the watches have shown of the object while it was still this
        application's; after a conflict it saves a read when it is newer. With SETTLE, the
        object's controller is about to write its status (which would make the write
        conflict): the write waits up to SETTLE seconds for the watches to show that.
        CURRENT gives the body the instance wants now: when that is no longer BODY (a sync
        moved it on, or pruned the object, while the repair waited), the repair gives way
        to a full reconcile."""
        slot = (inst.key, key)
        if slot in self._tasks:
            return  # a repair of this object is already on its way
        action = ChangeAction.CREATED if deleted else ChangeAction.CONFIGURED
        if not deleted:
            if version < 0:
                self.queue.add(inst.key, inst.cluster, Priority.DRIFT, delay=delay, reason=f"drift {key}")
                return
            body = {**body, "metadata": {**(body.get("metadata") or {}), "resourceVersion": str(version)}}
        task = asyncio.create_task(self._repair(inst, objects, key, body, delay, action, latest, settle,
                                                current),
                                   name=f"repair/{inst.key}/{key}")
        self._tasks[slot] = task
        task.add_done_callback(lambda _: self._tasks.pop(slot, None))

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _settled(self, body: Mapping[str, Any], latest: Callable[[], int], limit: float) -> None:
        """Wait (up to LIMIT seconds) until the watches show a version newer than BODY's."""
        used = int(str((body.get("metadata") or {}).get("resourceVersion") or -1))
        deadline = self.clock.now() + limit
        while latest() <= used and self.clock.now() < deadline:
            await self.clock.sleep(0.001)

    async def _write(self, inst: AppInstance, objects: ClusterPort, key: ResourceKey,
                     body: Mapping[str, Any], action: ChangeAction,
                     latest: Callable[[], int] | None = None) -> None:
        """Create, or apply at a known resourceVersion. A newer version (a controller wrote
        status meanwhile) is taken from the watches when they have shown it of the object
        still being this application's, else read; while the object is still this
        application's, the apply is repeated at it."""
        if action is ChangeAction.CREATED:
            await objects.create(body)
            return
        for _ in range(3):
            used = int(str((body.get("metadata") or {}).get("resourceVersion") or -1))
            seen = latest() if latest is not None else -1
            if seen > used:
                body = {**body, "metadata": {**(body.get("metadata") or {}), "resourceVersion": str(seen)}}
            try:
                await objects.apply(body, force=True)
                return
            except ApiError as e:
                if e.status != 409:
                    raise
            if latest is not None and latest() > int(str(body["metadata"]["resourceVersion"])):
                continue  # the watches have shown a newer version of it, still this application's
            live = await objects.get(str(body.get("apiVersion", "")), key.kind, key.name, key.namespace)
            if live is None or ownership(live, fleet=self.fleet, app=inst.app, key=key).state \
                    is not OwnershipState.OURS:
                raise OwnershipConflict(f"{key} is no longer this application's; a full sync decides")
            version = str((live.get("metadata") or {}).get("resourceVersion", ""))
            body = {**body, "metadata": {**(body.get("metadata") or {}), "resourceVersion": version}}
        raise OwnershipConflict(f"{key} keeps changing; a full sync decides")

    async def _repair(self, inst: AppInstance, objects: ClusterPort, key: ResourceKey,
                      body: Mapping[str, Any], delay: float, action: ChangeAction,
                      latest: Callable[[], int] | None = None, settle: float = 0.0,
                      current: Callable[[], Mapping[str, Any] | None] | None = None) -> None:
        if delay > 0:
            await self.clock.sleep(delay)
        if settle > 0 and latest is not None:
            await self._settled(body, latest, settle)
        if inst.key in self.queue.running:
            self.on_hold(inst.key, key)  # the running sync decides
            return
        if current is not None and _desired_hash(current()) != _desired_hash(body):
            self.queue.add(inst.key, inst.cluster, Priority.DRIFT, reason=f"drift {key}")
            return
        started, wall = self.clock.now(), time.time()
        row = self.board.ensure(inst)
        attrs = {sc.ATTR_APP: inst.app, sc.ATTR_CLUSTER: inst.cluster,
                 sc.ATTR_NAMESPACE: inst.namespace, sc.ATTR_TRIGGER: "drift",
                 sc.ATTR_REF_NAME: inst.source.target_revision, sc.ATTR_REVISION: row.revision}
        with tracer.start_as_current_span(sc.SPAN_RECONCILE, attributes=attrs) as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            try:
                with tracer.start_as_current_span(sc.SPAN_APPLY_WAVE, attributes={
                        sc.ATTR_PHASE: "Sync", "gitopsd.selfheal": True}) as wave:
                    await self._write(inst, objects, key, body, action, latest)
                    wave.add_event("object", {"object": str(key), "action": action.value})
            except GitopsdError as e:
                span.set_status(trace.Status(trace.StatusCode.ERROR, str(e)[:500]))
                log.info("selfheal.fallback", app=inst.app, cluster=inst.cluster,
                            object=str(key), error=str(e))
                self.queue.add(inst.key, inst.cluster, Priority.DRIFT, reason=f"drift {key}")
                return
            span.set_attribute(sc.ATTR_OUTCOME, OutcomeKind.SYNCED.value)
            span.set_attribute(sc.ATTR_APPLIED, 1)
        duration = self.clock.now() - started
        change = Change(key, action, "self-heal")
        outcome = Outcome(OutcomeKind.SYNCED, f"1 {action.value} (self-heal of {key})", row.revision,
                          ChangeSet((change,)), row.health)
        row = self.board.record(inst, outcome, started=wall, duration=duration, trace_id=trace_id)
        log.info("reconcile.done", app=inst.app, cluster=inst.cluster, outcome="Synced",
                 revision=row.revision[:12], seconds=round(duration, 3), trigger="drift",
                 message=outcome.message, trace_id=trace_id)
        if self.metrics:
            self.metrics.set_instance(inst.app, inst.cluster, row.sync_status, row.health.status.value)
            self.metrics.sync_finished(inst.app, inst.cluster, "Succeeded")
            self.metrics.reconcile_finished(inst.cluster, duration)
        if self.history:
            await self.history.record(inst.app, inst.cluster, revision=row.revision, started=wall,
                                      duration=duration, result=outcome.kind.value,
                                      message=outcome.message, trace_id=trace_id,
                                      changes=outcome.changes.summary())
