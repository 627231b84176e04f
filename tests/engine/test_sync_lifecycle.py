"""Hooks, prunes and recreates of a sync, on a virtual clock with the in-memory fake cluster.

Each test runs the Reconciler (and so the executor and engine.lifecycle) against a
``FakeCluster`` whose hook objects finish, fail or linger as the test scripts them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gitopsd.core.health import hook_state
from gitopsd.core.inventory import Inventory, InventoryEntry, stamp
from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.sync import Reconciler
from gitopsd.engine.sync.reconciler import SyncRequest
from gitopsd.model import (
    AppInstance,
    Application,
    ChangeAction,
    ClusterSelector,
    Destination,
    Manifest,
    Outcome,
    OutcomeKind,
    ResourceKey,
    Source,
    SyncPolicy,
)
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import StaticDesired

FLEET = "f"
POLL = 0.5
API_VERSIONS = {"Job": "batch/v1", "Pod": "v1", "Workflow": "argoproj.io/v1alpha1"}
# Live statuses of the three run-to-completion hook kinds: (running, succeeded, failed).
HOOK_STATUSES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "Job": ({"active": 1}, {"conditions": [{"type": "Complete", "status": "True"}]},
            {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}),
    "Pod": ({"phase": "Running"}, {"phase": "Succeeded"},
            {"phase": "Failed", "reason": "Error", "message": "exit code 3"}),
    "Workflow": ({"phase": "Running"}, {"phase": "Succeeded"},
                 {"phase": "Failed", "message": "step migrate failed"}),
}


def _manifest(body: dict[str, Any]) -> Manifest:
    return Manifest(ResourceKey.of(body), body)


def _configmap(name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns", "annotations": dict(annotations or {})},
            "data": {"k": name}}


def _hook(kind: str, name: str = "migrate", phase: str = "PreSync", policy: str = "") -> dict[str, Any]:
    annotations = {"argocd.argoproj.io/hook": phase}
    if policy:
        annotations["argocd.argoproj.io/hook-delete-policy"] = policy
    body: dict[str, Any] = {"apiVersion": API_VERSIONS[kind], "kind": kind,
                            "metadata": {"name": name, "namespace": "ns", "annotations": annotations}}
    if kind == "Pod":
        body["spec"] = {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x:1"}]}
    elif kind == "Job":
        body["spec"] = {"template": {"spec": {"restartPolicy": "Never",
                                              "containers": [{"name": "c", "image": "x:1"}]}}}
    else:
        body["spec"] = {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "x:1"}}]}
    return body


def _app(timeout: float, **policy: Any) -> tuple[AppInstance, Application]:
    source = Source("env", "main", "app")
    app = Application("web", source, Destination(ClusterSelector(names=("c",)), "ns"),
                      SyncPolicy(automated=True, sync_timeout=timeout, **policy))
    return AppInstance("web", "c", source, "ns"), app


async def _sync(clock: VirtualClock, cluster: FakeCluster, bodies: list[dict[str, Any]], *,
                timeout: float = 60, request: SyncRequest | None = None, **policy: Any) -> Outcome:
    rec = Reconciler(fleet=FLEET, cluster=cluster, desired=StaticDesired(tuple(map(_manifest, bodies))),
                     clock=clock, health_poll=POLL)
    inst, app = _app(timeout, **policy)
    task = asyncio.ensure_future(rec.reconcile(inst, app, request or SyncRequest()))
    while not task.done():
        await clock.advance(POLL)
    return task.result().outcome


def _cluster(clock: VirtualClock) -> FakeCluster:
    """A fake cluster holding the application's Namespace."""
    cluster = FakeCluster(clock)
    cluster.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    return cluster


def _hook_key(kind: str, name: str = "migrate") -> ResourceKey:
    return ResourceKey(API_VERSIONS[kind].rpartition("/")[0], kind, "ns", name)


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", sorted(HOOK_STATUSES))
async def test_a_presync_hook_is_followed_until_it_succeeds(kind: str) -> None:
    """A Job, Pod or Workflow PreSync hook running for three polls holds back the Sync phase
    until it succeeds."""
    running, succeeded, _ = HOOK_STATUSES[kind]
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.script_status(kind, running)
    cluster.script_status(kind, succeeded, after_reads=3)
    outcome = await _sync(clock, cluster, [_hook(kind), _configmap("app")])
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    key = _hook_key(kind)
    assert [(c.key, c.action, c.message) for c in outcome.changes if c.key == key] == [
        (key, ChangeAction.CREATED, "hook succeeded")]
    # one read of whatever holds the name (BeforeHookCreation, the default, deletes it only when it
    # is this application's), three polls saw the hook running, the fifth saw it succeed
    assert cluster.reads[key] == 5
    created = next(e.at for e in cluster.log if e.verb == "create" and e.key == key)
    applied = next(e.at for e in cluster.log if e.verb == "apply" and e.key.name == "app")
    assert applied - created >= 3 * POLL


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", sorted(HOOK_STATUSES))
async def test_a_failing_presync_hook_stops_the_sync(kind: str) -> None:
    """A Job, Pod or Workflow PreSync hook that fails fails the sync with its reason; the Sync
    phase never runs."""
    running, _, failed = HOOK_STATUSES[kind]
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.script_status(kind, running)
    cluster.script_status(kind, failed, after_reads=2)
    outcome = await _sync(clock, cluster, [_hook(kind), _configmap("app")])
    assert outcome.kind is OutcomeKind.FAILED
    live = await cluster.get(API_VERSIONS[kind], kind, "migrate", "ns")
    assert live is not None
    expected = f"hook failed: {hook_state(live).message}"
    assert [(c.action, c.message) for c in outcome.changes] == [(ChangeAction.FAILED, expected)]
    assert expected in outcome.message
    assert not [e for e in cluster.log if e.key.name == "app"]


@pytest.mark.asyncio
async def test_a_hook_that_never_finishes_fails_at_the_sync_deadline() -> None:
    """A hook still running at the sync deadline fails the sync then, naming what it was still doing."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.script_status("Job", HOOK_STATUSES["Job"][0])
    rec = Reconciler(fleet=FLEET, cluster=cluster,
                     desired=StaticDesired((_manifest(_hook("Job")), _manifest(_configmap("app")))),
                     clock=clock, health_poll=POLL)
    inst, app = _app(timeout=20)
    task = asyncio.ensure_future(rec.reconcile(inst, app))
    await clock.advance(19.5)
    assert not task.done()
    await clock.advance(1)
    outcome = (await asyncio.wait_for(task, 1)).outcome
    assert outcome.kind is OutcomeKind.FAILED
    assert "not finished by the deadline: Job is running" in outcome.message


@pytest.mark.asyncio
async def test_a_hook_name_held_by_another_object_is_not_deleted() -> None:
    """With BeforeHookCreation, an object of the hook's name that is not this application's is left
    alone and the hook fails, where it used to be deleted by name."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    theirs = cluster.put({**_hook("Job"), "status": HOOK_STATUSES["Job"][1]})
    outcome = await _sync(clock, cluster, [_hook("Job"), _configmap("app")])
    assert outcome.kind is OutcomeKind.FAILED
    assert "is not this application's" in outcome.message
    key = _hook_key("Job")
    assert cluster.objects[key]["metadata"]["uid"] == theirs["metadata"]["uid"]
    assert [e.verb for e in cluster.log if e.key == key] == []


@pytest.mark.asyncio
async def test_before_hook_creation_waits_for_the_previous_hook_to_go() -> None:
    """The previous run's hook object is deleted (Foreground) and gone before the new one is created."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    previous = stamp(_hook("Job"), fleet=FLEET, app="web", key=_hook_key("Job"))
    old = cluster.put({**previous, "status": HOOK_STATUSES["Job"][1]})
    cluster.linger(3, kind="Job")
    cluster.script_status("Job", HOOK_STATUSES["Job"][1])
    outcome = await _sync(clock, cluster, [_hook("Job"), _configmap("app")])
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    key = _hook_key("Job")
    events = [(e.verb, e.detail) for e in cluster.log if e.key == key]
    assert events == [("delete", "Foreground"), ("gone", ""), ("create", "")]
    assert cluster.objects[key]["metadata"]["uid"] != old["metadata"]["uid"]


@pytest.mark.asyncio
async def test_a_hook_left_without_before_hook_creation_is_applied_over() -> None:
    """With HookSucceeded only, this application's hook object that still holds the name (its
    create's answer was lost) is applied over and followed, not created again into a 409."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    key = _hook_key("Job")
    body = _hook("Job", policy="HookSucceeded")
    cluster.put({**stamp(body, fleet=FLEET, app="web", key=key), "status": HOOK_STATUSES["Job"][0]})
    cluster.script_status("Job", HOOK_STATUSES["Job"][1], after_reads=2)
    outcome = await _sync(clock, cluster, [body, _configmap("app")])
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert [(e.verb, e.detail) for e in cluster.log if e.key == key] == [
        ("apply", ""), ("delete", "Background"), ("gone", "")]
    assert key not in cluster.objects


@pytest.mark.asyncio
@pytest.mark.parametrize(("outcome_index", "policy", "deleted"), [
    (1, "HookSucceeded", True), (2, "HookSucceeded", False),
    (1, "HookFailed", False), (2, "HookFailed", True)])
async def test_a_finished_hook_is_deleted_as_its_policy_says(outcome_index: int, policy: str,
                                                             deleted: bool) -> None:
    """HookSucceeded deletes only a succeeded hook and HookFailed only a failed one, in the background."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.script_status("Job", HOOK_STATUSES["Job"][outcome_index])
    await _sync(clock, cluster, [_hook("Job", policy=policy), _configmap("app")])
    key = _hook_key("Job")
    assert [e.detail for e in cluster.log if e.key == key and e.verb == "delete"] == (
        ["Background"] if deleted else [])
    assert (key in cluster.objects) is not deleted


@pytest.mark.asyncio
async def test_a_hook_that_cannot_be_created_stops_the_sync() -> None:
    """When the API server refuses to create a hook the sync fails with its answer and goes no further."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.fail("create", kind="Job")
    outcome = await _sync(clock, cluster, [_hook("Job"), _configmap("app")])
    assert outcome.kind is OutcomeKind.FAILED
    assert [c.message for c in outcome.changes] == ["hook: injected create failure"]
    assert not [e for e in cluster.log if e.key.name == "app"]


@pytest.mark.asyncio
async def test_prunes_go_highest_wave_first_with_the_apps_propagation() -> None:
    """Objects that left Git are deleted highest sync wave first, each with the app's propagation policy."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    names = {"a": "0", "b": "5", "c": "-1"}
    for name, wave in names.items():
        key = ResourceKey("", "ConfigMap", "ns", name)
        cluster.put(stamp(_configmap(name, {"argocd.argoproj.io/sync-wave": wave}), fleet=FLEET, app="web",
                          key=key))
    entries = [InventoryEntry("v1", "ConfigMap", "ns", n) for n in [*names, "stays"]]
    cluster.put(Inventory.of(entries).to_configmap(app="web", fleet=FLEET, namespace="gitopsd-system"))
    outcome = await _sync(clock, cluster, [_configmap("stays")], prune=True,
                          sync_options=("PrunePropagationPolicy=background",),
                          request=SyncRequest(allow_mass_prune=True))
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    deletes = [(e.key.name, e.detail) for e in cluster.log if e.verb == "delete" and e.key.name in names]
    assert deletes == [("b", "Background"), ("a", "Background"), ("c", "Background")]
    assert sorted(c.key.name for c in outcome.changes if c.action is ChangeAction.PRUNED) == ["a", "b", "c"]


@pytest.mark.asyncio
async def test_a_failed_prune_is_reported_and_fails_the_sync() -> None:
    """A prune the API server refuses is a failed change, the sync fails, and the others are still pruned."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    for name in ("a", "b"):
        key = ResourceKey("", "ConfigMap", "ns", name)
        cluster.put(stamp(_configmap(name), fleet=FLEET, app="web", key=key))
    entries = [InventoryEntry("v1", "ConfigMap", "ns", n) for n in ("a", "b", "stays")]
    cluster.put(Inventory.of(entries).to_configmap(app="web", fleet=FLEET, namespace="gitopsd-system"))
    cluster.fail("delete", name="a")
    outcome = await _sync(clock, cluster, [_configmap("stays")], prune=True,
                          request=SyncRequest(allow_mass_prune=True))
    assert outcome.kind is OutcomeKind.FAILED
    assert [(c.key.name, c.action, c.message) for c in outcome.changes if c.key.name in "ab"] == [
        ("a", ChangeAction.FAILED, "prune: injected delete failure"), ("b", ChangeAction.PRUNED, "")]
    assert ResourceKey("", "ConfigMap", "ns", "a") in cluster.objects


@pytest.mark.asyncio
async def test_replace_force_fails_when_the_old_object_outlives_the_deadline() -> None:
    """Replace=true,Force=true waits for the old object only until the sync deadline, then fails naming it."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    body = _configmap("app", {"argocd.argoproj.io/sync-options": "Replace=true,Force=true"})
    key = ResourceKey("", "ConfigMap", "ns", "app")
    cluster.put(stamp({**body, "data": {"k": "old"}}, fleet=FLEET, app="web", key=key))
    cluster.linger(10_000, name="app")
    outcome = await _sync(clock, cluster, [body], timeout=10)
    assert outcome.kind is OutcomeKind.FAILED
    assert "ConfigMap ns/app was not deleted before the sync deadline" in outcome.message
    assert 10 <= clock.now() <= 10 + 2 * POLL
    assert [e.verb for e in cluster.log if e.key == key] == ["delete"]


@pytest.mark.asyncio
async def test_create_namespace_counts_only_a_namespace_it_created() -> None:
    """CreateNamespace=true counts the Namespace as created when the sync made it, and leaves an
    existing one alone (unchanged, not written, not counted)."""
    clock = VirtualClock()
    namespace = ResourceKey("", "Namespace", "", "ns")
    fresh = FakeCluster(clock)
    fresh.implicit_namespaces = False
    outcome = await _sync(clock, fresh, [_configmap("app")], sync_options=("CreateNamespace=true",))
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert [c.action for c in outcome.changes if c.key == namespace] == [ChangeAction.CREATED]
    assert namespace in fresh.objects

    existing = _cluster(clock)
    outcome = await _sync(clock, existing, [_configmap("app")], sync_options=("CreateNamespace=true",))
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert [c.action for c in outcome.changes if c.key == namespace] == [ChangeAction.UNCHANGED]
    assert outcome.message == "1 created, 1 unchanged"
    assert not [e for e in existing.log if e.key == namespace]


@pytest.mark.asyncio
async def test_fields_gitopsd_once_wrote_by_an_update_move_to_its_apply_before_the_apply() -> None:
    """A sync that finds a ``gitopsd`` Update entry in an object's managedFields folds it into the
    Apply entry (guarded by resourceVersion) before it applies the object."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    assert (await _sync(clock, cluster, [_configmap("app")])).kind is OutcomeKind.SYNCED
    key = ResourceKey("", "ConfigMap", "ns", "app")
    cluster.objects[key]["metadata"]["managedFields"] = [
        {"manager": "gitopsd", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:data": {"f:k": {}, "f:old": {}}}}]
    changed = _configmap("app")
    changed["data"] = {"k": "new"}
    assert (await _sync(clock, cluster, [changed])).kind is OutcomeKind.SYNCED
    writes = [e.verb for e in cluster.log if e.key == key]
    assert writes[-2:] == ["patch", "apply"]
    assert [(e["manager"], e["operation"]) for e in cluster.objects[key]["metadata"]["managedFields"]] == [
        ("gitopsd", "Apply")]


@pytest.mark.asyncio
async def test_a_replaced_object_keeps_its_update_entry() -> None:
    """An object synced with Replace=true is written by update on purpose: its managedFields are
    left as they are, so no sync rewrites them back and forth."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    assert (await _sync(clock, cluster, [_configmap("app")])).kind is OutcomeKind.SYNCED
    key = ResourceKey("", "ConfigMap", "ns", "app")
    cluster.objects[key]["metadata"]["managedFields"] = [
        {"manager": "gitopsd", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:data": {"f:k": {}}}}]
    changed = _configmap("app", {"argocd.argoproj.io/sync-options": "Replace=true"})
    changed["data"] = {"k": "new"}
    assert (await _sync(clock, cluster, [changed])).kind is OutcomeKind.SYNCED
    assert [e.verb for e in cluster.log if e.key == key][-1] == "replace"
    assert "patch" not in [e.verb for e in cluster.log if e.key == key]
