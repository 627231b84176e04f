"""Notices from the report path on a virtual clock: out of sync too long, deployed, resolution, Events."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

import pytest

from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.notices import Notices
from gitopsd.engine.status import StatusBoard
from gitopsd.model import (
    Change,
    ChangeAction,
    ChangeSet,
    Health,
    HealthStatus,
    Outcome,
    OutcomeKind,
    ResourceKey,
    SyncStatus,
)
from gitopsd.model.notifications import (
    ClusterEvent,
    Notice,
    Notifications,
    NotificationService,
    ServiceType,
    Subscription,
    Trigger,
)
from tests.engine.fakefleet import fleet_on

KEY = ResourceKey("", "ConfigMap", "web", "settings")


@dataclass
class Sink:
    notices: list[tuple[str, Notice, str]] = field(default_factory=list)
    events: list[tuple[ClusterEvent, str, str]] = field(default_factory=list)

    def deliver(self, service: str, recipients: tuple[str, ...], notice: Notice, text: str) -> None:
        self.notices.append((service, notice, text))

    def record(self, event: ClusterEvent, *, namespace: str, inventory: str) -> None:
        self.events.append((event, namespace, inventory))

    def told(self) -> list[tuple[str, bool]]:
        return [(n.trigger.value, n.resolved) for _, n, _ in self.notices]


def _notices(clock: VirtualClock, sink: Sink) -> tuple[Notices, StatusBoard]:
    config = Notifications(
        services=(NotificationService("pager", ServiceType.PAGERDUTY),),
        subscriptions=(Subscription(tuple(Trigger), ("pager",)),), out_of_sync_after=600.0)
    fleet = replace(fleet_on(), notifications=config)
    return Notices(fleet, clock=clock, notify=sink, events=sink, wall=lambda: 1_700_000_000.0), StatusBoard()


def _synced(health: HealthStatus = HealthStatus.HEALTHY, revision: str = "r1", wrote: bool = True) -> Outcome:
    changes = ChangeSet((Change(KEY, ChangeAction.CREATED),)) if wrote else ChangeSet()
    return Outcome(OutcomeKind.SYNCED, "1 created", revision, changes, Health(health))


@pytest.mark.asyncio
async def test_out_of_sync_is_told_after_its_duration_and_resolved_by_a_sync() -> None:
    """on-out-of-sync fires once the instance has been out of sync for outOfSyncAfter, once, and a
    later successful sync resolves it."""
    clock, sink = VirtualClock(), Sink()
    notices, board = _notices(clock, sink)
    inst = fleet_on().instances[0]
    row = board.record(inst, _synced(wrote=False), started=0, duration=1)
    notices.finished(inst, _synced(wrote=False), row, full=True, trace="t")
    board.mark(inst.key, sync_status=SyncStatus.OUT_OF_SYNC)
    notices.changed(inst, row)
    task = asyncio.ensure_future(notices.watch_forever(board, lambda: [inst]))
    try:
        await clock.advance(595)
        assert sink.told() == []
        await clock.advance(10)
        assert sink.told() == [("on-out-of-sync", False)]
        await clock.advance(1200)
        assert sink.told() == [("on-out-of-sync", False)]
        row = board.record(inst, _synced(), started=0, duration=1)
        notices.finished(inst, _synced(), row, full=True, trace="t")
        assert sink.told()[-1] == ("on-out-of-sync", True)
    finally:
        task.cancel()


@pytest.mark.asyncio
async def test_deployed_waits_for_healthy_and_events_follow_each_pass() -> None:
    """A writing sync is on-sync-succeeded and an Event at once; on-deployed waits until the watches
    see it Healthy; a repair is on-drift-reverted with a DriftReverted Event naming the object."""
    clock, sink = VirtualClock(), Sink()
    notices, board = _notices(clock, sink)
    inst = fleet_on().instances[0]
    outcome = _synced(HealthStatus.PROGRESSING)
    row = board.record(inst, outcome, started=0, duration=1)
    notices.finished(inst, outcome, row, full=True, trace="t")
    assert sink.told() == [("on-sync-succeeded", False)]
    row.health = Health(HealthStatus.HEALTHY)
    notices.changed(inst, row)
    assert sink.told()[-1] == ("on-deployed", False)
    changes = ChangeSet((Change(KEY, ChangeAction.CONFIGURED, "self-heal"),))
    repair = Outcome(OutcomeKind.SYNCED, "1 configured", "r1", changes, Health(HealthStatus.HEALTHY))
    row = board.record(inst, repair, started=0, duration=1, full=False)
    notices.finished(inst, repair, row, full=False, trace="t2")
    assert sink.told()[-1] == ("on-drift-reverted", False)
    assert sink.notices[-1][1].subject == str(KEY)
    assert [(e.reason, ns, inv) for e, ns, inv in sink.events] == [
        ("SyncSucceeded", "gitopsd-system", "gitopsd-inv-web"),
        ("DriftReverted", "gitopsd-system", "gitopsd-inv-web")]
    assert str(KEY) in sink.events[-1][0].note


@pytest.mark.asyncio
async def test_a_failure_is_told_once_per_revision_and_its_specific_trigger_too() -> None:
    """A refused prune is on-sync-failed and on-prune-refused once, however often it is retried, and a
    Warning Event each time it happens."""
    clock, sink = VirtualClock(), Sink()
    notices, board = _notices(clock, sink)
    inst = fleet_on().instances[0]
    failed = Outcome(OutcomeKind.FAILED, "would prune 3 of 4", "r2", error="PruneRefused",
                     health=Health(HealthStatus.HEALTHY))
    for _ in range(3):
        row = board.record(inst, failed, started=0, duration=1)
        notices.finished(inst, failed, row, full=True, trace="t")
        await clock.advance(400)
    assert sink.told() == [("on-sync-failed", False), ("on-prune-refused", False)]
    assert [(e.type, e.reason) for e, _, _ in sink.events] == [("Warning", "PruneRefused")] * 3


@dataclass
class Kept:
    """An in-memory incident port: what a state directory would hold between two runs."""

    saved: list[list[Notice]] = field(default_factory=list)

    def load(self) -> list[Notice]:
        return list(self.saved[-1]) if self.saved else []

    def save(self, notices: list[Notice]) -> None:
        self.saved.append(list(notices))


@pytest.mark.asyncio
async def test_an_incident_opened_before_a_restart_is_resolved_after_it() -> None:
    """Open problems go to the incident port when they open and close; a new Notices (a restarted
    daemon) takes them back, does not tell the same failure again, and resolves them on recovery."""
    kept = Kept()
    clock, sink = VirtualClock(), Sink()
    notices, board = _notices(clock, sink)
    notices = Notices(notices.fleet, clock=clock, notify=sink, wall=lambda: 1.0, incidents=kept)
    inst = fleet_on().instances[0]
    failed = Outcome(OutcomeKind.FAILED, "apply failed", "r2", health=Health(HealthStatus.HEALTHY))
    row = board.record(inst, failed, started=0, duration=1)
    notices.finished(inst, failed, row, full=True, trace="t")
    assert sink.told() == [("on-sync-failed", False)]
    assert [[n.trigger for n in s] for s in kept.saved] == [[Trigger.SYNC_FAILED]]

    sink2, board2 = Sink(), StatusBoard()
    restarted = Notices(notices.fleet, clock=clock, notify=sink2, wall=lambda: 2.0, incidents=kept)
    row = board2.record(inst, failed, started=0, duration=1)
    restarted.finished(inst, failed, row, full=True, trace="t")
    assert sink2.told() == []
    row = board2.record(inst, _synced(revision="r3"), started=0, duration=1)
    restarted.finished(inst, _synced(revision="r3"), row, full=True, trace="t")
    resolved = [n for _, n, _ in sink2.notices if n.resolved]
    assert [(n.trigger, n.app, n.cluster, n.fleet) for n in resolved] == [
        (Trigger.SYNC_FAILED, inst.app, inst.cluster, notices.fleet.name)]
    assert kept.saved[-1] == []
