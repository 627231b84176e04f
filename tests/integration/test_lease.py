"""Two daemons on one fleet and cluster: only the Lease holder writes; the other takes over on its stop."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import yaml

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, fleet_doc, poll_until, value


def _cm(value: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                           "data": {"value": value}})


def _app(ns: str, revision: str) -> dict[str, object]:
    return {"name": "web", "source": {"repo": "env", "targetRevision": revision, "path": "app"},
            "destination": {"clusters": {"names": ["a"]}, "namespace": ns},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}


def _condition(d: DaemonProc, kind: str) -> dict[str, str] | None:
    row = d.instance("web", "a") or {}
    return next((c for c in row.get("conditions", []) if c["type"] == kind), None)


def test_second_daemon_writes_nothing_until_the_holder_stops(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path) -> None:
    """A daemon pinned to an older commit neither reverts the holder's work nor prunes; it says who
    holds the Lease, and applies its own revision once the holder stops and gives the Lease up."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    old = repo.commit({"app/c.yaml": _cm("old")})
    repo.commit({"app/c.yaml": _cm("new")})
    clusters = [("a", cluster_a.kubeconfig, {"env": "dev"})]
    current = fleet_doc(clusters, repo.ssh_url, key_file=git_client_key, known_hosts=git_known_hosts,
                        apps=[_app(ns, "main")])
    behind = fleet_doc(clusters, repo.ssh_url, key_file=git_client_key, known_hosts=git_known_hosts,
                       apps=[_app(ns, old)])
    first = DaemonProc(current, tmp_path / "first").start()
    second: DaemonProc | None = None
    try:
        assert poll_until(lambda: value(cluster_a, ns, "c") == "new", 30), first.logs()
        second = DaemonProc(behind, tmp_path / "second").start()
        held = poll_until(lambda: _condition(second, "LeaseHeldElsewhere"), 30)
        assert held is not None, second.logs()
        holder = f"{socket.gethostname()}:{(tmp_path / 'first' / 'state').resolve()}"
        assert holder in held["message"]
        time.sleep(3)  # several passes of the second daemon: none of them writes
        assert value(cluster_a, ns, "c") == "new"
        assert _condition(first, "LeaseHeldElsewhere") is None
        assert first.stop() == 0
        assert poll_until(lambda: value(cluster_a, ns, "c") == "old", 30), second.logs()
        assert poll_until(lambda: _condition(second, "LeaseHeldElsewhere") is None, 10)
    finally:
        if first.proc is not None and first.proc.poll() is None:
            first.stop()
        if second is not None:
            assert second.stop() == 0
