"""One writer per fleet and cluster: the Lease, on the in-memory cluster with a virtual clock."""

from __future__ import annotations

import pytest

from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.lease import ClusterLease
from gitopsd.model import ResourceKey
from tests.engine.fakecluster import FakeCluster

KEY = ResourceKey("coordination.k8s.io", "Lease", "gitopsd-system", "gitopsd-f")


def _lease(cluster: FakeCluster, clock: VirtualClock, identity: str) -> ClusterLease:
    return ClusterLease(cluster, cluster="alpha", fleet="f", namespace="gitopsd-system", identity=identity,
                        clock=clock, duration=15.0, renew=5.0)


@pytest.mark.asyncio
async def test_first_daemon_holds_the_lease_and_the_second_writes_nothing() -> None:
    """The first candidate creates and holds the Lease; a second one sees who holds it and does not."""
    clock, cluster = VirtualClock(), FakeCluster()
    one, two = _lease(cluster, clock, "host-a"), _lease(cluster, clock, "host-b")
    assert await one.step()
    assert await two.step() is False
    assert (one.held(), two.held(), two.holder) == (True, False, "host-a")
    assert cluster.objects[KEY]["spec"]["holderIdentity"] == "host-a"


@pytest.mark.asyncio
async def test_a_renewed_lease_is_never_taken_over() -> None:
    """While the holder renews, the other candidate keeps seeing a live holder, however long it waits."""
    clock, cluster = VirtualClock(), FakeCluster()
    one, two = _lease(cluster, clock, "host-a"), _lease(cluster, clock, "host-b")
    await one.step()
    for _ in range(10):
        await clock.advance(5.0)
        assert await one.step()
        assert await two.step() is False
    assert cluster.objects[KEY]["spec"]["holderIdentity"] == "host-a"


@pytest.mark.asyncio
async def test_a_lease_not_renewed_for_its_duration_is_taken_over() -> None:
    """A holder that stopped renewing loses its Lease once it has been unchanged for the duration."""
    clock, cluster = VirtualClock(), FakeCluster()
    one, two = _lease(cluster, clock, "host-a"), _lease(cluster, clock, "host-b")
    await one.step()
    assert await two.step() is False
    await clock.advance(14.0)
    assert await two.step() is False
    assert one.held()
    await clock.advance(2.0)
    assert one.held() is False  # its own validity ran out too: it writes nothing any more
    assert await two.step()
    spec = cluster.objects[KEY]["spec"]
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("host-b", 1)
    assert await one.step() is False


@pytest.mark.asyncio
async def test_released_lease_is_taken_at_once() -> None:
    """After a clean stop the holder gives the Lease up and the other candidate takes it without waiting."""
    clock, cluster = VirtualClock(), FakeCluster()
    one, two = _lease(cluster, clock, "host-a"), _lease(cluster, clock, "host-b")
    await one.step()
    await one.release()
    assert one.held() is False
    assert await two.step()
    assert cluster.objects[KEY]["spec"]["holderIdentity"] == "host-b"


@pytest.mark.asyncio
async def test_a_renewal_that_lost_the_race_stops_writes() -> None:
    """A renewal at a stale resourceVersion (someone else wrote the Lease) is refused and ends the hold."""
    clock, cluster = VirtualClock(), FakeCluster()
    one = _lease(cluster, clock, "host-a")
    await one.step()
    live = cluster.objects[KEY]
    stolen = {**live, "spec": {**live["spec"], "holderIdentity": "host-c"}}
    stolen["metadata"] = {k: v for k, v in live["metadata"].items() if k != "resourceVersion"}
    await cluster.apply(stolen)
    real_get = cluster.get

    async def stale_get(*args: object, **kw: object) -> dict[str, object] | None:
        obj = await real_get(*args, **kw)  # type: ignore[arg-type]
        if obj is not None:
            obj["spec"]["holderIdentity"] = "host-a"
            obj["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        return obj

    cluster.get = stale_get  # type: ignore[method-assign]
    assert await one.step() is False
    assert one.held() is False
    assert cluster.objects[KEY]["spec"]["holderIdentity"] == "host-c"


@pytest.mark.asyncio
async def test_a_restarted_daemon_with_the_same_identity_takes_its_lease_back() -> None:
    """The same host and state directory (the same identity) renews its own Lease at once after a restart."""
    clock, cluster = VirtualClock(), FakeCluster()
    await _lease(cluster, clock, "host-a:/var/lib/gitopsd").step()
    again = _lease(cluster, clock, "host-a:/var/lib/gitopsd")
    assert await again.step()
    assert cluster.objects[KEY]["spec"]["leaseTransitions"] == 0


@pytest.mark.asyncio
async def test_a_pass_that_lost_the_lease_writes_no_further_wave() -> None:
    """Once the Lease is gone, a running pass stops before its next wave and writes nothing more."""
    from gitopsd.engine.sync import Reconciler
    from gitopsd.model import (
        AppInstance,
        Application,
        ClusterSelector,
        Destination,
        Manifest,
        OutcomeKind,
        Source,
        SyncPolicy,
    )
    from tests.engine.fakefleet import StaticDesired

    clock, cluster = VirtualClock(), FakeCluster()
    held = iter([True, False])  # the first wave starts with the Lease held, the second without
    bodies = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": name, "namespace": "ns", "annotations": {"argocd.argoproj.io/sync-wave": wave}},
        "data": {"a": "b"}} for name, wave in (("first", "0"), ("second", "1"))]
    desired = StaticDesired(tuple(Manifest(ResourceKey.of(b), b) for b in bodies))
    rec = Reconciler(fleet="f", cluster=cluster, desired=desired, clock=clock, health_poll=0.01,
                     writable=lambda inst: next(held, False))
    source = Source("env", "main", "app")
    app = Application("web", source, Destination(ClusterSelector(names=("alpha",)), "ns"),
                      SyncPolicy(automated=True))
    done = await rec.reconcile(AppInstance("web", "alpha", source, "ns"), app)
    assert done.kind is OutcomeKind.FAILED
    assert "no longer holds the cluster's Lease" in done.outcome.message
    assert ResourceKey("", "ConfigMap", "ns", "first") in cluster.objects
    assert ResourceKey("", "ConfigMap", "ns", "second") not in cluster.objects


@pytest.mark.asyncio
async def test_gaining_the_lease_is_told_and_renewing_it_is_not() -> None:
    """on_acquired runs when the Lease is first taken and when it is taken again after a lapse,
    never on a renewal."""
    clock, cluster = VirtualClock(), FakeCluster()
    lease = _lease(cluster, clock, "host-a")
    gained: list[float] = []
    lease.on_acquired = lambda: gained.append(clock.now())
    assert await lease.step()
    await clock.advance(5.0)
    assert await lease.step()
    await clock.advance(20.0)  # renewals failed meanwhile: the hold lapsed
    assert lease.held() is False
    assert await lease.step()
    assert gained == [0.0, 25.0]
