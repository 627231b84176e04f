"""Local Kubernetes control planes from real binaries: etcd + kube-apiserver,
optionally kube-controller-manager, kube-scheduler and kwok with fake nodes.

An API-only cluster still runs kube-controller-manager limited to the garbage
collector and the namespace controller, as every real cluster does: without
them a foreground deletion (Argo CD's default for prunes) or a namespace
deletion would never finish. Fake nodes carry the well-known labels of real
nodes (os, arch, hostname, zone and region), so Pods that select on them are
scheduled.

Used by ``gitopsd localcluster``, ``gitopsd demo``, ``gitopsd validate
--against-cluster`` and the test fixtures. A cluster lives in one directory
that holds its PKI, etcd data, logs, kubeconfigs and a state file naming its
processes; ``down`` stops every process and removes the directory. This module
never talks to a cluster it did not start.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitopsd.edges.binaries import BinaryNotFound, find
from gitopsd.errors import LocalClusterError
from gitopsd.localcluster import pki as pkimod
from gitopsd.localcluster.processes import (
    ProcessRecord,
    alive,
    free_port,
    last_line,
    spawn,
    stop,
)

STATE_FILE = "localcluster.json"
STAGES = Path(__file__).with_name("data") / "kwok-stages.yaml"
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"


@dataclass
class LocalCluster:
    """A running local control plane and how to reach it."""

    name: str
    dir: Path
    server: str
    port: int
    workloads: bool
    tokens: dict[str, str]
    processes: list[ProcessRecord] = field(default_factory=list)
    created_dir: bool = False
    start_seconds: float = 0.0

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    def user_kubeconfig(self, user: str) -> Path:
        return self.dir / f"kubeconfig-{user}"

    @property
    def ca_cert(self) -> Path:
        return self.dir / "pki" / "ca.crt"

    @property
    def log_dir(self) -> Path:
        return self.dir / "logs"

    def save(self) -> None:
        data = {
            "name": self.name, "server": self.server, "port": self.port,
            "workloads": self.workloads, "created_dir": self.created_dir,
            "start_seconds": self.start_seconds,
            "processes": [p.to_json() for p in self.processes],
        }
        path = self.dir / STATE_FILE
        path.write_text(json.dumps(data, indent=2) + "\n")
        path.chmod(0o600)

    @classmethod
    def load(cls, directory: Path) -> LocalCluster:
        path = directory / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise LocalClusterError(f"no local cluster state in {path}: {e}") from None
        tokens: dict[str, str] = {}
        token_file = directory / "pki" / "tokens.csv"
        if token_file.exists():
            for row in token_file.read_text().splitlines():
                parts = row.split(",")
                if len(parts) >= 2:
                    tokens[parts[1]] = parts[0]
        return cls(
            name=data["name"], dir=directory, server=data["server"], port=data["port"],
            workloads=data["workloads"], tokens=tokens, created_dir=data.get("created_dir", False),
            start_seconds=data.get("start_seconds", 0.0),
            processes=[ProcessRecord(**p) for p in data["processes"]],
        )

    def running(self) -> list[ProcessRecord]:
        return [p for p in self.processes if alive(p)]

    # -- a tiny HTTP client for bootstrap; gitopsd proper uses kubernetes_asyncio --

    def request(self, method: str, path: str, body: Any = None, *, user: str = pkimod.ADMIN_USER,
                timeout: float = 10.0, content_type: str = "application/json") -> tuple[int, Any]:
        ctx = ssl.create_default_context(cafile=str(self.ca_cert))
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)  # noqa: S310 (https only)
        req.add_header("Authorization", f"Bearer {self.tokens[user]}")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=timeout) as resp:  # noqa: S310
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as e:
            raw, status = e.read(), e.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")


def _advertise_address() -> str:
    """A non-loopback IPv4 address of this host (kube-apiserver refuses loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            addr = str(s.getsockname()[0])
        except OSError:
            addr = ""
    return addr if addr and not addr.startswith("127.") else "10.255.255.254"


def _binaries(workloads: bool) -> dict[str, str]:
    names = ["etcd", "kube-apiserver", "kube-controller-manager"]
    if workloads:
        names += ["kube-scheduler", "kwok"]
    try:
        return {n: find(n) for n in names}
    except BinaryNotFound as e:
        raise LocalClusterError(str(e)) from None


def up(name: str, directory: str | os.PathLike[str], *, workloads: bool = False,
       port: int | None = None, nodes: int = 2, ready_timeout: float = 90.0) -> LocalCluster:
    """Start a local control plane in DIRECTORY and return once it is ready.

    On any failure every process already started is stopped again and the
    error names the cause and the log file to read.
    """
    directory = Path(directory).absolute()
    if (directory / STATE_FILE).exists():
        existing = LocalCluster.load(directory)
        if existing.running():
            raise LocalClusterError(f"a local cluster already runs in {directory}; "
                                    f"run 'gitopsd localcluster down --dir {directory}' first")
    bins = _binaries(workloads)
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    t0 = time.monotonic()
    keys = pkimod.generate(directory / "pki", ["127.0.0.1", "localhost"])
    api_port = port or free_port()
    etcd_port, peer_port = free_port(), free_port()
    server = f"https://127.0.0.1:{api_port}"
    cluster = LocalCluster(name=name, dir=directory, server=server, port=api_port,
                           workloads=workloads, tokens=keys.tokens, created_dir=created)
    logs = directory / "logs"
    try:
        cluster.processes.append(spawn("etcd", [
            bins["etcd"], "--name", name, "--data-dir", str(directory / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"{name}=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync=true", "--log-level=warn",
        ], logs / "etcd.log"))
        cluster.save()
        api_args = [
            bins["kube-apiserver"],
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            f"--cert-dir={directory / 'pki'}",
            f"--secure-port={api_port}", "--bind-address=127.0.0.1",
            f"--advertise-address={_advertise_address()}",
            f"--tls-cert-file={keys.serving_cert}", f"--tls-private-key-file={keys.serving_key}",
            f"--client-ca-file={keys.ca_cert}",
            f"--token-auth-file={keys.token_file}",
            "--authorization-mode=" + ("Node,RBAC" if workloads else "RBAC"),
            "--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true",
            f"--service-account-issuer={server}/",
            f"--service-account-key-file={keys.sa_pub}",
            f"--service-account-signing-key-file={keys.sa_key}",
            "--endpoint-reconciler-type=none",
        ]
        if not workloads:
            api_args.append("--disable-admission-plugins=ServiceAccount")
        cluster.processes.append(spawn("kube-apiserver", api_args, logs / "kube-apiserver.log"))
        cluster.save()
        wait_ready(cluster, ready_timeout)
        _write_kubeconfigs(cluster, keys)
        if workloads:
            _start_workloads(cluster, bins, keys, nodes, ready_timeout)
        else:
            _start_collectors(cluster, bins, keys)
        cluster.start_seconds = round(time.monotonic() - t0, 2)
        cluster.save()
        return cluster
    except BaseException:
        _stop_all(cluster)
        if created:
            _remove_keep_logs(directory)
        raise


def wait_ready(cluster: LocalCluster, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for p in cluster.processes:
            if not alive(p):
                raise LocalClusterError(
                    f"{p.name} exited during start-up: {last_line(p.log) or 'no output'}; "
                    f"read {p.log}")
        try:
            status, _ = cluster.request("GET", "/readyz", timeout=2)
            if status == 200:
                return
            last = f"/readyz answered {status}"
        except (OSError, ssl.SSLError) as e:
            last = str(getattr(e, "reason", e))
        time.sleep(0.2)
    api = next(p for p in cluster.processes if p.name == "kube-apiserver")
    raise LocalClusterError(f"kube-apiserver did not become ready within {timeout:.0f}s "
                            f"({last}); read {api.log}")


def _write_kubeconfigs(cluster: LocalCluster, keys: pkimod.Pki) -> None:
    for user, token in keys.tokens.items():
        path = cluster.kubeconfig if user == pkimod.ADMIN_USER else cluster.user_kubeconfig(user)
        path.write_text(pkimod.kubeconfig(cluster.name, cluster.server, keys.ca_cert, user, token))
        path.chmod(0o600)


# The controllers' own client rate limits (controller-manager 20/s with bursts of 30, scheduler
# 50/s with bursts of 100 by default) would make them, not the API server, what bounds how fast
# a box cluster rolls out hundreds of workloads.
CLIENT_RATE = ("--kube-api-qps=300", "--kube-api-burst=600")


ZONES = ("zone-a", "zone-b", "zone-c")


def _start_collectors(cluster: LocalCluster, bins: dict[str, str], keys: pkimod.Pki) -> None:
    """The two controllers every deletion depends on: garbage collector and namespace controller."""
    cluster.processes.append(spawn("kube-controller-manager", [
        bins["kube-controller-manager"], f"--kubeconfig={cluster.kubeconfig}", "--leader-elect=false",
        "--secure-port=0", f"--root-ca-file={keys.ca_cert}",
        "--use-service-account-credentials=false", "--controllers=garbagecollector,namespace",
        *CLIENT_RATE,
    ], cluster.log_dir / "kube-controller-manager.log"))
    cluster.save()


def _start_workloads(cluster: LocalCluster, bins: dict[str, str], keys: pkimod.Pki, nodes: int,
                     timeout: float) -> None:
    kc = str(cluster.kubeconfig)
    logs = cluster.log_dir
    cluster.processes.append(spawn("kube-controller-manager", [
        bins["kube-controller-manager"], f"--kubeconfig={kc}", "--leader-elect=false",
        "--secure-port=0", f"--root-ca-file={keys.ca_cert}",
        f"--service-account-private-key-file={keys.sa_key}",
        "--use-service-account-credentials=false", "--controllers=*",
        "--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
        "--concurrent-job-syncs=10", *CLIENT_RATE,
    ], logs / "kube-controller-manager.log"))
    cluster.processes.append(spawn("kube-scheduler", [
        bins["kube-scheduler"], f"--kubeconfig={kc}", "--leader-elect=false", "--secure-port=0",
        *CLIENT_RATE,
    ], logs / "kube-scheduler.log"))
    cluster.processes.append(spawn("kwok", [
        bins["kwok"], f"--kubeconfig={kc}", "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={FAKE_NODE_ANNOTATION}=fake",
        f"--server-address=127.0.0.1:{free_port()}", "--node-ip=10.0.1.1",
        f"--config={STAGES}",
        "--node-lease-duration-seconds=40",
    ], logs / "kwok.log"))
    cluster.save()
    register_nodes(cluster, nodes, timeout)


def register_nodes(cluster: LocalCluster, nodes: int, timeout: float) -> None:
    """Create NODES fake nodes (as kubelets register theirs) and wait until kwok has them Ready."""
    logs = cluster.log_dir
    for i in range(nodes):
        node = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": f"kwok-node-{i}", "annotations": {FAKE_NODE_ANNOTATION: "fake"},
                         "labels": {"type": "kwok", "kubernetes.io/hostname": f"kwok-node-{i}",
                                    "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                                    "topology.kubernetes.io/zone": ZONES[i % len(ZONES)],
                                    "topology.kubernetes.io/region": "local"}},
            "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                       "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}},
        }
        status, body = cluster.request("POST", "/api/v1/nodes", node)
        if status not in (200, 201, 409):
            raise LocalClusterError(f"could not create fake node {i}: HTTP {status}: {body}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in cluster.processes:
            if not alive(p):
                raise LocalClusterError(
                    f"{p.name} exited during start-up: {last_line(p.log) or 'no output'}; "
                    f"read {p.log}")
        if _nodes_ready(cluster) >= nodes and _has_default_sa(cluster):
            return
        time.sleep(0.25)
    raise LocalClusterError(f"fake nodes or the default ServiceAccount not ready within "
                            f"{timeout:.0f}s; read {logs / 'kwok.log'} and "
                            f"{logs / 'kube-controller-manager.log'}")


def _nodes_ready(cluster: LocalCluster) -> int:
    status, body = cluster.request("GET", "/api/v1/nodes")
    if status != 200 or not isinstance(body, dict):
        return 0
    ready = 0
    for node in body.get("items", []):
        conds = (node.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds):
            ready += 1
    return ready


def _has_default_sa(cluster: LocalCluster) -> bool:
    status, _ = cluster.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")
    return status == 200


def _stop_all(cluster: LocalCluster) -> None:
    for p in reversed(cluster.processes):
        stop(p)


def _remove_keep_logs(directory: Path) -> None:
    """After a failed start, remove everything but the logs the error points at."""
    for child in directory.iterdir():
        if child.name == "logs":
            continue
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def down(directory: str | os.PathLike[str], *, keep_dir: bool = False) -> None:
    """Stop every process of the cluster in DIRECTORY and remove what up created."""
    directory = Path(directory).absolute()
    cluster = LocalCluster.load(directory)
    _stop_all(cluster)
    left = cluster.running()
    if left:
        names = ", ".join(f"{p.name} (pid {p.pid})" for p in left)
        raise LocalClusterError(f"could not stop {names}")
    if keep_dir:
        return
    if cluster.created_dir:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for child in ("etcd", "pki", "logs", STATE_FILE):
        path = directory / child
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    for kc in directory.glob("kubeconfig*"):
        kc.unlink(missing_ok=True)
