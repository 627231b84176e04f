"""``sync_order``: the desired objects as written, in the planner's order, with how a sync uses each."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitopsd.core.plan import Listed, SyncUse, TaskAction, plan_sync, sync_order
from gitopsd.errors import ManifestError
from gitopsd.model import Manifest, ResourceKey, SyncPolicy
from tests.unit.test_plan import job, manifest, objects, unique

HOOK = "argocd.argoproj.io/hook"


def config_map(name: str, wave: int | None = None, namespace: str = "app") -> Manifest:
    annotations = {} if wave is None else {"argocd.argoproj.io/sync-wave": str(wave)}
    return manifest({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": name, "namespace": namespace,
                                  "annotations": annotations}})


def listing(desired: list[Manifest], *, options: tuple[str, ...] = (), namespace: str = "app",
            sync_id: str = "s-1") -> tuple[Listed, ...]:
    return sync_order(desired, policy=SyncPolicy(sync_options=options), namespace=namespace,
                      sync_id=sync_id)


def planned(desired: list[Manifest], *, options: tuple[str, ...] = (), namespace: str = "app",
            sync_id: str = "s-1") -> list[ResourceKey]:
    plan = plan_sync(desired, previous_inventory=(), policy=SyncPolicy(sync_options=options),
                     namespace=namespace, sync_id=sync_id)
    return [t.key for t in (*plan.tasks, *plan.sync_fail_hooks) if t.action is not TaskAction.PRUNE]


def keys(items: tuple[Listed, ...]) -> list[ResourceKey]:
    return [i.manifest.key for i in items]


def test_named_objects_follow_the_plan_order() -> None:
    """Objects in several waves and kinds are listed exactly in the order ``plan_sync`` gives."""
    desired = [config_map("late", wave=2), config_map("early", wave=-1), config_map("mid"),
               manifest({"apiVersion": "apps/v1", "kind": "Deployment",
                         "metadata": {"name": "mid", "namespace": "app"}}),
               manifest({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}})]
    items = listing(desired)
    assert keys(items) == planned(desired)
    assert {i.use for i in items} == {SyncUse.APPLIED}
    assert keys(items) != [m.key for m in desired]


def test_listed_objects_are_the_input_objects() -> None:
    """Each item carries the caller's own Manifest, not a copy the planner made."""
    desired = [config_map("a"), config_map("b", wave=1)]
    items = listing(desired)
    assert sorted(id(i.manifest) for i in items) == sorted(id(m) for m in desired)


def test_generate_name_hook_is_listed_once_as_written_in_its_first_phase() -> None:
    """A generateName hook of two phases appears once, without its derived name, where its
    first task runs."""
    hook = job(generate="check-", annotations={HOOK: "PreSync,PostSync"})
    app = config_map("settings")
    items = listing([app, hook])
    assert [i.manifest for i in items] == [hook, app]
    assert items[0].use is SyncUse.APPLIED
    assert "name" not in items[0].manifest.body["metadata"]


def test_two_generate_name_hooks_with_one_prefix_are_told_apart() -> None:
    """Hooks sharing a generateName in different phases are each listed where their own task runs."""
    pre = job(generate="run-", annotations={HOOK: "PreSync"})
    post = job(generate="run-", parallelism=2, annotations={HOOK: "PostSync"})
    app = config_map("settings")
    assert [i.manifest for i in listing([post, app, pre])] == [pre, app, post]


def test_sync_fail_hooks_come_after_everything_a_sync_applies() -> None:
    """A SyncFail hook is listed after the applied objects and marked as one."""
    fail = job("cleanup", annotations={HOOK: "SyncFail"})
    desired = [fail, config_map("a"), job("smoke", annotations={HOOK: "PostSync"})]
    items = listing(desired)
    assert items[-1].manifest is fail
    assert items[-1].use is SyncUse.SYNC_FAIL_HOOK
    assert all(i.use is SyncUse.APPLIED for i in items[:-1])


def test_create_namespace_adds_the_destination_namespace_first() -> None:
    """With CreateNamespace=true the destination Namespace, absent from Git, is listed first as
    created."""
    desired = [config_map("a", namespace="dest")]
    items = listing(desired, options=("CreateNamespace=true",), namespace="dest")
    first = items[0]
    assert first.use is SyncUse.CREATED
    assert first.manifest.key == ResourceKey("", "Namespace", "", "dest")
    assert all(first.manifest is not m for m in desired)
    assert [i.manifest for i in items[1:]] == desired


def test_objects_no_sync_applies_are_listed_last_with_the_planner_reason() -> None:
    """Skipped hooks and hooks of events a sync does not run close the list, each with the
    message the planner gave for skipping it."""
    skip = job("skipped", annotations={HOOK: "Skip"})
    app = config_map("a")
    plan = plan_sync([skip, app], previous_inventory=(), policy=SyncPolicy(), namespace="app",
                     sync_id="s-1")
    items = listing([skip, app])
    assert [i.manifest for i in items] == [app, skip]
    assert items[-1].use is SyncUse.NOT_APPLIED
    assert items[-1].reason == next(s.message for s in plan.skipped if s.key == skip.key)
    assert items[-1].reason


def test_planner_errors_propagate() -> None:
    """An object defined twice is the planner's ManifestError, not a shorter list."""
    with pytest.raises(ManifestError, match="defined twice"):
        listing([config_map("a"), config_map("a")])


@settings(deadline=None, max_examples=150)
@given(st.lists(objects(), max_size=14).map(unique), st.randoms(use_true_random=False),
       st.lists(st.sampled_from(("CreateNamespace=true", "PruneLast=true")), unique=True))
def test_every_object_is_listed_once_in_input_independent_order(
        desired: list[Manifest], rnd: random.Random, options: list[str]) -> None:
    """Every input object is listed exactly once, and shuffling the input changes nothing but
    the order of the objects no sync applies."""
    try:
        items = listing(desired, options=tuple(options), namespace="a")
    except ManifestError:
        return
    listed = [i.manifest for i in items if i.use is not SyncUse.CREATED]
    assert sorted(map(id, listed)) == sorted(map(id, desired))
    shuffled = list(desired)
    rnd.shuffle(shuffled)
    again = listing(shuffled, options=tuple(options), namespace="a")

    def run(seq: tuple[Listed, ...]) -> list[Mapping[str, Any]]:
        return [i.manifest.body for i in seq if i.use is not SyncUse.NOT_APPLIED]

    assert run(again) == run(items)
    assert sorted(map(id, (i.manifest for i in again if i.use is not SyncUse.CREATED))) == \
        sorted(map(id, desired))


@settings(deadline=None, max_examples=150)
@given(st.lists(objects(), max_size=14).map(unique))
def test_named_objects_keep_the_order_of_their_first_task(desired: list[Manifest]) -> None:
    """Named objects a sync runs appear in the order of the first plan task made from each."""
    try:
        order = planned(desired, namespace="a", sync_id="p")
    except ManifestError:
        return
    items = listing(desired, namespace="a", sync_id="p")
    run = [i for i in items if i.use in (SyncUse.APPLIED, SyncUse.SYNC_FAIL_HOOK)
           and i.manifest.body["metadata"].get("name")]
    firsts = [order.index(i.manifest.key) for i in run]
    assert firsts == sorted(firsts)
    assert len(set(firsts)) == len(firsts)
