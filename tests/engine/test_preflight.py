"""The checks before a sync's first write, against the in-memory fake cluster on a virtual clock.

A sync whose objects include a kind the cluster does not serve, or a namespace
that neither exists nor is created by the sync, fails before it writes
anything (no inventory, no hook, no object), naming every object at fault.
"""

from __future__ import annotations

from typing import Any

import pytest

from gitopsd.core.plan import plan_sync
from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.sync import Reconciler
from gitopsd.engine.sync.preflight import preflight
from gitopsd.model import (
    AppInstance,
    Application,
    ClusterSelector,
    Destination,
    Manifest,
    OutcomeKind,
    ResourceKey,
    Source,
    SourceLocation,
    SyncPolicy,
)
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import StaticDesired

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "scope": "Namespaced",
             "names": {"kind": "Widget", "plural": "widgets"},
             "versions": [{"name": "v1", "served": True, "storage": True}]}}


def _manifest(body: dict[str, Any], path: str = "") -> Manifest:
    return Manifest(ResourceKey.of(body), body, SourceLocation("env", "a" * 40, path, 1 if path else 0))


def _configmap(name: str, namespace: str = "ns", wave: str = "0") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace,
                         "annotations": {"argocd.argoproj.io/sync-wave": wave}}}


def _widget(name: str, options: str = "") -> dict[str, Any]:
    annotations = {"argocd.argoproj.io/sync-wave": "1"}
    if options:
        annotations["argocd.argoproj.io/sync-options"] = options
    return {"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": name, "namespace": "ns", "annotations": annotations}}


def _presync_job() -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "migrate", "namespace": "ns",
                         "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "x:1"}]}}}}


async def _check(cluster: FakeCluster, manifests: list[Manifest], *options: str) -> str | None:
    plan = plan_sync(manifests, previous_inventory=(), policy=SyncPolicy(sync_options=options),
                     namespace="ns", sync_id="s")
    return await preflight(cluster, plan)


@pytest.mark.asyncio
async def test_unserved_kind_fails_the_sync_before_any_write() -> None:
    """An unserved kind in a later wave fails the sync with no write at all, hooks included."""
    cluster = FakeCluster(VirtualClock())
    cluster.unserved.add("Widget")
    source = Source("env", "main", "app")
    app = Application("web", source, Destination(ClusterSelector(names=("c",)), "ns"),
                      SyncPolicy(automated=True))
    manifests = (_manifest(_configmap("first", wave="-1"), "app/cm.yaml"), _manifest(_presync_job()),
                 _manifest(_widget("gear"), "app/widgets.yaml"), _manifest(_widget("cog")))
    reconciler = Reconciler(fleet="f", cluster=cluster, desired=StaticDesired(manifests),
                            clock=VirtualClock())
    done = await reconciler.reconcile(AppInstance("web", "c", source, "ns"), app)
    assert done.kind is OutcomeKind.FAILED
    assert "sync refused before any write: 2 objects cannot be applied" in done.outcome.message
    assert ("Widget.example.com ns/gear: the cluster serves no Widget in example.com/v1 "
            f"(env@{'a' * 12}:app/widgets.yaml:1)") in done.outcome.message
    assert "Widget.example.com ns/cog: the cluster serves no Widget" in done.outcome.message
    assert "ConfigMap" not in done.outcome.message
    assert cluster.log == []
    assert cluster.objects == {}


@pytest.mark.asyncio
async def test_a_remembered_miss_is_asked_again() -> None:
    """An unserved kind's group is rediscovered once before the sync is refused."""
    cluster = FakeCluster(VirtualClock())
    cluster.unserved.add("Widget")
    assert await _check(cluster, [_manifest(_widget("gear"))]) is not None
    assert cluster.invalidated == ["example.com"]


@pytest.mark.asyncio
async def test_crd_in_the_same_sync_lets_its_kind_pass() -> None:
    """A kind whose CRD the same sync applies passes, with or without SkipDryRunOnMissingResource."""
    cluster = FakeCluster(VirtualClock())
    cluster.unserved.add("Widget")
    with_crd = [_manifest(WIDGET_CRD), _manifest(_widget("gear"))]
    assert await _check(cluster, with_crd) is None
    assert await _check(cluster, with_crd, "SkipDryRunOnMissingResource=true") is None


@pytest.mark.asyncio
async def test_skip_dry_run_on_missing_resource_lets_an_unserved_kind_pass() -> None:
    """SkipDryRunOnMissingResource=true on the object or the application lets its kind pass."""
    cluster = FakeCluster(VirtualClock())
    cluster.unserved.add("Widget")
    annotated = [_manifest(_widget("gear", "SkipDryRunOnMissingResource=true"))]
    assert await _check(cluster, annotated) is None
    plain = [_manifest(_widget("gear"))]
    assert await _check(cluster, plain, "SkipDryRunOnMissingResource=true") is None
    assert await _check(cluster, plain) is not None


@pytest.mark.asyncio
async def test_missing_namespace_fails_unless_the_sync_creates_it() -> None:
    """A namespace that does not exist fails the check unless the sync applies or creates it."""
    cluster = FakeCluster(VirtualClock())
    cluster.implicit_namespaces = False
    objects = [_manifest(_configmap("a", "other"), "app/a.yaml")]
    refused = await _check(cluster, objects)
    assert refused is not None
    assert "ConfigMap other/a: namespace 'other' does not exist and this sync does not create it " \
           f"(env@{'a' * 12}:app/a.yaml:1)" in refused
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}
    assert await _check(cluster, [*objects, _manifest(namespace)]) is None
    in_ns = [_manifest(_configmap("a"))]
    assert await _check(cluster, in_ns) is not None
    assert await _check(cluster, in_ns, "CreateNamespace=true") is None
    cluster.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    assert await _check(cluster, objects) is None
