"""Members of a shared fleet on the in-memory cluster with a virtual clock: expiry, fencing, handover."""

from __future__ import annotations

import asyncio

import pytest

from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.membership import MEMBER_LABEL, Membership, member_lease_name
from tests.engine.fakecluster import FakeCluster

ITEMS = {f"app-{i}/cluster-{i % 3}": 1.0 for i in range(30)}


def _member(cluster: FakeCluster, clock: VirtualClock, identity: str) -> Membership:
    return Membership(cluster, fleet="f", namespace="gitopsd-system", identity=identity, clock=clock,
                      items=lambda: ITEMS, duration=15.0, renew=3.0)


def _acting(members: list[Membership], item: str) -> list[str]:
    return [m.identity for m in members if m.acts_on(item)]


async def _run(clock: VirtualClock, members: list[Membership], seconds: int, *,
               paused: frozenset[str] = frozenset()) -> None:
    """Advance SECONDS one at a time; each member not PAUSED steps every 3 s at its own offset, and
    no item ever has two members acting on it."""
    for _ in range(seconds):
        await clock.advance(1.0)
        for n, m in enumerate(members):
            if m.identity not in paused and (int(clock.now()) + n) % 3 == 0:
                await m.step()
        for item in ITEMS:
            assert len(_acting(members, item)) <= 1, (clock.now(), item, _acting(members, item))


@pytest.mark.asyncio
async def test_members_agree_and_split_the_instances() -> None:
    """Three members see each other and act on disjoint shares that together cover every instance."""
    clock, cluster = VirtualClock(), FakeCluster()
    members = [_member(cluster, clock, f"host-{c}:/state") for c in "abc"]
    await _run(clock, members, 20)
    assert {m.members for m in members} == {("host-a:/state", "host-b:/state", "host-c:/state")}
    assert members[0].assignment == members[1].assignment == members[2].assignment
    owned = [sum(m.acts_on(i) for i in ITEMS) for m in members]
    assert sum(owned) == len(ITEMS)
    assert max(owned) <= 13  # ceil(30 / 3 * 1.25)
    leases = await cluster.select("coordination.k8s.io/v1", "Lease", namespace="gitopsd-system",
                                  label_selector=f"{MEMBER_LABEL}=f")
    assert sorted(lease["metadata"]["name"] for lease in leases) == sorted(
        member_lease_name("f", m.identity) for m in members)


@pytest.mark.asyncio
async def test_a_member_that_stops_renewing_is_replaced_within_duration_and_one_renewal() -> None:
    """After a member stops renewing, it stops acting first, and its instances are taken over within
    the Lease duration plus one renewal interval (and a step's offset)."""
    clock, cluster = VirtualClock(), FakeCluster()
    members = [_member(cluster, clock, f"host-{c}:/state") for c in "abc"]
    await _run(clock, members, 20)
    dead = members[2]
    theirs = [i for i in ITEMS if dead.acts_on(i)]
    assert theirs
    killed_at = clock.now()
    last_renewal = max(t for t in range(int(killed_at) - 2, int(killed_at) + 1) if (t + 2) % 3 == 0)
    taken_at = None
    for _ in range(40):
        await _run(clock, members, 1, paused=frozenset({dead.identity}))
        if taken_at is None and all(_acting(members[:2], i) for i in theirs):
            taken_at = clock.now()
    assert taken_at is not None
    assert taken_at - last_renewal <= 15.0 + 2 * 3.0
    assert not any(dead.acts_on(i) for i in ITEMS)
    assert members[0].members == ("host-a:/state", "host-b:/state")


@pytest.mark.asyncio
async def test_a_paused_member_writes_nothing_until_it_has_renewed_and_the_others_let_go() -> None:
    """A member paused past its Lease acts on nothing when it wakes; after renewing it waits until the
    members that took its instances have seen it back, so no instance ever has two writers."""
    clock, cluster = VirtualClock(), FakeCluster()
    members = [_member(cluster, clock, f"host-{c}:/state") for c in "abc"]
    await _run(clock, members, 20)
    sleeper = members[0]
    before = {i for i in ITEMS if sleeper.acts_on(i)}
    await _run(clock, members, 40, paused=frozenset({sleeper.identity}))
    assert not any(sleeper.acts_on(i) for i in ITEMS)
    assert all(_acting(members, i) for i in before)  # the others took them over
    await sleeper.step()  # wakes up: renews and recomputes at once
    assert sleeper.valid()
    assert not any(sleeper.acts_on(i) for i in ITEMS)  # held off while the others may still act
    await _run(clock, members, 15)  # the invariant is checked every second
    assert {i for i in ITEMS if sleeper.acts_on(i)} == before


@pytest.mark.asyncio
async def test_a_released_member_is_replaced_at_the_next_renewal() -> None:
    """A member that stops cleanly deletes its Lease; the others act on its instances at their next step."""
    clock, cluster = VirtualClock(), FakeCluster()
    members = [_member(cluster, clock, f"host-{c}:/state") for c in "ab"]
    await _run(clock, members, 20)
    leaving, staying = members
    theirs = [i for i in ITEMS if leaving.acts_on(i)]
    gained: list[str] = []
    staying.on_gained = gained.extend
    await leaving.release()
    assert not any(leaving.acts_on(i) for i in ITEMS)
    await staying.step()
    assert all(staying.acts_on(i) for i in theirs)
    assert sorted(gained) == sorted(theirs)
    assert await cluster.get("coordination.k8s.io/v1", "Lease", member_lease_name("f", leaving.identity),
                             "gitopsd-system") is None


@pytest.mark.asyncio
async def test_a_newcomer_takes_its_share_without_two_writers() -> None:
    """A member joining a running pair takes about a third, after the others have let go."""
    clock, cluster = VirtualClock(), FakeCluster()
    members = [_member(cluster, clock, f"host-{c}:/state") for c in "ab"]
    await _run(clock, members, 20)
    members.append(_member(cluster, clock, "host-c:/state"))
    await _run(clock, members, 20)
    assert 6 <= sum(members[2].acts_on(i) for i in ITEMS) <= 13


@pytest.mark.asyncio
async def test_a_member_acts_only_within_the_safety_margin_of_its_last_renewal() -> None:
    """A member's right to act ends duration - 2 * renew after its last renewal, and a renewal restores it."""
    clock, cluster = VirtualClock(), FakeCluster()
    alone = _member(cluster, clock, "host-a:/state")
    assert await alone.step()
    assert all(alone.acts_on(i) for i in ITEMS)  # alone: no one to wait for
    await clock.advance(8.9)
    assert alone.acts_on(next(iter(ITEMS)))
    await clock.advance(0.1)  # renewed at 0; the margin is 15 - 2 * 3 = 9 s
    assert not any(alone.acts_on(i) for i in ITEMS)
    assert await alone.step()
    assert all(alone.acts_on(i) for i in ITEMS)


@pytest.mark.asyncio
async def test_members_that_share_out_different_items_still_never_both_act() -> None:
    """A member whose fleet has more instances makes all fall back to plain rendezvous: every shared
    instance still has exactly one member acting on it (the extra ones at most one)."""
    clock, cluster = VirtualClock(), FakeCluster()
    more = {**ITEMS, **{f"extra-{i}/cluster-0": 1.0 for i in range(12)}}
    members = [Membership(cluster, fleet="f", namespace="gitopsd-system", identity=f"host-{c}:/state",
                          clock=clock, items=lambda items=items: items, duration=15.0, renew=3.0, epsilon=0.0)
               for c, items in (("a", ITEMS), ("b", ITEMS), ("c", more))]
    await _run(clock, members, 20)
    assert [m.agreed for m in members] == [False, False, False]
    assert all(len(_acting(members, i)) == 1 for i in ITEMS)
    extra = [i for i in more if i not in ITEMS]
    assert all(_acting(members, i) in ([], ["host-c:/state"]) for i in extra)
    assert any(members[2].acts_on(i) for i in extra)


@pytest.mark.asyncio
async def test_running_members_take_over_a_released_member_between_renewals() -> None:
    """Members that run read the others' Leases every second between renewals too, so a member that
    stops cleanly is replaced within about a second, never with two members acting."""
    clock, cluster = VirtualClock(), FakeCluster()
    members = [_member(cluster, clock, f"host-{c}:/state") for c in "ab"]
    tasks = [asyncio.ensure_future(m.run()) for m in members]
    try:
        for _ in range(40):
            await clock.advance(0.5)
        staying, leaving = members
        await clock.advance(1.2)  # just after a renewal: the next one is 2.8 s away
        theirs = [i for i in ITEMS if leaving.acts_on(i)]
        assert theirs
        tasks[1].cancel()
        await leaving.release()
        for _ in range(2):
            await clock.advance(0.5)
            assert all(len(_acting(members, i)) <= 1 for i in ITEMS)
        assert all(staying.acts_on(i) for i in theirs)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
