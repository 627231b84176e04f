"""Applications leaving the fleet, with the real daemon and a real API server.

With ``cascadeDelete`` the objects the application deployed are deleted, except
those marked ``Delete=false`` and those another application has taken over;
without it everything stays. An application that stays is never touched.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, fleet_doc, poll_until

BACKGROUND = {"automated": {"prune": True, "selfHeal": True},
              "syncOptions": ["PrunePropagationPolicy=background"]}


def cm(name: str, annotations: dict[str, str] | None = None) -> str:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": name}})


def exists(cluster: LocalCluster, ns: str, name: str) -> bool:
    return cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/{name}")[0] == 200


def app(name: str, path: str, ns: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "source": {"repo": "env", "targetRevision": "main", "path": path},
            "destination": {"clusters": {"names": ["a"]}, "namespace": ns}, "syncPolicy": BACKGROUND,
            **extra}


def test_removed_application_cascades_only_when_asked(cluster_a: LocalCluster, make_namespace, git_repos,
                                                      tmp_path: Path) -> None:
    """cascadeDelete deletes what the application still owns (wave by wave); Delete=false,
    taken-over objects, applications without it and applications still in the fleet stay, and the
    metrics forget the applications that left."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({
        "gone/early.yaml": cm("gone-early", {"argocd.argoproj.io/sync-wave": "-1"}),
        "gone/late.yaml": cm("gone-late", {"argocd.argoproj.io/sync-wave": "5"}),
        "gone/keep.yaml": cm("gone-keep", {"argocd.argoproj.io/sync-options": "Delete=false"}),
        "gone/taken.yaml": cm("gone-taken"),
        "left/left.yaml": cm("left-one"),
        "stays/stays.yaml": cm("stays-one"),
    })
    apps = [app("gone", "gone", ns, cascadeDelete=True), app("left", "left", ns),
            app("stays", "stays", ns, cascadeDelete=True)]
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="30s", apps=apps)
    d = DaemonProc(fleet, tmp_path / "daemon").start()
    names = ("gone-early", "gone-late", "gone-keep", "gone-taken", "left-one", "stays-one")
    try:
        assert poll_until(lambda: all(exists(cluster_a, ns, n) for n in names), 30), d.logs()
        inventory = "/api/v1/namespaces/gitopsd-system/configmaps/gitopsd-inv-gone"
        assert poll_until(lambda: cluster_a.request("GET", inventory)[1].get("metadata", {})
                          .get("annotations", {}).get("gitopsd.io/cascade-delete") == "true", 10)
        taken = {"metadata": {"annotations": {"gitopsd.io/tracking-id": f"other:/ConfigMap:{ns}/gone-taken"}}}
        status, _ = cluster_a.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/gone-taken", taken,
                                      content_type="application/merge-patch+json")
        assert status == 200
        d.write_fleet({**fleet, "applications": [apps[2]]})
        assert d.proc is not None
        d.proc.send_signal(signal.SIGHUP)
        gone = poll_until(lambda: not exists(cluster_a, ns, "gone-early")
                          and not exists(cluster_a, ns, "gone-late") and "removal.done" in d.logs(), 30)
        assert gone, d.logs()
        assert exists(cluster_a, ns, "gone-keep")
        assert exists(cluster_a, ns, "gone-taken")
        assert exists(cluster_a, ns, "left-one")
        assert exists(cluster_a, ns, "stays-one")
        assert cluster_a.request("GET", inventory)[0] == 404
        assert cluster_a.request(
            "GET", "/api/v1/namespaces/gitopsd-system/configmaps/gitopsd-inv-left")[0] == 200
        events = [e for e in map(json.loads, d.logs().splitlines())
                  if str(e.get("event", "")).startswith("removal.")]
        done = next(e for e in events if e["event"] == "removal.done")
        assert done["app"] == "gone"
        assert done["summary"].startswith("2 deleted, 2 kept")
        assert "Delete=false" in done["summary"]
        assert "not this application's" in done["summary"]
        assert any(e["event"] == "removal.orphaned" and e["app"] == "left" for e in events)
        assert all(e.get("app") != "stays" for e in events)
        info = [ln for ln in d.get("/metrics", auth=False).splitlines() if ln.startswith("gitopsd_app_info{")]
        assert [ln.split('"')[1] for ln in info] == ["stays"], info
    finally:
        assert d.stop() == 0


def _job(name: str, phase: str) -> str:
    return yaml.safe_dump({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "annotations": {"argocd.argoproj.io/hook": phase}},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "registry.example/job:1"}]}}}})


@pytest.mark.workloads
def test_deletion_hooks_run_around_a_cascading_removal(cluster_w: LocalCluster, make_namespace, git_repos,
                                                       tmp_path: Path) -> None:
    """A removed application's PreDelete Job completes before its objects go, and its PostDelete
    hook runs after; neither runs during ordinary syncs, and both are deleted with the inventory."""
    ns = make_namespace(cluster_w)
    repo = git_repos.new()
    repo.commit({"app/cm.yaml": cm("payload"), "app/pre.yaml": _job("backup", "PreDelete"),
                 "app/post.yaml": cm("farewell", {"argocd.argoproj.io/hook": "PostDelete"})})
    gone = {"name": "gone", "source": {"repo": "env", "targetRevision": "main", "path": "app"},
            "destination": {"clusters": {"names": ["w"]}, "namespace": ns},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}, "cascadeDelete": True}
    fleet = fleet_doc([("w", cluster_w.kubeconfig, {})], str(repo.path), poll="30s", apps=[gone])
    d = DaemonProc(fleet, tmp_path / "daemon").start()
    job = f"/apis/batch/v1/namespaces/{ns}/jobs/backup"
    try:
        assert poll_until(lambda: exists(cluster_w, ns, "payload"), 30), d.logs()
        assert poll_until(lambda: (d.instance("gone", "w") or {}).get("sync_status") == "Synced", 20)
        assert cluster_w.request("GET", job)[0] == 404
        assert not exists(cluster_w, ns, "farewell")
        inventory = cluster_w.request("GET", "/api/v1/namespaces/gitopsd-system/configmaps/gitopsd-inv-gone")
        assert inventory[1]["data"]["entries"].split() == ["v1", "ConfigMap", f"{ns}/payload"]
        d.write_fleet({**fleet, "applications": []})
        assert d.proc is not None
        d.proc.send_signal(signal.SIGHUP)
        assert poll_until(lambda: "removal.done" in d.logs(), 60), d.logs()
        assert not exists(cluster_w, ns, "payload")
        assert poll_until(lambda: cluster_w.request("GET", job)[0] == 404, 20)
        assert not exists(cluster_w, ns, "farewell")
        events = [e for e in map(json.loads, d.logs().splitlines())
                  if e.get("event") in ("removal.hook", "removal.done")]
        # removal.hook is logged only once the hook succeeded: the Job completed
        assert [(e["event"], e.get("phase")) for e in events] == [
            ("removal.hook", "PreDelete"), ("removal.hook", "PostDelete"), ("removal.done", None)]
    finally:
        assert d.stop() == 0
