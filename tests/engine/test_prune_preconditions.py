"""Prunes and recreates delete only what the comparison checked, and the inventory survives loss.

Each test runs the Reconciler against a ``FakeCluster`` on a virtual clock; another writer
races a delete through ``FakeCluster.before_delete``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gitopsd.core.inventory import Inventory, InventoryEntry, stamp
from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.sync import Reconciler
from gitopsd.engine.sync.execute import PRUNE_SETTLE
from gitopsd.engine.sync.reconciler import SyncRequest
from gitopsd.errors import ApiError
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
INVENTORY = ResourceKey("", "ConfigMap", "gitopsd-system", "gitopsd-inv-web")
TRACKING = "gitopsd.io/tracking-id"


def _key(name: str, kind: str = "ConfigMap") -> ResourceKey:
    return ResourceKey("", kind, "ns", name)


def _body(name: str, kind: str = "ConfigMap", annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind,
            "metadata": {"name": name, "namespace": "ns", "annotations": dict(annotations or {})},
            "data": {"k": name}}


def _ours(name: str, kind: str = "ConfigMap", app: str = "web", **annotations: str) -> dict[str, Any]:
    return stamp(_body(name, kind, annotations), fleet=FLEET, app=app, key=_key(name, kind))


def _inventory(*names: str) -> dict[str, Any]:
    entries = [InventoryEntry("v1", "ConfigMap", "ns", n) for n in names]
    return Inventory.of(entries).to_configmap(app="web", fleet=FLEET, namespace="gitopsd-system")


def _entries(cluster: FakeCluster) -> list[str]:
    text = cluster.objects[INVENTORY]["data"]["entries"]
    return [line.split(" ")[1] + "/" + line.rpartition("/")[2] for line in text.splitlines()]


def _cluster(clock: VirtualClock) -> FakeCluster:
    cluster = FakeCluster(clock)
    cluster.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
    return cluster


class Passes:
    """One reconciler of application ``web`` (prune on), run pass by pass on the virtual clock."""

    def __init__(self, clock: VirtualClock, cluster: FakeCluster) -> None:
        self.clock = clock
        self.cluster = cluster
        self.desired: list[dict[str, Any]] = []
        self.rec = Reconciler(fleet=FLEET, cluster=cluster, desired=StaticDesired(()), clock=clock,
                              health_poll=POLL)

    async def run(self, bodies: list[dict[str, Any]], request: SyncRequest | None = None,
                  **policy: Any) -> Outcome:
        self.rec.desired = StaticDesired(tuple(Manifest(ResourceKey.of(b), b) for b in bodies))
        source = Source("env", "main", "app")
        app = Application("web", source, Destination(ClusterSelector(names=("c",)), "ns"),
                          SyncPolicy(automated=True, prune=True, **policy))
        task = asyncio.ensure_future(self.rec.reconcile(AppInstance("web", "c", source, "ns"), app,
                                                        request or SyncRequest()))
        while not task.done():
            await self.clock.advance(POLL)
        return task.result().outcome


def _changes(outcome: Outcome, name: str) -> list[tuple[ChangeAction, str]]:
    return [(c.action, c.message) for c in outcome.changes if c.key.name == name]


def _race(cluster: FakeCluster, name: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Once, as the first delete of NAME arrives, another writer stores BODY under that name."""
    stored: list[dict[str, Any]] = []

    def hook(key: ResourceKey) -> None:
        if key.name == name and not stored:
            stored.append(cluster.put(body))
    cluster.before_delete(hook)
    return stored


@pytest.mark.asyncio
async def test_a_prune_leaves_alone_an_object_replaced_after_the_comparison() -> None:
    """An object replaced by another application's object of the same name after the comparison
    is not deleted, is reported skipped, and leaves the inventory."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.put(_ours("b"))
    cluster.put(_inventory("b", "stays"))
    foreign = _race(cluster, "b", _ours("b", app="other"))
    outcome = await Passes(clock, cluster).run([_body("stays")])
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert _changes(outcome, "b") == [(ChangeAction.SKIPPED, "not pruned: replaced by another object")]
    assert cluster.objects[_key("b")]["metadata"] == foreign[0]["metadata"]
    assert _entries(cluster) == ["ConfigMap/stays"]


@pytest.mark.asyncio
async def test_a_prune_leaves_alone_an_object_re_marked_for_another_application_since() -> None:
    """The same object (same uid) given another application's tracking id after the comparison
    fails the resourceVersion precondition, is read again and left alone."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    live = cluster.put(_ours("b"))
    cluster.put(_inventory("b", "stays"))
    taken = _ours("b", app="other")
    taken["metadata"]["uid"] = live["metadata"]["uid"]
    _race(cluster, "b", taken)
    outcome = await Passes(clock, cluster).run([_body("stays")])
    assert _changes(outcome, "b") == [
        (ChangeAction.SKIPPED, "not pruned: ConfigMap ns/b belongs to application other")]
    assert cluster.objects[_key("b")]["metadata"]["annotations"][TRACKING] == "other:/ConfigMap:ns/b"
    assert "delete" not in [verb for verb, name in cluster.events() if name == "b"]
    assert _entries(cluster) == ["ConfigMap/stays"]


@pytest.mark.asyncio
async def test_a_prune_still_deletes_its_object_when_only_its_status_changed_since() -> None:
    """A refused precondition on an object that is still ours (its status moved on) is retried
    at the new resourceVersion."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.put(_ours("b"))
    cluster.put(_inventory("b", "stays"))
    moved = False

    def status(key: ResourceKey) -> None:
        nonlocal moved
        if key.name == "b" and not moved:
            moved = True
            cluster.set_status(key, {"phase": "moved"})
    cluster.before_delete(status)
    outcome = await Passes(clock, cluster).run([_body("stays")])
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert _changes(outcome, "b") == [(ChangeAction.PRUNED, "")]
    assert _key("b") not in cluster.objects
    assert _entries(cluster) == ["ConfigMap/stays"]


@pytest.mark.asyncio
async def test_an_inventoried_object_found_foreign_is_neither_pruned_nor_counted_by_the_guard() -> None:
    """An inventory entry whose live object has no tracking id is skipped without a delete, leaves
    the inventory, and does not count as a prune or an owned object for the prune guard."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.put(_body("b"))
    cluster.put(_ours("c"))
    cluster.put(_inventory("b", "c", "stays"))
    deletes: list[str] = []
    cluster.before_delete(lambda key: deletes.append(key.name))
    outcome = await Passes(clock, cluster).run([_body("stays")])
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert _changes(outcome, "b") == [(ChangeAction.SKIPPED, "not pruned: ConfigMap ns/b: no tracking id")]
    assert _changes(outcome, "c") == [(ChangeAction.PRUNED, "")]
    assert deletes == ["c"]
    assert _entries(cluster) == ["ConfigMap/stays"]


@pytest.mark.asyncio
async def test_an_inventoried_object_that_cannot_be_read_is_not_deleted_blind() -> None:
    """A prune candidate whose read is forbidden cannot have its owner checked: no delete is sent,
    the prune fails naming why, and the entry stays."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.put(_ours("b"))
    cluster.put(_inventory("b", "stays"))
    cluster.fail("get", ApiError("configmaps \"b\" is forbidden", status=403), name="b")
    deletes: list[str] = []
    cluster.before_delete(lambda key: deletes.append(key.name))
    outcome = await Passes(clock, cluster).run([_body("stays")])
    assert outcome.kind is OutcomeKind.FAILED
    assert _changes(outcome, "b") == [(ChangeAction.FAILED, "prune: cannot read it to check its owner: "
                                                           "configmaps \"b\" is forbidden")]
    assert deletes == []
    assert _entries(cluster) == ["ConfigMap/b", "ConfigMap/stays"]


@pytest.mark.asyncio
async def test_a_prune_still_being_deleted_keeps_its_entry_until_the_object_is_gone() -> None:
    """A pruned object that lingers is followed for PRUNE_SETTLE seconds, reported pending and kept
    in the inventory; the pass after it has gone drops the entry."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.put(_ours("b"))
    cluster.put(_inventory("b", "stays"))
    cluster.linger(10_000, name="b")
    passes = Passes(clock, cluster)
    outcome = await passes.run([_body("stays")])
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert _changes(outcome, "b") == [(ChangeAction.PRUNED, "still being deleted")]
    assert PRUNE_SETTLE <= clock.now() <= PRUNE_SETTLE + 2 * POLL
    assert _entries(cluster) == ["ConfigMap/b", "ConfigMap/stays"]
    cluster.reap()
    again = await passes.run([_body("stays")])
    assert again.kind is OutcomeKind.SYNCED, again.message
    assert _entries(cluster) == ["ConfigMap/stays"]


@pytest.mark.asyncio
async def test_a_pass_that_fails_after_its_deletes_keeps_the_entries_not_confirmed_gone() -> None:
    """When a later prune wave fails, entries of prunes not yet confirmed gone stay, and the next
    pass finishes them."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.put(_ours("early", **{"argocd.argoproj.io/sync-wave": "5"}))
    cluster.put(_ours("late"))
    cluster.put(_inventory("early", "late", "stays"))
    cluster.linger(10_000, name="early")
    cluster.fail("delete", name="late")
    passes = Passes(clock, cluster)
    outcome = await passes.run([_body("stays")], SyncRequest(allow_mass_prune=True))
    assert outcome.kind is OutcomeKind.FAILED
    assert _entries(cluster) == ["ConfigMap/early", "ConfigMap/late", "ConfigMap/stays"]
    cluster.reap()
    again = await passes.run([_body("stays")], SyncRequest(allow_mass_prune=True))
    assert again.kind is OutcomeKind.SYNCED, again.message
    assert _changes(again, "late") == [(ChangeAction.PRUNED, "")]
    assert _entries(cluster) == ["ConfigMap/stays"]


@pytest.mark.asyncio
async def test_a_lost_inventory_is_rebuilt_from_the_objects_carrying_the_apps_marks() -> None:
    """With the inventory ConfigMap gone, the application's labelled objects of the kinds it uses
    or used are found again and what left the desired state is pruned; another application's
    objects and hooks are not taken in."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    passes = Passes(clock, cluster)
    first = await passes.run([_body("a"), _body("s", "Secret")])
    assert first.kind is OutcomeKind.SYNCED, first.message
    cluster.put(_ours("b"))
    cluster.put(_ours("x", app="other"))
    cluster.put(_ours("h", **{"argocd.argoproj.io/hook": "PostSync"}))
    del cluster.objects[INVENTORY]
    outcome = await passes.run([_body("a")], SyncRequest(allow_mass_prune=True))
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert sorted(c.key.name for c in outcome.changes.by_action(ChangeAction.PRUNED)) == ["b", "s"]
    assert {_key("x"), _key("h")} <= set(cluster.objects)
    assert _entries(cluster) == ["ConfigMap/a"]


@pytest.mark.asyncio
async def test_an_unreadable_inventory_is_rebuilt_and_written_again() -> None:
    """An inventory ConfigMap of this application whose entries cannot be read is rebuilt from the
    live objects before any prune decision, and replaced."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.put(_ours("a"))
    cluster.put(_ours("b"))
    broken = _inventory("a", "b")
    broken["data"]["entries"] = "not an entry\n"
    cluster.put(broken)
    outcome = await Passes(clock, cluster).run([_body("a")])
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert _changes(outcome, "b") == [(ChangeAction.PRUNED, "")]
    assert _entries(cluster) == ["ConfigMap/a"]


@pytest.mark.asyncio
async def test_replace_force_leaves_alone_an_object_taken_since_the_comparison() -> None:
    """Replace=true,Force=true does not delete an object given another application's tracking id
    after the comparison: the object fails and stays as it is."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    options = {"argocd.argoproj.io/sync-options": "Replace=true,Force=true"}
    live = cluster.put({**_ours("app", **options), "data": {"k": "old"}})
    taken = _ours("app", app="other")
    taken["metadata"]["uid"] = live["metadata"]["uid"]
    _race(cluster, "app", taken)
    outcome = await Passes(clock, cluster).run([_body("app", annotations=options)])
    assert outcome.kind is OutcomeKind.FAILED
    assert _changes(outcome, "app") == [
        (ChangeAction.FAILED, "ConfigMap ns/app was taken by someone else while being recreated")]
    assert cluster.objects[_key("app")]["metadata"]["annotations"][TRACKING] == "other:/ConfigMap:ns/app"
    assert "delete" not in [verb for verb, name in cluster.events() if name == "app"]


@pytest.mark.asyncio
async def test_a_first_sync_lists_nothing_to_rebuild_an_inventory() -> None:
    """Without an inventory, an application none of whose desired objects is live and its own,
    and that no earlier pass knew, is a first sync: no list is made to look for its objects."""
    clock = VirtualClock()
    cluster = _cluster(clock)
    cluster.fail("select", times=None)
    outcome = await Passes(clock, cluster).run([_body("a"), _body("s", "Secret")])
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert _entries(cluster) == ["ConfigMap/a", "Secret/s"]
