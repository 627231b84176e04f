"""User health checks from the fleet file, end to end with the real daemon and API server.

The application's repository brings a CRD with a status subresource and its
custom resources; the test plays the custom resource's controller by writing
``status`` through the subresource. A Lua check (Argo CD style, from a file
next to the fleet file) gates the next sync wave; a CEL rule (Flux style)
decides the instance's health as watch events arrive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, fleet_doc, poll_until, value

GADGET_LUA = """\
local hs = {}
if obj.status == nil or obj.status.state == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the gadget controller"
  return hs
end
if obj.status.state == "broken" then
  hs.status = "Degraded"
  hs.message = "gadget is broken: " .. obj.status.reason
  return hs
end
hs.status = "Healthy"
return hs
"""


def _crd(group: str, kind: str) -> dict[str, Any]:
    plural = kind.lower() + "s"
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {
                                       "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def _cr(group: str, kind: str, name: str, wave: int) -> str:
    return yaml.safe_dump({"apiVersion": f"{group}/v1", "kind": kind,
                           "metadata": {"name": name,
                                        "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}},
                           "spec": {"size": 1}})


def _cm(name: str, wave: int) -> str:
    meta = {"name": name, "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}}
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                           "data": {"value": "applied"}})


def _write_status(cluster: LocalCluster, group: str, ns: str, plural: str, name: str,
                  status: dict[str, Any]) -> None:
    path = f"/apis/{group}/v1/namespaces/{ns}/{plural}/{name}/status?fieldManager=test-controller"
    code, body = cluster.request("PATCH", path, {"status": status},
                                 content_type="application/merge-patch+json")
    assert code == 200, body


def _exists(cluster: LocalCluster, path: str) -> bool:
    return cluster.request("GET", path)[0] == 200


def _app(ns: str, policy: dict[str, Any]) -> dict[str, Any]:
    return {"name": "gadgets", "source": {"repo": "env", "targetRevision": "main", "path": "app"},
            "destination": {"clusters": {"matchLabels": {}}, "namespace": ns}, "syncPolicy": policy}


def test_lua_check_from_the_fleet_file_gates_the_next_wave(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """A Lua check that says Degraded stops the next wave with its message; Healthy lets it go on."""
    ns = make_namespace(cluster_a)
    group = f"g{ns.replace('-', '')}.example.com"
    repo = git_repos.new()
    repo.commit({"app/crd.yaml": yaml.safe_dump(_crd(group, "Gadget")),
                 "app/gadget.yaml": _cr(group, "Gadget", "g1", 1),
                 "app/after.yaml": _cm("after", 2)})
    policy = {"automated": {"prune": True, "selfHeal": True}, "syncTimeout": "6s",
              "retry": {"limit": 10, "backoff": {"duration": "1s", "factor": 1, "maxDuration": "1s"}}}
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="30s", apps=[_app(ns, policy)])
    fleet["health"] = {f"{group}/Gadget": {"luaFile": "checks/gadget.lua"}}
    root = tmp_path / "daemon"
    (root / "checks").mkdir(parents=True)
    (root / "checks" / "gadget.lua").write_text(GADGET_LUA)
    d = DaemonProc(fleet, root).start()
    try:
        gadget = f"/apis/{group}/v1/namespaces/{ns}/gadgets/g1"
        assert poll_until(lambda: _exists(cluster_a, gadget), 30), d.logs()
        _write_status(cluster_a, group, ns, "gadgets", "g1", {"state": "broken", "reason": "disk full"})
        expected = f"Gadget.{group} {ns}/g1 is Degraded (gadget is broken: disk full)"
        row = poll_until(lambda: (r := d.instance("gadgets", "a")) and expected in
                         r["last_sync"]["message"] and r, 30)
        assert row, (d.instance("gadgets", "a"), d.logs()[-3000:])
        assert value(cluster_a, ns, "after") is None
        _write_status(cluster_a, group, ns, "gadgets", "g1", {"state": "ok"})
        assert poll_until(lambda: value(cluster_a, ns, "after") == "applied", 30), d.logs()[-3000:]
        row = poll_until(lambda: (r := d.instance("gadgets", "a")) and r["health"] == "Healthy" and r, 15)
        assert row, d.instance("gadgets", "a")
    finally:
        assert d.stop() == 0


def test_instance_health_follows_a_cel_rule_from_the_fleet_file(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """A custom resource under a CEL rule turns the instance Degraded, then Healthy, as its status changes."""
    ns = make_namespace(cluster_a)
    group = f"w{ns.replace('-', '')}.example.com"
    repo = git_repos.new()
    repo.commit({"app/crd.yaml": yaml.safe_dump(_crd(group, "Widget")),
                 "app/widget.yaml": _cr(group, "Widget", "w1", 1)})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="30s",
                      apps=[_app(ns, {"automated": {"prune": True, "selfHeal": True}})])
    fleet["health"] = {f"{group}/Widget": {"cel": {
        "current": "status.?phase.orValue('') == 'Ready'",
        "failed": "status.?phase.orValue('') == 'Failed'"}}}
    d = DaemonProc(fleet, tmp_path / "daemon").start()

    def health() -> str | None:
        row = d.instance("gadgets", "a") or {}
        return row.get("health")

    try:
        widget = f"/apis/{group}/v1/namespaces/{ns}/widgets/w1"
        assert poll_until(lambda: _exists(cluster_a, widget), 30), d.logs()
        assert poll_until(lambda: health() == "Progressing", 20), (health(), d.logs()[-3000:])
        _write_status(cluster_a, group, ns, "widgets", "w1", {"phase": "Failed"})
        assert poll_until(lambda: health() == "Degraded", 20), d.instance("gadgets", "a")
        _write_status(cluster_a, group, ns, "widgets", "w1", {"phase": "Ready"})
        assert poll_until(lambda: health() == "Healthy", 20), d.instance("gadgets", "a")
    finally:
        assert d.stop() == 0

