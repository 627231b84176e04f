"""The real daemon process end to end: real control planes, real Git over SSH.

Commits are applied without a manual step, webhooks trigger at once, drift is
reverted (or reported with selfHeal off), broken commits back off and are
superseded by a fix, a stopped cluster does not stall the other one, SIGHUP
with a bad file keeps the running fleet, and SIGTERM stops cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitopsd import localcluster
from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, edit, fleet_doc, poll_until, value

AUTO = {"automated": {"prune": True, "selfHeal": True}}


def cm(name: str, value: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                           "data": {"value": value}})


def app(name: str, path: str, ns: str, cluster: str | None = None, policy: Any = None) -> dict[str, Any]:
    dest: dict[str, Any] = {"clusters": {"names": [cluster]} if cluster else {"matchLabels": {}},
                            "namespace": ns}
    return {"name": name, "source": {"repo": "env", "targetRevision": "main", "path": path},
            "destination": dest, "syncPolicy": AUTO if policy is None else policy}


@pytest.fixture
def daemon_root(tmp_path: Path) -> Path:
    return tmp_path / "daemon"


def test_commit_applied_by_polling_and_webhook_triggers_at_once(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        daemon_root: Path) -> None:
    """A pushed commit is applied by the next poll, and a webhook makes a slow poller act at once."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"app/c.yaml": cm("c", "one")})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {"env": "dev"})], repo.ssh_url, key_file=git_client_key,
                      known_hosts=git_known_hosts, poll="1s", apps=[app("poll", "app", ns)])
    d = DaemonProc(fleet, daemon_root).start()
    try:
        assert poll_until(lambda: value(cluster_a, ns, "c") == "one", 30), d.logs()
        repo.commit({"app/c.yaml": cm("c", "two")})
        t0 = time.monotonic()
        assert poll_until(lambda: value(cluster_a, ns, "c") == "two", 20), d.logs()
        polled = time.monotonic() - t0
    finally:
        assert d.stop() == 0
    slow = fleet_doc([("a", cluster_a.kubeconfig, {"env": "dev"})], repo.ssh_url, key_file=git_client_key,
                     known_hosts=git_known_hosts, poll="10m", apps=[app("poll", "app", ns)])
    d = DaemonProc(slow, daemon_root.with_name("slow")).start()
    try:
        assert poll_until(lambda: (d.instance("poll", "a") or {}).get("last_sync", {}).get("result"), 30)
        repo.commit({"app/c.yaml": cm("c", "three")})
        t0 = time.monotonic()
        assert d.webhook(repo.ssh_url) == 202
        assert poll_until(lambda: value(cluster_a, ns, "c") == "three", 10), d.logs()
        hooked = time.monotonic() - t0
        assert d.webhook("unrelated") == 202
        body = b'{"repo": "env"}'
        assert d.post("/webhooks/generic", body, {"X-Gitopsd-Signature": "sha256=00"}) == 401
    finally:
        assert d.stop() == 0
    print(f"commit-to-applied: polling 1s {polled:.2f}s, webhook {hooked:.2f}s")
    assert hooked < 10


def test_drift_is_reverted_or_reported(cluster_a: LocalCluster, make_namespace, git_repos,
                                       daemon_root: Path) -> None:
    """An out-of-band edit is reverted with selfHeal; without it, an edit turns the instance OutOfSync
    and a deletion makes it Missing."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"heal/h.yaml": cm("h", "desired"), "watch/w.yaml": cm("w", "desired"),
                 "watch/gone.yaml": cm("gone", "desired")})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="30s", apps=[
        app("heal", "heal", ns), app("watch", "watch", ns, policy={"automated": {"selfHeal": False}})])
    d = DaemonProc(fleet, daemon_root).start()
    try:
        assert poll_until(lambda: value(cluster_a, ns, "h") == "desired" and value(cluster_a, ns, "w"), 30)
        assert poll_until(lambda: (d.instance("watch", "a") or {}).get("sync_status") == "Synced", 10)
        edit(cluster_a, ns, "h", "edited")
        t0 = time.monotonic()
        assert poll_until(lambda: value(cluster_a, ns, "h") == "desired", 10, 0.02), d.logs()
        reverted = time.monotonic() - t0
        assert poll_until(lambda: "self-heal of ConfigMap" in d.logs(), 5), "a repair applies just the object"
        edit(cluster_a, ns, "w", "edited")
        row = poll_until(lambda: (d.instance("watch", "a") or {}).get("sync_status") == "OutOfSync"
                         and d.instance("watch", "a"), 10)
        assert row, d.logs()
        assert any(c["type"] == "OutOfSync" for c in row["conditions"])
        assert row["health"] == "Healthy"
        status, _ = cluster_a.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/gone")
        assert status == 200
        row = poll_until(lambda: (d.instance("watch", "a") or {}).get("health") == "Missing"
                         and d.instance("watch", "a"), 10)
        assert row, d.logs()
        assert row["health_message"] == f"ConfigMap {ns}/gone is missing"
        time.sleep(1)
        assert value(cluster_a, ns, "w") == "edited"
        assert value(cluster_a, ns, "gone") is None
    finally:
        assert d.stop() == 0
    print(f"drift-to-revert: {reverted:.3f}s")


def test_without_self_heal_resyncs_and_restarts_leave_an_edit_and_a_new_commit_applies(
        cluster_a: LocalCluster, make_namespace, git_repos, daemon_root: Path) -> None:
    """Automated without selfHeal, as Argo CD: resyncs every second and a restart compare and leave a
    hand edit in place (OutOfSync, one history entry), and the next commit is applied."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"manual/m.yaml": cm("m", "desired")})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s",
                      apps=[app("keep", "manual", ns, policy={"automated": {"selfHeal": False}})])
    d = DaemonProc(fleet, daemon_root, resync=1.0).start()
    try:
        assert poll_until(lambda: (d.instance("keep", "a") or {}).get("sync_status") == "Synced", 30)
        edit(cluster_a, ns, "m", "edited")
        assert poll_until(lambda: (d.instance("keep", "a") or {}).get("sync_status") == "OutOfSync", 10)
        passes = d.logs().count('"reconcile.done"')
        assert poll_until(lambda: d.logs().count('"reconcile.done"') >= passes + 3, 20), d.logs()
        assert value(cluster_a, ns, "m") == "edited"
        assert d.stop() == 0
        d.start()
        assert poll_until(lambda: ((d.instance("keep", "a") or {}).get("last_sync") or {}).get("result")
                          == "OutOfSync", 30), d.logs()
        assert value(cluster_a, ns, "m") == "edited"
        assert [h["result"] for h in d.get("/api/v1/instances/keep/a")["history"]] == ["Synced"]
        repo.commit({"manual/m.yaml": cm("m", "second")})
        assert poll_until(lambda: value(cluster_a, ns, "m") == "second", 30), d.logs()
    finally:
        assert d.stop() == 0


def test_broken_commit_backs_off_and_fix_supersedes(cluster_a: LocalCluster, make_namespace, git_repos,
                                                    daemon_root: Path) -> None:
    """A broken commit fails with a message naming the file; the fixing commit is applied at once."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"app/c.yaml": cm("c", "good")})
    policy = {**AUTO, "retry": {"limit": 5, "backoff": {"duration": "1m", "factor": 2, "maxDuration": "10m"}}}
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s",
                      apps=[app("broken", "app", ns, policy=policy)])
    d = DaemonProc(fleet, daemon_root).start()
    try:
        assert poll_until(lambda: value(cluster_a, ns, "c") == "good", 30)
        bad = repo.commit({"app/c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c\n"})
        row = poll_until(lambda: (r := d.instance("broken", "a")) and r["revision"] != bad and
                         r["last_sync"]["result"] in ("Failed", "Stalled") and r, 20)
        assert row, d.logs()
        assert "app/c.yaml" in row["last_sync"]["message"]
        assert value(cluster_a, ns, "c") == "good"
        repo.commit({"app/c.yaml": cm("c", "fixed")})
        assert poll_until(lambda: value(cluster_a, ns, "c") == "fixed", 15), d.logs()
    finally:
        assert d.stop() == 0


def test_stopped_cluster_does_not_stall_the_other(cluster_a: LocalCluster, make_namespace, git_repos,
                                                  tmp_path: Path, daemon_root: Path) -> None:
    """With cluster B frozen, drift on A is still repaired; when B returns it converges."""
    b = localcluster.up("frozen", tmp_path / "frozen")
    try:
        ns = make_namespace(cluster_a)
        b.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": ns}})
        repo = git_repos.new()
        repo.commit({"app/c.yaml": cm("c", "v1")})
        fleet = fleet_doc([("a", cluster_a.kubeconfig, {}), ("b", b.kubeconfig, {})], str(repo.path),
                          poll="1s", apps=[app("both", "app", ns)])
        d = DaemonProc(fleet, daemon_root).start()
        api = next(p for p in b.processes if p.name == "kube-apiserver")
        try:
            assert poll_until(lambda: value(cluster_a, ns, "c") == "v1" and value(b, ns, "c") == "v1", 30)
            os.kill(api.pid, signal.SIGSTOP)
            try:
                repo.commit({"app/c.yaml": cm("c", "v2")})
                assert poll_until(lambda: value(cluster_a, ns, "c") == "v2", 15), d.logs()
                edit(cluster_a, ns, "c", "edited")
                t0 = time.monotonic()
                assert poll_until(lambda: value(cluster_a, ns, "c") == "v2", 10, 0.02), d.logs()
                repaired = time.monotonic() - t0
            finally:
                os.kill(api.pid, signal.SIGCONT)
            assert poll_until(lambda: value(b, ns, "c") == "v2", 90), d.logs()
        finally:
            assert d.stop() == 0
        print(f"drift repair on A with B frozen: {repaired:.3f}s")
    finally:
        localcluster.down(b.dir)


def test_sighup_with_bad_file_keeps_running_fleet(cluster_a: LocalCluster, make_namespace, git_repos,
                                                  daemon_root: Path) -> None:
    """A SIGHUP with an invalid fleet file is rejected and the old fleet keeps syncing."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"app/c.yaml": cm("c", "one")})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s",
                      apps=[app("hup", "app", ns)])
    d = DaemonProc(fleet, daemon_root).start()
    try:
        assert poll_until(lambda: value(cluster_a, ns, "c") == "one", 30)
        d.write_fleet(text="fleet: e2e\nclusters: [{name: a, kubeconfg: nope}]\n")
        assert d.proc is not None
        d.proc.send_signal(signal.SIGHUP)
        assert poll_until(lambda: "reload.rejected" in d.logs(), 10), d.logs()
        assert "kubeconfg" in d.logs()
        assert d.proc.poll() is None
        repo.commit({"app/c.yaml": cm("c", "two")})
        assert poll_until(lambda: value(cluster_a, ns, "c") == "two", 20), d.logs()
    finally:
        assert d.stop() == 0


def test_sigterm_stops_within_timeout_without_orphans(cluster_a: LocalCluster, make_namespace, git_repos,
                                                      daemon_root: Path) -> None:
    """SIGTERM ends the daemon quickly with exit 0 and leaves no child process behind."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"app/c.yaml": cm("c", "one")})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s",
                      apps=[app("term", "app", ns)])
    d = DaemonProc(fleet, daemon_root).start()
    assert poll_until(lambda: value(cluster_a, ns, "c") == "one", 30)
    assert d.proc is not None
    pid = d.proc.pid
    t0 = time.monotonic()
    assert d.stop(timeout=30) == 0
    assert time.monotonic() - t0 < 30
    leftovers = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                leftovers.append(entry.name)
    assert leftovers == []
    assert "daemon.stopped" in d.logs()


def test_fight_backs_off_and_status_shows_it(cluster_a: LocalCluster, make_namespace, git_repos,
                                             daemon_root: Path) -> None:
    """An object changed again and again is repaired with growing delays and reported as a fight."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"app/c.yaml": cm("c", "desired")})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="30s",
                      apps=[app("fight", "app", ns)])
    d = DaemonProc(fleet, daemon_root).start()
    try:
        assert poll_until(lambda: value(cluster_a, ns, "c") == "desired", 30)
        delays = []
        for n in range(3):
            edit(cluster_a, ns, "c", f"other-{n}")
            t0 = time.monotonic()
            assert poll_until(lambda: value(cluster_a, ns, "c") == "desired", 30, 0.02), d.logs()
            delays.append(time.monotonic() - t0)
        assert delays[0] < 1.5
        assert delays[2] > delays[1] > delays[0] + 1.0, delays
        edit(cluster_a, ns, "c", "other-again")
        row = poll_until(lambda: (r := d.instance("fight", "a")) and
                         any(c["type"] == "SelfHealFight" for c in r["conditions"]) and r, 10)
        assert row, d.logs()
        status = subprocess.run(
            [sys.executable, "-m", "gitopsd", "status", "--server", f"http://127.0.0.1:{d.port}",
             "--api-token-file", str(d.root / "token")], capture_output=True, text=True, timeout=30,
            check=False)
        assert status.returncode == 0, status.stderr
        assert status.stdout.splitlines()[0].split()[:4] == ["APP", "CLUSTER", "SYNC", "HEALTH"]
        line = next(line for line in status.stdout.splitlines() if line.startswith("fight "))
        assert "SelfHealFight" in line.split()
        anonymous = subprocess.run(
            [sys.executable, "-m", "gitopsd", "status", "--server", f"http://127.0.0.1:{d.port}"],
            capture_output=True, text=True, timeout=30, check=False)
        assert anonymous.returncode == 0, anonymous.stderr  # a read from this host needs no token
        assert any(line.startswith("fight ") for line in anonymous.stdout.splitlines())
    finally:
        assert d.stop() == 0
    print(f"repair delays during a fight: {[round(x, 2) for x in delays]}")


def _argo_app(name: str, repo_url: str, path: str, ns: str) -> str:
    return yaml.safe_dump({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"project": "default",
                 "source": {"repoURL": repo_url, "targetRevision": "main", "path": path},
                 "destination": {"name": "a", "namespace": ns},
                 "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}})


def test_argocd_application_files_define_and_add_applications(
        cluster_a: LocalCluster, make_namespace, git_repos, daemon_root: Path) -> None:
    """Argo CD Application files in Git become applications, and a new file adds one while running."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    url = str(repo.path)
    repo.commit({"clusters/dev/apps/first.yaml": _argo_app("first", url, "apps/first", ns),
                 "apps/first/c.yaml": cm("first", "1"), "apps/second/c.yaml": cm("second", "2")})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], url, poll="1s", apps=[])
    fleet["applications"] = [{"name": "dev-apps",
                              "argocd": {"repo": "env", "targetRevision": "main",
                                         "path": "clusters/dev/apps"}}]
    d = DaemonProc(fleet, daemon_root).start()
    try:
        assert poll_until(lambda: value(cluster_a, ns, "first") == "1", 30), d.logs()
        repo.commit({"clusters/dev/apps/second.yaml": _argo_app("second", url, "apps/second", ns)})
        assert poll_until(lambda: value(cluster_a, ns, "second") == "2", 30), d.logs()
        assert d.instance("second", "a") is not None
    finally:
        assert d.stop() == 0


def _configmap_gets(cluster: LocalCluster) -> float:
    """The API server's own count of GET requests for single ConfigMaps."""
    _, text = cluster.request("GET", "/metrics")
    total = 0.0
    for line in str(text).splitlines():
        if line.startswith("apiserver_request_total{") and 'resource="configmaps"' in line \
                and 'verb="GET"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_resync_of_watched_instance_reads_nothing(cluster_a: LocalCluster, make_namespace, git_repos,
                                                  daemon_root: Path) -> None:
    """Periodic resyncs of an instance the watches show in place make no GET requests."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({f"app/c{i}.yaml": cm(f"c{i}", str(i)) for i in range(10)})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="30s",
                      apps=[app("quiet", "app", ns)])
    d = DaemonProc(fleet, daemon_root, resync=0.5).start()
    try:
        assert poll_until(lambda: value(cluster_a, ns, "c9") == "9", 30)
        assert poll_until(lambda: (d.instance("quiet", "a") or {}).get("health") == "Healthy", 10)
        time.sleep(2)
        before = _configmap_gets(cluster_a)
        time.sleep(4)
        gets = _configmap_gets(cluster_a) - before
        assert gets < 10, f"{gets} GETs during ~8 resyncs of 10 objects"
        edit(cluster_a, ns, "c3", "edited")
        assert poll_until(lambda: value(cluster_a, ns, "c3") == "3", 10), d.logs()
        row = d.instance("quiet", "a")
        assert row is not None
        assert (row["sync_status"], row["health"]) == ("Synced", "Healthy")
    finally:
        assert d.stop() == 0


@pytest.mark.workloads
def test_health_follows_the_watches_after_the_last_wave(cluster_w: LocalCluster, make_namespace, git_repos,
                                                        daemon_root: Path) -> None:
    """A sync ends with its Deployment applied, and the instance turns Healthy from watch events alone."""
    ns = make_namespace(cluster_w)
    repo = git_repos.new()
    web = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                        "tolerations": [{"key": "kwok.x-k8s.io/node", "operator": "Exists",
                                         "effect": "NoSchedule"}],
                        "containers": [{"name": "c", "image": "registry.invalid/web:1"}]}}}}
    repo.commit({"app/web.yaml": yaml.safe_dump(web), "app/c.yaml": cm("c", "1")})
    fleet = fleet_doc([("w", cluster_w.kubeconfig, {})], str(repo.path), poll="30s",
                      apps=[app("web", "app", ns)])
    d = DaemonProc(fleet, daemon_root, resync=600).start()
    try:
        assert poll_until(lambda: (d.instance("web", "w") or {}).get("sync_status") == "Synced", 30), d.logs()
        first = d.instance("web", "w") or {}
        assert poll_until(lambda: (d.instance("web", "w") or {}).get("health") == "Healthy", 60), d.logs()
        last = d.instance("web", "w") or {}
        assert last["last_sync"]["trace_id"] == first["last_sync"]["trace_id"], "no second pass was needed"
    finally:
        assert d.stop() == 0
