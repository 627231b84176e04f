"""Sync windows in the daemon: automated syncs and self-heal wait, drift shows, manual syncs obey."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.daemon import Daemon, Settings
from gitopsd.engine.desired import DesiredState
from gitopsd.engine.ports import ClusterHandle
from gitopsd.engine.windows import WindowsByApp
from gitopsd.errors import SyncWindowClosed
from gitopsd.model import ConditionType, ResourceKey, SyncStatus
from gitopsd.model.cron import parse_cron
from gitopsd.model.windows import SyncWindow, WindowKind
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import FakeGit, FakeWatch, NoRenderer, Recorder, configmap, fleet_on, running

KEY = ResourceKey("", "ConfigMap", "web", "settings")
START = 1000.0  # the virtual clock's reading at 21:00 UTC on Friday 1 May 2026
WALL = dt.datetime(2026, 5, 1, 21, tzinfo=dt.UTC).timestamp()


def deny(schedule: str = "0 22 * * *", hours: float = 2, *, manual: bool = False) -> SyncWindow:
    return SyncWindow(WindowKind.DENY, parse_cron(schedule), hours * 3600, applications=("web",),
                      manual_sync=manual, duration_text=f"{hours:g}h")


class Fleet:
    """One self-healed instance with one ConfigMap, sync windows, and a virtual wall clock."""

    def __init__(self, *windows: SyncWindow, wall: float = WALL) -> None:
        self.clock = VirtualClock(START)
        self.epoch = wall
        self.cluster, self.git, self.recorder = FakeCluster(self.clock), FakeGit(), Recorder()
        self.git.commit({"app/cm.yaml": configmap("settings", {"level": "info"})})
        fleet = fleet_on()
        self.watch = FakeWatch(self.cluster)
        self.daemon = Daemon(fleet, {"alpha": ClusterHandle("alpha", self.cluster, self.watch)}, self.git,
                             DesiredState(fleet, self.git, NoRenderer()), metrics=self.recorder,
                             history=self.recorder, clock=self.clock,
                             settings=Settings(resync=6 * 3600.0, health_poll=0.01),
                             windows=WindowsByApp({"web": windows}),
                             wall=lambda: self.epoch + self.clock.now() - START)

    def wall(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.epoch + self.clock.now() - START, dt.UTC)

    async def until(self, hour: int, minute: int = 0, second: int = 0, *, day: int = 1) -> None:
        """Advance the clock to HOUR:MINUTE:SECOND UTC on DAY May 2026, a minute at a time."""
        target = dt.datetime(2026, 5, day, hour, minute, second, tzinfo=dt.UTC)
        while (left := (target - self.wall()).total_seconds()) > 0:
            await self.clock.advance(min(left, 60.0))

    async def started(self) -> None:
        for _ in range(100):
            if self.recorder.of("reconcile_finished") and "ConfigMap" in self.watch.kinds:
                return
            await self.clock.advance(0.01)
        raise AssertionError("the first sync did not finish")

    def edit(self, level: str) -> None:
        edited = copy.deepcopy(self.cluster.objects[KEY])
        edited["data"] = {"level": level}
        self.watch.send("MODIFIED", self.cluster.put(edited))

    def level(self) -> str:
        return str(self.cluster.objects[KEY]["data"]["level"])

    def row(self) -> Any:
        row = self.daemon.board.get("web/alpha")
        assert row is not None
        return row

    def window_condition(self) -> Any:
        found = [c for c in self.row().conditions if c.type is ConditionType.SYNC_WINDOW_CLOSED]
        return found[0] if found else None


@pytest.mark.asyncio
async def test_deny_window_holds_self_heal_and_new_revisions_until_it_ends() -> None:
    """During a deny window an edit is not reverted and a new commit is not applied; the instance is
    OutOfSync with a condition naming the window; both land right when the window ends."""
    f = Fleet(deny())
    async with running(f.daemon):
        await f.started()
        await f.until(22, 5)
        passes_before = len(f.recorder.of("reconcile_finished"))
        f.edit("debug")
        await f.clock.advance(1.0)
        assert f.level() == "debug"
        assert f.row().sync_status is SyncStatus.OUT_OF_SYNC
        condition = f.window_condition()
        assert condition is not None
        assert "deny window '0 22 * * *' (2h, UTC)" in condition.message
        assert "resume at 2026-05-02T00:00:00Z" in condition.message
        assert not [k for _, k in f.recorder.of("record") if "self-heal" in k["message"]]

        f.git.commit({"app/cm.yaml": configmap("settings", {"level": "warn"})})
        await f.until(23, 59, 58)
        assert f.level() == "debug"
        assert f.row().sync_status is SyncStatus.OUT_OF_SYNC
        assert f.window_condition() is not None
        assert "deny window '0 22 * * *'" in f.row().last_message
        # the commit caused one pass, which stopped after comparing; nothing polled the window
        assert len(f.recorder.of("reconcile_finished")) - passes_before == 1

        await f.until(0, 0, 5, day=2)
        assert f.level() == "warn"
        assert f.row().sync_status is SyncStatus.SYNCED
        assert f.window_condition() is None


@pytest.mark.asyncio
async def test_manual_sync_is_refused_without_manual_sync_and_runs_with_it() -> None:
    """A manual sync during a deny window is refused with the window's name unless the window says
    manualSync, in which case it applies the new commit at once."""
    strict = Fleet(deny())
    async with running(strict.daemon):
        await strict.started()
        await strict.until(22, 1)
        with pytest.raises(SyncWindowClosed, match=r"web/alpha: manual syncs are stopped by the active deny"):
            strict.daemon.request_sync("web")

    lenient = Fleet(deny(manual=True))
    async with running(lenient.daemon):
        await lenient.started()
        await lenient.until(22, 1)
        lenient.git.commit({"app/cm.yaml": configmap("settings", {"level": "warn"})})
        await lenient.clock.advance(40.0)  # a poll sees the commit; the automated pass stops
        assert lenient.level() == "info"
        assert lenient.window_condition() is not None
        assert lenient.daemon.request_sync("web") == ["web/alpha"]
        await lenient.clock.advance(1.0)
        assert lenient.level() == "warn"
        assert lenient.row().sync_status is SyncStatus.SYNCED


@pytest.mark.asyncio
async def test_outside_allow_windows_nothing_syncs_and_status_shows_the_windows() -> None:
    """With only an allow window that is not active, even the first deployment waits for it to
    open; the status row and the gauge show whether a window is active."""
    allow = SyncWindow(WindowKind.ALLOW, parse_cron("30 21 * * *"), 3600, applications=("w*",))
    f = Fleet(allow)
    async with running(f.daemon):
        await f.started()  # 21:00: the first pass compares and stops
        assert KEY not in f.cluster.objects
        assert f.window_condition().reason == "OutsideAllowWindows"
        [row] = f.daemon.status_rows()
        assert row["sync_windows"]["automated"] is False
        assert row["sync_windows"]["changes_at"] == "2026-05-01T21:30:00Z"
        assert (("web", "allow", False), {}) in f.recorder.of("set_sync_window_active")
        await f.until(21, 29, 50)
        assert KEY not in f.cluster.objects
        await f.until(21, 30, 5)
        assert f.level() == "info"
        assert f.window_condition() is None
        [row] = f.daemon.status_rows()
        assert row["sync_windows"]["active"][0]["schedule"] == "30 21 * * *"
        assert (("web", "allow", True), {}) in f.recorder.of("set_sync_window_active")


@pytest.mark.asyncio
async def test_repair_waiting_out_the_backoff_does_not_write_once_a_window_opened() -> None:
    """A repair delayed by a self-heal fight finds a deny window active when its wait ends: it writes
    nothing, and the object is repaired when the window closes."""
    f = Fleet(deny("0 21 * * *", 1 / 60), wall=WALL - 1.5)  # 20:59:58.5; the window is 21:00-21:01
    async with running(f.daemon):
        await f.started()
        f.edit("theirs")
        await f.clock.advance(0.05)
        assert f.level() == "info"  # repaired at once
        f.edit("theirs")  # undone within moments: a fight, the next repair waits 2 s
        await f.clock.advance(0.05)
        assert f.window_condition() is None
        await f.until(21, 0, 30)
        assert f.level() == "theirs"
        assert f.window_condition() is not None
        assert f.row().sync_status is SyncStatus.OUT_OF_SYNC
        await f.until(21, 1, 5)
        assert f.level() == "info"
        assert f.window_condition() is None
