"""The long-running engine: workers, pollers and watches around one queue.

Every instance is reconciled by a bounded pool of workers pulling from the
priority queue; one poller per repository turns moved refs into work (and a
repository that does not answer into a condition on its instances); the
watches (``watches``) feed the drift controller (``driftcontrol``), which
turns drift into repairs or work; each finished reconcile is reported
(``report``) and reschedules itself (resync, retry with backoff, or the moment
a sync window that stopped it opens: ``windows``). Each
reconcile is one trace. The daemon knows the edges only through the ports it
is given, and decides nothing about drift or how a pass is reported.
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import structlog

from gitopsd.core.backoff import retries_exhausted, retry_delay
from gitopsd.core.health import assess as builtin_assess
from gitopsd.core.health.custom import Assess
from gitopsd.core.notices import NoticeGate
from gitopsd.core.policy.projects import cluster_scope, scope_of
from gitopsd.engine.applied import Applied
from gitopsd.engine.clock import Clock, MonotonicClock
from gitopsd.engine.desired import DesiredState
from gitopsd.engine.driftcontrol import DriftController
from gitopsd.engine.lease import ClusterLease, Leases
from gitopsd.engine.notices import Notices
from gitopsd.engine.pollers import Pollers
from gitopsd.engine.ports import (
    ClusterHandle,
    EventPort,
    GitPort,
    HistoryPort,
    IncidentPort,
    MetricsPort,
    NotifyPort,
    NoTracing,
    TracingPort,
)
from gitopsd.engine.queue import Item, Priority, QueueClosed, WorkQueue
from gitopsd.engine.removal import Remover, sweep_forever
from gitopsd.engine.report import Reporter, Timing, finish_span, reconcile_span
from gitopsd.engine.requests import ROLLBACK, DaemonRequests
from gitopsd.engine.status import Condition, StatusBoard
from gitopsd.engine.supervisor import Supervisor
from gitopsd.engine.sync import Comparison, Reconciler, SyncRequest
from gitopsd.engine.watches import Watches
from gitopsd.engine.windows import Closed, NoWindows, WindowGate, WindowSource
from gitopsd.engine.writers import Writers, join, membership_for
from gitopsd.model import (
    AppInstance,
    Application,
    ChangeAction,
    ConditionReason,
    ConditionType,
    ErrorKind,
    Fleet,
    OutcomeKind,
    SyncStatus,
)

log = structlog.get_logger("gitopsd.daemon")
TRIGGERS = {Priority.MANUAL: "api", Priority.DRIFT: "drift", Priority.REVISION: "poll",
            Priority.RESYNC: "resync"}
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
    # one writer per fleet and cluster: who this daemon is, and its Lease's timing
    identity: str = field(default_factory=lambda: f"gitopsd-{uuid.uuid4().hex[:12]}")
    lease_duration: float = 15.0
    lease_renew: float = 5.0


@dataclass
class _Cluster:
    handle: ClusterHandle
    reconciler: Reconciler


class Daemon(DaemonRequests):
    def __init__(self, fleet: Fleet, clusters: Mapping[str, ClusterHandle], git: GitPort,
                 desired: DesiredState, *, metrics: MetricsPort | None = None,
                 history: HistoryPort | None = None, settings: Settings | None = None,
                 clock: Clock | None = None, tracing: TracingPort | None = None,
                 assess: Assess = builtin_assess, windows: WindowSource | None = None,
                 wall: Callable[[], float] = time.time, notify: NotifyPort | None = None,
                 events: EventPort | None = None, notice_gate: NoticeGate | None = None,
                 incidents: IncidentPort | None = None, applied: Applied | None = None) -> None:
        self.fleet = fleet
        self.applied = applied if applied is not None else Applied()
        self.tracing = tracing or NoTracing()
        self.assess = assess
        self.git = git
        self.desired = desired
        self.metrics = metrics
        self.history = history
        self.settings = settings or Settings()
        self.clock = clock or MonotonicClock()
        self.queue = WorkQueue(clock=self.clock, per_cluster=self.settings.per_cluster)
        self.supervisor = Supervisor(clock=self.clock, on_restart=self._restarted)
        self.board = StatusBoard()
        self.notices = Notices(fleet, clock=self.clock, notify=notify, events=events, wall=wall,
                               inventory_namespace=self.settings.inventory_namespace, gate=notice_gate,
                               incidents=incidents)
        self.reporter = Reporter(self.board, metrics=metrics, history=history, notices=self.notices)
        self.gate = WindowGate(windows or NoWindows(), wall=wall)  # sync windows, on the wall clock
        self.instances: dict[str, tuple[AppInstance, Application]] = {
            i.key: (i, fleet.application(i.app)) for i in fleet.instances}
        self.pollers = Pollers(git=git, queue=self.queue, clock=self.clock, metrics=metrics,
                               instances=lambda: [i for i, _ in self.instances.values()],
                               jitter=self.settings.poll_jitter, available=self._source)
        # a shared fleet (settings.coordination) splits instances between members instead of
        # giving each cluster to one daemon
        self.membership = membership_for(fleet, {n: h.objects for n, h in clusters.items()},
                                         identity=self.settings.identity, clock=self.clock,
                                         metrics=metrics)
        self.leases = Leases({} if self.membership else {name: ClusterLease(
            handle.objects, cluster=name, fleet=fleet.name, namespace=self.settings.inventory_namespace,
            identity=self.settings.identity, clock=self.clock, duration=self.settings.lease_duration,
            renew=self.settings.lease_renew) for name, handle in clusters.items()})
        self.writers = Writers(self.leases, self.membership)
        self.drift = DriftController(fleet=fleet.name, instances=self.instances, queue=self.queue,
                                     reporter=self.reporter, clock=self.clock, metrics=metrics,
                                     tracing=self.tracing, writable=self.writers.writable,
                                     lapsed=self.writers.lapsed, assess=assess,
                                     windows=self.gate)
        self.watches = Watches(fleet=fleet.name, supervisor=self.supervisor, drift=self.drift,
                               board=self.board, instances=self.instances, metrics=metrics)
        self._full_at: dict[str, float] = {}  # instance -> time of its last full reconcile
        self._attempted: set[str] = set()
        self._failed_attempt: dict[str, object] = {}  # the span a retry links to
        self.clusters: dict[str, _Cluster] = {}
        for name, handle in clusters.items():
            reconciler = Reconciler(fleet=fleet.name, cluster=handle.objects, desired=desired,
                                    inventory_namespace=self.settings.inventory_namespace,
                                    clock=self.clock, health_poll=self.settings.health_poll,
                                    tracing=self.tracing, assess=assess,
                                    writable=self.writers.writable,
                                    scopes=functools.partial(scope_of, fleet),
                                    windows=self.gate.closed)
            self.clusters[name] = _Cluster(handle, reconciler)
            self.drift.add_cluster(name, handle.objects)
            self.watches.add_cluster(handle)
        for inst, _ in self.instances.values():
            self.board.ensure(inst)
        for bad in fleet.rejected_applications:  # shown, never run, never removed
            self.board.reject(bad.name, bad.cluster or "-", bad.reasons, bad.summary)

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        await self.leases.acquire(timeout=self.settings.lease_renew)
        if self.membership is not None:
            await join(self.membership, self.supervisor, self._gained, self._lost)
        for name, lease in self.leases.by_cluster.items():
            lease.on_acquired = functools.partial(self._lease_gained, name)
            self.supervisor.spawn(f"lease/{name}", lease.run)
        for key, (inst, _) in sorted(self.instances.items()):
            self.queue.add(key, inst.cluster, Priority.REVISION, reason="start")
        for n in range(self.settings.workers):
            self.supervisor.spawn(f"worker/{n}", self._worker)
        if self.notices.timed:
            self.supervisor.spawn("notices", functools.partial(
                self.notices.watch_forever, self.board, lambda: [i for i, _ in self.instances.values()]))
        if any(self.gate.source.windows(i.app) for i, _ in self.instances.values()):
            self.supervisor.spawn("windows", functools.partial(
                self.gate.refresh_forever, lambda: [i for i, _ in self.instances.values()],
                self.metrics, self.clock))
        for repo in self.fleet.repositories:
            if any(i.source.repo == repo.name or any(r.repo == repo.name for r in i.source.refs)
                   for i, _ in self.instances.values()):
                self.pollers.add(repo)
                self.supervisor.spawn(f"poller/{repo.name}", self.pollers.runner(repo))
        if self.settings.remove_orphans:
            for name, cluster in self.clusters.items():
                remover = Remover(name, cluster.handle.objects, fleet=self.fleet.name,
                                  namespace=self.settings.inventory_namespace, clock=self.clock,
                                  history=self.history, poll=self.settings.health_poll,
                                  assess=self.assess,
                                  scopes=functools.partial(cluster_scope, self.fleet, name))
                apps = {i.app for i, _ in self.instances.values() if i.cluster == name}
                apps |= {bad.name for bad in self.fleet.rejected_applications}
                self.supervisor.spawn(f"removals/{name}", functools.partial(
                    sweep_forever, remover, apps, interval=self.settings.resync,
                    writable=functools.partial(self.writers.sweeps, name)))

    def _gained(self, keys: list[str]) -> None:
        """Instances this member now owns get a full pass (drift there was left to another)."""
        for key in keys:
            if key in self.instances:
                self.queue.add(key, self.instances[key][0].cluster, Priority.DRIFT, reason="owner")

    def _lost(self, keys: list[str]) -> None:
        """Instances another member now owns: a pass that writes nothing shows who does."""
        for key in keys:
            if key in self.instances:
                self.queue.add(key, self.instances[key][0].cluster, Priority.RESYNC, reason="owner")

    def _lease_gained(self, cluster: str) -> None:
        """The Lease of CLUSTER was gained after start: drift seen while another daemon (or
        nobody) held it was left alone, so every instance there gets a full pass."""
        for key, (inst, _) in sorted(self.instances.items()):
            if inst.cluster == cluster:
                self.queue.add(key, cluster, Priority.DRIFT, reason="lease acquired")

    async def stop(self, *, handover: bool = True) -> None:
        """Let running syncs finish within the grace period, then cancel everything. Sharing a
        fleet, stop acting and give the member Lease up first (HANDOVER), unless the daemon is
        replaced at once by one of the same identity (a reload), which renews the same Lease."""
        self.supervisor.stopping()
        self.queue.close()
        if self.membership is not None and handover:  # the others take over at their next renewal
            await self.membership.release()
        deadline = self.clock.now() + self.settings.stop_grace
        while self.queue.running and self.clock.now() < deadline:
            await self.clock.sleep(0.05)
        await self.drift.stop()
        await self.supervisor.stop()
        self.applied.flush()
        await self.leases.release()

    def ready(self) -> tuple[bool, str]:
        missing = len(self.instances) - len(self._attempted)
        return (missing <= 0, "ok" if missing <= 0 else f"{missing} instance(s) not reconciled yet")

    # -- workers ----------------------------------------------------------------

    async def _worker(self) -> None:
        while True:
            try:
                item = await self.queue.get()
            except QueueClosed:
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
        if ROLLBACK in item.reasons and item.commit:  # the commit itself, fetched if need be
            inst = replace(inst, source=replace(inst.source, target_revision=item.commit))
        if self._settled(item) or self._elsewhere(item, inst):
            return
        self._full_at[item.key] = self.clock.now()
        started_wall, started = time.time(), self.clock.now()
        retry = item.priority is Priority.RESYNC and "retry" in item.reasons
        trigger = "retry" if retry else "webhook" if "webhook" in item.reasons else TRIGGERS[item.priority]
        previous = self._failed_attempt.pop(item.key, None)
        links = [previous] if retry and previous is not None else []
        # a poll's commit rides on its item; other passes take the poll's latest view of the ref,
        # except a manual sync, which resolves the ref afresh
        commit = item.commit if item.priority is Priority.MANUAL else \
            item.commit or self.pollers.head(inst.source.repo, inst.source.target_revision)
        request = SyncRequest(manual=item.priority is Priority.MANUAL, commit=commit,
                              applied=self.applied.get(item.key))
        with reconcile_span(self.tracing, inst, trigger, links=links) as span:
            done = await cluster.reconciler.reconcile(
                inst, app, request, expect=functools.partial(self._expect, inst, app))
            trace_id = finish_span(span, done.outcome)
            if done.kind is OutcomeKind.FAILED:
                self._failed_attempt[item.key] = span.context()
        outcome = done.outcome
        self._attempted.add(item.key)
        if not inst.source.chart:  # chart sources are resolved at each pass, not polled
            self.pollers.passed(self.fleet.repository(inst.source.repo), outcome)
        if self.metrics:
            self.metrics.set_cluster_connected(inst.cluster, outcome.error != ErrorKind.CLUSTER_UNREACHABLE)
            if outcome.error == ErrorKind.SIGNATURE_INVALID:
                self.metrics.signature_invalid(inst.source.repo, inst.app, inst.cluster)
        timing = Timing(started_wall, self.clock.now() - started)
        row = await self.reporter.finished(inst, outcome, timing, trigger=trigger, trace=trace_id, full=True)
        if outcome.kind is OutcomeKind.SYNCED and done.comparison is not None:
            self.applied.set(item.key, done.comparison.source_key)
        if done.closed is not None:
            self.board.mark(item.key, condition=done.closed.condition)
        self._requeue(item, app, outcome.kind, row.attempts, done.closed)
        self.drift.passed(inst, done.comparison, [c.key for c in outcome.changes if c.action in _WROTE])

    def _settled(self, item: Item) -> bool:
        """A periodic resync of an instance the watches show fully in place needs no API call."""
        if item.priority is not Priority.RESYNC or item.reasons - {"resync"}:
            return False
        row = self.board.get(item.key)
        if row is None or row.sync_status != SyncStatus.SYNCED or row.last_result != OutcomeKind.SYNCED.value:
            return False
        inst = self.instances[item.key][0]
        head = item.commit or self.pollers.head(inst.source.repo, inst.source.target_revision)
        if head is None or head != row.revision:
            return False  # a poll saw the ref elsewhere (or none has answered yet): compare
        if self.clock.now() - self._full_at.get(item.key, float("-inf")) > self.settings.hard_resync:
            return False
        if not self.drift.health(item.key, running_ok=True):
            return False
        self.queue.done(item, requeue_after=self.settings.resync, reason="resync")
        return True

    def _elsewhere(self, item: Item, inst: AppInstance) -> bool:
        """Another daemon holds this fleet's Lease on the instance's cluster (or, sharing the fleet,
        owns the instance): write nothing, say who, and claim no sync status this daemon did not
        compare (whatever it last saw may have changed under the other writer)."""
        if self.writers.writable(inst):
            self.board.clear(item.key, ConditionType.LEASE_HELD_ELSEWHERE)
            return False
        message, recheck = self.writers.elsewhere(
            inst, self.fleet.name, lease_renew=self.settings.lease_renew, resync=self.settings.resync)
        self.board.mark(item.key, sync_status=SyncStatus.UNKNOWN, condition=Condition(
            ConditionType.LEASE_HELD_ELSEWHERE, ConditionReason.ANOTHER_WRITER, message))
        self.reporter.changed(inst)
        self.applied.drop(item.key)  # the other writer may sync: taking it back syncs once
        self._attempted.add(item.key)
        self.queue.done(item, requeue_after=recheck, reason="lease", commit=item.commit)
        return True

    def _requeue(self, item: Item, app: Application, kind: OutcomeKind, attempts: int,
                 closed: Closed | None = None) -> None:
        if kind is OutcomeKind.FAILED:
            retry = app.sync_policy.retry
            if not retries_exhausted(attempts - 1, retry):
                delay = retry_delay(attempts - 1, retry.backoff, jitter=0.1, rand=random.random())
                self.queue.done(item, requeue_after=delay, backoff=True, reason="retry")
                return
            self.board.mark(item.key, condition=Condition(
                ConditionType.RETRIES_EXHAUSTED, ConditionReason.STALLED,
                f"gave up after {attempts} attempts; waiting for a new revision or a manual sync"))
            self.queue.done(item, requeue_after=self.settings.resync, backoff=True)
            return
        if closed is not None and closed.reopens_in is not None and closed.reopens_in < self.settings.resync:
            self.queue.done(item, requeue_after=closed.reopens_in, reason="window")  # the pending sync
            return
        self.queue.done(item, requeue_after=self.settings.resync, backoff=kind is OutcomeKind.STALLED,
                        reason="resync")

    def _source(self, repo: str, why: tuple[ConditionReason, str] | None) -> None:
        """Every instance of REPO carries SourceUnavailable while it does not answer (WHY)."""
        keys = [k for k, (i, _) in self.instances.items() if i.source.repo == repo]
        shown = {(c.reason, c.message) for k in keys if (row := self.board.get(k))
                 for c in row.conditions if c.type is ConditionType.SOURCE_UNAVAILABLE}
        if shown == ({why} if why else set()):
            return
        if why is None:
            log.info("source.available", repo=repo)
        elif not shown:
            log.warning("source.unavailable", repo=repo, reason=why[0].value, error=why[1][:300])
        self.board.replace(keys, (ConditionType.SOURCE_UNAVAILABLE,),
                           None if why is None else Condition(ConditionType.SOURCE_UNAVAILABLE, *why))

    def _expect(self, inst: AppInstance, app: Application, cmp: Comparison) -> None:
        """INST's desired state is what watch events are judged against; its kinds are watched."""
        self.watches.want(inst, self.drift.expect(inst, app, cmp))

    def _restarted(self, task: str, error: BaseException | None) -> None:
        role = task.partition("/")[0]
        if self.metrics:
            self.metrics.task_restarted(role)
        if role == "watch":
            self.watches.failed(task, error)
