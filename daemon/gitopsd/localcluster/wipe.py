"""Restart a local control plane empty, at the same address: a rehearsal of losing etcd.

A disaster-recovery drill needs a cluster that comes back as a restored one
does after its etcd is lost: same server URL, same CA and credentials (so
every kubeconfig still works), and nothing else. ``wipe`` stops every process
of the cluster, deletes the etcd data directory, starts each process again
with the command line it ran with, and registers the fake nodes anew (as
kubelets re-register theirs). It must not touch the PKI, the tokens or the
kubeconfigs, and it refuses a cluster whose processes are not all running
(their command lines are read from the running processes).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from gitopsd.errors import LocalClusterError
from gitopsd.localcluster.cluster import FAKE_NODE_ANNOTATION, LocalCluster, register_nodes, wait_ready
from gitopsd.localcluster.processes import argv_of, spawn, stop


def _fake_nodes(cluster: LocalCluster) -> int:
    status, body = cluster.request("GET", "/api/v1/nodes")
    if status != 200 or not isinstance(body, dict):
        raise LocalClusterError(f"could not list the nodes of {cluster.name}: HTTP {status}")
    return sum(1 for n in body.get("items", [])
               if (n.get("metadata", {}).get("annotations") or {}).get(FAKE_NODE_ANNOTATION) == "fake")


def wipe(directory: str | os.PathLike[str], *, ready_timeout: float = 120.0) -> LocalCluster:
    """Delete the etcd data of the cluster in DIRECTORY and restart it empty; return it once ready.

    Returns after the API server is ready and, for a workloads cluster, the
    same number of fake nodes as before is Ready again.
    """
    cluster = LocalCluster.load(Path(directory).absolute())
    stopped = [p for p in cluster.processes if p not in cluster.running()]
    if stopped:
        names = ", ".join(p.name for p in stopped)
        raise LocalClusterError(f"cannot wipe {cluster.dir}: {names} not running")
    nodes = _fake_nodes(cluster) if cluster.workloads else 0
    commands = [(p.name, argv_of(p), Path(p.log)) for p in cluster.processes]
    for p in reversed(cluster.processes):
        stop(p)
    shutil.rmtree(cluster.dir / "etcd")
    t0 = time.monotonic()
    cluster.processes = []
    for name, argv, log in commands:
        cluster.processes.append(spawn(name, argv, log))
        cluster.save()
        if name == "kube-apiserver":
            wait_ready(cluster, ready_timeout)
    if nodes:
        register_nodes(cluster, nodes, max(1.0, ready_timeout - (time.monotonic() - t0)))
    return cluster
