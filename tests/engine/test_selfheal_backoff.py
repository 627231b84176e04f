"""What counts toward the self-heal backoff, on an in-memory cluster and a virtual clock."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.daemon import Daemon, Settings
from gitopsd.engine.desired import DesiredState
from gitopsd.engine.ports import ClusterHandle
from gitopsd.errors import ApiError
from gitopsd.model import ResourceKey
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import (
    FakeGit,
    FakeWatch,
    NoRenderer,
    Recorder,
    configmap,
    fleet_on,
    running,
)

KEY = ResourceKey("", "ConfigMap", "web", "settings")


class SlowHistory:
    """A history port that takes SECONDS (on the clock) to record each pass."""

    def __init__(self, recorder: Recorder, clock: VirtualClock, seconds: float) -> None:
        self.recorder, self.clock, self.seconds = recorder, clock, seconds

    async def record(self, *args: Any, **kwargs: Any) -> None:
        await self.recorder.record(*args, **kwargs)
        await self.clock.sleep(self.seconds)


class Fleet:
    """One self-healed instance with one ConfigMap, its watch and a virtual clock."""

    def __init__(self, *, history_seconds: float = 0.0, second: bool = False) -> None:
        self.clock = VirtualClock(1000.0)
        self.cluster, self.git, self.recorder = FakeCluster(self.clock), FakeGit(), Recorder()
        files = {"app/cm.yaml": configmap("settings", {"level": "info"})}
        if second:
            files["app/other.yaml"] = configmap("other", {"level": "info"})
        self.git.commit(files)
        fleet = fleet_on()
        self.watch = FakeWatch(self.cluster)
        history: Any = self.recorder
        if history_seconds:
            history = SlowHistory(self.recorder, self.clock, history_seconds)
        self.daemon = Daemon(fleet, {"alpha": ClusterHandle("alpha", self.cluster, self.watch)}, self.git,
                             DesiredState(fleet, self.git, NoRenderer()), metrics=self.recorder,
                             history=history, clock=self.clock,
                             settings=Settings(resync=3600.0, health_poll=0.01))

    async def started(self) -> None:
        for _ in range(100):
            if self.recorder.of("record") and "ConfigMap" in self.watch.kinds:
                return
            await self.clock.advance(0.01)
        raise AssertionError("the first sync did not finish")

    def edit(self, level: str, *, events: int = 1, key: ResourceKey = KEY) -> dict[str, Any]:
        """Another writer sets data.level of KEY; EVENTS-1 further writes of other fields follow,
        each seen by the watch while the edit stands (a controller's status writes, say)."""
        edited = copy.deepcopy(self.cluster.objects[key])
        edited["data"] = {"level": level}
        seen = self.cluster.put(edited)
        self.watch.send("MODIFIED", seen)
        for n in range(events - 1):
            later = copy.deepcopy(self.cluster.objects[key])
            later["metadata"].setdefault("labels", {})["status-write"] = str(n)
            self.watch.send("MODIFIED", self.cluster.put(later))
        return seen

    def level(self) -> str:
        return str(self.cluster.objects[KEY]["data"]["level"])

    def repairs(self) -> int:
        return sum(1 for _, k in self.recorder.of("record") if "self-heal" in k["message"])

    def conditions(self) -> list[str]:
        row = self.daemon.board.get("web/alpha")
        assert row is not None
        return [c.type for c in row.conditions]


@pytest.mark.asyncio
async def test_edits_seconds_apart_are_each_reverted_at_once() -> None:
    """Three edits two seconds apart, each followed by writes while it stands, are each reverted
    without waiting, and none is taken for a fight."""
    f = Fleet()
    async with running(f.daemon):
        await f.started()
        for n in range(3):
            f.edit(f"debug-{n}", events=4)
            await f.clock.advance(0.05)
            assert f.level() == "info", f"edit {n} was not reverted at once"
            await f.clock.advance(2.0)
        assert f.repairs() == 3
        assert "SelfHealFight" not in f.conditions()
        assert f.recorder.of("selfheal_fight") == []
        assert len(f.recorder.of("drift_detected")) == 3


@pytest.mark.asyncio
async def test_watch_events_older_than_a_repair_are_not_new_drift() -> None:
    """Events the watch delivers after a repair landed but written before it (the edit itself, a
    status write) are not taken for new drift."""
    f = Fleet()
    async with running(f.daemon):
        await f.started()
        edited = copy.deepcopy(f.cluster.objects[KEY])
        edited["data"] = {"level": "debug"}
        first = f.cluster.put(edited)
        f.watch.send("MODIFIED", first)
        await f.clock.advance(0.05)
        assert f.level() == "info"
        f.watch.send("MODIFIED", first)  # delivered late
        await f.clock.advance(0.05)
        assert f.repairs() == 1
        await f.clock.advance(1.5)
        f.edit("debug-again")
        await f.clock.advance(0.05)
        assert f.level() == "info"
        assert f.repairs() == 2
        assert f.recorder.of("selfheal_fight") == []


@pytest.mark.asyncio
async def test_a_writer_undoing_every_repair_is_a_fight_that_backs_off() -> None:
    """Another writer that undoes each repair within moments makes the repairs wait 2 s, then
    6 s, shows SelfHealFight and counts the fight; meanwhile the instance is OutOfSync with the
    time of the next repair."""
    f = Fleet()
    async with running(f.daemon):
        await f.started()
        landed: list[float] = []
        f.edit("theirs")
        for _ in range(700):
            await f.clock.advance(0.05)
            if f.level() == "info":
                landed.append(f.clock.now())
                f.edit("theirs")  # undone at once
            if len(landed) == 4:
                break
        await f.clock.advance(0.05)  # the last undo is seen: the next repair waits 54 s
        gaps = [round(b - a, 1) for a, b in itertools.pairwise(landed)]
        assert gaps[:3] == [pytest.approx(2.0, abs=0.11), pytest.approx(6.0, abs=0.11),
                            pytest.approx(18.0, abs=0.11)]
        assert f.conditions() == ["SelfHealFight"]
        assert f.recorder.of("selfheal_fight")
        row = f.daemon.board.get("web/alpha")
        assert row is not None
        assert row.sync_status == "OutOfSync"
        assert "next repair at" in row.conditions[0].message
        assert "(in 54s)" in row.conditions[0].message


@pytest.mark.asyncio
async def test_instance_is_synced_again_after_the_delayed_repair() -> None:
    """A repair that waited out the backoff leaves the instance Synced, with no OutOfSync
    condition."""
    f = Fleet()
    async with running(f.daemon):
        await f.started()
        f.edit("theirs")
        await f.clock.advance(0.05)
        f.edit("theirs")  # undoes the repair at once: the next one waits
        await f.clock.advance(0.05)
        row = f.daemon.board.get("web/alpha")
        assert row is not None
        assert (row.sync_status, f.conditions()) == ("OutOfSync", ["OutOfSync"])
        assert (row.conditions[0].reason, "next repair at" in row.conditions[0].message) == \
            ("SelfHealBackoff", True)
        await f.clock.advance(2.5)
        assert f.level() == "info"
        assert (row.sync_status, f.conditions()) == ("Synced", [])


@pytest.mark.asyncio
async def test_a_repair_of_one_object_does_not_claim_synced_while_another_waits() -> None:
    """While one object's repair waits out the backoff, a landed repair of another object leaves
    the instance OutOfSync; it is Synced once the waiting repair landed too."""
    f = Fleet(second=True)
    other = ResourceKey("", "ConfigMap", "web", "other")
    async with running(f.daemon):
        await f.started()
        f.edit("theirs")
        await f.clock.advance(0.05)
        f.edit("theirs")  # undoes the repair at once: the next one waits 2 s
        await f.clock.advance(0.05)
        f.edit("debug", key=other)
        await f.clock.advance(0.05)
        assert f.cluster.objects[other]["data"]["level"] == "info"
        row = f.daemon.board.get("web/alpha")
        assert row is not None
        assert row.last_message == f"1 configured (self-heal of {other})"
        assert (row.sync_status, f.conditions()) == ("OutOfSync", ["OutOfSync"])
        await f.clock.advance(2.5)
        assert f.level() == "info"
        assert (row.sync_status, f.conditions()) == ("Synced", [])


@pytest.mark.asyncio
async def test_deleted_object_is_recreated_by_a_create_only_apply() -> None:
    """A deleted object comes back through server-side apply, never a plain create."""
    f = Fleet()
    async with running(f.daemon):
        await f.started()
        gone = copy.deepcopy(f.cluster.objects[KEY])
        await f.cluster.delete("v1", "ConfigMap", "settings", "web")
        gone["metadata"]["resourceVersion"] = str(int(gone["metadata"]["resourceVersion"]) + 1)
        f.watch.send("DELETED", gone)
        await f.clock.advance(0.05)
        assert f.level() == "info"
        assert f.cluster.events()[-1] == ("apply", "settings")
        assert ("create", "settings") not in f.cluster.events()


@pytest.mark.asyncio
async def test_edit_while_the_last_repair_is_still_being_reported_is_repaired() -> None:
    """An edit that arrives after a repair's write landed but before its report is finished is new
    drift, repaired like any other."""
    f = Fleet(history_seconds=3.0)
    async with running(f.daemon):
        await f.started()
        await f.clock.advance(3.5)  # the first sync's report takes 3 s as well
        f.edit("debug")
        await f.clock.advance(0.05)
        assert f.level() == "info"
        await f.clock.advance(1.5)  # the repair's report is still being written
        f.edit("debug-again")
        await f.clock.advance(0.05)
        assert f.level() == "info", "an edit during the last repair's report was never repaired"


@pytest.mark.asyncio
async def test_drift_left_alone_without_the_lease_is_repaired_once_the_lease_is_back() -> None:
    """An object deleted while the Lease had lapsed (the API server was away) is shown OutOfSync
    and left alone then, and re-created by the pass that follows the Lease's return."""
    f = Fleet()
    lease = f.daemon.leases.by_cluster["alpha"]
    async with running(f.daemon):
        await f.started()
        real_get = f.cluster.get

        async def unreachable(api_version: str, kind: str, *args: Any, **kw: Any) -> Any:
            if kind == "Lease":
                raise ApiError("cluster alpha: connection refused", status=0)
            return await real_get(api_version, kind, *args, **kw)

        f.cluster.get = unreachable  # type: ignore[method-assign]
        await f.clock.advance(20.0)
        assert lease.held() is False
        gone = copy.deepcopy(f.cluster.objects[KEY])
        await f.cluster.delete("v1", "ConfigMap", "settings", "web")
        f.watch.send("DELETED", gone)
        await f.clock.advance(1.0)
        assert KEY not in f.cluster.objects  # no write without the Lease
        row = f.daemon.board.get("web/alpha")
        assert row is not None
        assert row.sync_status == "OutOfSync"  # the loss is shown while it waits
        f.cluster.get = real_get  # type: ignore[method-assign]
        await f.clock.advance(6.0)
        assert lease.held()
        assert f.level() == "info"
        assert row.sync_status == "Synced"


@pytest.mark.asyncio
async def test_many_deleted_objects_show_out_of_sync_and_come_back_through_one_full_pass() -> None:
    """When every object of an instance is deleted at once (a cluster restored empty), the
    instance is shown OutOfSync, a few objects are repaired alone and the rest by a full pass,
    and it is Synced once all are back."""
    clock = VirtualClock(1000.0)
    cluster, git, recorder = FakeCluster(clock), FakeGit(), Recorder()
    names = [f"cm-{n:02d}" for n in range(20)]
    git.commit({f"app/{n}.yaml": configmap(n, {"level": "info"}) for n in names})
    fleet = fleet_on()
    watch = FakeWatch(cluster)
    daemon = Daemon(fleet, {"alpha": ClusterHandle("alpha", cluster, watch)}, git,
                    DesiredState(fleet, git, NoRenderer()), metrics=recorder, history=recorder,
                    clock=clock, settings=Settings(resync=3600.0, health_poll=0.01))
    keys = [ResourceKey("", "ConfigMap", "web", n) for n in names]
    async with running(daemon):
        for _ in range(100):
            if recorder.of("record") and "ConfigMap" in watch.kinds:
                break
            await clock.advance(0.01)
        gone = [copy.deepcopy(cluster.objects[k]) for k in keys]
        for key, body in zip(keys, gone, strict=True):
            await cluster.delete("v1", "ConfigMap", key.name, "web")
            body["metadata"]["resourceVersion"] = str(int(body["metadata"]["resourceVersion"]) + 1)
        for body in gone:
            watch.send("DELETED", body)
        before = len(recorder.of("set_instance"))
        row = daemon.board.get("web/alpha")
        assert row is not None
        for _ in range(200):
            await clock.advance(0.05)
            if all(k in cluster.objects for k in keys) and row.sync_status == "Synced":
                break
        assert all(k in cluster.objects for k in keys)
        assert row.sync_status == "Synced"
        shown = [a[2] for a, _ in recorder.of("set_instance")[before:]]
        assert "OutOfSync" in shown  # the deletions were shown before the repairs landed
        messages = [k["message"] for _, k in recorder.of("record")[1:]]
        assert sum("self-heal" in m for m in messages) <= 8
        assert any("self-heal" not in m for m in messages)  # a full pass re-created the rest
