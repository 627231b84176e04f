"""Full syncs and self-heal repairs are reported through the same path, on an in-memory cluster."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest
from structlog.testing import capture_logs

from gitopsd.engine.applied import Applied
from gitopsd.engine.daemon import Daemon, Settings
from gitopsd.engine.desired import DesiredState
from gitopsd.engine.ports import ClusterHandle
from gitopsd.model import Fleet, ResourceKey
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


def _daemon(cluster: FakeCluster, git: FakeGit, recorder: Recorder, *, self_heal: bool = True,
            resync: float = 3600.0, applied: Applied | None = None, fleet: Fleet | None = None) -> Daemon:
    fleet = fleet or fleet_on(self_heal=self_heal)
    desired = DesiredState(fleet, git, NoRenderer())
    handle = ClusterHandle("alpha", cluster, FakeWatch(cluster))
    return Daemon(fleet, {"alpha": handle}, git, desired, metrics=recorder, history=recorder,
                  settings=Settings(resync=resync, health_poll=0.01), applied=applied)


def _watched(*, self_heal: bool = True, resync: float = 3600.0) -> tuple[FakeCluster, Recorder, Daemon,
                                                                         FakeWatch]:
    """A daemon over one ConfigMap in Git, with the cluster, the recorder and the watch it uses."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    git.commit({"app/cm.yaml": configmap("settings", {"level": "info"})})
    daemon = _daemon(cluster, git, recorder, self_heal=self_heal, resync=resync)
    watch = daemon.clusters["alpha"].handle.watch
    assert isinstance(watch, FakeWatch)
    return cluster, recorder, daemon, watch


def _edited(cluster: FakeCluster) -> dict[str, Any]:
    """The live ConfigMap after an out-of-band edit of its level to debug."""
    edited = copy.deepcopy(cluster.objects[KEY])
    edited["data"] = {"level": "debug"}
    return cluster.put(edited)


def _results(recorder: Recorder) -> list[tuple[str, str]]:
    """(result, message) of every history record, in order."""
    return [(k["result"], k["message"]) for _, k in recorder.of("record")]


@pytest.mark.asyncio
async def test_full_sync_is_reported_on_board_log_metrics_and_history() -> None:
    """A first sync that creates an object shows on the board, in one log line, in metrics and in history."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    sha = git.commit({"app/cm.yaml": configmap("settings", {"level": "info"})})
    daemon = _daemon(cluster, git, recorder)
    with capture_logs() as logs:
        async with running(daemon):
            await eventually(lambda: recorder.of("record"))
    row = daemon.board.get("web/alpha")
    assert row is not None
    assert (row.sync_status, row.last_result, row.revision) == ("Synced", "Synced", sha)
    assert _results(recorder) == [("Synced", "1 created")]
    assert recorder.of("record")[0][1]["changes"] == {"created": 1}
    assert [a for a, _ in recorder.of("sync_finished")] == [("web", "alpha", "Succeeded")]
    assert ("web", "alpha", "Synced", row.health.status.value) in [a for a, _ in recorder.of("set_instance")]
    done = [e for e in logs if e["event"] == "reconcile.done"]
    assert [(e["outcome"], e["trigger"], e["revision"]) for e in done] == [("Synced", "poll", sha[:12])]
    assert done[0]["trace_id"] == row.last_trace_id
    assert cluster.objects[KEY]["data"] == {"level": "info"}


@pytest.mark.asyncio
async def test_self_heal_repair_is_reported_like_a_sync() -> None:
    """An edited object is put back by one apply, reported as a Synced pass with the drift trigger."""
    cluster, recorder, daemon, watch = _watched()
    with capture_logs() as logs:
        async with running(daemon):
            await eventually(lambda: recorder.of("record") and "ConfigMap" in watch.kinds)
            watch.send("MODIFIED", _edited(cluster))
            await eventually(lambda: len(recorder.of("record")) == 2)
    assert _results(recorder)[1] == ("Synced", f"1 configured (self-heal of {KEY})")
    assert cluster.objects[KEY]["data"] == {"level": "info"}
    assert [a for a, _ in recorder.of("sync_finished")] == [("web", "alpha", "Succeeded")] * 2
    assert [a for a, _ in recorder.of("drift_detected")] == [("web", "alpha")]
    done = [e for e in logs if e["event"] == "reconcile.done"]
    assert [e["trigger"] for e in done] == ["poll", "drift"]
    row = daemon.board.get("web/alpha")
    assert row is not None
    assert row.last_trace_id == done[1]["trace_id"]


@pytest.mark.asyncio
async def test_failed_sync_is_reported_with_its_error() -> None:
    """A pass that cannot reach Git is a Failed row with SyncError and SourceUnavailable conditions
    and a history record."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    git.commit({"app/cm.yaml": configmap("settings", {"level": "info"})})
    git.broken = "repository env: connection refused"
    daemon = _daemon(cluster, git, recorder)
    async with running(daemon):
        await eventually(lambda: recorder.of("record"))
    row = daemon.board.get("web/alpha")
    assert row is not None
    assert (row.last_result, row.attempts) == ("Failed", 1)
    assert sorted(c.type for c in row.conditions) == ["SourceUnavailable", "SyncError"]
    assert _results(recorder) == [("Failed", "repository env: connection refused")]
    assert [a for a, _ in recorder.of("sync_finished")] == [("web", "alpha", "Failed")]
    assert KEY not in cluster.objects


@pytest.mark.asyncio
async def test_drift_without_self_heal_marks_the_instance_out_of_sync() -> None:
    """Without selfHeal an edit is not repaired: board and metrics say OutOfSync, history has no repair."""
    cluster, recorder, daemon, watch = _watched(self_heal=False)
    async with running(daemon):
        await eventually(lambda: recorder.of("record") and "ConfigMap" in watch.kinds)
        watch.send("MODIFIED", _edited(cluster))
        await eventually(lambda: recorder.of("drift_detected"))
    row = daemon.board.get("web/alpha")
    assert row is not None
    assert row.sync_status == "OutOfSync"
    assert [c.type for c in row.conditions] == ["OutOfSync"]
    assert recorder.of("set_instance")[-1][0][:3] == ("web", "alpha", "OutOfSync")
    assert len(recorder.of("record")) == 1
    assert cluster.objects[KEY]["data"] == {"level": "debug"}


@pytest.mark.asyncio
async def test_a_comparison_that_writes_nothing_leaves_no_history_row() -> None:
    """Resyncs of an automated instance without selfHeal find the edit, leave it and say OutOfSync (as
    Argo CD); such comparisons are not syncs, so history keeps the syncs alone and its bounded
    entries stay the revisions a rollback can go back to, and the sync counter counts syncs alone."""
    cluster, recorder, daemon, watch = _watched(self_heal=False, resync=0.2)
    with capture_logs() as logs:
        async with running(daemon):
            await eventually(lambda: recorder.of("record") and "ConfigMap" in watch.kinds)
            watch.send("MODIFIED", _edited(cluster))
            await eventually(lambda: recorder.of("drift_detected"))
            await eventually(lambda: sum(e.get("outcome") == "OutOfSync" for e in logs) >= 2)
    assert _results(recorder) == [("Synced", "1 created")]
    assert [a for a, _ in recorder.of("sync_finished")] == [("web", "alpha", "Succeeded")]
    assert len(recorder.of("reconcile_finished")) >= 3
    assert cluster.objects[KEY]["data"] == {"level": "debug"}


async def _restarted(fleet: Fleet) -> tuple[Daemon, FakeCluster, Recorder]:
    """A daemon on FLEET started after another synced fleet_on(self_heal=False) and stopped, sharing
    its applied sources (as the state directory shares them), with the object edited in between."""
    cluster, git, recorder, applied = FakeCluster(), FakeGit(), Recorder(), Applied()
    git.commit({"app/cm.yaml": configmap("settings", {"level": "info"})})
    async with running(_daemon(cluster, git, recorder, self_heal=False, applied=applied)):
        await eventually(lambda: recorder.of("record"))
    _edited(cluster)
    again = _daemon(cluster, git, recorder, applied=applied, fleet=fleet)
    with capture_logs() as logs:
        async with running(again):
            await eventually(lambda: any(e["event"] == "reconcile.done" for e in logs))
    return again, cluster, recorder


@pytest.mark.asyncio
async def test_a_restart_does_not_sync_the_applied_source_again_without_self_heal() -> None:
    """A restarted daemon knows the source its last sync applied: an object edited while it was down
    stays edited and the instance is OutOfSync, as before the restart."""
    again, cluster, recorder = await _restarted(fleet_on(self_heal=False))
    row = again.board.get("web/alpha")
    assert row is not None
    assert (row.sync_status, row.last_result) == ("OutOfSync", "OutOfSync")
    assert cluster.objects[KEY]["data"] == {"level": "debug"}
    assert len(recorder.of("record")) == 1


@pytest.mark.asyncio
async def test_a_changed_source_parameter_is_synced_once_without_self_heal() -> None:
    """At the same commit, a source parameter changed in the fleet file makes a new source: the
    automated sync applies it (and with it Git's value over the edit), as Argo CD syncs a new set of
    parameters."""
    fleet = fleet_on(self_heal=False)
    inst = fleet.instances[0]
    source = replace(inst.source, helm=replace(inst.source.helm, values={"replicas": 2}))
    changed = replace(fleet, applications=(replace(fleet.applications[0], source=source),),
                      instances=(replace(inst, source=source),))
    again, cluster, recorder = await _restarted(changed)
    assert cluster.objects[KEY]["data"] == {"level": "info"}
    assert [k["result"] for _, k in recorder.of("record")] == ["Synced", "Synced"]
    assert again.applied.get("web/alpha") not in (None, recorder.of("record")[0][1]["revision"])
