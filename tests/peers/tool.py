"""What the peer benchmark needs of each tool it compares, and the parts they share.

A ``Tool`` is gitopsd, Flux or Argo CD run out of cluster against the
benchmark's control plane: it puts its own objects into the cluster, starts
and stops its processes, and can be poked the way its users poke it. The
helpers here apply arbitrary objects (CRDs, custom resources) with the
benchmark's own client and read CPU and memory of a tool's processes. Nothing
here measures or decides what a figure means; ``tests.peers.measure`` does.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import yaml

from gitopsd.localcluster.processes import ProcessRecord, alive, spawn, stop
from tests.bench.daemonrun import cpu_seconds, memory
from tests.bench.kube import APPLY, Kube

# apiVersion prefix -> URL prefix; kind -> plural. The kinds the tools' setup creates.
PLURALS = {
    "CustomResourceDefinition": "customresourcedefinitions", "Namespace": "namespaces",
    "Secret": "secrets", "ConfigMap": "configmaps", "GitRepository": "gitrepositories",
    "Kustomization": "kustomizations", "Application": "applications", "AppProject": "appprojects",
}
CLUSTER_SCOPED = ("CustomResourceDefinition", "Namespace")


@dataclass(frozen=True)
class Settings:
    """How a tool is configured for one phase of the run.

    ``poll`` is the Git polling period every tool gets (seconds); ``fast`` is
    True for each tool's fastest documented self-heal setting, False for its
    defaults.
    """

    poll: float
    fast: bool = True


class Tool(Protocol):
    name: str
    namespace: str
    version: str

    def knobs(self, settings: Settings) -> dict[str, str]:
        """Every setting changed from the tool's defaults, as shown in the report."""

    async def install(self, kube: Kube, repo_url: str, settings: Settings) -> None:
        """Create the tool's cluster objects (CRDs, sources, applications)."""

    async def start(self, settings: Settings) -> None:
        """Start the tool's processes; returns once they answer."""

    async def stop(self) -> None: ...

    def pids(self) -> dict[str, int]: ...

    async def after_commit(self, kube: Kube) -> None:
        """The tool's own trigger after a push (webhook, refresh, reconcile request)."""

    async def after_drift(self, kube: Kube, settings: Settings) -> None:
        """What the fastest documented setting does after an out-of-band edit (often nothing)."""


def resource_url(body: dict[str, Any]) -> str:
    api, kind = str(body["apiVersion"]), str(body["kind"])
    meta = body["metadata"]
    prefix = f"/api/{api}" if "/" not in api else f"/apis/{api}"
    ns = "" if kind in CLUSTER_SCOPED else f"/namespaces/{meta['namespace']}"
    return f"{prefix}{ns}/{PLURALS[kind]}/{meta['name']}"


async def apply_object(kube: Kube, body: dict[str, Any], manager: str = "peers-bench") -> None:
    """Server-side apply of any object named in PLURALS (large CRDs included)."""
    await kube.request("PATCH", resource_url(body), body, content_type=APPLY,
                       params={"fieldManager": manager, "force": "true"})


async def apply_files(kube: Kube, files: list[Path]) -> None:
    for f in files:
        for doc in yaml.safe_load_all(f.read_text()):
            if doc:
                await apply_object(kube, doc)


async def annotate(kube: Kube, body_ref: dict[str, Any], annotations: dict[str, str]) -> None:
    """Merge-patch ANNOTATIONS onto the object BODY_REF names (apiVersion, kind, metadata)."""
    await kube.request("PATCH", resource_url(body_ref), {"metadata": {"annotations": annotations}},
                       content_type="application/merge-patch+json")


async def wait_established(kube: Kube, crd_names: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for name in crd_names:
        while True:
            _, crd = await kube.request(
                "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            conds = {c["type"]: c["status"] for c in (crd.get("status") or {}).get("conditions") or []}
            if conds.get("Established") == "True":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {name} not established within {timeout:.0f}s")
            await asyncio.sleep(0.2)


@dataclass
class Processes:
    """The processes of one tool: started detached, measured from /proc, stopped by process group."""

    log_dir: Path
    records: dict[str, ProcessRecord] = field(default_factory=dict)

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.records[name] = spawn(name, argv, self.log_dir / f"{name}.log", env)

    def check(self) -> None:
        for name, rec in self.records.items():
            if not alive(rec):
                raise RuntimeError(f"{name} exited; read {rec.log}")

    async def stop(self) -> None:
        for rec in self.records.values():
            await asyncio.to_thread(stop, rec)
        self.records.clear()

    def pids(self) -> dict[str, int]:
        return {n: r.pid for n, r in self.records.items()}


async def wait_http(url: str, procs: Processes, timeout: float = 60) -> None:
    """Until URL answers any HTTP status; fails early when one of PROCS exits."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            procs.check()
            try:
                async with s.get(url, timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    await resp.read()
                    return
            except (aiohttp.ClientError, TimeoutError, ConnectionError):
                await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def usage(pids: dict[str, int]) -> dict[str, dict[str, float]]:
    """CPU seconds and memory of each process (by name)."""
    return {n: {"cpu_seconds": cpu_seconds(p), **memory(p)} for n, p in pids.items()}


class BuiltPeer:
    """What Flux and Argo CD share: binaries built by ``tests/peers/build.sh`` (BIN_DIR), the Go
    module cache their CRDs are read from (MODCACHE), and processes logged under ROOT/logs."""

    def __init__(self, root: Path, kubeconfig: Path, bin_dir: Path, modcache: Path, version: str) -> None:
        self.root = root
        self.kubeconfig = kubeconfig
        self.bin_dir = bin_dir
        self.modcache = modcache
        self.version = version
        self.procs = Processes(root / "logs")

    async def stop(self) -> None:
        await self.procs.stop()

    def pids(self) -> dict[str, int]:
        return self.procs.pids()

