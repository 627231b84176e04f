"""Flux as one of the tools of the peer benchmark: source-controller and kustomize-controller.

Both run out of cluster with the admin kubeconfig (``KUBECONFIG``; their
``--kubeconfig`` flag is never parsed), leader election off, the artifact
server and every probe port on 127.0.0.1. The CRDs are read at run time from
the Go module cache the build filled; nothing of Flux is kept in this
repository. One GitRepository and one Kustomization in ``flux-system`` apply
the benchmark's directory into the tool's namespace.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from gitopsd.localcluster.processes import free_port
from tests.bench.kube import Kube
from tests.peers import workload
from tests.peers.tool import (
    BuiltPeer,
    Settings,
    annotate,
    apply_files,
    apply_object,
    wait_established,
    wait_http,
)

SYSTEM = "flux-system"
REQUESTED = "reconcile.fluxcd.io/requestedAt"
SOURCE = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
          "metadata": {"name": "env", "namespace": SYSTEM}}
KUSTOMIZATION = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                 "metadata": {"name": "app", "namespace": SYSTEM}}


class Flux(BuiltPeer):
    name = "flux"
    namespace = "peer-flux"

    def __init__(self, root: Path, kubeconfig: Path, bin_dir: Path, modcache: Path, version: str) -> None:
        super().__init__(root, kubeconfig, bin_dir, modcache, version)
        # Kept across restarts: the GitRepository's artifact URL names it until the next new artifact.
        self.storage = f"127.0.0.1:{free_port()}"

    def knobs(self, settings: Settings) -> dict[str, str]:
        out = {"GitRepository.spec.interval": f"{settings.poll:g}s",
               "Kustomization.spec.interval": f"{settings.poll:g}s",
               "--interval-jitter-percentage (both controllers)": "0 (default 5)",
               "--storage-addr / --storage-adv-addr / metrics / health": "127.0.0.1 ports",
               "Kustomization.spec.wait": "false (no health checks)"}
        if settings.fast:
            out["drift"] = f"{REQUESTED} on the Kustomization after each edit (flux reconcile)"
        return out

    def crds(self) -> list[Path]:
        src = self.modcache / f"github.com/fluxcd/source-controller@{self.version}/config/crd/bases"
        ks = self.modcache / f"github.com/fluxcd/kustomize-controller@{self.version}/config/crd/bases"
        return sorted(src.glob("source.toolkit.fluxcd.io_*.yaml")) + sorted(ks.glob("*.yaml"))

    async def install(self, kube: Kube, repo_url: str, settings: Settings) -> None:
        files = self.crds()
        if len(files) < 2:
            raise FileNotFoundError(f"Flux CRDs not found under {self.modcache}; "
                                    "run tests/peers/build.sh flux")
        await apply_files(kube, files)
        await wait_established(kube, ["gitrepositories.source.toolkit.fluxcd.io",
                                      "kustomizations.kustomize.toolkit.fluxcd.io"])
        for ns in (SYSTEM, self.namespace):
            await kube.ensure_namespace(ns)
        await apply_object(kube, {**SOURCE, "spec": {
            "url": repo_url, "ref": {"branch": "main"}, "interval": f"{settings.poll:g}s"}})
        await apply_object(kube, {**KUSTOMIZATION, "spec": {
            "interval": f"{settings.poll:g}s", "sourceRef": {"kind": "GitRepository", "name": "env"},
            "path": f"./{workload.PATH}", "prune": True, "wait": False,
            "targetNamespace": self.namespace}})

    async def start(self, settings: Settings) -> None:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "RUNTIME_NAMESPACE": SYSTEM}
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        storage = self.storage
        health = {"source-controller": free_port(), "kustomize-controller": free_port()}
        self.procs.spawn("source-controller", [
            str(self.bin_dir / "source-controller"), f"--storage-path={self.root / 'data'}",
            f"--storage-addr={storage}", f"--storage-adv-addr={storage}",
            f"--metrics-addr=127.0.0.1:{free_port()}",
            f"--health-addr=127.0.0.1:{health['source-controller']}",
            "--interval-jitter-percentage=0", "--log-level=info"], env)
        self.procs.spawn("kustomize-controller", [
            str(self.bin_dir / "kustomize-controller"),
            f"--metrics-addr=127.0.0.1:{free_port()}",
            f"--health-addr=127.0.0.1:{health['kustomize-controller']}",
            "--interval-jitter-percentage=0", "--log-level=info"], env)
        for port in health.values():
            await wait_http(f"http://127.0.0.1:{port}/readyz", self.procs)

    async def after_commit(self, kube: Kube) -> None:
        await annotate(kube, SOURCE, {REQUESTED: str(time.time_ns())})

    async def after_drift(self, kube: Kube, settings: Settings) -> None:
        if settings.fast:
            await annotate(kube, KUSTOMIZATION, {REQUESTED: str(time.time_ns())})
