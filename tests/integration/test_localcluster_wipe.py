"""``gitopsd localcluster wipe``: the control plane comes back empty at the same address."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitopsd import localcluster
from gitopsd.localcluster.wipe import wipe


@pytest.fixture
def scratch_cluster(tmp_path: Path):
    cluster = localcluster.up("wiped", tmp_path / "plane", ready_timeout=120)
    try:
        yield cluster
    finally:
        localcluster.down(tmp_path / "plane")


def test_wipe_deletes_every_object_and_keeps_address_and_credentials(scratch_cluster) -> None:
    """After a wipe the objects are gone while the same server URL and kubeconfig still work."""
    c = scratch_cluster
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "before", "namespace": "default"}}
    assert c.request("POST", "/api/v1/namespaces/default/configmaps", body)[0] == 201
    kubeconfig = c.kubeconfig.read_text()
    pids = {p.pid for p in c.processes}

    again = wipe(c.dir)

    assert again.server == c.server
    assert again.kubeconfig.read_text() == kubeconfig
    assert not pids & {p.pid for p in again.processes}
    assert [p.name for p in again.processes] == [p.name for p in c.processes]
    assert again.request("GET", "/api/v1/namespaces/default/configmaps/before")[0] == 404
    assert again.request("GET", "/api/v1/namespaces/default")[0] == 200
    assert again.request("POST", "/api/v1/namespaces/default/configmaps", body)[0] == 201


def test_wipe_refuses_a_cluster_that_is_not_running(scratch_cluster) -> None:
    """A stopped process makes wipe refuse, naming it, since its command line cannot be read."""
    c = scratch_cluster
    from gitopsd.localcluster.processes import stop

    stop(next(p for p in c.processes if p.name == "kube-controller-manager"))
    with pytest.raises(localcluster.cluster.LocalClusterError, match="kube-controller-manager not running"):
        wipe(c.dir)
