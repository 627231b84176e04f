"""Clusters behind an SSH bastion: a real asyncssh jump host in front of a real API server.

The client edge alone (TLS still verified, host keys checked, reconnects), then
the daemon process syncing and self-healing through the bastion across a drop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitopsd.edges.kube import KubeClient
from gitopsd.errors import ClusterUnreachable
from gitopsd.localcluster import LocalCluster
from gitopsd.model import Bastion, Cluster
from tests.integration.daemonproc import DaemonProc, edit, fleet_doc, poll_until, value
from tests.testenv.bastion import BastionServer
from tests.testenv.gitserver import write_client_key


@dataclass
class Jump:
    server: BastionServer
    key_file: Path
    known_hosts: Path

    def bastion(self, known_hosts: Path | None = None) -> Bastion:
        return Bastion(host="127.0.0.1", port=self.server.port, user="gitopsd",
                       key_file=str(self.key_file), known_hosts_file=str(known_hosts or self.known_hosts))


@pytest.fixture
def jump(tmp_path: Path) -> Iterator[Jump]:
    """A bastion that accepts one generated key, with a known_hosts file naming its host key."""
    key = write_client_key(tmp_path, "bastion_ed25519")
    server = BastionServer([(tmp_path / "bastion_ed25519.pub").read_text().strip()]).start()
    known = tmp_path / "bastion_known_hosts"
    known.write_text(server.known_hosts_line + "\n")
    try:
        yield Jump(server, key, known)
    finally:
        server.shutdown()


def behind(cluster: LocalCluster, bastion: Bastion) -> Cluster:
    return Cluster(name="edge", kubeconfig=str(cluster.kubeconfig), server=cluster.server, bastion=bastion)


async def until_ok(client: KubeClient, timeout: float) -> float:
    """Seconds until GET /version answers through CLIENT."""
    t0 = time.monotonic()
    while True:
        try:
            await client.request("GET", "/version", timeout=5)
            return time.monotonic() - t0
        except ClusterUnreachable:
            if time.monotonic() - t0 > timeout:
                raise
            await asyncio.sleep(0.2)


@pytest.mark.asyncio
async def test_requests_travel_through_the_bastion_with_tls_checked(cluster_a: LocalCluster,
                                                                    jump: Jump) -> None:
    """The API server answers through a forward to its own address, and its certificate is still verified."""
    client = await KubeClient.connect(behind(cluster_a, jump.bastion()))
    try:
        _, version = await client.request("GET", "/version")
        assert version["gitVersion"].startswith("v1.34")
        assert client.tunnel is not None
        assert client.tunnel.port not in (0, cluster_a.port)
        assert jump.server.forwards
        assert set(jump.server.forwards) == {("127.0.0.1", cluster_a.port)}
        assert jump.server.logins == 1
    finally:
        await client.close()
    wrong_name = await KubeClient.connect(behind(cluster_a, jump.bastion()),
                                          tls_server_name="not-the-api-server.example")
    try:
        with pytest.raises(ClusterUnreachable, match="edge: GET /version failed"):
            await wrong_name.request("GET", "/version")
    finally:
        await wrong_name.close()


@pytest.mark.asyncio
async def test_unknown_host_key_is_refused_and_named(cluster_a: LocalCluster, jump: Jump,
                                                     tmp_path: Path) -> None:
    """A bastion whose host key is not the one in known_hosts is never logged into."""
    impostor = tmp_path / "other_known_hosts"
    other = write_client_key(tmp_path, "other")
    impostor.write_text(f"[127.0.0.1]:{jump.server.port} {(other.with_suffix('.pub')).read_text().strip()}\n")
    client = await KubeClient.connect(behind(cluster_a, jump.bastion(impostor)))
    try:
        with pytest.raises(ClusterUnreachable) as err:
            await client.request("GET", "/version")
    finally:
        await client.close()
    message = str(err.value)
    assert f"bastion gitopsd@127.0.0.1:{jump.server.port}" in message
    assert "host key not verifiable" in message
    assert "BEGIN" not in message
    assert "ssh-ed25519" not in message
    assert jump.server.logins == 0
    assert jump.server.forwards == []


@pytest.mark.asyncio
async def test_stopped_bastion_is_reported_then_reconnected(cluster_a: LocalCluster, jump: Jump) -> None:
    """A bastion that goes away makes the cluster unreachable by name; once back, the same client works."""
    client = await KubeClient.connect(behind(cluster_a, jump.bastion()))
    try:
        await client.request("GET", "/version")
        jump.server.stop()
        with pytest.raises(ClusterUnreachable, match=f"bastion gitopsd@127.0.0.1:{jump.server.port}"):
            await client.request("GET", "/version", timeout=10)
        jump.server.start()
        await until_ok(client, 40)
        assert client.tunnel is not None
        assert client.tunnel.connects == 2
        assert jump.server.logins == 2
    finally:
        await client.close()




def test_daemon_syncs_and_heals_through_a_bastion_that_drops(
        cluster_a: LocalCluster, make_namespace, git_repos, jump: Jump, tmp_path: Path) -> None:
    """The daemon applies, watches and reverts drift through the bastion, and again after it restarts."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: via}\n"
                                "data: {value: desired}\n"})
    app = {"name": "via", "source": {"repo": "env", "targetRevision": "main", "path": "app"},
           "destination": {"clusters": {"names": ["edge"]}, "namespace": ns},
           "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}
    fleet = fleet_doc([("edge", cluster_a.kubeconfig, {})], str(repo.path), poll="30s", apps=[app])
    fleet["clusters"][0]["bastion"] = {"host": "127.0.0.1", "port": jump.server.port, "user": "gitopsd",
                                       "keyFile": str(jump.key_file),
                                       "knownHostsFile": str(jump.known_hosts)}
    d = DaemonProc(fleet, tmp_path / "daemon").start()
    try:
        assert poll_until(lambda: value(cluster_a, ns, "via") == "desired", 30), d.logs()
        assert ("127.0.0.1", cluster_a.port) in jump.server.forwards
        edit(cluster_a, ns, "via", "edited")
        assert poll_until(lambda: value(cluster_a, ns, "via") == "desired", 10, 0.05), d.logs()
        jump.server.stop()
        edit(cluster_a, ns, "via", "edited while the bastion was down")
        where = f"bastion gitopsd@127.0.0.1:{jump.server.port}"
        down = poll_until(lambda: [c for c in (d.instance("via", "edge") or {}).get("conditions", [])
                                   if c["type"] == "ClusterUnreachable" and where in c["message"]], 20)
        assert down, d.logs()
        assert value(cluster_a, ns, "via") == "edited while the bastion was down"
        jump.server.start()
        assert poll_until(lambda: value(cluster_a, ns, "via") == "desired", 60, 0.1), d.logs()
        assert poll_until(lambda: not (d.instance("via", "edge") or {"conditions": [1]})["conditions"], 10)
        assert jump.server.logins >= 2
        assert "PRIVATE KEY" not in d.logs()
    finally:
        assert d.stop() == 0
