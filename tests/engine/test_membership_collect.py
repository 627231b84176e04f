"""Leases of dead members are deleted by a live member, never the Lease of a member that renewed."""

from __future__ import annotations

import pytest

from gitopsd.edges.telemetry.metrics import Metrics
from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.membership import API_VERSION, COLLECT_AFTER, Membership, member_lease_name
from gitopsd.model import ResourceKey
from tests.engine.fakecluster import FakeCluster

ITEMS = {f"app-{i}/cluster-0": 1.0 for i in range(9)}
DURATION, RENEW = 15.0, 3.0


def _member(cluster: FakeCluster, clock: VirtualClock, identity: str,
            metrics: Metrics | None = None) -> Membership:
    return Membership(cluster, fleet="f", namespace="gitopsd-system", identity=identity, clock=clock,
                      items=lambda: ITEMS, duration=DURATION, renew=RENEW, metrics=metrics)


async def _lease(cluster: FakeCluster, m: Membership) -> dict[str, object] | None:
    return await cluster.get(API_VERSION, "Lease", member_lease_name("f", m.identity), "gitopsd-system")


async def _steps(clock: VirtualClock, members: list[Membership], seconds: float) -> None:
    for _ in range(int(seconds / RENEW)):
        await clock.advance(RENEW)
        for m in members:
            await m.step()


@pytest.mark.asyncio
async def test_a_dead_members_lease_is_deleted_well_past_its_duration() -> None:
    """A Lease left unrenewed is kept while it is merely dead and deleted once it has kept its version
    COLLECT_AFTER durations; the members go on without it and it is counted."""
    clock, cluster = VirtualClock(), FakeCluster()
    metrics = Metrics(process_metrics=False)
    a, b = _member(cluster, clock, "host-a:/s", metrics), _member(cluster, clock, "host-b:/s")
    dead = _member(cluster, clock, "host-c:/s")
    await _steps(clock, [a, b, dead], 3 * RENEW)
    await _steps(clock, [a, b], 2 * DURATION)
    assert a.members == ("host-a:/s", "host-b:/s")
    assert await _lease(cluster, dead) is not None  # dead, not yet collected
    await _steps(clock, [a, b], COLLECT_AFTER * DURATION)
    assert await _lease(cluster, dead) is None
    assert await _lease(cluster, a) is not None
    assert await _lease(cluster, b) is not None
    assert metrics.render().count(b"gitopsd_member_leases_collected_total 1.0") == 1
    await dead.step()  # it comes back after all: its Lease is made again and the others see it
    await _steps(clock, [a, b, dead], 2 * RENEW)
    assert a.members == ("host-a:/s", "host-b:/s", "host-c:/s")


@pytest.mark.asyncio
async def test_a_lease_renewed_just_before_the_delete_is_kept() -> None:
    """The delete names the resourceVersion seen: a member that renewed between the read and the delete
    keeps its Lease, and the collector reads it afresh."""
    clock, cluster = VirtualClock(), FakeCluster()
    a, back = _member(cluster, clock, "host-a:/s"), _member(cluster, clock, "host-c:/s")
    await _steps(clock, [a, back], 2 * RENEW)
    name = member_lease_name("f", back.identity)
    renewed: list[str] = []

    def renew_first(key: ResourceKey) -> None:
        if key.name == name and not renewed:
            renewed.append(cluster.put(cluster.objects[key])["metadata"]["resourceVersion"])
    cluster.before_delete(renew_first)
    await _steps(clock, [a], (COLLECT_AFTER + 1) * DURATION)
    assert renewed  # the collector did try
    lease = await _lease(cluster, back)
    assert lease is not None
    assert lease["metadata"]["resourceVersion"] == renewed[0]  # type: ignore[index]
