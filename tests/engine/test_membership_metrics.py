"""Members of a shared fleet report members seen, instances owned, handovers and renewals as metrics."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gitopsd.edges.telemetry.metrics import Metrics
from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.membership import Membership
from gitopsd.errors import ApiError
from tests.engine.fakecluster import FakeCluster

ITEMS = {**{f"app-{i}/cluster-0": 1.0 for i in range(12)}, "removals/cluster-0": 1.0}


def _value(m: Metrics, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(m.render().decode()):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return 0.0


def _member(cluster: FakeCluster, clock: VirtualClock, identity: str, metrics: Metrics) -> Membership:
    return Membership(cluster, fleet="f", namespace="gitopsd-system", identity=identity, clock=clock,
                      items=lambda: ITEMS, duration=15.0, renew=3.0, metrics=metrics,
                      counted=lambda item: not item.startswith("removals/"))


@pytest.mark.asyncio
async def test_members_owned_instances_and_handovers_follow_a_member_leaving() -> None:
    """Two members report two members and shares summing to the instances; when one leaves, the other
    counts each instance it took over once and owns them all."""
    clock, cluster = VirtualClock(), FakeCluster()
    ma, mb = Metrics(process_metrics=False), Metrics(process_metrics=False)
    a, b = _member(cluster, clock, "host-a:/s", ma), _member(cluster, clock, "host-b:/s", mb)
    for _ in range(2):
        await a.step()
        await b.step()
    assert _value(ma, "gitopsd_members") == _value(mb, "gitopsd_members") == 2
    owned_a = _value(ma, "gitopsd_member_instances_owned")
    owned_b = _value(mb, "gitopsd_member_instances_owned")
    assert owned_a + owned_b == 12
    assert owned_b > 0
    gained_before = _value(ma, "gitopsd_member_handovers_total", direction="gained")
    await b.release()
    await a.step()
    assert _value(ma, "gitopsd_members") == 1
    assert _value(ma, "gitopsd_member_instances_owned") == 12
    assert _value(ma, "gitopsd_member_handovers_total", direction="gained") - gained_before == owned_b
    await a.step()
    assert _value(ma, "gitopsd_member_handovers_total", direction="gained") - gained_before == owned_b


@pytest.mark.asyncio
async def test_renewals_are_timed_and_failed_ones_counted() -> None:
    """Every renewal is observed; one the coordination cluster refuses counts as a failure."""
    clock, cluster = VirtualClock(), FakeCluster()
    m = Metrics(process_metrics=False)
    a = _member(cluster, clock, "host-a:/s", m)
    assert await a.step()
    assert _value(m, "gitopsd_member_lease_renew_failures_total") == 0
    cluster.fail("apply", ApiError("etcd is away", status=503), times=1)
    with pytest.raises(ApiError):
        await a.step()
    assert _value(m, "gitopsd_member_lease_renew_failures_total") == 1
    assert _value(m, "gitopsd_member_lease_renew_duration_seconds_count") == 2
