"""The drift detector decides from watch events alone which owned objects drifted."""

from __future__ import annotations

from typing import Any

from gitopsd.core.marks import FLEET_LABEL, TRACKING_ANNOTATION
from gitopsd.engine.drift import DriftDetector
from gitopsd.model import HealthStatus, Manifest, ResourceKey

KIND = ("", "ConfigMap")
DEPLOYMENTS = ("apps", "Deployment")


def _body(name: str, value: str = "1", *, version: int = 0, owner: str = "app",
          labelled: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns",
                            "annotations": {TRACKING_ANNOTATION: f"{owner}:/ConfigMap:ns/{name}"}}
    if labelled:
        meta["labels"] = {FLEET_LABEL: "f"}
    if version:
        meta["resourceVersion"] = str(version)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": value}}


def _deployment(version: int, available: bool) -> dict[str, Any]:
    status = "True" if available else "False"
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "generation": 1,
                         "resourceVersion": str(version), "labels": {FLEET_LABEL: "f"},
                         "annotations": {TRACKING_ANNOTATION: "app:apps/Deployment:ns/web"}},
            "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                       "availableReplicas": 1 if available else 0,
                       "conditions": [{"type": "Available", "status": status}]}}


def _manifest(body: dict[str, Any]) -> Manifest:
    desired = {k: v for k, v in body.items() if k != "status"}
    desired["metadata"] = {k: v for k, v in body["metadata"].items() if k != "resourceVersion"}
    return Manifest(ResourceKey.of(desired), desired)


def _detector() -> tuple[DriftDetector, list[tuple[str, str]], list[str]]:
    drift: list[tuple[str, str]] = []
    health: list[str] = []
    detector = DriftDetector("alpha", lambda _inst, key, reason: drift.append((key.name, reason)),
                             health.append, fleet="f")
    return detector, drift, health


def _relist(detector: DriftDetector, *bodies: dict[str, Any], kind: tuple[str, str] = KIND) -> None:
    detector.event("LISTING", None, kind)
    for body in bodies:
        detector.event("LISTED", body, kind)
    detector.event("SYNCED", None, kind)


def test_object_a_failed_sync_never_created_is_not_reported_deleted() -> None:
    """A desired object absent from a list and never seen or written is missing, not drift."""
    detector, drift, _ = _detector()
    early, late = _manifest(_body("early")), _manifest(_body("late"))
    detector.expect("app/alpha", [early, late], live={early.key: None, late.key: None})
    _relist(detector)
    assert drift == []


def test_written_object_missing_from_a_later_list_is_reported_deleted() -> None:
    """An object a sync wrote that the next list does not show was deleted behind gitopsd's back."""
    detector, drift, _ = _detector()
    early = _manifest(_body("early"))
    detector.expect("app/alpha", [early], live={early.key: None})
    detector.confirm("app/alpha", {early.key: _body("early", version=5)}, [early.key])
    _relist(detector)
    assert drift == [("early", "deleted")]


def test_object_learnt_of_while_a_list_runs_is_not_judged_by_that_list() -> None:
    """A write confirmed during a list may postdate its snapshot, so that list cannot call it deleted."""
    detector, drift, _ = _detector()
    early = _manifest(_body("early"))
    detector.expect("app/alpha", [early], live={early.key: None})
    detector.event("LISTING", None, KIND)
    detector.confirm("app/alpha", {early.key: _body("early", version=5)}, [early.key])
    detector.event("SYNCED", None, KIND)
    assert drift == []
    _relist(detector)
    assert drift == [("early", "deleted")]


def test_foreign_object_read_by_a_comparison_is_never_reported_deleted() -> None:
    """An object of another owner, or without the fleet's label, is outside the watch and not gitopsd's."""
    detector, drift, _ = _detector()
    other, bare = _manifest(_body("other")), _manifest(_body("bare"))
    detector.expect("app/alpha", [other, bare], live={
        other.key: _body("other", owner="someone-else", version=3),
        bare.key: _body("bare", labelled=False, version=4)})
    _relist(detector)
    assert drift == []


def test_deleted_and_changed_events_are_reported() -> None:
    """A DELETED event and an edit of a desired field are both drift."""
    detector, drift, _ = _detector()
    early = _manifest(_body("early"))
    detector.expect("app/alpha", [early], live={early.key: _body("early", version=2)})
    detector.event("MODIFIED", _body("early", "2", version=3), KIND)
    detector.event("DELETED", _body("early", version=4), KIND)
    assert drift == [("early", "changed"), ("early", "deleted")]


def test_event_older_than_a_read_is_ignored() -> None:
    """A delayed event older than what a comparison read changes nothing."""
    detector, drift, _ = _detector()
    early = _manifest(_body("early"))
    detector.expect("app/alpha", [early], live={early.key: _body("early", version=9)})
    detector.event("MODIFIED", _body("early", "stale", version=7), KIND)
    assert drift == []


def test_health_seen_during_a_pass_survives_the_passes_older_read() -> None:
    """An Available event newer than the comparison's read stays the instance's health."""
    detector, _, health = _detector()
    progressing = _deployment(10, available=False)
    web = _manifest(progressing)
    detector.expect("app/alpha", [web], live={web.key: progressing})
    _relist(detector, progressing, kind=DEPLOYMENTS)
    detector.event("MODIFIED", _deployment(12, available=True), DEPLOYMENTS)
    assert health[-1] == "app/alpha"
    settled = detector.settled("app/alpha")
    assert settled is not None
    assert settled.status is HealthStatus.HEALTHY
    detector.expect("app/alpha", [web], live={web.key: progressing})  # the next pass read version 10
    detector.confirm("app/alpha", {web.key: progressing}, [web.key])
    settled = detector.settled("app/alpha")
    assert settled is not None
    assert settled.status is HealthStatus.HEALTHY


def test_ours_version_follows_only_events_that_carry_the_apps_marks() -> None:
    """A newer version is remembered from the app's own objects, never from a foreign read or event."""
    detector, _, _ = _detector()
    mine = _body("c", version=5)
    foreign = _body("c", version=9, owner="other")
    detector.expect("app/alpha", [_manifest(mine)], live={ResourceKey.of(mine): foreign})
    assert detector.version(ResourceKey.of(mine)) == 9
    assert detector.ours_version(ResourceKey.of(mine)) == -1
    detector.event("MODIFIED", _body("c", version=10), KIND)
    assert detector.ours_version(ResourceKey.of(mine)) == 10
    detector.event("MODIFIED", _body("c", version=11, owner="other"), KIND)
    assert detector.ours_version(ResourceKey.of(mine)) == 10
    detector.event("DELETED", _body("c", version=12), KIND)
    assert detector.ours_version(ResourceKey.of(mine)) == -1


def test_a_generation_its_controller_has_not_observed_is_settling() -> None:
    """A Deployment whose status lags its generation awaits a status write; a caught-up one does not."""
    detector, _, _ = _detector()
    body = _deployment(5, available=True)
    detector.expect("app/alpha", [_manifest(body)], live={ResourceKey.of(body): body})
    key = ResourceKey.of(body)
    assert not detector.settling(key)
    edited = _deployment(6, available=True)
    edited["metadata"]["generation"] = 2
    edited["spec"]["replicas"] = 3
    detector.event("MODIFIED", edited, DEPLOYMENTS)
    assert detector.settling(key)
