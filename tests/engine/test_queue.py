"""The work queue's ordering, coalescing, concurrency and backoff rules, on a virtual clock."""

from __future__ import annotations

import asyncio

import pytest

from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.queue import Priority, WorkQueue


async def _take(q: WorkQueue, clock: VirtualClock, within: float = 0.0) -> str | None:
    """Key handed out by get() within WITHIN virtual seconds, or None."""
    task = asyncio.ensure_future(q.get())
    await clock.advance(within)
    for _ in range(10):
        await asyncio.sleep(0)
    if task.done():
        return task.result().key
    task.cancel()
    return None


@pytest.mark.asyncio
async def test_priority_order_manual_drift_revision_resync() -> None:
    """Due items come out manual first, then drift, new revision and resync."""
    clock = VirtualClock()
    q = WorkQueue(clock=clock)
    q.add("resync", "c", Priority.RESYNC)
    q.add("revision", "c", Priority.REVISION)
    q.add("drift", "c", Priority.DRIFT)
    q.add("manual", "c", Priority.MANUAL)
    assert [await _take(q, clock) for _ in range(4)] == ["manual", "drift", "revision", "resync"]


@pytest.mark.asyncio
async def test_duplicate_requests_coalesce_to_most_urgent() -> None:
    """Three requests for one instance become one item at the most urgent priority."""
    clock = VirtualClock()
    q = WorkQueue(clock=clock)
    q.add("a/c", "c", Priority.RESYNC, reason="timer")
    q.add("a/c", "c", Priority.DRIFT, reason="watch")
    q.add("a/c", "c", Priority.REVISION, reason="poll")
    assert len(q) == 1
    item = await q.get()
    assert item.priority is Priority.DRIFT
    assert item.reasons == {"timer", "watch", "poll"}


@pytest.mark.asyncio
async def test_one_in_flight_per_instance_and_rerun_after_done() -> None:
    """A request arriving while its instance runs is held until the run is done."""
    clock = VirtualClock()
    q = WorkQueue(clock=clock)
    q.add("a/c", "c", Priority.REVISION)
    item = await q.get()
    q.add("a/c", "c", Priority.DRIFT)
    assert await _take(q, clock) is None
    q.done(item)
    assert await _take(q, clock) == "a/c"


@pytest.mark.asyncio
async def test_per_cluster_limit_does_not_block_other_clusters() -> None:
    """A cluster at its concurrency limit holds its items while another cluster's run."""
    clock = VirtualClock()
    q = WorkQueue(clock=clock, per_cluster=1)
    q.add("x/slow", "slow", Priority.MANUAL)
    q.add("y/slow", "slow", Priority.MANUAL)
    q.add("z/fast", "fast", Priority.RESYNC)
    first = await q.get()
    assert first.cluster == "slow"
    assert await _take(q, clock) == "z/fast"
    assert await _take(q, clock) is None
    q.done(first)
    assert await _take(q, clock) in {"x/slow", "y/slow"}


@pytest.mark.asyncio
async def test_backoff_delays_retry_until_due() -> None:
    """A failed item requeued with backoff is not handed out before its delay."""
    clock = VirtualClock()
    q = WorkQueue(clock=clock)
    q.add("a/c", "c", Priority.REVISION)
    q.done(await q.get(), requeue_after=10, backoff=True)
    assert await _take(q, clock, within=9) is None
    assert await _take(q, clock, within=1.5) == "a/c"


@pytest.mark.asyncio
async def test_new_revision_supersedes_backoff_but_drift_does_not() -> None:
    """A new revision cuts a backoff wait short; a drift event waits for it."""
    clock = VirtualClock()
    q = WorkQueue(clock=clock)
    q.add("a/c", "c", Priority.REVISION)
    q.done(await q.get(), requeue_after=60, backoff=True)
    q.add("a/c", "c", Priority.DRIFT)
    assert await _take(q, clock, within=1) is None
    q.add("a/c", "c", Priority.REVISION, reason="new commit")
    assert await _take(q, clock) == "a/c"


@pytest.mark.asyncio
async def test_revision_arriving_during_failing_run_skips_its_backoff() -> None:
    """A new revision that arrives while a sync fails runs right after, not after the backoff."""
    clock = VirtualClock()
    q = WorkQueue(clock=clock)
    q.add("a/c", "c", Priority.REVISION)
    item = await q.get()
    q.add("a/c", "c", Priority.REVISION, reason="fix pushed")
    q.done(item, requeue_after=120, backoff=True)
    assert await _take(q, clock) == "a/c"


@pytest.mark.asyncio
async def test_scheduled_resync_is_pulled_forward_by_drift() -> None:
    """Drift on an instance waiting for its periodic resync runs it now."""
    clock = VirtualClock()
    q = WorkQueue(clock=clock)
    q.add("a/c", "c", Priority.RESYNC)
    q.done(await q.get(), requeue_after=180)
    q.add("a/c", "c", Priority.DRIFT)
    assert await _take(q, clock) == "a/c"


@pytest.mark.asyncio
async def test_waiting_get_wakes_when_item_becomes_due() -> None:
    """A worker blocked on an empty queue wakes up exactly when a delayed item is due."""
    clock = VirtualClock()
    q = WorkQueue(clock=clock)
    q.add("a/c", "c", Priority.RESYNC, delay=30)
    assert await _take(q, clock, within=29) is None
    assert await _take(q, clock, within=2) == "a/c"
