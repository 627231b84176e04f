"""Targeted self-heal writes are conditional, proven against a real API server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from gitopsd.app import Sources, connect_cluster
from gitopsd.core.marks import FLEET_LABEL, TRACKING_ANNOTATION
from gitopsd.edges.kube.objects import Objects
from gitopsd.engine.clock import MonotonicClock
from gitopsd.engine.queue import WorkQueue
from gitopsd.engine.report import Reporter
from gitopsd.engine.selfheal import Repairer
from gitopsd.engine.status import StatusBoard
from gitopsd.localcluster import LocalCluster
from gitopsd.model import AppInstance, ResourceKey, Source, SyncPolicy
from tests.integration.synckit import make_fleet
from tests.testenv.git_fixtures import RepoFactory

MakeNamespace = Callable[[LocalCluster], str]


def _cm(ns: str, owner: str, value: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "web", "namespace": ns, "labels": {FLEET_LABEL: "testfleet"},
                         "annotations": {TRACKING_ANNOTATION: f"{owner}:/ConfigMap:{ns}/web"}},
            "data": {"v": value}}


@pytest_asyncio.fixture
async def objects(cluster_a: LocalCluster, git_repos: RepoFactory, tmp_path: Path) -> AsyncIterator[Objects]:
    fleet, _ = make_fleet(cluster_a, git_repos.new(), app="web", path="app", namespace="default",
                          policy=SyncPolicy(automated=True, self_heal=True))
    sources = Sources.build(fleet, tmp_path / "state")
    conn = await connect_cluster(fleet, cluster_a.name, sources)
    try:
        yield conn.objects
    finally:
        await conn.close()
        await sources.close()


@dataclass
class _Seen:
    """What the watches are said to know of the one object a test repairs."""

    wanted: dict[str, Any] | None
    last: int
    ours: Callable[[], int] = lambda: -1
    about_to_write: bool = False
    written: list[dict[str, Any]] = field(default_factory=list)  # what each repair got back

    def body(self, key: ResourceKey) -> dict[str, Any] | None:
        return self.wanted

    def version(self, key: ResourceKey) -> int:
        return self.last

    def ours_version(self, key: ResourceKey) -> int:
        return self.ours()

    def settling(self, key: ResourceKey) -> bool:
        return self.about_to_write

    def wrote(self, key: ResourceKey, obj: dict[str, Any]) -> None:
        self.written.append(obj)


class _NoHold:
    def hold(self, instance_key: str, key: ResourceKey) -> None:
        raise AssertionError("no sync runs in these tests")

    def awaiting(self, instance_key: str, besides: ResourceKey) -> bool:
        return False


async def _repair(objects: Objects, ns: str, *, deleted: bool, version: int,
                  latest: Callable[[], int] | None = None, settle: float = 0.0,
                  moved_on: dict[str, Any] | None = None) -> WorkQueue:
    queue = WorkQueue(clock=MonotonicClock())
    repairer = Repairer(clock=MonotonicClock(), queue=queue, reporter=Reporter(StatusBoard()),
                        held=_NoHold(), fleet="testfleet", settle=settle)
    inst = AppInstance("web", "alpha", Source("env", "main", "app"), ns)
    key = ResourceKey("", "ConfigMap", ns, "web")
    seen = _Seen(_cm(ns, "web", "desired"), version, latest or (lambda: -1), about_to_write=settle > 0)
    repairer.schedule(inst, objects, key, seen, deleted=deleted)
    if moved_on is not None:
        seen.wanted = moved_on  # a sync moved the instance on before the repair ran
    for _ in range(100):
        if not repairer.pending:
            break
        await asyncio.sleep(0.05)
    await repairer.stop()
    return queue


def _version(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


async def _data(objects: Objects, ns: str) -> dict[str, str]:
    live = await objects.get("v1", "ConfigMap", "web", ns)
    assert live is not None
    return dict(live["data"])


@pytest.mark.asyncio
async def test_edit_is_reverted_when_nobody_changed_the_object_since(
        cluster_a: LocalCluster, make_namespace: MakeNamespace, objects: Objects) -> None:
    """A repair at the resourceVersion the watch last showed puts the desired body back."""
    ns = make_namespace(cluster_a)
    drifted = await objects.apply(_cm(ns, "web", "edited"), force=True)
    queue = await _repair(objects, ns, deleted=False, version=_version(drifted))
    assert await _data(objects, ns) == {"v": "desired"}
    assert len(queue) == 0


@pytest.mark.asyncio
async def test_edit_is_reverted_after_a_newer_write_that_kept_it_ours(
        cluster_a: LocalCluster, make_namespace: MakeNamespace, objects: Objects) -> None:
    """A write since the drift event (a controller's, say) that left the object this
    application's costs one read, then the repair lands."""
    ns = make_namespace(cluster_a)
    drifted = await objects.apply(_cm(ns, "web", "edited"), force=True)
    later = _cm(ns, "web", "edited")
    later["metadata"]["labels"]["team"] = "blue"
    await objects.apply(later, force=True)
    queue = await _repair(objects, ns, deleted=False, version=_version(drifted))
    assert await _data(objects, ns) == {"v": "desired"}
    assert len(queue) == 0


@pytest.mark.asyncio
async def test_newer_version_the_watch_showed_as_ours_saves_the_read(
        cluster_a: LocalCluster, make_namespace: MakeNamespace, objects: Objects,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After a conflict, a newer version the watches showed while the object was still this
    application's is used at once, without reading the object."""
    ns = make_namespace(cluster_a)
    drifted = await objects.apply(_cm(ns, "web", "edited"), force=True)
    later = _cm(ns, "web", "edited")
    later["metadata"]["labels"]["team"] = "blue"
    newer = await objects.apply(later, force=True)
    reads: list[str] = []
    real_get = objects.get

    async def counting_get(*args: Any, **kw: Any) -> Any:
        reads.append(str(args))
        return await real_get(*args, **kw)

    monkeypatch.setattr(objects, "get", counting_get)
    queue = await _repair(objects, ns, deleted=False, version=_version(drifted),
                          latest=lambda: _version(newer))
    monkeypatch.undo()
    assert await _data(objects, ns) == {"v": "desired"}
    assert reads == []
    assert len(queue) == 0


@pytest.mark.asyncio
async def test_repair_waits_for_an_imminent_controller_write_and_lands_first_time(
        cluster_a: LocalCluster, make_namespace: MakeNamespace, objects: Objects,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """When the object's controller is about to write, the repair waits for the watches to show
    that write and applies once, at its version."""
    ns = make_namespace(cluster_a)
    drifted = await objects.apply(_cm(ns, "web", "edited"), force=True)
    seen = {"version": _version(drifted)}

    async def controller() -> None:
        await asyncio.sleep(0.05)
        later = _cm(ns, "web", "edited")
        later["metadata"]["labels"]["observed"] = "yes"
        seen["version"] = _version(await objects.apply(later, force=True, field_manager="controller"))

    applies: list[str] = []
    real_apply = objects.apply

    async def counting_apply(body: Any, **kw: Any) -> Any:
        if "field_manager" not in kw:  # gitopsd's own writes, not the controller's
            applies.append(str(body["metadata"].get("resourceVersion")))
        return await real_apply(body, **kw)

    writer = asyncio.ensure_future(controller())
    monkeypatch.setattr(objects, "apply", counting_apply)
    queue = await _repair(objects, ns, deleted=False, version=_version(drifted),
                          latest=lambda: seen["version"], settle=2.0)
    monkeypatch.undo()
    await writer
    assert await _data(objects, ns) == {"v": "desired"}
    assert applies == [str(seen["version"])]
    assert len(queue) == 0


@pytest.mark.asyncio
async def test_object_taken_over_after_the_drift_event_is_left_alone(
        cluster_a: LocalCluster, make_namespace: MakeNamespace, objects: Objects) -> None:
    """An object another application took over since the drift was seen is not written; a full
    reconcile (which checks ownership) is queued instead."""
    ns = make_namespace(cluster_a)
    drifted = await objects.apply(_cm(ns, "web", "edited"), force=True)
    await objects.apply(_cm(ns, "other-app", "theirs"), force=True)
    queue = await _repair(objects, ns, deleted=False, version=_version(drifted))
    live = await objects.get("v1", "ConfigMap", "web", ns)
    assert live is not None
    assert live["data"] == {"v": "theirs"}
    assert live["metadata"]["annotations"][TRACKING_ANNOTATION].startswith("other-app:")
    assert len(queue) == 1


@pytest.mark.asyncio
async def test_deleted_object_recreated_by_someone_else_is_left_alone(
        cluster_a: LocalCluster, make_namespace: MakeNamespace, objects: Objects) -> None:
    """A deleted object is repaired by a create, which fails when another owner made it again."""
    ns = make_namespace(cluster_a)
    await objects.apply(_cm(ns, "other-app", "theirs"), force=True)
    queue = await _repair(objects, ns, deleted=True, version=-1)
    assert await _data(objects, ns) == {"v": "theirs"}
    assert len(queue) == 1


@pytest.mark.asyncio
async def test_deleted_object_is_created_again(
        cluster_a: LocalCluster, make_namespace: MakeNamespace, objects: Objects) -> None:
    """A deleted object nobody recreated is created from the desired body."""
    ns = make_namespace(cluster_a)
    queue = await _repair(objects, ns, deleted=True, version=-1)
    assert await _data(objects, ns) == {"v": "desired"}
    assert len(queue) == 0


@pytest.mark.asyncio
async def test_repair_gives_way_when_the_desired_body_moved_on_while_it_waited(
        cluster_a: LocalCluster, make_namespace: MakeNamespace, objects: Objects) -> None:
    """A repair whose body is no longer what the instance wants writes nothing and asks for a full sync."""
    ns = make_namespace(cluster_a)
    drifted = await objects.apply(_cm(ns, "web", "edited"), force=True)
    newer = _cm(ns, "web", "next revision")
    newer["metadata"]["annotations"]["gitopsd.io/desired-hash"] = "next"
    queue = await _repair(objects, ns, deleted=False, version=_version(drifted), moved_on=newer)
    assert await _data(objects, ns) == {"v": "edited"}
    assert len(queue) == 1
