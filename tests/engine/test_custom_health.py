"""The engine judges health through the assess it is given: wave gates, results and watch events."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from gitopsd.core.health.custom import HealthChecks
from gitopsd.core.marks import FLEET_LABEL, TRACKING_ANNOTATION
from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.drift import DriftDetector
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
from gitopsd.model.healthchecks import HealthCheckSpec, ScriptOrigin
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import StaticDesired

LUA = """
if obj.data ~= nil and obj.data.state == "broken" then
  return {status = "Degraded", message = "the config says it is broken"}
end
return {status = "Healthy"}
"""


def _checks() -> HealthChecks:
    spec = HealthCheckSpec("", "ConfigMap", "lua:cm.lua", ScriptOrigin("fleet.yaml", 1, "health"), lua=LUA)
    return HealthChecks([spec], clock=time.monotonic)


def _configmap(name: str, state: str, wave: int) -> Manifest:
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns",
                         "annotations": {"argocd.argoproj.io/sync-wave": str(wave)}},
            "data": {"state": state}}
    return Manifest(ResourceKey.of(body), body)


def _app() -> tuple[AppInstance, Application]:
    source = Source("env", "main", "app")
    app = Application("web", source, Destination(ClusterSelector(names=("c",)), "ns"),
                      SyncPolicy(automated=True, sync_timeout=20))
    return AppInstance("web", "c", source, "ns"), app


@pytest.mark.asyncio
async def test_custom_degraded_verdict_holds_back_the_next_wave() -> None:
    """A Lua check that calls wave 0 Degraded stops wave 1, and the failure carries its message."""
    clock = VirtualClock()
    cluster = FakeCluster(clock)
    desired = StaticDesired((_configmap("first", "broken", 0), _configmap("second", "fine", 1)))
    rec = Reconciler(fleet="f", cluster=cluster, desired=desired, clock=clock, health_poll=1.0,
                     assess=_checks().assess)
    inst, app = _app()
    task = asyncio.ensure_future(rec.reconcile(inst, app))
    await clock.advance(21)
    outcome = (await asyncio.wait_for(task, 1)).outcome
    assert outcome.kind is OutcomeKind.FAILED
    assert "ConfigMap ns/first is Degraded (the config says it is broken)" in outcome.message
    assert [c.key.name for c in outcome.changes] == ["first"]


@pytest.mark.asyncio
async def test_without_checks_the_same_objects_sync_in_one_go() -> None:
    """With the built-in checks only, the same ConfigMaps are Healthy and both waves apply."""
    clock = VirtualClock()
    desired = StaticDesired((_configmap("first", "broken", 0), _configmap("second", "fine", 1)))
    rec = Reconciler(fleet="f", cluster=FakeCluster(clock), desired=desired, clock=clock, health_poll=1.0)
    inst, app = _app()
    outcome = (await asyncio.wait_for(rec.reconcile(inst, app), 1)).outcome
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert [c.key.name for c in outcome.changes] == ["first", "second"]


WIDGET_LUA = """
if obj.status ~= nil and obj.status.state == "broken" then
  return {status = "Degraded", message = "the widget is broken"}
end
return {status = "Healthy"}
"""


def _widget(version: int = 0, state: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "w", "namespace": "ns", "labels": {FLEET_LABEL: "f"},
                            "annotations": {TRACKING_ANNOTATION: "app:example.com/Widget:ns/w"}}
    if version:
        meta["resourceVersion"] = str(version)
    body: dict[str, Any] = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": meta,
                            "spec": {"size": 1}}
    if state:
        body["status"] = {"state": state}
    return body


def test_watch_events_are_judged_by_the_given_checks() -> None:
    """The drift detector records the health the configured check assigns to a watched object."""
    spec = HealthCheckSpec("example.com", "Widget", "lua:w.lua", ScriptOrigin("f.yaml", 1, "health"),
                           lua=WIDGET_LUA)
    checks = HealthChecks([spec], clock=time.monotonic)
    detector = DriftDetector("c", lambda *_: None, lambda _i: None, fleet="f", assess=checks.assess)
    desired = _widget()
    detector.expect("app", [Manifest(ResourceKey.of(desired), desired)])
    kind = ("example.com", "Widget")
    detector.event("LISTING", None, kind)
    detector.event("LISTED", _widget(4, "fine"), kind)
    detector.event("SYNCED", None, kind)
    settled = detector.settled("app")
    assert settled is not None
    assert settled.status is HealthStatus.HEALTHY
    detector.event("MODIFIED", _widget(5, "broken"), kind)
    settled = detector.settled("app")
    assert settled is not None
    assert settled.status is HealthStatus.DEGRADED
    assert settled.message == "the widget is broken"
