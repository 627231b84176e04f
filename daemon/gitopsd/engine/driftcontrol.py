"""The drift controller: what happens between a watch event and a repair.

It owns one drift detector per cluster, the repairer, the self-heal backoff
and the drift held back while an instance syncs. The daemon tells it of each
comparison before a pass writes (``expect``) and of each finished pass
(``passed``); watch events go straight to the detectors, which call back
here. Drift of an instance without self-heal marks it OutOfSync (Missing
for a deleted object); with self-heal, a targeted repair is scheduled when
the object can be repaired alone, else a full reconcile is queued at drift
priority; so is drift beyond ``MAX_SINGLE_REPAIRS`` objects of one instance at a
time. Until the repair landed, the instance is OutOfSync and says why. A drift
counts once: while its repair waits or writes, further watch events of the
object (its controller's status writes, say) are the same drift.
Only drift that undoes a repair within moments is a fight and moves the
self-heal backoff; a later edit is repaired at once. While a repair waits out
the backoff, the instance is OutOfSync with the time of the next attempt. Drift
on a cluster whose Lease another daemon holds is left to that daemon (which
sees the same event). While a sync window stops automated syncs (``windows``),
drift is shown, not repaired: the instance is OutOfSync with a condition
naming the window, and a full pass is queued for the moment it opens. The
instance's health follows what the watches show.
This module
never talks to a cluster itself (the repairer does) and never decides what a
full sync does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

import structlog

from gitopsd.core.backoff import SelfHealBackoff, SelfHealDecision
from gitopsd.core.health import assess as builtin_assess
from gitopsd.core.health.custom import Assess
from gitopsd.engine.clock import Clock
from gitopsd.engine.drift import DriftDetector
from gitopsd.engine.ports import ClusterPort, MetricsPort, TracingPort
from gitopsd.engine.queue import Priority, WorkQueue
from gitopsd.engine.report import Reporter
from gitopsd.engine.selfheal import Repairer, repairable
from gitopsd.engine.status import Condition
from gitopsd.engine.sync import Comparison
from gitopsd.engine.windows import WindowGate
from gitopsd.model import (
    AppInstance,
    Application,
    ConditionReason,
    ConditionType,
    Health,
    HealthStatus,
    ResourceKey,
    SyncStatus,
)

log = structlog.get_logger("gitopsd.daemon")
# Objects of one instance repaired one by one at a time; drift beyond them (a cluster restored
# empty, a namespace deleted) is repaired by one full pass, which applies them together.
MAX_SINGLE_REPAIRS = 8
Kinds = set[tuple[str, str]]  # (apiVersion, kind)
Slot = tuple[str, ResourceKey]  # (instance key, object)


class DriftController:
    def __init__(self, *, fleet: str, instances: Mapping[str, tuple[AppInstance, Application]],
                 queue: WorkQueue, reporter: Reporter, clock: Clock,
                 metrics: MetricsPort | None = None, tracing: TracingPort | None = None,
                 writable: Callable[[AppInstance], bool] = lambda inst: True,
                 lapsed: Callable[[AppInstance], bool] = lambda inst: False,
                 assess: Assess = builtin_assess, windows: WindowGate | None = None) -> None:
        self.fleet = fleet
        self.assess = assess
        self.instances = instances
        self.queue = queue
        self.reporter = reporter
        self.board = reporter.board
        self.clock = clock
        self.metrics = metrics
        self.writable = writable  # whether this daemon may write for an instance (Lease, ownership)
        self.lapsed = lapsed  # whether it may not only until its own Lease is back (it repairs later)
        self.windows = windows  # sync windows: self-heal writes only while they allow automated syncs
        self.repairer = Repairer(clock=clock, queue=queue, reporter=reporter, held=self, fleet=fleet,
                                 tracing=tracing, on_finished=self._repaired, writable=writable,
                                 stopped=self._window_stops)
        self.backoff = SelfHealBackoff()
        self._detectors: dict[str, DriftDetector] = {}
        self._objects: dict[str, ClusterPort] = {}
        self._repairs: dict[Slot, list[float]] = {}  # repairs undone in a row, per object
        self._landed: dict[Slot, float] = {}  # when the last repair of each object landed
        self._queued: dict[str, set[ResourceKey]] = {}  # drift a queued full pass repairs
        self._held: dict[str, set[ResourceKey]] = {}  # drift seen while the instance synced

    def add_cluster(self, name: str, objects: ClusterPort) -> DriftDetector:
        detector = DriftDetector(name, self._drift, self._watched_health, fleet=self.fleet,
                                 assess=self.assess)
        self._detectors[name] = detector
        self._objects[name] = objects
        return detector

    def detector(self, cluster: str) -> DriftDetector:
        return self._detectors[cluster]

    async def stop(self) -> None:
        await self.repairer.stop()

    # -- passes -----------------------------------------------------------------

    def expect(self, inst: AppInstance, app: Application, cmp: Comparison) -> Kinds:
        """A pass compared INST: its desired state is what watch events are judged against from
        now on. Returns the kinds it wants watched."""
        return self._detectors[inst.cluster].expect(inst.key, cmp.tracked, app.ignore_differences,
                                                    cmp.live)

    def passed(self, inst: AppInstance, cmp: Comparison | None, written: Iterable[ResourceKey]) -> None:
        """A pass over INST ended, having written WRITTEN: what the writes returned stands, drift
        held while it ran is decided now, and health follows the watches again."""
        detector = self._detectors[inst.cluster]
        if cmp is not None:
            detector.confirm(inst.key, cmp.live, list(written))
        held = self._held.pop(inst.key, set())
        for key in self._queued.pop(inst.key, set()) - held:
            self._landed[(inst.key, key)] = self.clock.now()  # this pass was their repair
        for key in sorted(held):
            if detector.body(key) is not None:
                self._drift(inst.key, key, "changed during a sync")
        self.health(inst.key)

    def hold(self, instance_key: str, key: ResourceKey) -> None:
        """Drift seen while the instance syncs: its own sync may be the cause; decide after it."""
        self._held.setdefault(instance_key, set()).add(key)

    def awaiting(self, instance_key: str, besides: ResourceKey) -> bool:
        """True while drift of the instance other than BESIDES waits: another object's repair, or
        a full pass queued to repair it."""
        return (self.repairer.others(instance_key, besides)
                or bool(self._queued.get(instance_key, set()) - {besides}))

    # -- health -----------------------------------------------------------------

    def health(self, instance_key: str, *, running_ok: bool = False) -> bool:
        """The instance's health follows what the watches show of every object it owns, when they
        show all of it (and it is not syncing, unless RUNNING_OK); True when they did."""
        entry = self.instances.get(instance_key)
        row = self.board.get(instance_key)
        if entry is None or row is None or (instance_key in self.queue.running and not running_ok):
            return False
        detector = self._detectors.get(entry[0].cluster)
        health = detector.settled(instance_key) if detector is not None else None
        if health is None:
            return False
        if health != row.health:
            row.health = health
            self.reporter.changed(entry[0])
        return True

    def _watched_health(self, instance_key: str) -> None:
        self.health(instance_key)

    # -- drift ------------------------------------------------------------------

    def _drift(self, instance_key: str, key: ResourceKey, reason: str) -> None:
        entry = self.instances.get(instance_key)
        if entry is None:
            return
        if instance_key in self.queue.running:
            self.hold(instance_key, key)
            return
        inst, app = entry
        policy = app.sync_policy
        if policy.automated and policy.self_heal and (
                self.repairer.repairing(instance_key, key) or key in self._queued.get(instance_key, ())):
            return  # the same drift: its repair is already on its way
        if self.metrics:
            self.metrics.drift_detected(inst.app, inst.cluster)
        log.info("drift.detected", app=inst.app, cluster=inst.cluster, object=str(key), reason=reason)
        if not (policy.automated and policy.self_heal):
            self._out_of_sync(inst, key, reason)
            return
        if not self.writable(inst):
            if self.lapsed(inst):  # this daemon repairs it once it may write there again
                self._out_of_sync(inst, key, reason, "; repaired once this daemon's Lease is held again")
            return  # else the daemon holding the cluster's Lease (or owning the instance) repairs it
        if self._window_stops(inst, key, reason):
            return
        decision = self._next_repair(inst, key)
        delay = decision.delay
        if delay > 0:
            self._waiting(inst, key, reason, decision)
        else:
            self._out_of_sync(inst, key, reason, "; self-heal is repairing it")
        detector = self._detectors[inst.cluster]
        body = detector.body(key)
        if body is not None and repairable(body, app, key) and (
                self.repairer.count(instance_key) < MAX_SINGLE_REPAIRS):
            self.repairer.schedule(inst, self._objects[inst.cluster], key, detector, delay=delay,
                                   deleted=reason == "deleted")
            if self.repairer.repairing(instance_key, key):
                return
        self._queued.setdefault(instance_key, set()).add(key)
        self.queue.add(instance_key, inst.cluster, Priority.DRIFT, delay=delay, reason=f"drift {key}")

    def _repaired(self, instance_key: str, key: ResourceKey, landed: bool) -> None:
        """A repair task ended; LANDED when it wrote. One that did not has handed KEY to a full
        pass (queued, or the running one), which repairs it."""
        if landed:
            self._landed[(instance_key, key)] = self.clock.now()
        elif instance_key not in self.queue.running:
            self._queued.setdefault(instance_key, set()).add(key)

    def _waiting(self, inst: AppInstance, key: ResourceKey, reason: str, decision: SelfHealDecision) -> None:
        """A repair waits out the backoff: until then the instance is not in sync, and one
        condition says why and when the next attempt is (SelfHealFight in a fight, else
        OutOfSync)."""
        at = datetime.fromtimestamp(time.time() + decision.delay, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        when = f"next repair at {at} (in {decision.delay:.0f}s)"
        condition = Condition(
            ConditionType.SELF_HEAL_FIGHT, ConditionReason.REPEATED_DRIFT,
            f"{key} was changed outside gitopsd right after each of {decision.streak} repairs in a row; "
            f"{when}") if decision.fighting else Condition(
            ConditionType.OUT_OF_SYNC, ConditionReason.SELF_HEAL_BACKOFF,
            f"{key} {reason} outside gitopsd right after a repair; self-heal backoff: {when}")
        self.board.mark(inst.key, sync_status=SyncStatus.OUT_OF_SYNC, condition=condition)
        self.reporter.changed(inst)

    def _window_stops(self, inst: AppInstance, key: ResourceKey, reason: str = "changed") -> bool:
        """True when a sync window stops self-heal of INST now: the drift of KEY is shown with the
        window's condition, and a full pass is queued for the moment the window opens."""
        closed = self.windows.closed(inst) if self.windows is not None else None
        if closed is None:
            return False
        log.info("selfheal.window_closed", app=inst.app, cluster=inst.cluster, object=str(key),
                 reopens_in=closed.reopens_in)
        self._out_of_sync(inst, key, reason)
        self.board.mark(inst.key, condition=closed.condition)
        self._queued.setdefault(inst.key, set()).add(key)
        if closed.reopens_in is not None:
            self.queue.add(inst.key, inst.cluster, Priority.DRIFT, delay=closed.reopens_in,
                           reason=f"drift {key}")
        return True

    def _out_of_sync(self, inst: AppInstance, key: ResourceKey, reason: str, then: str = "") -> None:
        self.board.mark(inst.key, sync_status=SyncStatus.OUT_OF_SYNC, condition=Condition(
            ConditionType.OUT_OF_SYNC, ConditionReason.DRIFT_DETECTED,
            f"{key} {reason} outside gitopsd{then}"))
        row = self.board.get(inst.key)
        if reason == "deleted" and row is not None:
            row.health = Health.worst([row.health, Health(HealthStatus.MISSING, f"{key} is missing")])
        self.reporter.changed(inst)

    def _next_repair(self, inst: AppInstance, key: ResourceKey) -> SelfHealDecision:
        """The self-heal backoff's delay before repairing KEY again. Drift that undoes the last
        repair within moments is a fight and extends the streak; any other drift is a new edit,
        which starts a new one."""
        now = self.clock.now()
        slot = (inst.key, key)
        repairs = self._repairs.setdefault(slot, [])
        landed = self._landed.get(slot)
        if self.backoff.undoes(landed, now):
            assert landed is not None
            repairs.append(landed)
            del repairs[:-10]
        else:
            repairs.clear()
        decision = self.backoff.next_repair(repairs, now)
        if not decision.fighting:
            self.board.clear(inst.key, ConditionType.SELF_HEAL_FIGHT)
        elif self.metrics:
            self.metrics.selfheal_fight(inst.app, inst.cluster)
        return decision
