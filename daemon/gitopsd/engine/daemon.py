"""The long-running engine: workers, pollers and watches around one queue.

Every instance is reconciled by a bounded pool of workers pulling from the
priority queue; one poller per repository turns moved refs into work; one
watch per (cluster, kind) turns drift into work; each finished reconcile
reschedules itself (resync, or retry with backoff). Each reconcile is one
trace. The daemon knows the edges only through the ports it is given.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog
from opentelemetry import trace

from gitopsd.core.backoff import SelfHealBackoff, retries_exhausted, retry_delay
from gitopsd.edges.telemetry import semconv as sc
from gitopsd.engine.clock import Clock, MonotonicClock
from gitopsd.engine.desired import DesiredState
from gitopsd.engine.drift import DriftDetector
from gitopsd.engine.pollers import Pollers
from gitopsd.engine.ports import ClusterHandle, GitPort, HistoryPort, MetricsPort
from gitopsd.engine.queue import Item, Priority, QueueClosed, WorkQueue
from gitopsd.engine.removal import Remover, sweep_forever
from gitopsd.engine.selfheal import Repairer, repairable
from gitopsd.engine.status import Condition, StatusBoard, sync_result
from gitopsd.engine.supervisor import Supervisor
from gitopsd.engine.sync import Comparison, Reconciler, SyncRequest
from gitopsd.errors import ClusterError, ClusterUnreachable
from gitopsd.model import (
    AppInstance,
    Application,
    ChangeAction,
    Fleet,
    Health,
    HealthStatus,
    OutcomeKind,
    ResourceKey,
)

log = structlog.get_logger("gitopsd.daemon")
tracer = trace.get_tracer("gitopsd.engine")
TRIGGERS = {Priority.MANUAL: "api", Priority.DRIFT: "drift", Priority.REVISION: "poll",
            Priority.RESYNC: "resync"}
FLEET_SELECTOR = "gitopsd.io/fleet={}"
SETTLE = 0.02  # how long a repair waits for a workload controller's imminent status write
_WROTE = (ChangeAction.CREATED, ChangeAction.CONFIGURED, ChangeAction.UNCHANGED)  # the object exists


@dataclass
class Settings:
    workers: int = 8
    per_cluster: int = 4
    resync: float = 180.0
    health_poll: float = 0.5
    inventory_namespace: str = "gitopsd-system"
    poll_jitter: float = 0.1
    stop_grace: float = 10.0
    hard_resync: float = 3600.0  # a full comparison at least this often, watches or not
    # act on inventories of applications that left the fleet (off when the fleet is known
    # to be incomplete, e.g. its Argo CD Application files could not be read)
    remove_orphans: bool = True


@dataclass
class _Cluster:
    handle: ClusterHandle
    reconciler: Reconciler
    drift: DriftDetector
    watched: set[tuple[str, str]] = field(default_factory=set)
    failing: dict[str, Condition] = field(default_factory=dict)  # watch task -> why it failed


class Daemon:
    def __init__(self, fleet: Fleet, clusters: Mapping[str, ClusterHandle], git: GitPort,
                 desired: DesiredState, *, metrics: MetricsPort | None = None,
                 history: HistoryPort | None = None, settings: Settings | None = None,
                 clock: Clock | None = None) -> None:
        self.fleet = fleet
        self.git = git
        self.desired = desired
        self.metrics = metrics
        self.history = history
        self.settings = settings or Settings()
        self.clock = clock or MonotonicClock()
        self.queue = WorkQueue(clock=self.clock, per_cluster=self.settings.per_cluster)
        self.supervisor = Supervisor(clock=self.clock, on_restart=self._restarted)
        self.board = StatusBoard()
        self.pollers = Pollers(git=git, desired=desired, queue=self.queue, clock=self.clock,
                               metrics=metrics, instances=lambda: [i for i, _ in self.instances.values()],
                               jitter=self.settings.poll_jitter)
        self.repairer = Repairer(clock=self.clock, queue=self.queue, board=self.board,
                                 metrics=metrics, history=history, on_hold=self._hold,
                                 fleet=fleet.name)
        self.selfheal = SelfHealBackoff()
        self._repairs: dict[tuple[str, ResourceKey], list[float]] = {}
        self._full_at: dict[str, float] = {}  # instance -> time of its last full reconcile
        self._held: dict[str, set[ResourceKey]] = {}  # drift seen while the instance synced
        self._attempted: set[str] = set()
        self._failed_attempt: dict[str, trace.SpanContext] = {}  # retries link to it
        self.instances: dict[str, tuple[AppInstance, Application]] = {
            i.key: (i, fleet.application(i.app)) for i in fleet.instances}
        self.clusters: dict[str, _Cluster] = {}
        for name, handle in clusters.items():
            reconciler = Reconciler(fleet=fleet.name, cluster=handle.objects, desired=desired,
                                    inventory_namespace=self.settings.inventory_namespace,
                                    clock=self.clock, health_poll=self.settings.health_poll)
            reconciler.on_compared = self._compared
            self.clusters[name] = _Cluster(handle, reconciler, DriftDetector(
                name, self._drift, self._health, fleet=fleet.name))
        for inst, _ in self.instances.values():
            self.board.ensure(inst)

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        for key, (inst, _) in sorted(self.instances.items()):
            self.queue.add(key, inst.cluster, Priority.REVISION, reason="start")
        for n in range(self.settings.workers):
            self.supervisor.spawn(f"worker/{n}", self._worker)
        for repo in self.fleet.repositories:
            if any(i.source.repo == repo.name for i, _ in self.instances.values()):
                self.pollers.add(repo)
                self.supervisor.spawn(f"poller/{repo.name}", self.pollers.runner(repo))
        if self.settings.remove_orphans:
            for name, cluster in self.clusters.items():
                remover = Remover(name, cluster.handle.objects, fleet=self.fleet.name,
                                  namespace=self.settings.inventory_namespace, clock=self.clock,
                                  history=self.history, poll=self.settings.health_poll)
                apps = {i.app for i, _ in self.instances.values() if i.cluster == name}
                self.supervisor.spawn(f"removals/{name}", functools.partial(
                    sweep_forever, remover, apps, interval=self.settings.resync))

    async def stop(self) -> None:
        """Let running syncs finish within the grace period, then cancel everything."""
        self.queue.close()
        deadline = self.clock.now() + self.settings.stop_grace
        while self.queue.running and self.clock.now() < deadline:
            await self.clock.sleep(0.05)
        await self.repairer.stop()
        await self.supervisor.stop()

    def ready(self) -> tuple[bool, str]:
        missing = len(self.instances) - len(self._attempted)
        return (missing <= 0, "ok" if missing <= 0 else f"{missing} instance(s) not reconciled yet")

    # -- requests ---------------------------------------------------------------

    def request_sync(self, app: str, cluster: str | None = None) -> list[str]:
        keys = [k for k, (i, _) in self.instances.items()
                if i.app == app and (cluster is None or i.cluster == cluster)]
        if not keys:
            raise KeyError(f"{app}/{cluster}" if cluster else app)
        for k in keys:
            self.queue.add(k, self.instances[k][0].cluster, Priority.MANUAL, reason="api")
        return keys

    def repo_push(self, repo: str, ref: str | None = None) -> list[str]:
        return self.pollers.push(self.fleet.repositories, repo)

    # -- workers ----------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            try:
                item = await self.queue.get()
            except QueueClosed:
                await asyncio.Event().wait()
                return
            if self.metrics:
                self.metrics.queue_waited(self.queue.wait_seconds(item))
                self.metrics.set_queue_depth(len(self.queue))
            try:
                await self._reconcile(item)
            except Exception as e:  # a bug must not kill the worker or lose the item
                log.error("reconcile.crashed", instance=item.key, error=f"{type(e).__name__}: {e}")
                self.queue.done(item, requeue_after=self.settings.resync, backoff=True)

    async def _reconcile(self, item: Item) -> None:
        entry = self.instances.get(item.key)
        cluster = self.clusters.get(item.cluster)
        if entry is None or cluster is None:
            self.queue.done(item)
            return
        inst, app = entry
        if self._settled(item, inst, cluster):
            return
        self._full_at[item.key] = self.clock.now()
        started_wall = time.time()
        started = self.clock.now()
        retry = item.priority is Priority.RESYNC and "retry" in item.reasons
        trigger = "retry" if retry else "webhook" if "webhook" in item.reasons else TRIGGERS[item.priority]
        previous = self._failed_attempt.pop(item.key, None)
        links = [trace.Link(previous)] if retry and previous is not None else []
        attrs = {sc.ATTR_APP: inst.app, sc.ATTR_CLUSTER: inst.cluster,
                 sc.ATTR_NAMESPACE: inst.namespace, sc.ATTR_TRIGGER: trigger,
                 sc.ATTR_REF_NAME: inst.source.target_revision}
        with tracer.start_as_current_span(sc.SPAN_RECONCILE, attributes=attrs, links=links) as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            outcome = await cluster.reconciler.reconcile(
                inst, app, SyncRequest(manual=item.priority is Priority.MANUAL))
            span.set_attribute(sc.ATTR_OUTCOME, outcome.kind.value)
            if outcome.revision:
                span.set_attribute(sc.ATTR_REVISION, outcome.revision)
            applied = outcome.changes.by_action(ChangeAction.CREATED) + outcome.changes.by_action(
                ChangeAction.CONFIGURED)
            span.set_attribute(sc.ATTR_APPLIED, len(applied))
            span.set_attribute(sc.ATTR_PRUNED, len(outcome.changes.by_action(ChangeAction.PRUNED)))
            if outcome.kind in (OutcomeKind.FAILED, OutcomeKind.STALLED):
                span.set_status(trace.Status(trace.StatusCode.ERROR, outcome.message[:500]))
            if outcome.kind is OutcomeKind.FAILED:
                self._failed_attempt[item.key] = span.get_span_context()
        duration = self.clock.now() - started
        self._attempted.add(item.key)
        self.pollers.report(self.fleet.repository(inst.source.repo), ok=outcome.error != "GitError")
        if self.metrics:
            self.metrics.set_cluster_connected(inst.cluster, outcome.error != "ClusterUnreachable")
        row = self.board.record(inst, outcome, started=started_wall, duration=duration,
                                trace_id=trace_id)
        self._after(inst, cluster, [c.key for c in outcome.changes if c.action in _WROTE])
        log.info("reconcile.done", app=inst.app, cluster=inst.cluster, outcome=outcome.kind.value,
                 revision=outcome.revision[:12], seconds=round(duration, 3),
                 trigger=trigger, message=outcome.message[:300], trace_id=trace_id)
        if self.metrics:
            self.metrics.set_instance(inst.app, inst.cluster, row.sync_status, row.health.status.value)
            self.metrics.sync_finished(inst.app, inst.cluster, sync_result(outcome.kind))
            self.metrics.reconcile_finished(inst.cluster, duration)
        if self.history and (outcome.changes.wrote or outcome.kind is not OutcomeKind.SYNCED):
            await self.history.record(inst.app, inst.cluster, revision=outcome.revision,
                                      started=started_wall, duration=duration,
                                      result=outcome.kind.value, message=outcome.message,
                                      trace_id=trace_id, changes=outcome.changes.summary())
        self._requeue(item, app, outcome.kind, row.attempts)
        # drift seen while this pass ran (until the item was released) is decided now
        for key in sorted(self._held.pop(item.key, set())):
            if cluster.drift.body(key) is not None:
                self._drift(item.key, key, "changed during a sync")
        self._health(item.key)  # health the watches saw while the pass ran

    def _settled(self, item: Item, inst: AppInstance, cluster: _Cluster) -> bool:
        """A periodic resync of an instance the watches show fully in place needs no API call."""
        if item.priority is not Priority.RESYNC or item.reasons - {"resync"}:
            return False
        row = self.board.get(item.key)
        if row is None or row.sync_status != "Synced" or row.last_result != "Synced":
            return False
        ref = inst.source.target_revision
        head = self.desired.known_heads.get((inst.source.repo, ref), ref)
        if head != row.revision:
            return False
        if self.clock.now() - self._full_at.get(item.key, float("-inf")) > self.settings.hard_resync:
            return False
        if not self._health(item.key, running_ok=True):
            return False
        self.queue.done(item, requeue_after=self.settings.resync, reason="resync")
        return True

    def _requeue(self, item: Item, app: Application, kind: OutcomeKind, attempts: int) -> None:
        if kind is OutcomeKind.FAILED:
            retry = app.sync_policy.retry
            if not retries_exhausted(attempts - 1, retry):
                delay = retry_delay(attempts - 1, retry.backoff, jitter=0.1, rand=random.random())
                self.queue.done(item, requeue_after=delay, backoff=True, reason="retry")
                return
            self.board.mark(item.key, condition=Condition(
                "RetriesExhausted", "Stalled", f"gave up after {attempts} attempts; waiting for a "
                "new revision or a manual sync"))
            self.queue.done(item, requeue_after=self.settings.resync, backoff=True)
            return
        self.queue.done(item, requeue_after=self.settings.resync, backoff=kind is OutcomeKind.STALLED,
                        reason="resync")

    def _compared(self, inst: AppInstance, app: Application, cmp: Comparison) -> None:
        """A pass compared INST: its desired state is what watch events are judged against."""
        cluster = self.clusters.get(inst.cluster)
        if cluster is None:
            return
        kinds = cluster.drift.expect(inst.key, cmp.tracked, app.ignore_differences, cmp.live)
        for api_version, kind in sorted(kinds - cluster.watched):
            cluster.watched.add((api_version, kind))
            self._spawn_watch(cluster, api_version, kind)

    def _after(self, inst: AppInstance, cluster: _Cluster, written: list[ResourceKey]) -> None:
        cmp = cluster.reconciler.last_comparison.pop(inst.key, None)  # live objects are not kept
        if cmp is not None:
            cluster.drift.confirm(inst.key, cmp.live, written)

    # -- watches and drift ------------------------------------------------------

    def _spawn_watch(self, cluster: _Cluster, api_version: str, kind: str) -> None:
        group = api_version.rpartition("/")[0]
        selector = FLEET_SELECTOR.format(self.fleet.name)
        name = f"watch/{cluster.handle.name}/{api_version}/{kind}"

        async def run() -> None:
            def on_event(etype: str, obj: object) -> None:
                if etype == "SYNCED" and cluster.failing.pop(name, None) is not None:
                    self._watch_conditions(cluster)
                cluster.drift.event(etype, obj, (group, kind))
            if self.metrics:
                self.metrics.set_cluster_connected(cluster.handle.name, True)
            await cluster.handle.watch(api_version, kind, selector, on_event)

        self.supervisor.spawn(name, run)

    def _watch_conditions(self, cluster: _Cluster) -> None:
        """Every instance on CLUSTER says why drift cannot be seen while one of its watches fails."""
        self.board.replace([k for k, (i, _) in self.instances.items() if i.cluster == cluster.handle.name],
                           ("ClusterUnreachable", "WatchError"),
                           min(cluster.failing.values(), key=lambda c: c.type, default=None))

    def _drift(self, instance_key: str, key: ResourceKey, reason: str) -> None:
        entry = self.instances.get(instance_key)
        if entry is None:
            return
        if instance_key in self.queue.running:
            self._hold(instance_key, key)
            return
        inst, app = entry
        if self.metrics:
            self.metrics.drift_detected(inst.app, inst.cluster)
        log.info("drift.detected", app=inst.app, cluster=inst.cluster, object=str(key), reason=reason)
        policy = app.sync_policy
        if not (policy.automated and policy.self_heal):
            self.board.mark(instance_key, sync_status="OutOfSync", condition=Condition(
                "OutOfSync", "DriftDetected", f"{key} {reason} outside gitopsd"))
            row = self.board.get(instance_key)
            if reason == "deleted" and row is not None:
                row.health = Health.worst([row.health, Health(HealthStatus.MISSING, f"{key} is missing")])
            if self.metrics and row is not None:
                self.metrics.set_instance(inst.app, inst.cluster, row.sync_status, row.health.status.value)
            return
        now = self.clock.now()
        repairs = self._repairs.setdefault((instance_key, key), [])
        decision = self.selfheal.next_repair(repairs, now)
        repairs.append(now + decision.delay)
        del repairs[:-10]
        if not decision.fighting:
            self.board.clear(instance_key, "SelfHealFight")
        else:
            if self.metrics:
                self.metrics.selfheal_fight(inst.app, inst.cluster)
            self.board.mark(instance_key, condition=Condition(
                "SelfHealFight", "RepeatedDrift",
                f"{key} was changed outside gitopsd {decision.streak} times in a row; "
                f"next repair in {decision.delay:.0f}s"))
        cluster = self.clusters.get(inst.cluster)
        body = cluster.drift.body(key) if cluster is not None else None
        if cluster is not None and body is not None and repairable(body, app, key):
            self.repairer.schedule(inst, cluster.handle.objects, key, body, decision.delay,
                                   deleted=reason == "deleted", version=cluster.drift.version(key),
                                   latest=functools.partial(cluster.drift.ours_version, key),
                                   settle=SETTLE if cluster.drift.settling(key) else 0.0,
                                   current=functools.partial(cluster.drift.body, key))
            return
        self.queue.add(instance_key, inst.cluster, Priority.DRIFT, delay=decision.delay,
                       reason=f"drift {key}")

    def _health(self, instance_key: str, *, running_ok: bool = False) -> bool:
        """The instance's health follows what the watches show of every object it owns, when they
        show all of it (and it is not syncing, unless RUNNING_OK); True when they did."""
        entry = self.instances.get(instance_key)
        row = self.board.get(instance_key)
        if entry is None or row is None or (instance_key in self.queue.running and not running_ok):
            return False
        cluster = self.clusters.get(entry[0].cluster)
        health = cluster.drift.settled(instance_key) if cluster is not None else None
        if health is None:
            return False
        if health != row.health:
            row.health = health
            if self.metrics:
                self.metrics.set_instance(entry[0].app, entry[0].cluster, row.sync_status,
                                          health.status.value)
        return True

    def _hold(self, instance_key: str, key: ResourceKey) -> None:
        """Drift seen while the instance syncs: its own sync may be the cause; decide after it."""
        self._held.setdefault(instance_key, set()).add(key)

    def _restarted(self, task: str, error: BaseException | None) -> None:
        role, _, rest = task.partition("/")
        cluster = rest.split("/")[0] if role == "watch" else ""
        if self.metrics:
            self.metrics.task_restarted(role)
            if cluster:
                self.metrics.watch_reconnected(cluster)
                self.metrics.set_cluster_connected(cluster, False)
        watched = self.clusters.get(cluster)
        if watched is not None and isinstance(error, ClusterError):
            kind = "ClusterUnreachable" if isinstance(error, ClusterUnreachable) else "WatchError"
            watched.failing[task] = Condition(kind, "WatchFailed", str(error))
            self._watch_conditions(watched)
