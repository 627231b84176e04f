"""Sync history kept in the target cluster: bounded, shared by hosts, back after a lost state directory.

Against the real API server: two hosts' writers record into one instance's
history ConfigMap, which keeps Argo CD's ten newest entries; a host with an
empty state directory reads its history from there; and a real daemon whose
state directory was deleted still lists its syncs with ``gitopsd history``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from gitopsd.edges.history import MirroredHistory
from gitopsd.edges.kube import KubeClient, Objects
from gitopsd.edges.kube.history import KEEP, ClusterHistory
from gitopsd.edges.store import HistoryStore
from gitopsd.localcluster import LocalCluster
from gitopsd.model import Cluster
from tests.integration.daemonproc import DaemonProc, fleet_doc, poll_until
from tests.integration.test_ui import application, cli, cm


def name_of(app: str) -> str:
    return f"gitopsd-inv-{app}"


@pytest.mark.asyncio
async def test_two_hosts_share_a_bounded_history_and_a_new_host_reads_it(
        cluster_a: LocalCluster, make_namespace, tmp_path: Path) -> None:
    """Two writers' 14 syncs of one instance leave the 10 newest in the cluster, with no Secret, and
    a host with an empty state directory lists exactly those, each with an id that rolls back."""
    ns = make_namespace(cluster_a)
    app = f"shared-{uuid.uuid4().hex[:6]}"
    clients = [await KubeClient.connect(Cluster(name="a", kubeconfig=str(cluster_a.kubeconfig)))
               for _ in range(3)]
    hosts = [MirroredHistory(HistoryStore(tmp_path / f"host{i}"),
                             ClusterHistory({"a": Objects(c)}, namespace=ns, name=name_of))
             for i, c in enumerate(clients)]
    try:
        for n in range(14):
            await hosts[n % 2].record(app, "a", revision=f"{n:040x}", started=1.7e9 + n, duration=0.5,
                                      result="Synced", message=f"sync {n}", trace_id=f"{n:032x}",
                                      changes={"configured": 1})
            for h in hosts[:2]:
                assert h.cluster is not None
                await h.cluster.flush(20)
        status, body = cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/{name_of(app)}.history")
        assert status == 200, body
        assert "gitopsd.io/fleet" not in (body["metadata"].get("labels") or {})  # no inventory
        kept = json.loads(body["data"]["entries"])["a"]
        assert [e["revision"] for e in kept] == [f"{n:040x}" for n in range(13, 13 - KEEP, -1)]

        fresh = await hosts[2].history(app, "a", 20)
        assert [e.revision for e in fresh] == [f"{n:040x}" for n in range(13, 13 - KEEP, -1)]
        assert fresh[0].message == "sync 13"
        oldest = await hosts[2].entry(app, "a", fresh[-1].id)
        assert oldest is not None
        assert oldest.revision == f"{13 - KEEP + 1:040x}"
        assert len(await hosts[2].history(app, "a", 20)) == KEEP  # filled once, not again
    finally:
        for h in hosts:
            if h.cluster is not None:
                await h.cluster.aclose()
            await h.store.close()
        for c in clients:
            await c.close()


def test_history_survives_the_loss_of_the_state_directory(
        cluster_a: LocalCluster, make_namespace, git_repos, git_client_key, git_known_hosts,
        tmp_path: Path) -> None:
    """A daemon restarted on an empty state directory lists, with `gitopsd history`, the syncs it
    made before, read back from the target cluster."""
    ns = make_namespace(cluster_a)
    app = f"kept-{ns}"
    repo = git_repos.new()
    repo.commit({"m/c.yaml": cm("m", "first")})
    first = repo.head()
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], repo.ssh_url, key_file=git_client_key,
                      known_hosts=git_known_hosts, poll="1s", apps=[application(app, "m", ns, {})])
    d = DaemonProc(fleet, tmp_path / "daemon").start()
    try:
        sync_manual_app(d, app, first)
        second = repo.commit({"m/c.yaml": cm("m", "second")})
        assert poll_until(lambda: (d.instance(app, "a") or {}).get("sync_status") == "OutOfSync", 60)
        sync_manual_app(d, app, second)
        before = cli(d, "history", app, "--cluster", "a")
        assert before.returncode == 0, before.stderr
    finally:
        assert d.stop() == 0
    shutil.rmtree(d.root / "state")
    d.start()
    try:
        after = cli(d, "history", app, "--cluster", "a")
        assert after.returncode == 0, after.stderr
        revisions = [line.split()[1] for line in after.stdout.splitlines()[1:]]
        assert revisions[:1] == [second[:12]], after.stdout
        assert first[:12] in revisions
        assert len(revisions) >= len(before.stdout.splitlines()) - 1  # nothing was lost
    finally:
        assert d.stop() == 0


def sync_manual_app(d: DaemonProc, app: str, revision: str) -> None:
    assert d.post(f"/api/v1/instances/{app}/a/sync", headers={"Authorization": f"Bearer {d.token}"}) == 202
    assert poll_until(lambda: (d.instance(app, "a") or {}).get("revision") == revision, 60), d.logs()
