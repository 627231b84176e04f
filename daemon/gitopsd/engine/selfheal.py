"""Targeted self-heal: put one drifted object back without a full sync.

When a watch shows that an owned object no longer carries what the last sync
applied, the quickest correct repair is one server-side apply of that same
desired body, which is what this module does (after the self-heal backoff the
daemon decided). The write is conditional, so that it can never land on an
object someone else took over meanwhile: an edited object is applied with the
resourceVersion the watch last showed (on a conflict it is read again and the
apply repeated only while the object is still this application's), a deleted
one is applied the same way with a resourceVersion no stored object can have,
which the API server turns into "create only": it creates a missing object and
answers 409 when someone made the object again meanwhile. So a re-created
object belongs to the ``gitopsd`` apply manager, exactly as a sync would have
left it, and later syncs can remove any field it set. Anything it cannot do
safely (the instance is syncing, the object asks for Replace, the object
changed again, the write fails) falls back to a full reconcile at drift
priority, whose comparison checks ownership.
Each repair is reported like a sync, through the one report path (one trace,
status, metrics and history). What the watches know of the object (its
desired body, versions, whether its controller is about to write) is read
from a ``Sightings`` view; whether to repair at all is the drift controller's
decision, not this module's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import structlog

from gitopsd.core.diff.normalize import rules_for
from gitopsd.core.marks import HASH_ANNOTATION
from gitopsd.core.ownership import OwnershipState, ownership
from gitopsd.core.plan import object_options, parse_app_options
from gitopsd.engine.clock import Clock
from gitopsd.engine.ports import ClusterPort, NoTracing, Step, TracingPort
from gitopsd.engine.queue import Priority, WorkQueue
from gitopsd.engine.report import Reporter, Timing, finish_span, reconcile_span
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
from gitopsd.model import objects as fields

log = structlog.get_logger("gitopsd.selfheal")


class Sightings(Protocol):
    """What the watches know of each owned object (implemented by the drift detector)."""

    def body(self, key: ResourceKey) -> Mapping[str, Any] | None:
        """The desired body the instance wants now, or None when it no longer expects KEY."""
        ...

    def version(self, key: ResourceKey) -> int:
        """The resourceVersion of the last observation of KEY, or -1."""
        ...

    def ours_version(self, key: ResourceKey) -> int:
        """The newest resourceVersion shown of KEY while it was this application's, or -1."""
        ...

    def settling(self, key: ResourceKey) -> bool:
        """True when KEY's controller is about to write its status."""
        ...

    def wrote(self, key: ResourceKey, obj: Mapping[str, Any]) -> None:
        """A repair wrote KEY and the API server returned OBJ."""
        ...


class Held(Protocol):
    def hold(self, instance_key: str, key: ResourceKey) -> None:
        """Drift of KEY that the running sync of the instance decides."""
        ...

    def awaiting(self, instance_key: str, besides: ResourceKey) -> bool:
        """True while drift of the instance other than BESIDES still waits for its repair."""
        ...


def _desired_hash(body: Mapping[str, Any] | None) -> object:
    if body is None:
        return None
    return fields.annotations(body).get(HASH_ANNOTATION)


# A resourceVersion precondition no stored object can meet (etcd revisions would have to reach
# the largest int64): the apply creates a missing object and is refused (409) for any existing one.
CREATE_ONLY = str(2**63 - 1)

Finished = Callable[[str, ResourceKey, bool], None]  # instance key, object, whether a write landed


def _with_version(body: Mapping[str, Any], version: int | str) -> dict[str, Any]:
    return {**body, "metadata": {**fields.meta(body), "resourceVersion": str(version)}}


def _used(body: Mapping[str, Any]) -> int:
    return int(fields.resource_version(body) or -1)


def repairable(body: Mapping[str, Any], app: Application, key: ResourceKey) -> bool:
    """False for objects that must be replaced rather than applied, and for objects whose ignored
    fields must come from a fresh read (RespectIgnoreDifferences), which only a full sync makes."""
    options, problems = object_options(fields.annotations(body))
    if options.replace or problems:
        return False
    return not (rules_for(key, app.ignore_differences)
                and parse_app_options(app.sync_policy.sync_options).respect_ignore_differences)


class Repairer:
    def __init__(self, *, clock: Clock, queue: WorkQueue, reporter: Reporter, held: Held,
                 fleet: str = "", settle: float = 0.02, tracing: TracingPort | None = None,
                 on_finished: Finished | None = None,
                 writable: Callable[[AppInstance], bool] = lambda inst: True,
                 stopped: Callable[[AppInstance, ResourceKey], bool] = lambda inst, key: False) -> None:
        self.fleet = fleet
        self.writable = writable  # checked right before the write: the Lease may be gone by then
        self.stopped = stopped  # checked right before the write: a sync window may have closed
        self.on_finished = on_finished  # told when a repair's write lands, or it ends without one
        self.tracing = tracing or NoTracing()
        self.clock = clock
        self.queue = queue
        self.reporter = reporter
        self.held = held
        self.settle = settle  # how long a repair waits for a workload controller's status write
        self._tasks: dict[tuple[str, ResourceKey], asyncio.Task[bool]] = {}
        self._wrote: set[asyncio.Task[Any]] = set()  # repairs whose write landed, still reporting

    def schedule(self, inst: AppInstance, objects: ClusterPort, key: ResourceKey, seen: Sightings, *,
                 delay: float = 0.0, deleted: bool = False) -> None:
        """Repair KEY after DELAY with the body SEEN says the instance wants: apply it create-only
        if DELETED, else apply it if the object is still at the version SEEN last showed
        (unknown: a full reconcile decides). After a conflict, a newer version SEEN showed while the object
        was still this application's saves a read. When SEEN says its controller is about to
        write status, the write waits (up to ``settle`` seconds) for the watches to show that.
        When the instance wants another body by the time the repair runs (a sync moved it on,
        or pruned the object), the repair gives way to a full reconcile."""
        slot = (inst.key, key)
        body = seen.body(key)
        if self.repairing(inst.key, key) or body is None:
            return  # a repair of this object is already on its way, or it is no longer wanted
        if not deleted:
            version = seen.version(key)
            if version < 0:
                self.queue.add(inst.key, inst.cluster, Priority.DRIFT, delay=delay, reason=f"drift {key}")
                return
            body = _with_version(body, version)
        else:
            body = _with_version(body, CREATE_ONLY)
        settle = self.settle if not deleted and seen.settling(key) else 0.0
        task = asyncio.create_task(self._repair(inst, objects, key, body, seen, delay, settle, deleted),
                                   name=f"repair/{inst.key}/{key}")
        self._tasks[slot] = task
        task.add_done_callback(lambda t: self._done(slot, t))

    def _done(self, slot: tuple[str, ResourceKey], task: asyncio.Task[bool]) -> None:
        if self._tasks.get(slot) is task:
            del self._tasks[slot]
        if not task.cancelled() and task.exception() is not None:
            # a bug, not a refused write: a full pass repairs the object instead
            log.error("selfheal.crashed", instance=slot[0], object=str(slot[1]),
                      error=f"{type(task.exception()).__name__}: {task.exception()}")
            cluster = slot[0].split("/", 1)[-1]
            self.queue.add(slot[0], cluster, Priority.DRIFT, reason=f"drift {slot[1]}")
        if task in self._wrote:
            self._wrote.discard(task)  # told when its write landed
        elif self.on_finished is not None:
            self.on_finished(slot[0], slot[1], False)

    def _landed(self, slot: tuple[str, ResourceKey]) -> None:
        """The running repair's write landed: drift seen from now on is new drift."""
        task = asyncio.current_task()
        if task is not None:
            self._wrote.add(task)
        if self.on_finished is not None:
            self.on_finished(slot[0], slot[1], True)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def count(self, instance_key: str) -> int:
        """Repairs of the instance's objects that wait or write now."""
        return sum(1 for (ik, _), t in self._tasks.items() if ik == instance_key and not t.done())

    def others(self, instance_key: str, besides: ResourceKey) -> bool:
        """True while a repair of another object of the instance waits or writes."""
        return any(ik == instance_key and k != besides and not t.done()
                   for (ik, k), t in self._tasks.items())

    def repairing(self, instance_key: str, key: ResourceKey) -> bool:
        """True while a repair of KEY for the instance waits or writes (not while it reports)."""
        task = self._tasks.get((instance_key, key))
        return task is not None and task not in self._wrote

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _settled(self, body: Mapping[str, Any], key: ResourceKey, seen: Sightings,
                       limit: float) -> None:
        """Wait (up to LIMIT seconds) until the watches show a version newer than BODY's."""
        used = _used(body)
        deadline = self.clock.now() + limit
        while seen.ours_version(key) <= used and self.clock.now() < deadline:
            await self.clock.sleep(0.001)

    async def _write(self, inst: AppInstance, objects: ClusterPort, key: ResourceKey,
                     body: Mapping[str, Any], seen: Sightings, deleted: bool) -> Mapping[str, Any]:
        """Apply create-only, or apply at a known resourceVersion; returns what the API server
        returned. A newer version (a controller wrote status meanwhile) is taken from the watches
        when they have shown it of the object still being this application's, else read; while
        the object is still this application's, the apply is repeated at it."""
        if deleted:
            return await objects.apply(body, force=True)
        for _ in range(3):
            if seen.ours_version(key) > _used(body):
                body = _with_version(body, seen.ours_version(key))
            try:
                return await objects.apply(body, force=True)
            except ApiError as e:
                if e.status != 409:
                    raise
            if seen.ours_version(key) > _used(body):
                continue  # the watches have shown a newer version of it, still this application's
            live = await objects.get(str(body.get("apiVersion", "")), key.kind, key.name, key.namespace)
            if live is None or ownership(live, fleet=self.fleet, app=inst.app, key=key).state \
                    is not OwnershipState.OURS:
                raise OwnershipConflict(f"{key} is no longer this application's; a full sync decides")
            body = _with_version(body, fields.resource_version(live))
        raise OwnershipConflict(f"{key} keeps changing; a full sync decides")

    async def _repair(self, inst: AppInstance, objects: ClusterPort, key: ResourceKey,
                      body: Mapping[str, Any], seen: Sightings, delay: float, settle: float,
                      deleted: bool) -> bool:
        """One repair; True when its write landed."""
        if delay > 0:
            await self.clock.sleep(delay)
        if settle > 0:
            await self._settled(body, key, seen, settle)
        if inst.key in self.queue.running:
            self.held.hold(inst.key, key)  # the running sync decides
            return False
        if not self.writable(inst):
            return False  # the Lease went to another daemon while the repair waited: it repairs
        if self.stopped(inst, key):
            return False  # a sync window closed while the repair waited: a pass runs when it opens
        if _desired_hash(seen.body(key)) != _desired_hash(body):
            self.queue.add(inst.key, inst.cluster, Priority.DRIFT, reason=f"drift {key}")
            return False
        action = ChangeAction.CREATED if deleted else ChangeAction.CONFIGURED
        started, wall = self.clock.now(), time.time()
        row = self.reporter.board.ensure(inst)
        with reconcile_span(self.tracing, inst, "drift", revision=row.revision) as span:
            try:
                with self.tracing.span(Step.APPLY_WAVE, phase="Sync", selfheal=True) as wave:
                    live = await self._write(inst, objects, key, body, seen, deleted)
                    seen.wrote(key, live)
                    self._landed((inst.key, key))
                    wave.event("object", object=str(key), action=action.value)
            except GitopsdError as e:
                span.fail(str(e))
                log.info("selfheal.fallback", app=inst.app, cluster=inst.cluster,
                         object=str(key), error=str(e))
                self.queue.add(inst.key, inst.cluster, Priority.DRIFT, reason=f"drift {key}")
                return False
            outcome = Outcome(OutcomeKind.SYNCED, f"1 {action.value} (self-heal of {key})", row.revision,
                              ChangeSet((Change(key, action, "self-heal"),)), row.health)
            trace_id = finish_span(span, outcome)
        timing = Timing(wall, self.clock.now() - started)
        await self.reporter.finished(inst, outcome, timing, trigger="drift", trace=trace_id,
                                     settled=not self.held.awaiting(inst.key, key))
        return True
