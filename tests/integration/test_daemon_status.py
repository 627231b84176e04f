"""What the daemon process says about an instance, over the API, ``gitopsd status`` and /metrics.

A new revision the API server rejects leaves the instance OutOfSync with the
revision still applied and the failed one side by side (row, table, history,
metrics); a repository that stops answering (renamed on the Git server) is a
SourceUnavailable condition on every instance of it until it answers again;
and a sync's counts do not claim a Namespace CreateNamespace found in place.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, fleet_doc, poll_until, value

AUTO = {"automated": {"prune": True, "selfHeal": True},
        "retry": {"limit": 2, "backoff": {"duration": "30s", "factor": 2, "maxDuration": "1m"}}}


def cm(name: str, value: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                           "data": {"value": value}})


def app(name: str, path: str, ns: str) -> dict[str, Any]:
    return {"name": name, "source": {"repo": "env", "targetRevision": "main", "path": path},
            "destination": {"clusters": {"names": ["a"]}, "namespace": ns}, "syncPolicy": AUTO}


def status_table(d: DaemonProc) -> dict[str, dict[str, str]]:
    """``gitopsd status`` as {app: {column: cell}} (cells hold no spaces but MESSAGE, read last)."""
    out = subprocess.run(
        [sys.executable, "-m", "gitopsd", "status", "--server", f"http://127.0.0.1:{d.port}",
         "--api-token-file", str(d.root / "token")], capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    header, *lines = out.stdout.splitlines()
    columns = ["APP", "CLUSTER", "SYNC", "HEALTH", "REVISION", "FAILED REVISION", "LAST RESULT", "CONDITIONS",
               "WINDOWS"]
    assert header.split()[:4] == columns[:4]
    starts = [header.index(c) for c in columns]
    table = {}
    for line in lines:
        ends = [*starts[1:], header.index("MESSAGE")]
        cells = [line[s:e].strip() for s, e in zip(starts, ends, strict=True)]
        table[cells[0]] = dict(zip(columns, cells, strict=True))
    return table


def test_rejected_revision_is_out_of_sync_beside_the_applied_one(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path) -> None:
    """A commit whose Service the API server rejects leaves the instance OutOfSync: the API row,
    `gitopsd status`, the history and the metrics show the applied revision and the failed one."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    good = repo.commit({"app/c.yaml": cm("c", "good")})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], repo.ssh_url, key_file=git_client_key,
                      known_hosts=git_known_hosts, poll="1s", apps=[app("rejected", "app", ns)])
    d = DaemonProc(fleet, tmp_path / "daemon").start()
    try:
        assert poll_until(lambda: (d.instance("rejected", "a") or {}).get("sync_status") == "Synced", 30), \
            d.logs()
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
                   "spec": {"ports": [{"port": 70000}]}}
        bad = repo.commit({"app/c.yaml": cm("c", "changed"), "app/svc.yaml": yaml.safe_dump(service)})
        row = poll_until(lambda: (r := d.instance("rejected", "a")) and
                         r["last_sync"]["result"] == "Failed" and r, 30)
        assert row, d.logs()
        assert (row["sync_status"], row["revision"], row["failed_revision"]) == ("OutOfSync", good, bad)
        assert row["last_sync"]["revision"] == bad
        assert "70000" in row["last_sync"]["message"]
        assert "SyncError" in [c["type"] for c in row["conditions"]]

        shown = status_table(d)["rejected"]
        assert (shown["SYNC"], shown["REVISION"], shown["FAILED REVISION"], shown["LAST RESULT"]) == \
            ("OutOfSync", good[:12], bad[:12], "Failed")
        history = d.get("/api/v1/instances/rejected/a")["history"]
        assert (history[0]["revision"], history[0]["result"]) == (bad, "Failed")
        metrics = d.get("/metrics", auth=False)
        assert 'gitopsd_app_info{app="rejected",cluster="a",health_status=' in metrics
        info = [ln for ln in metrics.splitlines() if ln.startswith('gitopsd_app_info{app="rejected"')]
        assert len(info) == 1, info
        assert 'sync_status="OutOfSync"' in info[0], info

        fixed = repo.commit({"app/c.yaml": cm("c", "fixed"), "app/svc.yaml": None})
        row = poll_until(lambda: (r := d.instance("rejected", "a")) and r["revision"] == fixed and r, 30)
        assert row, d.logs()
        assert (row["sync_status"], row["failed_revision"], row["conditions"]) == ("Synced", "", [])
        assert value(cluster_a, ns, "c") == "fixed"
    finally:
        assert d.stop() == 0


def test_repository_outage_is_a_condition_on_every_instance(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path) -> None:
    """While the repository is gone from the Git server, both of its instances carry SourceUnavailable
    in the API row and in `gitopsd status`; when it is back the condition goes and a new commit syncs."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    first = repo.commit({"one/c.yaml": cm("c1", "first"), "two/c.yaml": cm("c2", "first")})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], repo.ssh_url, key_file=git_client_key,
                      known_hosts=git_known_hosts, poll="1s",
                      apps=[app("one", "one", ns), app("two", "two", ns)])
    d = DaemonProc(fleet, tmp_path / "daemon").start()
    apps = ("one", "two")

    def at(revision: str) -> bool:
        return all((d.instance(name, "a") or {}).get("revision") == revision for name in apps)

    def unavailable() -> list[dict[str, Any]] | None:
        rows = [d.instance(name, "a") or {} for name in apps]
        return rows if all(any(c["type"] == "SourceUnavailable" for c in r.get("conditions", []))
                           for r in rows) else None

    moved = repo.path.with_name(repo.path.name + ".moved")
    try:
        assert poll_until(lambda: at(first), 30), d.logs()
        repo.path.rename(moved)
        try:
            rows = poll_until(unavailable, 20)
            assert rows, d.logs()
            for row in rows:
                (condition,) = [c for c in row["conditions"] if c["type"] == "SourceUnavailable"]
                assert condition["reason"] == "PollFailed"
                assert "env" in condition["message"]
                assert (row["sync_status"], row["revision"]) == ("Synced", first)
            table = status_table(d)
            assert all("SourceUnavailable" in table[name]["CONDITIONS"] for name in apps), table
        finally:
            moved.rename(repo.path)
        second = repo.commit({"one/c.yaml": cm("c1", "second"), "two/c.yaml": cm("c2", "second")})
        assert poll_until(lambda: at(second), 30), d.logs()
        for name in apps:
            row = d.instance(name, "a")
            assert row is not None
            assert (row["sync_status"], row["conditions"]) == ("Synced", [])
        assert value(cluster_a, ns, "c1") == "second"
    finally:
        assert d.stop() == 0


def test_create_namespace_is_counted_once(cluster_a: LocalCluster, git_repos, tmp_path: Path) -> None:
    """With CreateNamespace=true the first sync counts the Namespace it created; a later sync of a
    changed object finds it there and counts only what it configured."""
    ns = f"t-made-{uuid.uuid4().hex[:8]}"
    repo = git_repos.new()
    repo.commit({"app/c.yaml": cm("c", "one")})
    made = {**app("made", "app", ns), "syncPolicy": {**AUTO, "syncOptions": ["CreateNamespace=true"]}}
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s", apps=[made])
    d = DaemonProc(fleet, tmp_path / "daemon").start()
    try:
        assert poll_until(lambda: value(cluster_a, ns, "c") == "one", 30), d.logs()
        repo.commit({"app/c.yaml": cm("c", "two")})
        assert poll_until(lambda: value(cluster_a, ns, "c") == "two", 30), d.logs()
        history = poll_until(lambda: (h := d.get("/api/v1/instances/made/a")["history"]) and
                             len(h) == 2 and h, 10)
        assert history, d.logs()
        assert [(h["message"], h["changes"]) for h in reversed(history)] == [
            ("2 created", {"created": 2}), ("1 configured, 1 unchanged", {"configured": 1, "unchanged": 1})]
    finally:
        assert d.stop() == 0
        cluster_a.request("DELETE", f"/api/v1/namespaces/{ns}")
