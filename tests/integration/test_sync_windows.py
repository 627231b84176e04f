"""Sync windows against a real API server and real Git: a deny window holds self-heal, then lets it run."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitopsd.app import Sources
from gitopsd.edges.kube.client import KubeClient
from gitopsd.edges.kube.objects import Objects
from gitopsd.edges.kube.watch import watch_kind
from gitopsd.engine.daemon import Daemon, Settings
from gitopsd.engine.ports import ClusterHandle
from gitopsd.engine.windows import WindowsByApp
from gitopsd.errors import SyncWindowClosed
from gitopsd.localcluster import LocalCluster
from gitopsd.model import ConditionType, SyncPolicy, SyncStatus
from gitopsd.model.cron import parse_cron
from gitopsd.model.windows import SyncWindow, WindowKind
from tests.integration.synckit import make_fleet
from tests.testenv.git_fixtures import RepoFactory

WINDOW = 20.0  # seconds the deny window lasts
DENY = SyncWindow(WindowKind.DENY, parse_cron("0 22 * * *"), WINDOW, applications=("win-*",),
                  duration_text=f"{WINDOW:g}s")


class Wall:
    """A wall clock that runs at real speed from 21:00 UTC and can be moved forward."""

    def __init__(self) -> None:
        self.base = dt.datetime(2026, 5, 1, 21, tzinfo=dt.UTC).timestamp() - time.monotonic()

    def __call__(self) -> float:
        return self.base + time.monotonic()

    def jump_to(self, hour: int, minute: int) -> None:
        self.base = dt.datetime(2026, 5, 1, hour, minute, tzinfo=dt.UTC).timestamp() - time.monotonic()


def _watch_port(objects: Objects) -> Any:
    async def watch(api_version: str, kind: str, label_selector: str, on_event: Any) -> None:
        await watch_kind(objects, await objects.info(api_version, kind), on_event,
                         label_selector=label_selector)
    return watch


async def _until(check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.1)
    return value


@pytest.mark.asyncio
async def test_deny_window_holds_self_heal_on_a_real_cluster_until_it_ends(
        cluster_a: LocalCluster, make_namespace: Callable[[LocalCluster], str], git_repos: RepoFactory,
        tmp_path: Path) -> None:
    """An edit made while a deny window is active stays, the instance shows OutOfSync with a
    SyncWindowClosed condition, a manual sync is refused, and the edit is reverted once the window ends."""
    ns = make_namespace(cluster_a)
    app = f"win-{ns.rpartition('-')[2]}"  # the session's cluster keeps other tests' inventories
    repo = git_repos.new()
    repo.commit({"app/cm.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                                               "metadata": {"name": "web"}, "data": {"level": "info"}})})
    fleet, _ = make_fleet(cluster_a, repo, app=app, path="app", namespace=ns,
                          policy=SyncPolicy(automated=True, prune=True, self_heal=True))
    sources = Sources.build(fleet, tmp_path / "state")
    client = await KubeClient.connect(fleet.clusters[0])
    objects = Objects(client)
    wall = Wall()
    daemon = Daemon(fleet, {cluster_a.name: ClusterHandle(cluster_a.name, objects, _watch_port(objects))},
                    sources.git, sources.desired, wall=wall, windows=WindowsByApp({app: (DENY,)}),
                    settings=Settings(resync=600.0, health_poll=0.2))
    key = f"{app}/{cluster_a.name}"
    path = f"/api/v1/namespaces/{ns}/configmaps/web"

    def level() -> str | None:
        status, body = cluster_a.request("GET", path)
        return body["data"]["level"] if status == 200 else None

    def row() -> Any:
        return daemon.board.get(key)

    await daemon.start()
    try:
        assert await _until(lambda: row() and row().sync_status is SyncStatus.SYNCED, 60), row()
        assert await asyncio.to_thread(level) == "info"
        await asyncio.sleep(1.0)  # the watch of ConfigMaps is open

        wall.jump_to(22, 0)
        opened = time.monotonic()
        status, _ = await asyncio.to_thread(cluster_a.request, "PATCH", f"{path}?fieldManager=kubectl-edit",
                                            {"data": {"level": "debug"}},
                                            content_type="application/merge-patch+json")
        assert status == 200
        closed = await _until(lambda: [c for c in row().conditions
                                       if c.type is ConditionType.SYNC_WINDOW_CLOSED], 10)
        assert closed, row()
        assert "deny window '0 22 * * *' (20s, UTC)" in closed[0].message
        assert row().sync_status is SyncStatus.OUT_OF_SYNC
        with pytest.raises(SyncWindowClosed):
            daemon.request_sync(app)
        await asyncio.sleep(max(0.0, WINDOW - 3 - (time.monotonic() - opened)))
        assert await asyncio.to_thread(level) == "debug"  # still held, three seconds before the end

        assert await _until(lambda: level() == "info", 15), row()
        assert time.monotonic() - opened >= WINDOW
        assert await _until(lambda: row().sync_status is SyncStatus.SYNCED and not [
            c for c in row().conditions if c.type is ConditionType.SYNC_WINDOW_CLOSED], 10), row()
    finally:
        await daemon.stop()
        await client.close()
        await sources.close()
