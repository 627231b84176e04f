"""Removal of an application that left the fleet, on a virtual clock with an in-memory cluster.

Deleted objects linger for LINGER reads (the remover polls every 0.5 virtual seconds), as
objects with finalizers or dependents do on a real cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gitopsd.core.health import hook_state
from gitopsd.core.inventory import Inventory, InventoryEntry, stamp
from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.removal import Remover
from gitopsd.model import ResourceKey
from tests.engine.fakecluster import FakeCluster

FLEET = "f"
NS = "gitopsd-system"
LINGER = 5
JOB_FAILED = {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}
JOB_COMPLETE = {"conditions": [{"type": "Complete", "status": "True"}]}


def slow_deletes(clock: VirtualClock, *, linger: int = LINGER) -> FakeCluster:
    """A fake cluster whose deleted objects stay for LINGER reads and whose Jobs complete at once."""
    cluster = FakeCluster(clock)
    cluster.linger(linger)
    cluster.script_status("Job", JOB_COMPLETE)
    return cluster


def owned(app: str, name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "app", "annotations": dict(annotations or {})}}
    return stamp(body, fleet=FLEET, app=app, key=ResourceKey("", "ConfigMap", "app", name))


def inventory(app: str, names: list[str], *, cascade: bool,
              hooks: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    inv = Inventory.of(InventoryEntry("v1", "ConfigMap", "app", n) for n in names)
    return inv.to_configmap(app=app, fleet=FLEET, namespace=NS, cascade=cascade, propagation="Background",
                            deletion_hooks=hooks)


API_VERSIONS = {"Job": "batch/v1", "Workflow": "argoproj.io/v1alpha1"}


def hook(kind: str, name: str, phase: str, app: str = "gone") -> dict[str, Any]:
    api_version = API_VERSIONS.get(kind, "v1")
    body = {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": "app",
                         "annotations": {"argocd.argoproj.io/hook": phase}}}
    if kind == "Pod":
        body["spec"] = {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x:1"}]}
    group = api_version.rpartition("/")[0]
    return stamp(body, fleet=FLEET, app=app, key=ResourceKey(group, kind, "app", name))


async def run(clock: VirtualClock, cluster: FakeCluster, current: set[str]) -> Any:
    remover = Remover("c", cluster, fleet=FLEET, namespace=NS, clock=clock, poll=0.5)
    task = asyncio.ensure_future(remover.sweep(current))
    for _ in range(100):
        if task.done():
            break
        await clock.advance(0.5)
    return task.result()


@pytest.mark.asyncio
async def test_waves_are_deleted_highest_first_each_gone_before_the_next() -> None:
    """Wave 5 is requested first, wave 0 only after wave 5 is gone, then wave -1; the inventory goes last."""
    clock = VirtualClock()
    cluster = slow_deletes(clock)
    for name, wave in (("a", "0"), ("b", "5"), ("c", "-1")):
        cluster.put(owned("gone", name, {"argocd.argoproj.io/sync-wave": wave}))
    cluster.put(inventory("gone", ["a", "b", "c"], cascade=True))
    [result] = await run(clock, cluster, set())
    events = cluster.events()
    assert [n for verb, n in events if verb == "delete"] == ["b", "a", "c", "gitopsd-inv-gone"]
    assert events.index(("delete", "a")) > events.index(("gone", "b"))
    assert events.index(("delete", "c")) > events.index(("gone", "a"))
    deleted_at = {e.key.name: e.at for e in cluster.log if e.verb == "delete"}
    gone_at = {e.key.name: e.at for e in cluster.log if e.verb == "gone"}
    assert all(gone_at[n] > deleted_at[n] for n in "abc")  # each wave really took polls to go
    assert {e.detail for e in cluster.log if e.verb == "delete" and e.key.name in "abc"} == {"Background"}
    assert result.finished
    assert sorted(k.name for k in result.deleted) == ["a", "b", "c"]


@pytest.mark.asyncio
async def test_only_what_is_still_the_apps_and_deletable_goes() -> None:
    """Delete=false and objects with another tracking id stay; the inventory is removed all the same."""
    clock = VirtualClock()
    cluster = slow_deletes(clock)
    cluster.put(owned("gone", "mine"))
    cluster.put(owned("gone", "keep", {"argocd.argoproj.io/sync-options": "Delete=false"}))
    cluster.put(owned("other", "theirs"))
    cluster.put(inventory("gone", ["mine", "keep", "theirs", "missing"], cascade=True))
    [result] = await run(clock, cluster, set())
    assert [k.name for k in result.deleted] == ["mine"]
    assert sorted((k.name, why) for k, why in result.kept) == [
        ("keep", "Delete=false"), ("theirs", "not this application's")]
    assert result.finished
    cluster.reap()
    assert await cluster.get("v1", "ConfigMap", "gitopsd-inv-gone", NS) is None
    assert {k.name for k in cluster.objects} == {"keep", "theirs"}


@pytest.mark.asyncio
async def test_an_object_taken_by_another_application_after_it_was_read_is_not_deleted() -> None:
    """An object re-marked for another application between the removal's read and its delete
    fails the resourceVersion precondition, is read again and kept; a replacement is kept too."""
    clock = VirtualClock()
    cluster = slow_deletes(clock)
    remarked = cluster.put(owned("gone", "remarked"))
    cluster.put(owned("gone", "replaced"))
    cluster.put(inventory("gone", ["remarked", "replaced"], cascade=True))
    taken = owned("other", "remarked")
    taken["metadata"]["uid"] = remarked["metadata"]["uid"]
    raced: set[str] = set()

    def race(key: ResourceKey) -> None:
        if key.name in ("remarked", "replaced") and key.name not in raced:
            raced.add(key.name)
            cluster.put(taken if key.name == "remarked" else owned("other", "replaced"))
    cluster.before_delete(race)
    [result] = await run(clock, cluster, set())
    assert sorted((k.name, why) for k, why in result.kept) == [
        ("remarked", "not this application's any more"), ("replaced", "replaced by another object")]
    assert not result.deleted
    assert not [name for verb, name in cluster.events("delete") if name in raced]
    assert {k.name for k in cluster.objects} >= {"remarked", "replaced"}


@pytest.mark.asyncio
async def test_an_object_whose_annotations_cannot_be_read_is_not_deleted() -> None:
    """A misspelt sync option is not guessed at: the object stays, the removal reports it and does
    not finish, and the objects of the same wave whose annotations are fine still go."""
    clock = VirtualClock()
    cluster = slow_deletes(clock)
    cluster.put(owned("gone", "typo", {"argocd.argoproj.io/sync-options": "Delete=flase"}))
    cluster.put(owned("gone", "fine"))
    cluster.put(inventory("gone", ["typo", "fine"], cascade=True))
    [result] = await run(clock, cluster, set())
    assert [(k.name, "Delete" in why) for k, why in result.failed] == [("typo", True)]
    assert [k.name for k in result.deleted] == ["fine"]
    assert not result.finished
    assert ("delete", "typo") not in cluster.events()
    assert await cluster.get("v1", "ConfigMap", "gitopsd-inv-gone", NS) is not None


@pytest.mark.asyncio
async def test_without_cascade_or_still_in_the_fleet_nothing_is_deleted() -> None:
    """An inventory without cascadeDelete, or of an application still in the fleet, is left alone."""
    clock = VirtualClock()
    cluster = slow_deletes(clock)
    cluster.put(owned("left", "l"))
    cluster.put(owned("stays", "s"))
    cluster.put(inventory("left", ["l"], cascade=False))
    cluster.put(inventory("stays", ["s"], cascade=True))
    assert await run(clock, cluster, {"stays"}) == []
    assert not cluster.events("delete")
    assert len(cluster.objects) == 4


@pytest.mark.asyncio
async def test_predelete_must_succeed_first_and_postdelete_runs_after() -> None:
    """A failing PreDelete hook stops the removal (nothing is deleted); once it succeeds the
    objects go, then the PostDelete hooks run, then the inventory; Secrets are never recorded."""
    clock = VirtualClock()
    cluster = slow_deletes(clock)
    cluster.put(owned("gone", "a"))
    hooks = (hook("Job", "backup", "PreDelete"), hook("ConfigMap", "farewell", "PostDelete"),
             hook("Secret", "creds", "PreDelete"))
    cluster.put(inventory("gone", ["a"], cascade=True, hooks=hooks))
    cluster.script_status("Job", JOB_FAILED)
    [failed] = await run(clock, cluster, set())
    assert not failed.finished
    assert [(k.name, why.split(":")[0]) for k, why in failed.failed] == [("backup", "PreDelete hook failed")]
    assert await cluster.get("v1", "ConfigMap", "a", "app") is not None
    assert ("delete", "a") not in cluster.events()
    cluster.script_status("Job", JOB_COMPLETE)
    [done] = await run(clock, cluster, set())
    assert done.finished, done.summary()
    order = [e for e in cluster.events() if e[1] in ("backup", "a", "farewell", "gitopsd-inv-gone")]
    backup_run = max(i for i, e in enumerate(order) if e == ("create", "backup"))
    assert order[backup_run:] == [("create", "backup"), ("apply", "gitopsd-inv-gone"), ("delete", "a"),
                                  ("gone", "a"), ("create", "farewell"), ("delete", "backup"),
                                  ("delete", "farewell"), ("delete", "gitopsd-inv-gone")]
    assert [(p, k.name) for p, k in done.hooks] == [("PreDelete", "backup"), ("PostDelete", "farewell")]
    assert all(name != "creds" for _, name in cluster.events())


@pytest.mark.asyncio
async def test_a_hook_that_is_not_the_apps_is_never_run_nor_what_it_would_replace_deleted() -> None:
    """A recorded hook without the application's marks is refused, and a hook whose name is taken
    by another application's object leaves that object alone; nothing is deleted either way."""
    clock = VirtualClock()
    cluster = slow_deletes(clock)
    cluster.put(owned("gone", "a"))
    cluster.put(owned("other", "backup"))  # another application's object with the hook's name
    cluster.put(inventory("gone", ["a"], cascade=True,
                          hooks=(hook("ConfigMap", "backup", "PreDelete"),)))
    [taken] = await run(clock, cluster, set())
    assert [why for _, why in taken.failed] == [
        "PreDelete hook ConfigMap app/backup exists and is not this application's"]
    assert not [e for e in cluster.events() if e[0] != "gone"]
    cluster.put(inventory("gone", ["a"], cascade=True,
                          hooks=(hook("ConfigMap", "cleanup", "PreDelete", app="intruder"),)))
    [forged] = await run(clock, cluster, set())
    assert [why for _, why in forged.failed] == [
        "PreDelete hook does not carry this application's marks; not run"]
    assert not [e for e in cluster.events() if e[0] != "gone"]
    assert await cluster.get("v1", "ConfigMap", "a", "app") is not None


@pytest.mark.asyncio
async def test_predelete_hooks_run_once_even_when_the_removal_needs_another_sweep() -> None:
    """Once the PreDelete hooks have succeeded, the sweep that finishes a partial removal skips them."""
    clock = VirtualClock()
    cluster = slow_deletes(clock, linger=10_000)  # "a" does not go within the wave timeout
    cluster.put(owned("gone", "a"))
    cluster.put(inventory("gone", ["a"], cascade=True, hooks=(hook("Job", "backup", "PreDelete"),)))
    remover = Remover("c", cluster, fleet=FLEET, namespace=NS, clock=clock, poll=0.5, wave_timeout=5)
    task = asyncio.ensure_future(remover.sweep(set()))
    while not task.done():
        await clock.advance(1)
    [partial] = task.result()
    assert not partial.finished
    assert [p for p, _ in partial.hooks] == ["PreDelete"]
    cluster.reap()
    [done] = await run(clock, cluster, set())
    assert done.finished, done.summary()
    assert done.hooks == []
    assert [name for verb, name in cluster.events() if verb == "create"] == ["backup"]


# Live statuses of the three run-to-completion hook kinds: (running, succeeded, failed).
HOOK_STATUSES = {
    "Job": ({"active": 1}, JOB_COMPLETE, JOB_FAILED),
    "Pod": ({"phase": "Running"}, {"phase": "Succeeded"},
           {"phase": "Failed", "reason": "Error", "message": "exit code 3"}),
    "Workflow": ({"phase": "Running"}, {"phase": "Succeeded"},
                 {"phase": "Failed", "message": "step migrate failed"}),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", sorted(HOOK_STATUSES))
async def test_a_predelete_hook_is_followed_until_it_succeeds(kind: str) -> None:
    """A Job, Pod or Workflow PreDelete hook that runs for a few polls holds back the deletions
    until it succeeds; then the objects go."""
    running, succeeded, _ = HOOK_STATUSES[kind]
    clock = VirtualClock()
    cluster = slow_deletes(clock)
    cluster.script_status(kind, running)
    cluster.script_status(kind, succeeded, after_reads=3)
    cluster.put(owned("gone", "a"))
    cluster.put(inventory("gone", ["a"], cascade=True, hooks=(hook(kind, "backup", "PreDelete"),)))
    [done] = await run(clock, cluster, set())
    assert done.finished, done.summary()
    assert [(p, k.kind, k.name) for p, k in done.hooks] == [("PreDelete", kind, "backup")]
    hook_key = next(e.key for e in cluster.log if e.verb == "create")
    # one look for an earlier hook object, then three polls see it running and the fourth succeed
    assert cluster.reads[hook_key] == 1 + 4
    created = next(e.at for e in cluster.log if e.verb == "create")
    deleted = next(e.at for e in cluster.log if e.verb == "delete" and e.key.name == "a")
    assert deleted - created >= 3 * 0.5


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", sorted(HOOK_STATUSES))
async def test_a_failing_predelete_hook_stops_the_removal(kind: str) -> None:
    """A Job, Pod or Workflow PreDelete hook that fails leaves every object and the inventory in
    place and reports why it failed."""
    running, _, failed = HOOK_STATUSES[kind]
    clock = VirtualClock()
    cluster = slow_deletes(clock)
    cluster.script_status(kind, running)
    cluster.script_status(kind, failed, after_reads=2)
    cluster.put(owned("gone", "a"))
    cluster.put(inventory("gone", ["a"], cascade=True, hooks=(hook(kind, "backup", "PreDelete"),
                                                               hook("ConfigMap", "bye", "PostDelete"))))
    [result] = await run(clock, cluster, set())
    assert not result.finished
    [(key, why)] = result.failed
    assert key.kind == kind
    assert why.startswith("PreDelete hook failed: ")
    live = await cluster.get(API_VERSIONS.get(kind, "v1"), kind, "backup", "app")
    assert live is not None
    assert why.endswith(hook_state(live).message)
    assert cluster.events("delete") == []
    assert ("create", "bye") not in cluster.events()


@pytest.mark.asyncio
async def test_a_hook_that_never_finishes_fails_at_the_wave_timeout() -> None:
    """A PreDelete hook still running when the wave timeout passes fails the removal then, not later."""
    clock = VirtualClock()
    cluster = slow_deletes(clock)
    cluster.script_status("Job", HOOK_STATUSES["Job"][0])
    cluster.put(owned("gone", "a"))
    cluster.put(inventory("gone", ["a"], cascade=True, hooks=(hook("Job", "backup", "PreDelete"),)))
    remover = Remover("c", cluster, fleet=FLEET, namespace=NS, clock=clock, poll=0.5, wave_timeout=7)
    task = asyncio.ensure_future(remover.sweep(set()))
    await clock.advance(6.5)
    assert not task.done()
    await clock.advance(1)
    [result] = task.result()
    assert [why.split(":")[0:2] for _, why in result.failed] == [["PreDelete hook failed",
                                                                 " not finished by the deadline"]]
    assert cluster.events("delete") == []


@pytest.mark.asyncio
async def test_a_wave_still_there_at_the_timeout_fails_and_stops_the_removal() -> None:
    """Deleting waits for a wave only until the wave timeout: what is left then has failed, lower
    waves are not touched and the inventory stays."""
    clock = VirtualClock()
    cluster = slow_deletes(clock)
    cluster.linger(10_000, name="stuck")
    cluster.put(owned("gone", "stuck", {"argocd.argoproj.io/sync-wave": "1"}))
    cluster.put(owned("gone", "quick", {"argocd.argoproj.io/sync-wave": "1"}))
    cluster.put(owned("gone", "lower"))
    cluster.put(inventory("gone", ["stuck", "quick", "lower"], cascade=True))
    remover = Remover("c", cluster, fleet=FLEET, namespace=NS, clock=clock, poll=0.5, wave_timeout=5)
    task = asyncio.ensure_future(remover.sweep(set()))
    await clock.advance(4.5)
    assert not task.done()
    await clock.advance(1)
    [result] = task.result()
    assert [(k.name, why) for k, why in result.failed] == [("stuck", "still being deleted")]
    assert [k.name for k in result.deleted] == ["quick"]
    assert [n for verb, n in cluster.events() if verb == "delete"] == ["quick", "stuck"]
    assert not result.finished


@pytest.mark.asyncio
async def test_a_generate_name_hook_is_reported_and_cleaned_up_by_the_name_it_was_given() -> None:
    """A PreDelete hook with only generateName is followed, reported and finally deleted under the
    name the API server gave it."""
    clock = VirtualClock()
    cluster = slow_deletes(clock)
    body = hook("Job", "backup", "PreDelete")
    body["metadata"]["generateName"] = body["metadata"].pop("name") + "-"
    cluster.put(owned("gone", "a"))
    cluster.put(inventory("gone", ["a"], cascade=True, hooks=(body,)))
    [done] = await run(clock, cluster, set())
    assert done.finished, done.summary()
    created = next(e.key for e in cluster.log if e.verb == "create")
    assert created.name.startswith("backup-")
    assert [k for _, k in done.hooks] == [created]
    assert ("delete", created.name) in cluster.events()
