"""A failing watch marks only the instances it serves, on the in-memory cluster."""

from __future__ import annotations

import pytest

from gitopsd.engine.daemon import Daemon, Settings
from gitopsd.engine.desired import DesiredState
from gitopsd.engine.ports import ClusterHandle
from gitopsd.errors import ClusterUnreachable, UnknownKind
from gitopsd.model import (
    AppInstance,
    Application,
    Cluster,
    ClusterSelector,
    Destination,
    Fleet,
    Repository,
    Source,
    SyncPolicy,
)
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import FakeGit, FakeWatch, NoRenderer, Recorder, configmap, eventually, running

WIDGET = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}


def _two_apps() -> Fleet:
    apps = tuple(Application(name=name, source=Source(repo="env", target_revision="main", path=name),
                             destination=Destination(ClusterSelector(names=("alpha",)), name),
                             sync_policy=SyncPolicy(automated=True, self_heal=True))
                 for name in ("web", "widgets"))
    return Fleet(name="f", clusters=(Cluster(name="alpha", kubeconfig="unused"),),
                 repositories=(Repository(name="env", url="ssh://git@example.invalid/env.git"),),
                 applications=apps,
                 instances=tuple(AppInstance(a.name, "alpha", a.source, a.name) for a in apps))


def _daemon(watch: FakeWatch, cluster: FakeCluster, git: FakeGit, recorder: Recorder) -> Daemon:
    fleet = _two_apps()
    return Daemon(fleet, {"alpha": ClusterHandle("alpha", cluster, watch)}, git,
                  DesiredState(fleet, git, NoRenderer()), metrics=recorder, history=recorder,
                  settings=Settings(resync=3600.0, health_poll=0.01))


def _conditions(daemon: Daemon, key: str) -> list[str]:
    row = daemon.board.get(key)
    assert row is not None
    return [c.type for c in row.conditions]


@pytest.mark.asyncio
async def test_a_kind_no_longer_served_marks_only_its_owners() -> None:
    """A watch failing because its kind is not served puts WatchError on the instance owning that kind
    only, and the condition clears once the watch lists again."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    git.commit({"web/cm.yaml": configmap("settings", {"a": "b"}), "widgets/w.yaml": WIDGET})
    watch = FakeWatch(cluster)
    watch.failing["Widget"] = UnknownKind("cluster alpha serves no Widget in example.com/v1", status=404)
    daemon = _daemon(watch, cluster, git, recorder)
    async with running(daemon):
        await eventually(lambda: "WatchError" in _conditions(daemon, "widgets/alpha"))
        await eventually(lambda: "ConfigMap" in watch.kinds)
        assert "WatchError" not in _conditions(daemon, "web/alpha")
        del watch.failing["Widget"]
        await eventually(lambda: "WatchError" not in _conditions(daemon, "widgets/alpha"))
    row = daemon.board.get("widgets/alpha")
    assert row is not None
    assert row.sync_status == "Synced"


@pytest.mark.asyncio
async def test_an_unreachable_cluster_marks_every_instance_on_it() -> None:
    """A watch that cannot reach its cluster puts ClusterUnreachable on every instance of that cluster."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    git.commit({"web/cm.yaml": configmap("settings", {"a": "b"}), "widgets/w.yaml": WIDGET})
    watch = FakeWatch(cluster)
    watch.failing["Widget"] = ClusterUnreachable("cluster alpha: connection refused")
    daemon = _daemon(watch, cluster, git, recorder)
    async with running(daemon):
        await eventually(lambda: all("ClusterUnreachable" in _conditions(daemon, k)
                                     for k in ("web/alpha", "widgets/alpha")))
