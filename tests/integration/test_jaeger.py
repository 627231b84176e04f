"""A sync's trace in a real Jaeger: ``gitopsd run`` exports over OTLP/HTTP, the query API finds it by id.

Jaeger v2 (built from the Go module proxy into the test environment's cache)
runs on loopback with in-memory storage; the daemon is pointed at it with
the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``. The trace id comes from the
daemon's own status API, as a person following a failed sync would take it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitopsd.edges.telemetry import semconv as sc
from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import running_daemon, wait_for, write_fleet
from tests.integration.jaegerserver import running_jaeger
from tests.integration.synckit import cm
from tests.testenv.git_fixtures import RepoFactory

WAVE = "argocd.argoproj.io/sync-wave"


def _tags(span: dict[str, Any]) -> dict[str, Any]:
    return {t["key"]: t["value"] for t in span.get("tags", [])}


def test_a_syncs_trace_is_found_in_jaeger_by_its_trace_id(
        cluster_a: LocalCluster, make_namespace: Callable[[LocalCluster], str], git_repos: RepoFactory,
        tmp_path: Path) -> None:
    """The trace id on the instance's status is a trace in Jaeger whose root is the reconcile span of
    that revision, with the source, render, diff and plan spans and one apply-wave span per wave."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    head = repo.commit({"app/early.yaml": cm("early", {"v": "1"}, {WAVE: "-1"}),
                        "app/late.yaml": cm("late", {"v": "1"}, {WAVE: "1"})})
    app = f"jaeger-{ns.rpartition('-')[2]}"
    fleet = write_fleet(tmp_path / "fleet.yaml", cluster=cluster_a, repo_url=str(repo.path), app=app,
                        namespace=ns)
    with running_jaeger(tmp_path / "jaeger") as jaeger, running_daemon(
            tmp_path / "run", fleet, token="api-token-for-jaeger-test", webhook_secret="hook-secret-jaeger",
            env={"OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp, "OTEL_BSP_SCHEDULE_DELAY": "200"}) as daemon:
        row = daemon.wait_synced(app, cluster_a.name, head)
        trace_id = row["last_sync"]["trace_id"]
        assert len(trace_id) == 32
        def complete() -> dict[str, Any] | None:
            # children end, and are exported, before their root: wait for the root too
            trace = jaeger.trace(trace_id)
            return trace if trace and any(not s.get("references") for s in trace["spans"]) else None
        trace = wait_for(complete, 30, f"trace {trace_id} with its root span in Jaeger")
        status, services = jaeger.get("/api/services")
        assert daemon.terminate(30) == 0
    assert status == 200
    assert "gitopsd" in services["data"]
    spans = trace["spans"]
    assert {s["traceID"] for s in spans} == {trace_id}
    [root] = [s for s in spans if not s.get("references")]
    assert root["operationName"] == sc.SPAN_RECONCILE
    assert trace["processes"][root["processID"]]["serviceName"] == "gitopsd"
    tags = _tags(root)
    assert (tags[sc.ATTR_APP], tags[sc.ATTR_REVISION], tags[sc.ATTR_OUTCOME]) == (app, head, "Synced")
    assert tags[sc.ATTR_CLUSTER] == cluster_a.name
    children = sorted((s for s in spans
                       if any(r["spanID"] == root["spanID"] for r in s.get("references", []))),
                      key=lambda s: s["startTime"])
    assert [s["operationName"] for s in children] == [sc.SPAN_SOURCE, sc.SPAN_RENDER, sc.SPAN_DIFF,
                                                      sc.SPAN_PLAN, sc.SPAN_APPLY_WAVE, sc.SPAN_APPLY_WAVE]
    assert [_tags(s)[sc.ATTR_WAVE] for s in children[-2:]] == [-1, 1]
