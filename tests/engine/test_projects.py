"""A project bounds every write of a sync: violations write nothing, prunes stay inside the project.

Each test runs the Reconciler with project scopes against a ``FakeCluster`` on a virtual clock.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

from gitopsd.core.inventory import Inventory, InventoryEntry, stamp
from gitopsd.core.policy.projects import cluster_scope, scope_of
from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.removal import Remover
from gitopsd.engine.status import StatusBoard
from gitopsd.engine.sync import Reconciler
from gitopsd.engine.sync.reconciler import SyncRequest
from gitopsd.model import (
    AppInstance,
    Application,
    Cluster,
    ClusterSelector,
    ConditionType,
    Destination,
    ErrorKind,
    Fleet,
    Manifest,
    Outcome,
    OutcomeKind,
    Repository,
    ResourceKey,
    Source,
    SyncPolicy,
)
from gitopsd.model.projects import Project, ProjectDestination
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import StaticDesired

FLEET = "f"
POLL = 0.5
WRITES = ("create", "apply", "replace", "patch", "delete")
INVENTORY = ResourceKey("", "ConfigMap", "gitopsd-system", "gitopsd-inv-web")
SOURCE = Source("env", "main", "app")
TEAM_A = Project("team-a", source_repos=("https://git.example.com/team-a/*",),
                 destinations=(ProjectDestination(namespace="team-a", name="c"),))


def _fleet(project: Project, repo_url: str = "https://git.example.com/team-a/env.git") -> Fleet:
    app = _app(project.name)
    return Fleet(name=FLEET, clusters=(Cluster(name="c", kubeconfig=""),),
                 repositories=(Repository(name="env", url=repo_url),), applications=(app,),
                 projects=(project,))


def _app(project: str) -> Application:
    return Application("web", SOURCE, Destination(ClusterSelector(names=("c",)), "team-a"),
                       SyncPolicy(automated=True, prune=True), project=project)


def _body(name: str, namespace: str = "team-a") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace}, "data": {"k": name}}


def _ours(name: str, namespace: str) -> dict[str, Any]:
    key = ResourceKey("", "ConfigMap", namespace, name)
    return stamp(_body(name, namespace), fleet=FLEET, app="web", key=key)


def _cluster(clock: VirtualClock) -> FakeCluster:
    cluster = FakeCluster(clock)
    for name in ("team-a", "team-b", "gitopsd-system"):
        cluster.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    cluster.log.clear()
    return cluster


async def _run(clock: VirtualClock, cluster: FakeCluster, fleet: Fleet, bodies: list[dict[str, Any]]
               ) -> Outcome:
    rec = Reconciler(fleet=FLEET, cluster=cluster, clock=clock, health_poll=POLL,
                     desired=StaticDesired(tuple(Manifest(ResourceKey.of(b), b) for b in bodies)),
                     scopes=functools.partial(scope_of, fleet))
    task = asyncio.ensure_future(rec.reconcile(AppInstance("web", "c", SOURCE, "team-a"),
                                               fleet.application("web"), SyncRequest()))
    while not task.done():
        await clock.advance(POLL)
    return task.result().outcome


def _writes(cluster: FakeCluster) -> list[tuple[str, str]]:
    return [(verb, name) for verb, name in cluster.events() if verb in WRITES]


@pytest.mark.asyncio
async def test_an_object_outside_the_project_fails_the_sync_with_zero_writes() -> None:
    """One object in a namespace the project does not cover stops the whole sync before any write."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    outcome = await _run(clock, cluster, _fleet(TEAM_A), [_body("a1"), _body("b1", "team-b")])
    assert outcome.kind is OutcomeKind.STALLED
    assert outcome.error == ErrorKind.PROJECT_VIOLATION
    assert "ConfigMap team-b/b1" in outcome.message
    assert "destinations" in outcome.message
    assert _writes(cluster) == []
    board = StatusBoard()
    row = board.record(AppInstance("web", "c", SOURCE, "team-a"), outcome, started=0, duration=1)
    assert [c.type for c in row.conditions] == [ConditionType.PROJECT_VIOLATION]


@pytest.mark.asyncio
async def test_the_same_objects_inside_the_project_sync() -> None:
    """Without the foreign object the same application syncs and writes its object."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    outcome = await _run(clock, cluster, _fleet(TEAM_A), [_body("a1")])
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert ("apply", "a1") in _writes(cluster)


@pytest.mark.asyncio
async def test_a_repository_outside_source_repos_is_refused_before_any_read() -> None:
    """A source repository the project does not list stalls the pass before anything is read."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    outcome = await _run(clock, cluster, _fleet(TEAM_A, "https://git.example.com/other/env.git"),
                         [_body("a1")])
    assert outcome.kind is OutcomeKind.STALLED
    assert "sourceRepos" in outcome.message
    assert cluster.events() == []


@pytest.mark.asyncio
async def test_prune_never_deletes_outside_the_project() -> None:
    """An inventoried object the project no longer covers is kept, recorded and reported, while
    an object inside the project that left Git is pruned."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.put(_ours("old-a", "team-a"))
    cluster.put(_ours("old-b", "team-b"))
    entries = [InventoryEntry("v1", "ConfigMap", ns, n) for ns, n in
               (("team-a", "keep"), ("team-a", "old-a"), ("team-b", "old-b"))]
    cluster.put(Inventory.of(entries).to_configmap(app="web", fleet=FLEET, namespace="gitopsd-system"))
    cluster.put(_ours("keep", "team-a"))
    cluster.log.clear()
    outcome = await _run(clock, cluster, _fleet(TEAM_A), [_body("keep")])
    deleted = [name for verb, name in _writes(cluster) if verb == "delete"]
    assert deleted == ["old-a"]
    assert ResourceKey("", "ConfigMap", "team-b", "old-b") in cluster.objects
    assert outcome.kind is OutcomeKind.STALLED
    assert outcome.error == ErrorKind.PROJECT_VIOLATION
    assert "ConfigMap team-b/old-b" in outcome.message
    assert "not pruned: outside project team-a" in outcome.message
    recorded = cluster.objects[INVENTORY]["data"]["entries"]
    assert "team-b/old-b" in recorded
    assert "old-a" not in recorded


@pytest.mark.asyncio
async def test_narrowing_a_project_shows_violations_and_prunes_nothing() -> None:
    """Objects applied under a broad project and now outside a narrowed one are reported, not pruned."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    broad = Project("team-a", source_repos=("*",),
                    destinations=(ProjectDestination(namespace="team-*", name="c"),))
    bodies = [_body("a1"), _body("b1", "team-b")]
    first = await _run(clock, cluster, _fleet(broad), bodies)
    assert first.kind is OutcomeKind.SYNCED, first.message
    cluster.log.clear()
    narrowed = await _run(clock, cluster, _fleet(TEAM_A), bodies)
    assert narrowed.kind is OutcomeKind.STALLED
    assert "ConfigMap team-b/b1" in narrowed.message
    assert _writes(cluster) == []
    assert ResourceKey("", "ConfigMap", "team-b", "b1") in cluster.objects


@pytest.mark.asyncio
async def test_an_unknown_project_restricts_everything() -> None:
    """An application whose project the fleet does not know is refused, never unrestricted."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    fleet = _fleet(TEAM_A)
    fleet = Fleet(name=FLEET, clusters=fleet.clusters, repositories=fleet.repositories,
                  applications=(_app("ghost"),))
    outcome = await _run(clock, cluster, fleet, [_body("a1")])
    assert outcome.kind is OutcomeKind.STALLED
    assert "project ghost" in outcome.message
    assert _writes(cluster) == []


def _gone_inventory(project: str, names: list[tuple[str, str]]) -> dict[str, Any]:
    inv = Inventory.of(InventoryEntry("v1", "ConfigMap", ns, n) for ns, n in names)
    return inv.to_configmap(app="web", fleet=FLEET, namespace="gitopsd-system", cascade=True,
                            propagation="Background", project=project)


async def _sweep(clock: VirtualClock, cluster: FakeCluster, fleet: Fleet) -> list[Any]:
    remover = Remover("c", cluster, fleet=FLEET, namespace="gitopsd-system", clock=clock, poll=POLL,
                      scopes=functools.partial(cluster_scope, fleet, "c"))
    task = asyncio.ensure_future(remover.sweep(set()))
    while not task.done():
        await clock.advance(POLL)
    return task.result()


@pytest.mark.asyncio
async def test_cascade_deletion_keeps_what_lies_outside_the_recorded_project() -> None:
    """Removing an application deletes its objects inside its project and leaves the others."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.put(_ours("a1", "team-a"))
    cluster.put(_ours("b1", "team-b"))
    cluster.put(_gone_inventory("team-a", [("team-a", "a1"), ("team-b", "b1")]))
    [result] = await _sweep(clock, cluster, _fleet(TEAM_A))
    assert [k.name for k in result.deleted] == ["a1"]
    assert [(k.name, why.split(":")[0]) for k, why in result.kept] == [("b1", "outside project team-a")]
    assert ResourceKey("", "ConfigMap", "team-b", "b1") in cluster.objects
    assert ResourceKey("", "ConfigMap", "team-a", "a1") not in cluster.objects


@pytest.mark.asyncio
async def test_cascade_deletion_of_a_project_no_longer_in_the_fleet_deletes_nothing() -> None:
    """When the recorded project left the fleet, nothing is deleted and the inventory stays."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.put(_ours("a1", "team-a"))
    cluster.put(_gone_inventory("team-x", [("team-a", "a1")]))
    cluster.log.clear()
    [result] = await _sweep(clock, cluster, _fleet(TEAM_A))
    assert _writes(cluster) == []
    assert "project team-x is no longer in the fleet" in result.summary()
    assert not result.finished
