"""gitopsd as one of the tools of the peer benchmark: one ``gitopsd run`` process.

Reuses the main benchmark's daemon wrapper; the fleet has one cluster, one
repository (the smart-HTTP URL every tool reads) and one application.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

from tests.bench.daemonrun import Daemon, app_doc, fleet_doc
from tests.bench.kube import Kube
from tests.peers import workload
from tests.peers.tool import Settings

REPO = "env"


class Gitopsd:
    name = "gitopsd"
    namespace = "peer-gitopsd"

    def __init__(self, root: Path, kubeconfig: Path) -> None:
        self.version = version("gitopsd")
        self.root = root
        self.kubeconfig = kubeconfig
        self.fleet: dict[str, Any] = {}
        self.daemon: Daemon | None = None

    def knobs(self, settings: Settings) -> dict[str, str]:
        return {"repositories[].pollInterval": f"{settings.poll:g}s",
                "--resync": f"{settings.poll:g} (default 180)"}

    async def install(self, kube: Kube, repo_url: str, settings: Settings) -> None:
        self.fleet = fleet_doc("peers", {"a": self.kubeconfig}, repo_url,
                               [app_doc("app", workload.PATH, self.namespace)], poll=f"{settings.poll:g}s")
        self.fleet["repositories"][0]["name"] = REPO

    async def start(self, settings: Settings) -> None:
        self.daemon = Daemon(self.root, self.fleet, resync=settings.poll)
        await self.daemon.start()

    async def stop(self) -> None:
        if self.daemon is not None:
            await self.daemon.stop()
            self.daemon = None

    def pids(self) -> dict[str, int]:
        return {"gitopsd": self.daemon.pid} if self.daemon else {}

    async def after_commit(self, kube: Kube) -> None:
        assert self.daemon is not None
        status = await self.daemon.webhook(REPO)
        if status >= 300:
            raise RuntimeError(f"gitopsd webhook answered {status}")

    async def after_drift(self, kube: Kube, settings: Settings) -> None:
        """Self-heal is watch-driven at every setting: nothing to do."""
