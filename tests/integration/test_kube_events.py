"""The Event recorder against a real API server: an Event per distinct happening, a series for repeats."""

from __future__ import annotations

import uuid

import pytest

from gitopsd.edges.kube import KubeClient, Objects
from gitopsd.edges.kube.events import CONTROLLER, EventRecorder
from gitopsd.edges.telemetry.metrics import Metrics
from gitopsd.localcluster import LocalCluster
from gitopsd.model import Cluster
from gitopsd.model.notifications import ClusterEvent


@pytest.mark.asyncio
async def test_repeats_become_a_series_and_distinct_events_stay_apart(cluster_a: LocalCluster,
                                                                      make_namespace) -> None:
    """Three identical Events are one object with series.count 3; another reason is its own object."""
    ns = make_namespace(cluster_a)
    inventory = f"gitopsd-inv-{uuid.uuid4().hex[:6]}"
    client = await KubeClient.connect(Cluster(name="a", kubeconfig=str(cluster_a.kubeconfig)))
    metrics = Metrics(process_metrics=False)
    recorder = EventRecorder({"a": Objects(client)}, instance="host:/state", metrics=metrics)
    failed = ClusterEvent(app="web", cluster="a", type="Warning", reason="SyncFailed", action="Sync",
                          note="web at 0123456789ab: ConfigMap web/Bad_Name is invalid",
                          revision="0123456789ab")
    try:
        for _ in range(3):
            recorder.record(failed, namespace=ns, inventory=inventory)
        recorder.record(ClusterEvent(app="web", cluster="a", type="Normal", reason="SyncSucceeded",
                                     action="Sync", note="web synced to 0123456789ab: 1 created"),
                        namespace=ns, inventory=inventory)
        await recorder.flush(20)
    finally:
        await recorder.aclose()
        await client.close()
    status, body = cluster_a.request("GET", f"/apis/events.k8s.io/v1/namespaces/{ns}/events")
    assert status == 200, body
    by_reason = {e["reason"]: e for e in body["items"]}
    assert sorted(by_reason) == ["SyncFailed", "SyncSucceeded"]
    series = by_reason["SyncFailed"]
    assert series["series"]["count"] == 3
    assert (series["type"], series["reportingController"], series["regarding"]["name"]) == (
        "Warning", CONTROLLER, inventory)
    assert "series" not in by_reason["SyncSucceeded"]
    counts = [metrics.registry.get_sample_value("gitopsd_kube_events_total", {"cluster": "a", "result": r})
              for r in ("created", "updated")]
    assert counts == [2.0, 2.0]  # one new Event per reason; the two repeats counted on the first
