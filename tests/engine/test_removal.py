"""Removal of an application that left the fleet, on a virtual clock with an in-memory cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from gitopsd.core.inventory import Inventory, InventoryEntry, stamp
from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.removal import Remover
from gitopsd.model import ResourceKey

FLEET = "f"
NS = "gitopsd-system"


class SlowDeletes:
    """ConfigMaps in a dict; a deleted one disappears GONE_AFTER virtual seconds later."""

    GONE_AFTER = 3.0

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.log: list[tuple[float, str, str]] = []
        self._uids = 0
        self.job_condition = "Complete"  # how a created Job ends

    async def apply(self, body: Mapping[str, Any], *, dry_run: bool = False,
                    force: bool = True) -> dict[str, Any]:
        key = (body["metadata"].get("namespace", ""), body["metadata"]["name"])
        current = self.objects[key]
        self.objects[key] = {**current, **body, "metadata": {**current["metadata"], **body["metadata"]}}
        self.log.append((self.clock.now(), "apply", body["metadata"]["name"]))
        return self.objects[key]

    async def create(self, body: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        self.put(body)
        obj = self.objects[(body["metadata"].get("namespace", ""), body["metadata"]["name"])]
        if body["kind"] == "Job":
            obj["status"] = {"conditions": [{"type": self.job_condition, "status": "True"}]}
        self.log.append((self.clock.now(), "create", body["metadata"]["name"]))
        return obj

    def put(self, body: Mapping[str, Any]) -> None:
        self._uids += 1
        meta = {**body["metadata"], "uid": f"uid-{self._uids}"}
        self.objects[(meta.get("namespace", ""), meta["name"])] = {**body, "metadata": meta}

    def _reap(self) -> None:
        for key, obj in list(self.objects.items()):
            at = obj["metadata"].get("deletedAt")
            if at is not None and self.clock.now() >= at:
                del self.objects[key]
                self.log.append((self.clock.now(), "gone", key[1]))

    async def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        self._reap()
        return self.objects.get((namespace, name))

    async def select(self, api_version: str, kind: str, *, namespace: str = "",
                     label_selector: str = "") -> list[dict[str, Any]]:
        self._reap()
        label, _, value = label_selector.partition("=")
        return [o for (ns, _), o in self.objects.items()
                if ns == namespace and (o["metadata"].get("labels") or {}).get(label) == value]

    async def delete(self, api_version: str, kind: str, name: str, namespace: str = "", *,
                     propagation: str = "Foreground", uid: str | None = None) -> bool:
        obj = self.objects.get((namespace, name))
        if obj is None or (uid and obj["metadata"]["uid"] != uid):
            return False
        self.log.append((self.clock.now(), f"delete {propagation}", name))
        obj["metadata"].setdefault("deletedAt", self.clock.now() + self.GONE_AFTER)
        return True


def owned(app: str, name: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "app", "annotations": dict(annotations or {})}}
    return stamp(body, fleet=FLEET, app=app, key=ResourceKey("", "ConfigMap", "app", name))


def inventory(app: str, names: list[str], *, cascade: bool,
              hooks: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    inv = Inventory.of(InventoryEntry("v1", "ConfigMap", "app", n) for n in names)
    return inv.to_configmap(app=app, fleet=FLEET, namespace=NS, cascade=cascade, propagation="Background",
                            deletion_hooks=hooks)


def hook(kind: str, name: str, phase: str, app: str = "gone") -> dict[str, Any]:
    body = {"apiVersion": "batch/v1" if kind == "Job" else "v1", "kind": kind,
            "metadata": {"name": name, "namespace": "app",
                         "annotations": {"argocd.argoproj.io/hook": phase}}}
    group = "batch" if kind == "Job" else ""
    return stamp(body, fleet=FLEET, app=app, key=ResourceKey(group, kind, "app", name))


async def run(clock: VirtualClock, cluster: SlowDeletes, current: set[str]) -> Any:
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
    cluster = SlowDeletes(clock)
    for name, wave in (("a", "0"), ("b", "5"), ("c", "-1")):
        cluster.put(owned("gone", name, {"argocd.argoproj.io/sync-wave": wave}))
    cluster.put(inventory("gone", ["a", "b", "c"], cascade=True))
    [result] = await run(clock, cluster, set())
    deletes = [(t, name) for t, what, name in cluster.log if what.startswith("delete")]
    gone = {name: t for t, what, name in cluster.log if what == "gone"}
    assert [n for _, n in deletes] == ["b", "a", "c", "gitopsd-inv-gone"]
    requested = dict((n, t) for t, n in deletes)
    assert requested["a"] >= gone["b"]
    assert requested["c"] >= gone["a"]
    assert all(what == "delete Background" for _, what, n in cluster.log if n in "abc" and what != "gone")
    assert result.finished
    assert sorted(k.name for k in result.deleted) == ["a", "b", "c"]


@pytest.mark.asyncio
async def test_only_what_is_still_the_apps_and_deletable_goes() -> None:
    """Delete=false and objects with another tracking id stay; the inventory is removed all the same."""
    clock = VirtualClock()
    cluster = SlowDeletes(clock)
    cluster.put(owned("gone", "mine"))
    cluster.put(owned("gone", "keep", {"argocd.argoproj.io/sync-options": "Delete=false"}))
    cluster.put(owned("other", "theirs"))
    cluster.put(inventory("gone", ["mine", "keep", "theirs", "missing"], cascade=True))
    [result] = await run(clock, cluster, set())
    assert [k.name for k in result.deleted] == ["mine"]
    assert sorted((k.name, why) for k, why in result.kept) == [
        ("keep", "Delete=false"), ("theirs", "not this application's")]
    assert result.finished
    await clock.advance(SlowDeletes.GONE_AFTER)
    assert await cluster.get("v1", "ConfigMap", "gitopsd-inv-gone", NS) is None
    assert {n for _, n in cluster.objects} == {"keep", "theirs"}


@pytest.mark.asyncio
async def test_without_cascade_or_still_in_the_fleet_nothing_is_deleted() -> None:
    """An inventory without cascadeDelete, or of an application still in the fleet, is left alone."""
    clock = VirtualClock()
    cluster = SlowDeletes(clock)
    cluster.put(owned("left", "l"))
    cluster.put(owned("stays", "s"))
    cluster.put(inventory("left", ["l"], cascade=False))
    cluster.put(inventory("stays", ["s"], cascade=True))
    assert await run(clock, cluster, {"stays"}) == []
    assert not [entry for entry in cluster.log if entry[1].startswith("delete")]
    assert len(cluster.objects) == 4


@pytest.mark.asyncio
async def test_predelete_must_succeed_first_and_postdelete_runs_after() -> None:
    """A failing PreDelete hook stops the removal (nothing is deleted); once it succeeds the
    objects go, then the PostDelete hooks run, then the inventory; Secrets are never recorded."""
    clock = VirtualClock()
    cluster = SlowDeletes(clock)
    cluster.put(owned("gone", "a"))
    hooks = (hook("Job", "backup", "PreDelete"), hook("ConfigMap", "farewell", "PostDelete"),
             hook("Secret", "creds", "PreDelete"))
    cluster.put(inventory("gone", ["a"], cascade=True, hooks=hooks))
    cluster.job_condition = "Failed"
    [failed] = await run(clock, cluster, set())
    assert not failed.finished
    assert [(k.name, why.split(":")[0]) for k, why in failed.failed] == [("backup", "PreDelete hook failed")]
    assert await cluster.get("v1", "ConfigMap", "a", "app") is not None
    assert not [e for e in cluster.log if e[1].startswith("delete") and e[2] == "a"]
    cluster.job_condition = "Complete"
    [done] = await run(clock, cluster, set())
    assert done.finished, done.summary()
    order = [(what.split()[0], name) for _, what, name in cluster.log
             if name in ("backup", "a", "farewell", "gitopsd-inv-gone")]
    backup_run = max(i for i, e in enumerate(order) if e == ("create", "backup"))
    assert order[backup_run:] == [("create", "backup"), ("apply", "gitopsd-inv-gone"), ("delete", "a"),
                                  ("gone", "a"), ("create", "farewell"), ("delete", "backup"),
                                  ("delete", "farewell"), ("delete", "gitopsd-inv-gone")]
    assert [(p, k.name) for p, k in done.hooks] == [("PreDelete", "backup"), ("PostDelete", "farewell")]
    assert all(name != "creds" for _, _, name in cluster.log)


@pytest.mark.asyncio
async def test_a_hook_that_is_not_the_apps_is_never_run_nor_what_it_would_replace_deleted() -> None:
    """A recorded hook without the application's marks is refused, and a hook whose name is taken
    by another application's object leaves that object alone; nothing is deleted either way."""
    clock = VirtualClock()
    cluster = SlowDeletes(clock)
    cluster.put(owned("gone", "a"))
    cluster.put(owned("other", "backup"))  # another application's object with the hook's name
    cluster.put(inventory("gone", ["a"], cascade=True,
                          hooks=(hook("ConfigMap", "backup", "PreDelete"),)))
    [taken] = await run(clock, cluster, set())
    assert [why for _, why in taken.failed] == [
        "PreDelete hook ConfigMap app/backup exists and is not this application's"]
    assert not [e for e in cluster.log if e[1] != "gone"]
    cluster.put(inventory("gone", ["a"], cascade=True,
                          hooks=(hook("ConfigMap", "cleanup", "PreDelete", app="intruder"),)))
    [forged] = await run(clock, cluster, set())
    assert [why for _, why in forged.failed] == [
        "PreDelete hook does not carry this application's marks; not run"]
    assert not [e for e in cluster.log if e[1] != "gone"]
    assert await cluster.get("v1", "ConfigMap", "a", "app") is not None


@pytest.mark.asyncio
async def test_predelete_hooks_run_once_even_when_the_removal_needs_another_sweep() -> None:
    """Once the PreDelete hooks have succeeded, the sweep that finishes a partial removal skips them."""
    clock = VirtualClock()
    cluster = SlowDeletes(clock)
    cluster.put(owned("gone", "a"))
    cluster.put(inventory("gone", ["a"], cascade=True, hooks=(hook("Job", "backup", "PreDelete"),)))
    SlowDeletes.GONE_AFTER = 1000.0  # "a" does not go within the wave timeout
    try:
        remover = Remover("c", cluster, fleet=FLEET, namespace=NS, clock=clock, poll=0.5, wave_timeout=5)
        task = asyncio.ensure_future(remover.sweep(set()))
        while not task.done():
            await clock.advance(1)
        [partial] = task.result()
    finally:
        SlowDeletes.GONE_AFTER = 3.0
    assert not partial.finished
    assert [p for p, _ in partial.hooks] == ["PreDelete"]
    await clock.advance(1000)
    [done] = await run(clock, cluster, set())
    assert done.finished, done.summary()
    assert done.hooks == []
    assert [name for _, what, name in cluster.log if what == "create"] == ["backup"]
