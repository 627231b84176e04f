"""Notifications and cluster Events from what the report path sees, handed to their ports.

The ``Reporter`` calls ``finished`` for every finished pass (a full sync or a
self-heal repair) and ``changed`` when an instance's row changes between
passes; ``watch_forever`` raises on-out-of-sync once an instance has been out
of sync for ``outOfSyncAfter`` and re-sends open problems every ``reminder``.
Which notices go out is ``core.notices``'; this module only orders the steps,
hands notices and Events to ports that queue them, and hands the open
problems to the incident port whenever they change (and takes them back from
it once, at start). It never waits for a
receiver and never lets a notification error reach a sync.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from gitopsd.core.inventory import inventory_name
from gitopsd.core.notices import NoticeGate, PassFacts, raised, render, routes
from gitopsd.engine.clock import Clock
from gitopsd.engine.ports import EventPort, IncidentPort, NotifyPort
from gitopsd.engine.status import InstanceStatus, StatusBoard
from gitopsd.model import (
    AppInstance,
    ChangeAction,
    ErrorKind,
    Fleet,
    HealthStatus,
    Outcome,
    OutcomeKind,
    SyncStatus,
)
from gitopsd.model.notifications import ClusterEvent, Notice, Subscription, Trigger

__all__ = ["Notices"]

log = structlog.get_logger("gitopsd.notify")
_TICK = 5.0  # at most this long between looks at the board for overdue and reminded problems
# triggers of a failed pass: they name the revision that failed, not the one applied
FAILURES = (Trigger.SYNC_FAILED, Trigger.PRUNE_REFUSED, Trigger.SIGNATURE_INVALID,
            Trigger.CLUSTER_UNREACHABLE)


@dataclass
class _Seen:
    revision: str = ""
    health: str = ""
    out_since: float | None = None  # engine clock, when it was first seen out of sync


class Notices:
    def __init__(self, fleet: Fleet, *, clock: Clock, notify: NotifyPort | None = None,
                 events: EventPort | None = None, inventory_namespace: str = "gitopsd-system",
                 wall: Callable[[], float] = time.time, gate: NoticeGate | None = None,
                 incidents: IncidentPort | None = None) -> None:
        self.fleet = fleet
        self.config = fleet.notifications
        self.notify = notify if self.config.subscriptions or _has_own(fleet) else None
        self.events = events if self.config.events else None
        self.clock = clock
        self.wall = wall
        self.namespace = inventory_namespace
        # GATE outlives a daemon rebuilt on reload: what was told, and which problems are open
        self.gate = gate if gate is not None else NoticeGate()
        self.gate.rate_limit, self.gate.reminder = self.config.rate_limit, self.config.reminder
        self.incidents = incidents
        if incidents is not None and not self.gate.restored:
            self.gate.restore(incidents.load(), self.clock.now())
        self._saved = self.gate.version
        self._seen: dict[str, _Seen] = {}

    @property
    def timed(self) -> bool:
        """Whether anything here needs ``watch_forever`` (a subscription to on-out-of-sync, reminders)."""
        return self.notify is not None and (self.config.reminder > 0 or any(
            Trigger.OUT_OF_SYNC in s.triggers for s in self._subscriptions()))

    def finished(self, inst: AppInstance, outcome: Outcome, row: InstanceStatus, *, full: bool,
                 trace: str) -> None:
        """A pass over INST ended in OUTCOME (ROW: its board row after it)."""
        try:
            self._events(inst, outcome, full)
            first = inst.key not in self._seen
            seen = self._seen.setdefault(inst.key, _Seen(revision=row.revision))
            facts = PassFacts(full=full, finished=True, result=outcome.kind.value, error=outcome.error,
                              wrote=outcome.changes.wrote, revision=row.revision,
                              previous_revision=seen.revision, health=row.health.status.value,
                              previous_health=seen.health, sync_status=row.sync_status.value)
            if full and outcome.kind is OutcomeKind.SYNCED and outcome.changes.wrote \
                    and (first or row.revision != seen.revision):
                self.gate.revision_applied(inst.app, inst.cluster, row.revision)
            subject = ""
            if not full and len(outcome.changes) == 1:
                subject = str(next(iter(outcome.changes)).key)
            self._after(inst, row, raised(facts), outcome.message, trace, subject)
        except Exception as e:  # a notification bug must never fail a pass
            log.error("notify.crashed", app=inst.app, cluster=inst.cluster, error=f"{type(e).__name__}: {e}")

    def changed(self, inst: AppInstance, row: InstanceStatus) -> None:
        """INST's row changed between passes (health seen by the watches, drift)."""
        try:
            seen = self._seen.setdefault(inst.key, _Seen(revision=row.revision))
            facts = PassFacts(full=False, finished=False, result="", error="", wrote=False,
                              revision=row.revision, previous_revision=seen.revision,
                              health=row.health.status.value, previous_health=seen.health,
                              sync_status=row.sync_status.value)
            self._after(inst, row, raised(facts), row.health.message or row.last_message, row.last_trace_id)
        except Exception as e:
            log.error("notify.crashed", app=inst.app, cluster=inst.cluster, error=f"{type(e).__name__}: {e}")

    def _after(self, inst: AppInstance, row: InstanceStatus, triggers: list[Trigger], message: str,
               trace: str, subject: str = "") -> None:
        seen = self._seen[inst.key]
        now = self.clock.now()
        for trigger in triggers:
            self._send(self._notice(inst, row, trigger, message, trace, subject), now)
        if (revision := self.gate.deployed(inst.app, inst.cluster, row.health.status.value)) is not None:
            self._send(self._notice(inst, row, Trigger.DEPLOYED, f"{revision[:12]} is Healthy", trace), now)
        if row.sync_status == SyncStatus.OUT_OF_SYNC:
            seen.out_since = now if seen.out_since is None else seen.out_since
        else:
            seen.out_since = None
        if row.sync_status == SyncStatus.SYNCED and row.health.status is not HealthStatus.DEGRADED \
                and row.last_result == OutcomeKind.SYNCED.value:
            for notice in self.gate.resolve(inst.app, inst.cluster, revision=row.revision,
                                            health=row.health.status.value, at=self.wall(), now=now):
                self._route(notice)
        seen.revision, seen.health = row.revision, row.health.status.value
        self._keep()

    def _keep(self) -> None:
        """Hand the open problems to the incident port if they changed since it last had them."""
        if self.incidents is not None and self.gate.version != self._saved:
            self._saved = self.gate.version
            self.incidents.save(self.gate.open_notices())

    def _notice(self, inst: AppInstance, row: InstanceStatus, trigger: Trigger, message: str,
                trace: str, subject: str = "") -> Notice:
        app = self.fleet.application(inst.app)
        revision = row.failed_revision if trigger in FAILURES and row.failed_revision \
            else row.last_revision or row.revision
        return Notice(trigger=trigger, fleet=self.fleet.name, app=inst.app, cluster=inst.cluster,
                      project=app.project, revision=revision, message=message[:1000],
                      at=self.wall(), sync_status=row.sync_status.value,
                      health=row.health.status.value, subject=subject, trace_id=trace)

    def _send(self, notice: Notice, now: float) -> None:
        if self.notify is None or not self._subscribed(notice):
            return
        if self.gate.admit(notice, now):
            self._route(notice)

    def _subscribed(self, notice: Notice) -> bool:
        return bool(routes(self.config, notice, self._own(notice.app)))

    def _route(self, notice: Notice) -> None:
        if self.notify is None:
            return
        text = render(self.config, notice)
        for service, recipients in routes(self.config, notice, self._own(notice.app)).items():
            self.notify.deliver(service, recipients, notice, text)

    def _own(self, app: str) -> tuple[Subscription, ...]:
        found = next((a for a in self.fleet.applications if a.name == app), None)
        return found.subscriptions if found is not None else ()

    def _subscriptions(self) -> list[Subscription]:
        return [*self.config.subscriptions, *(s for a in self.fleet.applications for s in a.subscriptions)]

    def _events(self, inst: AppInstance, outcome: Outcome, full: bool) -> None:
        if self.events is None:
            return
        for event in cluster_events(inst, outcome, full=full):
            self.events.record(event, namespace=self.namespace, inventory=inventory_name(inst.app))

    def tick(self, board: StatusBoard, instances: list[AppInstance]) -> None:
        """One look at the board: on-out-of-sync for instances out of sync too long, and reminders."""
        now = self.clock.now()
        for inst in instances:
            seen = self._seen.get(inst.key)
            row = board.get(inst.key)
            if seen is None or row is None or seen.out_since is None:
                continue
            if row.sync_status != SyncStatus.OUT_OF_SYNC:
                continue
            if now - seen.out_since >= self.config.out_of_sync_after:
                since = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                      time.gmtime(self.wall() - (now - seen.out_since)))
                self._send(self._notice(inst, row, Trigger.OUT_OF_SYNC, since, row.last_trace_id), now)
        for notice in self.gate.reminders(now, self.wall()):
            self._route(notice)
        self._keep()

    async def watch_forever(self, board: StatusBoard, instances: Callable[[], list[AppInstance]]) -> None:
        """``tick`` every few seconds (often enough for the shortest outOfSyncAfter), forever."""
        interval = max(0.5, min(_TICK, self.config.out_of_sync_after / 4,
                                self.config.reminder / 4 if self.config.reminder else _TICK))
        while True:
            await self.clock.sleep(interval)
            self.tick(board, instances())


def _has_own(fleet: Fleet) -> bool:
    return any(a.subscriptions for a in fleet.applications)


def cluster_events(inst: AppInstance, outcome: Outcome, *, full: bool) -> list[ClusterEvent]:
    """The Events a pass over INST that ended in OUTCOME leaves in its cluster: a sync that wrote or
    failed, a refused prune, and each object a self-heal repair put back."""
    def event(type_: str, reason: str, action: str, note: str) -> ClusterEvent:
        return ClusterEvent(app=inst.app, cluster=inst.cluster, type=type_, reason=reason,
                            action=action, note=note[:1000], revision=outcome.revision)

    short = outcome.revision[:12]
    if outcome.error == ErrorKind.CLUSTER_UNREACHABLE:
        return []  # it could not be written there
    if not full:
        return [event("Normal", "DriftReverted", "SelfHeal", f"{inst.app}: {c.key} {c.action.value} "
                      f"back to {short} (changed outside gitopsd)")
                for c in outcome.changes if c.action in (ChangeAction.CREATED, ChangeAction.CONFIGURED)]
    if outcome.error == ErrorKind.PRUNE_REFUSED:
        return [event("Warning", "PruneRefused", "Prune", f"{inst.app} at {short}: {outcome.message}")]
    if outcome.kind in (OutcomeKind.FAILED, OutcomeKind.STALLED):
        return [event("Warning", "SyncFailed", "Sync",
                      f"{inst.app} at {short or '(unresolved)'}: {outcome.message}")]
    if outcome.changes.wrote:
        counts = ", ".join(f"{n} {a}" for a, n in sorted(outcome.changes.summary().items()))
        return [event("Normal", "SyncSucceeded", "Sync", f"{inst.app} synced to {short}: {counts}")]
    return []
