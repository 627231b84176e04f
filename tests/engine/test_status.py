"""The status row tells the truth: what is applied, what failed, and whether Git answers.

A whole daemon on in-memory ports: a sync of a new revision that fails or
stalls leaves the instance OutOfSync with the failed revision beside the one
still applied (on the board, in the API row, in metrics and in history); a
Git outage is a condition on every instance of the repository until it
answers again; and a later successful sync clears all of it.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from gitopsd.engine.daemon import Daemon, Settings
from gitopsd.engine.desired import DesiredState
from gitopsd.engine.ports import ClusterHandle
from gitopsd.engine.queue import Priority
from gitopsd.engine.status import InstanceStatus
from gitopsd.errors import ApiError, ClusterUnreachable
from gitopsd.model import AppInstance, Fleet, ResourceKey, Source
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import (
    FakeGit,
    FakeWatch,
    NoRenderer,
    Recorder,
    configmap,
    eventually,
    fleet_on,
    running,
)

KEY = ResourceKey("", "ConfigMap", "web", "settings")


def _two_apps() -> Fleet:
    """``web`` (folder app/) and ``api`` (folder api/) from the one repository, on cluster alpha."""
    fleet = fleet_on()
    web = fleet.applications[0]
    api = replace(web, name="api", source=Source(repo="env", target_revision="main", path="api"))
    return replace(fleet, applications=(web, api), instances=(
        *fleet.instances, AppInstance("api", "alpha", api.source, "web")))


def _daemon(cluster: FakeCluster, git: FakeGit, recorder: Recorder, fleet: Fleet | None = None) -> Daemon:
    fleet = fleet or fleet_on()
    desired = DesiredState(fleet, git, NoRenderer())
    handle = ClusterHandle("alpha", cluster, FakeWatch(cluster))
    return Daemon(fleet, {"alpha": handle}, git, desired, metrics=recorder, history=recorder,
                  settings=Settings(resync=3600.0, health_poll=0.01))


def _row(daemon: Daemon, key: str = "web/alpha") -> InstanceStatus:
    row = daemon.board.get(key)
    assert row is not None
    return row


def _history(recorder: Recorder) -> list[tuple[str, str]]:
    """(result, revision) of every history record, in order."""
    return [(k["result"], k["revision"]) for _, k in recorder.of("record")]


def _last_metric(recorder: Recorder) -> tuple[Any, ...]:
    return tuple(recorder.of("set_instance")[-1][0][:3])


def _conditions(row: InstanceStatus) -> set[str]:
    return {str(c.type) for c in row.conditions}


@pytest.mark.asyncio
async def test_failed_sync_of_a_new_revision_is_out_of_sync_beside_the_applied_one() -> None:
    """A new revision the cluster rejects leaves the row OutOfSync at the applied revision with the
    failed one beside it, in the API row, metrics and history; the fixing commit clears it."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    good = git.commit({"app/cm.yaml": configmap("settings", {"level": "info"})})
    daemon = _daemon(cluster, git, recorder)
    async with running(daemon):
        await eventually(lambda: _row(daemon).last_result == "Synced" and daemon.pollers._heads)
        cluster.fail("apply", ApiError("ConfigMap web/bad is invalid: data: Invalid value", status=422),
                     kind="ConfigMap", name="bad", times=None)
        bad = git.commit({"app/cm.yaml": configmap("settings", {"level": "debug"}),
                          "app/bad.yaml": configmap("bad", {"x": "y"})})
        daemon.repo_push("env")
        await eventually(lambda: _row(daemon).last_result == "Failed")
        row = _row(daemon)
        assert (row.sync_status, row.revision, row.failed_revision) == ("OutOfSync", good, bad)
        shown = row.as_row()
        assert (shown["sync_status"], shown["revision"], shown["failed_revision"]) == ("OutOfSync", good, bad)
        assert (shown["last_sync"]["result"], shown["last_sync"]["revision"]) == ("Failed", bad)
        assert "SyncError" in _conditions(row)
        assert _last_metric(recorder) == ("web", "alpha", "OutOfSync")
        assert _history(recorder)[-1] == ("Failed", bad)

        fixed = git.commit({"app/cm.yaml": configmap("settings", {"level": "warn"})})
        daemon.repo_push("env")
        await eventually(lambda: _row(daemon).revision == fixed)
    row = _row(daemon)
    assert (row.sync_status, row.failed_revision, row.conditions) == ("Synced", "", [])
    assert row.last_result == "Synced"
    assert row.as_row()["last_sync"]["revision"] == fixed
    assert _last_metric(recorder) == ("web", "alpha", "Synced")
    assert _history(recorder)[-1] == ("Synced", fixed)


@pytest.mark.asyncio
async def test_stalled_sync_of_a_new_revision_is_out_of_sync_beside_the_applied_one() -> None:
    """A new revision that cannot be parsed stalls: OutOfSync, the applied revision kept, the
    stalled one beside it (in history too); a later good commit makes it Synced again."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    good = git.commit({"app/cm.yaml": configmap("settings", {"level": "info"})})
    daemon = _daemon(cluster, git, recorder)
    async with running(daemon):
        await eventually(lambda: _row(daemon).last_result == "Synced" and daemon.pollers._heads)
        bad = git.commit({"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings\n"})
        daemon.repo_push("env")
        await eventually(lambda: _row(daemon).last_result == "Stalled")
        row = _row(daemon)
        assert (row.sync_status, row.revision, row.failed_revision) == ("OutOfSync", good, bad)
        assert row.as_row()["last_sync"]["revision"] == bad
        assert _last_metric(recorder) == ("web", "alpha", "OutOfSync")
        assert _history(recorder)[-1] == ("Stalled", bad)

        fixed = git.commit({"app/cm.yaml": configmap("settings", {"level": "debug"})})
        daemon.repo_push("env")
        await eventually(lambda: _row(daemon).revision == fixed)
    row = _row(daemon)
    assert (row.sync_status, row.failed_revision, row.conditions) == ("Synced", "", [])


@pytest.mark.asyncio
async def test_self_heal_repair_after_a_failed_revision_does_not_claim_synced() -> None:
    """Repairing one drifted object while a new revision is still failing keeps the row OutOfSync
    with the failed revision and its SyncError."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    good = git.commit({"app/cm.yaml": configmap("settings", {"level": "info"})})
    daemon = _daemon(cluster, git, recorder)
    watch = daemon.clusters["alpha"].handle.watch
    assert isinstance(watch, FakeWatch)
    async with running(daemon):
        await eventually(lambda: _row(daemon).last_result == "Synced" and "ConfigMap" in watch.kinds
                         and daemon.pollers._heads)
        cluster.fail("apply", ApiError("ConfigMap web/bad is invalid", status=422),
                     kind="ConfigMap", name="bad", times=None)
        bad = git.commit({"app/cm.yaml": configmap("settings", {"level": "info"}),
                          "app/bad.yaml": configmap("bad", {"x": "y"})})
        daemon.repo_push("env")
        await eventually(lambda: _row(daemon).last_result == "Failed")
        records = len(recorder.of("record"))
        edited = copy.deepcopy(cluster.objects[KEY])
        edited["data"] = {"level": "edited"}
        watch.send("MODIFIED", cluster.put(edited))
        await eventually(lambda: len(recorder.of("record")) > records)
        assert cluster.objects[KEY]["data"] == {"level": "info"}
        row = _row(daemon)
        assert (row.sync_status, row.revision, row.failed_revision) == ("OutOfSync", good, bad)
        assert "SyncError" in _conditions(row)
        assert _last_metric(recorder) == ("web", "alpha", "OutOfSync")


@pytest.mark.asyncio
async def test_git_outage_is_a_condition_on_every_instance_of_the_repository() -> None:
    """While the repository does not answer its poll, every instance of it carries SourceUnavailable
    (and stays at its applied revision); when Git answers again the condition goes and the next
    commit syncs."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    first = git.commit({"app/cm.yaml": configmap("settings", {"level": "info"}),
                        "api/cm.yaml": configmap("api", {"level": "info"})})
    daemon = _daemon(cluster, git, recorder, _two_apps())
    keys = ("web/alpha", "api/alpha")
    async with running(daemon):
        await eventually(lambda: all(_row(daemon, k).last_result == "Synced" for k in keys)
                         and daemon.pollers._heads)
        git.broken = "cannot reach env (ssh://git@example.invalid/env.git): connection refused"
        daemon.repo_push("env")
        await eventually(lambda: all("SourceUnavailable" in _conditions(_row(daemon, k)) for k in keys))
        for k in keys:
            row = _row(daemon, k)
            (condition,) = [c for c in row.conditions if c.type == "SourceUnavailable"]
            assert (condition.reason, condition.message) == ("PollFailed", git.broken)
            assert (row.sync_status, row.revision) == ("Synced", first)
            assert row.as_row()["conditions"] == [
                {"type": "SourceUnavailable", "reason": "PollFailed", "message": git.broken}]

        git.broken = ""
        second = git.commit({"app/cm.yaml": configmap("settings", {"level": "debug"}),
                             "api/cm.yaml": configmap("api", {"level": "debug"})})
        daemon.repo_push("env")
        await eventually(lambda: all(_row(daemon, k).revision == second for k in keys))
    for k in keys:
        row = _row(daemon, k)
        assert (row.sync_status, row.failed_revision, row.conditions) == ("Synced", "", [])


@pytest.mark.asyncio
async def test_failed_fetch_is_a_condition_until_git_answers() -> None:
    """A sync whose fetch fails marks every instance of the repository SourceUnavailable; a new
    revision that could not be fetched is OutOfSync beside the applied one, until Git answers."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    first = git.commit({"app/cm.yaml": configmap("settings", {"level": "info"}),
                        "api/cm.yaml": configmap("api", {"level": "info"})})
    daemon = _daemon(cluster, git, recorder, _two_apps())
    keys = ("web/alpha", "api/alpha")
    async with running(daemon):
        await eventually(lambda: all(_row(daemon, k).last_result == "Synced" for k in keys)
                         and daemon.pollers._heads)
        second = git.commit({"app/cm.yaml": configmap("settings", {"level": "debug"}),
                             "api/cm.yaml": configmap("api", {"level": "info"})})
        git.broken = "repository env (ssh://git@example.invalid/env.git) not found"
        daemon.queue.add("web/alpha", "alpha", Priority.REVISION, reason="test", commit=second)
        await eventually(lambda: _row(daemon).last_result == "Failed")
        for k in keys:
            (condition,) = [c for c in _row(daemon, k).conditions if c.type == "SourceUnavailable"]
            assert (condition.reason, condition.message) == ("FetchFailed", git.broken)
        row = _row(daemon)
        assert (row.sync_status, row.revision, row.failed_revision) == ("OutOfSync", first, second)
        assert _history(recorder)[-1] == ("Failed", second)
        other = _row(daemon, "api/alpha")
        assert (other.sync_status, other.revision) == ("Synced", first)

        git.broken = ""
        daemon.repo_push("env")
        await eventually(lambda: _row(daemon).revision == second)
        await eventually(lambda: not _row(daemon, "api/alpha").conditions)
    row = _row(daemon)
    assert (row.sync_status, row.failed_revision, row.conditions) == ("Synced", "", [])


@pytest.mark.asyncio
async def test_a_fetch_that_gets_an_answer_clears_the_outage_before_the_next_poll() -> None:
    """After a failed poll, a sync that fetches a new commit from the repository takes
    SourceUnavailable off every instance of it without waiting for the next poll."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    git.commit({"app/cm.yaml": configmap("settings", {"level": "info"}),
                "api/cm.yaml": configmap("api", {"level": "info"})})
    daemon = _daemon(cluster, git, recorder, _two_apps())
    keys = ("web/alpha", "api/alpha")
    async with running(daemon):
        await eventually(lambda: all(_row(daemon, k).last_result == "Synced" for k in keys)
                         and daemon.pollers._heads)
        git.broken = "cannot reach env (ssh://git@example.invalid/env.git): connection timed out"
        daemon.repo_push("env")
        await eventually(lambda: all("SourceUnavailable" in _conditions(_row(daemon, k)) for k in keys))
        git.broken = ""
        listings = git.counters.listings
        second = git.commit({"app/cm.yaml": configmap("settings", {"level": "debug"}),
                             "api/cm.yaml": configmap("api", {"level": "info"})})
        daemon.queue.add("web/alpha", "alpha", Priority.REVISION, reason="test", commit=second)
        await eventually(lambda: _row(daemon).revision == second)
        assert git.counters.listings == listings  # no poll ran
        for k in keys:
            assert "SourceUnavailable" not in _conditions(_row(daemon, k))


@pytest.mark.asyncio
async def test_a_pass_that_cannot_compare_the_applied_revision_is_unknown() -> None:
    """A sync that cannot read the cluster, at the revision already applied, claims neither Synced
    nor OutOfSync: the row is Unknown with the error, and Synced again once a pass compares."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    applied = git.commit({"app/cm.yaml": configmap("settings", {"level": "info"})})
    daemon = _daemon(cluster, git, recorder)
    async with running(daemon):
        await eventually(lambda: _row(daemon).last_result == "Synced")
        cluster.fail("get", ClusterUnreachable("cluster alpha: connection refused"), times=None)
        daemon.request_sync("web")
        await eventually(lambda: _row(daemon).last_result == "Failed")
        row = _row(daemon)
        assert (row.sync_status, row.revision) == ("Unknown", applied)
        assert "SyncError" in _conditions(row)
        assert _last_metric(recorder) == ("web", "alpha", "Unknown")
        cluster._failures.clear()
        daemon.request_sync("web")
        await eventually(lambda: _row(daemon).last_result == "Synced")
    row = _row(daemon)
    assert (row.sync_status, row.revision, row.failed_revision, row.conditions) == ("Synced", applied, "", [])
