"""Rollback: a manual sync pinned to a commit, refused while automated sync would undo it.

A whole daemon on in-memory ports: the pinned pass asks Git for the commit
itself (not the branch), applies that commit's objects and shows it as the
revision applied; an application that syncs automatically is refused with the
way out in the message. ``inspect`` reports objects by wave, read-only.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from gitopsd.engine.daemon import Daemon, Settings
from gitopsd.engine.desired import DesiredState
from gitopsd.engine.ports import ClusterHandle
from gitopsd.errors import RollbackRefused
from gitopsd.model import Fleet, Repository, ResourceKey, Revision, SyncPolicy
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import FakeGit, FakeWatch, NoRenderer, configmap, eventually, fleet_on, running


class RefGit(FakeGit):
    """FakeGit that also records the ref each ``ensure`` was asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    async def ensure(self, repo: Repository, ref: str, sha: str | None = None) -> Revision:
        self.refs.append(ref)
        return await super().ensure(repo, ref, sha)


def manual_fleet() -> Fleet:
    fleet = fleet_on()
    app = replace(fleet.applications[0], sync_policy=SyncPolicy())
    return replace(fleet, applications=(app,))


def daemon_for(cluster: FakeCluster, git: FakeGit, fleet: Fleet) -> Daemon:
    handle = ClusterHandle("alpha", cluster, FakeWatch(cluster))
    return Daemon(fleet, {"alpha": handle}, git, DesiredState(fleet, git, NoRenderer()),
                  settings=Settings(resync=3600.0, health_poll=0.01))


def level(cluster: FakeCluster) -> object:
    obj = cluster.objects.get(ResourceKey("", "ConfigMap", "web", "settings"))
    return (obj or {}).get("data", {}).get("level")


@pytest.mark.asyncio
async def test_rollback_applies_the_pinned_commit() -> None:
    """After two manual syncs, a rollback to the first commit fetches that very commit, applies it
    and shows it applied while the branch has moved on."""
    cluster, git = FakeCluster(), RefGit()
    first = git.commit({"app/cm.yaml": configmap("settings", {"level": "info"})})
    daemon = daemon_for(cluster, git, manual_fleet())
    async with running(daemon):
        daemon.request_sync("web")
        await eventually(lambda: level(cluster) == "info")
        git.commit({"app/cm.yaml": configmap("settings", {"level": "debug"})})
        daemon.request_sync("web")
        await eventually(lambda: level(cluster) == "debug")
        assert daemon.rollback("web", "alpha", first) == ["web/alpha"]
        await eventually(lambda: level(cluster) == "info")
        await eventually(lambda: (row := daemon.board.get("web/alpha")) is not None
                         and row.revision == first)
        assert (git.refs[-1], git.ensured[-1]) == (first, first)  # the commit, not the branch


@pytest.mark.asyncio
async def test_rollback_is_refused_while_automated() -> None:
    """An automated application is not rolled back, and the refusal says how to turn automation off."""
    cluster, git = FakeCluster(), FakeGit()
    first = git.commit({"app/cm.yaml": configmap("settings", {"level": "info"})})
    daemon = daemon_for(cluster, git, fleet_on())
    with pytest.raises(RollbackRefused, match=r"syncPolicy\.automated"):
        daemon.rollback("web", "alpha", first)
    with pytest.raises(KeyError):
        daemon.rollback("web", "nowhere", first)


@pytest.mark.asyncio
async def test_inspect_lists_objects_by_wave_without_writing() -> None:
    """inspect compares without applying: a never-synced object is Missing, and its wave is read."""
    cluster, git = FakeCluster(), FakeGit()
    git.commit({"app/a.yaml": configmap("late", {"v": "1"}, {"argocd.argoproj.io/sync-wave": "3"}),
                "app/b.yaml": configmap("early", {"v": "1"}, {"argocd.argoproj.io/sync-wave": "-2"})})
    daemon = daemon_for(cluster, git, manual_fleet())
    seen = await daemon.inspect("web", "alpha")
    assert [(o["wave"], o["name"], o["sync"], o["health"]) for o in seen["objects"]] == [  # type: ignore[attr-defined]
        (-2, "early", "Missing", "Missing"), (3, "late", "Missing", "Missing")]
    assert not cluster.objects
