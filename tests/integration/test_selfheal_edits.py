"""Self-heal against a real API server: edits seconds apart are each reverted at once, a writer
undoing every repair is a fight that backs off, and objects self-heal re-created (or created the
old way) stay under Git's control."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitopsd.core.marks import FLEET_LABEL
from gitopsd.localcluster import LocalCluster
from gitopsd.model import OutcomeKind, SyncPolicy
from tests.integration.daemonproc import DaemonProc, edit, fleet_doc, poll_until, value
from tests.integration.synckit import FLEET, kit

AUTO = {"automated": {"prune": True, "selfHeal": True}}


def _app(name: str, ns: str) -> dict[str, Any]:
    return {"name": name, "source": {"repo": "env", "targetRevision": "main", "path": "app"},
            "destination": {"clusters": {"matchLabels": {}}, "namespace": ns}, "syncPolicy": AUTO}


def _cm(name: str, data: dict[str, str]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})


def _svc(ports: list[tuple[str, int]]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                           "spec": {"selector": {"app": "web"},
                                    "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports]}})


def _managers(cluster: LocalCluster, path: str) -> set[tuple[str, str]]:
    obj = _get(cluster, path) or {}
    return {(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]}


def _get(cluster: LocalCluster, path: str) -> dict[str, Any] | None:
    status, body = cluster.request("GET", path)
    return body if status == 200 else None


@pytest.fixture
def daemon_root(tmp_path: Path) -> Path:
    return tmp_path / "daemon"


@pytest.mark.workloads
def test_scale_edits_seconds_apart_are_each_reverted_at_once(cluster_w: LocalCluster, make_namespace,
                                                             git_repos, daemon_root: Path) -> None:
    """Three ``kubectl scale`` edits of a managed Deployment two seconds apart are each reverted
    within a second, although its controller writes status after every one."""
    ns = make_namespace(cluster_w)
    app = f"web-{ns.rpartition('-')[2]}"  # the session's cluster keeps other tests' inventories
    repo = git_repos.new()
    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                        "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists",
                                         "effect": "NoSchedule"}],
                        "containers": [{"name": "c", "image": "registry.invalid/web:1"}]}}}}
    repo.commit({"app/web.yaml": yaml.safe_dump(web)})
    d = DaemonProc(fleet_doc([("w", cluster_w.kubeconfig, {})], str(repo.path), poll="30s",
                             apps=[_app(app, ns)]), daemon_root, resync=600).start()
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/web"

    def replicas() -> int:
        return int(((_get(cluster_w, path) or {}).get("spec") or {}).get("replicas", -1))

    try:
        assert poll_until(lambda: (d.instance(app, "w") or {}).get("health") == "Healthy", 60), d.logs()
        took = []
        for n in range(3):
            status, _ = cluster_w.request("PATCH", f"{path}/scale?fieldManager=kubectl-scale",
                                          {"spec": {"replicas": 3 + n}},
                                          content_type="application/merge-patch+json")
            assert status == 200
            t0 = time.monotonic()
            assert poll_until(lambda: replicas() == 1, 20, 0.02), d.logs()
            took.append(time.monotonic() - t0)
            time.sleep(2.0)
        assert max(took) < 1.0, took
        row = d.instance(app, "w") or {}
        assert "SelfHealFight" not in [c["type"] for c in row["conditions"]]
    finally:
        assert d.stop() == 0
    print(f"scale-to-revert: {[round(t, 3) for t in took]}")


def test_writer_undoing_every_repair_backs_off_and_shows_why(cluster_a: LocalCluster, make_namespace,
                                                              git_repos, daemon_root: Path) -> None:
    """Another writer that undoes every repair at once makes the repairs wait longer and longer,
    and while a repair waits the instance is OutOfSync with a SelfHealFight condition giving the
    time of the next attempt."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"app/c.yaml": _cm("c", {"value": "desired"})})
    d = DaemonProc(fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="30s",
                             apps=[_app("fight", ns)]), daemon_root).start()
    repaired: list[float] = []
    stop = threading.Event()

    def fighter() -> None:
        while not stop.is_set():
            if value(cluster_a, ns, "c") == "desired":
                repaired.append(time.monotonic())
                edit(cluster_a, ns, "c", "theirs")
            time.sleep(0.01)

    try:
        assert poll_until(lambda: value(cluster_a, ns, "c") == "desired", 30), d.logs()
        writer = threading.Thread(target=fighter, daemon=True)
        writer.start()
        row = poll_until(lambda: (r := d.instance("fight", "a")) and
                         any(c["type"] == "SelfHealFight" for c in r["conditions"]) and r, 30)
        assert row, d.logs()
        assert row["sync_status"] == "OutOfSync"
        fight = [c for c in row["conditions"] if c["type"] == "SelfHealFight"]
        assert "next repair at" in fight[0]["message"]
        stop.set()
        writer.join(5)
        gaps = [b - a for a, b in itertools.pairwise(repaired)]
        assert len(gaps) >= 3, repaired  # the first edit is repaired at once, then the waits grow
        assert gaps[0] < 1.0, gaps
        assert gaps[1] > 1.5, gaps
        assert gaps[2] > gaps[1] + 2.0, gaps
        assert poll_until(lambda: value(cluster_a, ns, "c") == "desired", 30), d.logs()
        assert poll_until(lambda: (d.instance("fight", "a") or {}).get("sync_status") == "Synced", 10)
    finally:
        stop.set()
        assert d.stop() == 0
    print(f"repair gaps during a fight: {[round(g, 2) for g in gaps]}")


def test_object_self_heal_recreated_still_follows_git(cluster_a: LocalCluster, make_namespace, git_repos,
                                                      daemon_root: Path) -> None:
    """A ConfigMap and a Service deleted and re-created by self-heal take a later Git change that
    removes a key and changes a port."""
    ns = make_namespace(cluster_a)
    app = f"web-{ns.rpartition('-')[2]}"  # the session's cluster keeps other tests' inventories
    repo = git_repos.new()
    repo.commit({"app/c.yaml": _cm("c", {"value": "desired", "extra": "x"}),
                 "app/svc.yaml": _svc([("http", 80), ("metrics", 9090)])})
    d = DaemonProc(fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s",
                             apps=[_app(app, ns)]), daemon_root).start()
    cm_path, svc_path = f"/api/v1/namespaces/{ns}/configmaps/c", f"/api/v1/namespaces/{ns}/services/web"
    try:
        assert poll_until(lambda: (d.instance(app, "a") or {}).get("sync_status") == "Synced", 30), d.logs()
        uids = {p: (_get(cluster_a, p) or {})["metadata"]["uid"] for p in (cm_path, svc_path)}
        for p in (cm_path, svc_path):
            assert cluster_a.request("DELETE", p)[0] == 200
        assert poll_until(lambda: all((o := _get(cluster_a, p)) and o["metadata"]["uid"] != uids[p]
                                      for p in (cm_path, svc_path)), 10), d.logs()
        for p in (cm_path, svc_path):
            managers = _managers(cluster_a, p)
            assert ("gitopsd", "Apply") in managers
            assert ("gitopsd", "Update") not in managers
        sha = repo.commit({"app/c.yaml": _cm("c", {"value": "desired"}),
                           "app/svc.yaml": _svc([("http", 8080), ("metrics", 9090)])})
        assert poll_until(lambda: (r := d.instance(app, "a")) and r["revision"] == sha
                          and r["sync_status"] == "Synced", 30), d.logs()
        assert (_get(cluster_a, cm_path) or {})["data"] == {"value": "desired"}
        ports = (_get(cluster_a, svc_path) or {})["spec"]["ports"]
        assert sorted((p["name"], p["port"]) for p in ports) == [("http", 8080), ("metrics", 9090)]
    finally:
        assert d.stop() == 0


@pytest.mark.asyncio
async def test_object_created_the_old_way_is_taken_back_by_the_next_sync(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """An object whose fields belong to a ``gitopsd`` Update entry (a create by an older self-heal)
    is moved to the apply manager by the next sync, so a key removed from Git disappears."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"app/c.yaml": _cm("c", {"a": "1", "b": "2"})})
    policy = SyncPolicy(automated=True, self_heal=True)
    async with kit(cluster_a, repo, tmp_path, app="old", path="app", namespace=ns, policy=policy) as k:
        assert (await k.sync()).kind is OutcomeKind.SYNCED
        path = f"/api/v1/namespaces/{ns}/configmaps/c"
        live = _get(cluster_a, path) or {}
        assert live["metadata"]["labels"][FLEET_LABEL] == FLEET
        assert cluster_a.request("DELETE", path)[0] == 200
        meta = {k: v for k, v in live["metadata"].items()
                if k in ("name", "namespace", "labels", "annotations")}
        status, _ = cluster_a.request("POST", f"/api/v1/namespaces/{ns}/configmaps?fieldManager=gitopsd",
                                      {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                                       "data": live["data"]})
        assert status == 201
        assert _managers(cluster_a, path) == {("gitopsd", "Update")}
        repo.commit({"app/c.yaml": _cm("c", {"a": "1"})})
        assert (await k.sync()).kind is OutcomeKind.SYNCED
        after = _get(cluster_a, path) or {}
        assert after["data"] == {"a": "1"}
        assert _managers(cluster_a, path) == {("gitopsd", "Apply")}
