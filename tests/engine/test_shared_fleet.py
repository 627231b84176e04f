"""Two whole daemons share one fleet on the in-memory cluster: each instance has one writer, and a
clean stop hands its instances over without rewriting what is in sync."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gitopsd.engine.daemon import Daemon, Settings
from gitopsd.engine.desired import DesiredState
from gitopsd.engine.ports import ClusterHandle
from gitopsd.errors import OwnedElsewhere
from gitopsd.model import AppInstance, Fleet, ResourceKey, Source
from gitopsd.model import Settings as FleetSettings
from gitopsd.model.fleet import Coordination
from gitopsd.model.status import SyncStatus
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import FakeGit, FakeWatch, NoRenderer, configmap, eventually, fleet_on

APPS = 6


def _fleet() -> Fleet:
    base = fleet_on()
    web = base.applications[0]
    apps = tuple(replace(web, name=f"app{i}", source=Source("env", "main", f"app{i}")) for i in range(APPS))
    return replace(base, applications=apps,
                   instances=tuple(AppInstance(a.name, "alpha", a.source, "web") for a in apps),
                   settings=FleetSettings(coordination=Coordination("alpha", lease_duration=2.0,
                                                                    renew_interval=0.5)))


def _daemon(fleet: Fleet, cluster: FakeCluster, git: FakeGit, identity: str) -> Daemon:
    handle = ClusterHandle("alpha", cluster, FakeWatch(cluster))
    return Daemon(fleet, {"alpha": handle}, git, DesiredState(fleet, git, NoRenderer()),
                  settings=Settings(resync=3600.0, health_poll=0.01, identity=identity))


def _held_elsewhere(daemon: Daemon, key: str) -> str:
    row = daemon.board.get(key)
    assert row is not None
    return next((c.message for c in row.conditions if c.type == "LeaseHeldElsewhere"), "")


def _settled(daemons: list[Daemon], keys: set[str]) -> bool:
    """Every daemon sees the same members and owners; each instance is Synced on its owner's board and
    held elsewhere, naming the owner, on the others'."""
    owners = [{r["app"] + "/" + r["cluster"]: r.get("owner") for r in d.status_rows()} for d in daemons]
    ids = {d.settings.identity for d in daemons}
    if any(o != owners[0] for o in owners) or any({m["identity"] for m in d.writers.members()} != ids
                                                  for d in daemons):
        return False
    for key in keys:
        for d in daemons:
            row = d.board.get(key)
            mine = owners[0][key] == d.settings.identity
            if row is None or (mine and (row.last_result != "Synced" or _held_elsewhere(d, key))):
                return False
            if not mine and f"{owners[0][key]} owns this instance" not in _held_elsewhere(d, key):
                return False
    return True


def _versions(cluster: FakeCluster) -> dict[str, str]:
    return {f"c{i}": cluster.objects[ResourceKey("", "ConfigMap", "web", f"c{i}")]["metadata"]
            ["resourceVersion"] for i in range(APPS)}


@pytest.mark.asyncio
async def test_each_instance_has_one_writer_and_a_clean_stop_hands_over_without_writes() -> None:
    """Two members split six instances (the other shows LeaseHeldElsewhere naming the owner); when one
    stops, the other passes over its in-sync instances and writes none of their objects."""
    cluster, git, fleet = FakeCluster(), FakeGit(), _fleet()
    git.commit({f"app{i}/cm.yaml": configmap(f"c{i}", {"n": str(i)}) for i in range(APPS)})
    one, two = _daemon(fleet, cluster, git, "host-1:/s"), _daemon(fleet, cluster, git, "host-2:/s")
    keys = {i.key for i in fleet.instances}
    await one.start()
    await two.start()
    try:
        await eventually(lambda: _settled([one, two], keys), timeout=15)
        owned = {d.settings.identity: {k for k in keys if d.writers.owner(k) == d.settings.identity}
                 for d in (one, two)}
        assert owned["host-1:/s"]
        assert owned["host-2:/s"]
        assert owned["host-1:/s"] | owned["host-2:/s"] == keys
        theirs = sorted(k for k in keys if one.writers.owner(k) == "host-2:/s")
        for key in theirs:  # not compared there: no claim of Synced
            assert one.board.get(key).sync_status == SyncStatus.UNKNOWN  # type: ignore[union-attr]
        app, cluster_name = theirs[0].split("/")
        with pytest.raises(OwnedElsewhere, match=f"{theirs[0]} is owned by host-2:/s"):
            one.request_sync(app, cluster_name)
        assert two.request_sync(app, cluster_name) == [theirs[0]]
        before, logged = _versions(cluster), len(cluster.log)
        await one.stop()
        await eventually(lambda: _settled([two], keys), timeout=15)
        assert _versions(cluster) == before  # the handover passes compared and wrote nothing
        assert {e.key.kind for e in cluster.log[logged:] if e.verb != "get"} == {"Lease"}
        assert [m["identity"] for m in two.writers.members()] == ["host-2:/s"]
    finally:
        await two.stop()


@pytest.mark.asyncio
async def test_a_reload_keeps_the_member_lease_so_nothing_moves() -> None:
    """A daemon replaced by one of the same identity (a reload) keeps its member Lease: the other
    member goes on seeing it, and the new daemon owns the same instances."""
    cluster, git, fleet = FakeCluster(), FakeGit(), _fleet()
    git.commit({f"app{i}/cm.yaml": configmap(f"c{i}", {"n": str(i)}) for i in range(APPS)})
    one, two = _daemon(fleet, cluster, git, "host-1:/s"), _daemon(fleet, cluster, git, "host-2:/s")
    keys = {i.key for i in fleet.instances}
    await one.start()
    await two.start()
    again: Daemon | None = None
    try:
        await eventually(lambda: _settled([one, two], keys), timeout=15)
        owned = {k for k in keys if one.writers.owner(k) == "host-1:/s"}
        await one.stop(handover=False)
        assert two.membership is not None
        await two.membership.step()
        assert two.membership.members == ("host-1:/s", "host-2:/s")
        again = _daemon(fleet, cluster, git, "host-1:/s")
        await again.start()
        await eventually(lambda: _settled([again, two], keys), timeout=15)
        assert {k for k in keys if again.writers.owner(k) == "host-1:/s"} == owned
    finally:
        await two.stop()
        if again is not None:
            await again.stop()
