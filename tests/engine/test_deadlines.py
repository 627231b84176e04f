"""Sync deadlines and retry requeues on a virtual clock, with an in-memory cluster."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.sync import Reconciler
from gitopsd.model import (
    AppInstance,
    Application,
    ClusterSelector,
    Destination,
    HealthStatus,
    Manifest,
    OutcomeKind,
    ResourceKey,
    Source,
    SyncPolicy,
)
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import StaticDesired


def _deployments(clock: VirtualClock) -> FakeCluster:
    """A fake cluster whose Deployments never report Available until ``_become_available``."""
    cluster = FakeCluster(clock)
    cluster.script_status("Deployment", _deployment_status(available=0))
    return cluster


def _deployment_status(*, available: int) -> dict[str, Any]:
    return {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": available}


def _become_available(cluster: FakeCluster) -> None:
    cluster.script_status("Deployment", _deployment_status(available=2))


def _deployment() -> Manifest:
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "x:1"}]}}}}
    return Manifest(ResourceKey.of(body), body)


def _later_configmap() -> Manifest:
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "after", "namespace": "ns",
                         "annotations": {"argocd.argoproj.io/sync-wave": "1"}},
            "data": {"a": "b"}}
    return Manifest(ResourceKey.of(body), body)


def _app(timeout: float) -> tuple[AppInstance, Application]:
    source = Source("env", "main", "app")
    app = Application("web", source, Destination(ClusterSelector(names=("c",)), "ns"),
                      SyncPolicy(automated=True, sync_timeout=timeout))
    return AppInstance("web", "c", source, "ns"), app


@pytest.mark.asyncio
async def test_unhealthy_wave_fails_exactly_at_the_deadline() -> None:
    """A Deployment that never becomes Available holds back the next wave until the virtual deadline."""
    clock = VirtualClock()
    cluster = _deployments(clock)
    rec = Reconciler(fleet="f", cluster=cluster, desired=StaticDesired((_deployment(), _later_configmap())),
                     clock=clock, health_poll=1.0)
    inst, app = _app(timeout=30)
    task = asyncio.ensure_future(rec.reconcile(inst, app))
    await clock.advance(29)
    assert not task.done()
    await clock.advance(2)
    outcome = (await asyncio.wait_for(task, 1)).outcome
    assert outcome.kind is OutcomeKind.FAILED
    assert "Deployment.apps ns/web is Progressing" in outcome.message
    assert [c.action.value for c in outcome.changes] == ["created"]


@pytest.mark.asyncio
async def test_wave_that_becomes_healthy_passes_before_the_deadline() -> None:
    """The health gate lets the next wave run as soon as the Deployment becomes Available."""
    clock = VirtualClock()
    cluster = _deployments(clock)
    rec = Reconciler(fleet="f", cluster=cluster, desired=StaticDesired((_deployment(), _later_configmap())),
                     clock=clock, health_poll=1.0)
    inst, app = _app(timeout=30)
    task = asyncio.ensure_future(rec.reconcile(inst, app))
    await clock.advance(5)
    assert not task.done()
    _become_available(cluster)
    await clock.advance(1.5)
    outcome = (await asyncio.wait_for(task, 1)).outcome
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert clock.now() < 10
    assert [c.key.name for c in outcome.changes] == ["web", "after"]


@pytest.mark.asyncio
async def test_last_wave_is_applied_without_waiting_for_health() -> None:
    """A sync whose last wave holds a Deployment ends once it is applied, reporting it Progressing."""
    clock = VirtualClock()
    cluster = _deployments(clock)
    rec = Reconciler(fleet="f", cluster=cluster, desired=StaticDesired((_deployment(),)), clock=clock,
                     health_poll=1.0)
    inst, app = _app(timeout=30)
    outcome = (await asyncio.wait_for(rec.reconcile(inst, app), 1)).outcome
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert outcome.health.status is HealthStatus.PROGRESSING
    assert clock.now() == 0
