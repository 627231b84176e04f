"""The drift detector decides from watch events alone which owned objects drifted."""

from __future__ import annotations

from typing import Any

from gitopsd.core.inventory import TRACKING_ANNOTATION
from gitopsd.engine.drift import DriftDetector
from gitopsd.model import Manifest, ResourceKey

KIND = ("", "ConfigMap")


def _body(name: str, value: str = "1") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns",
                         "annotations": {TRACKING_ANNOTATION: f"app:/ConfigMap:ns/{name}"}},
            "data": {"v": value}}


def _manifest(name: str) -> Manifest:
    body = _body(name)
    return Manifest(ResourceKey.of(body), body)


def _detector() -> tuple[DriftDetector, list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []
    detector = DriftDetector("alpha", lambda _inst, key, reason: seen.append((key.name, reason)))
    return detector, seen


def _relist(detector: DriftDetector, *names: str) -> None:
    detector.watch_started(KIND)
    for name in names:
        detector.event("LISTED", _body(name), KIND)
    detector.event("SYNCED", None, KIND)


def test_object_a_failed_sync_never_created_is_not_reported_deleted() -> None:
    """A desired object absent from a list and never seen or written is missing, not drift."""
    detector, seen = _detector()
    detector.expect("app/alpha", [_manifest("early"), _manifest("late")], live={}, written=[])
    _relist(detector)
    assert seen == []


def test_written_object_missing_from_a_list_is_reported_deleted() -> None:
    """An object the sync wrote that a later list does not show was deleted behind gitopsd's back."""
    detector, seen = _detector()
    early, late = _manifest("early"), _manifest("late")
    detector.expect("app/alpha", [early, late], live={}, written=[early.key])
    _relist(detector)
    assert seen == [("early", "deleted")]


def test_seen_object_stays_known_across_syncs_and_is_reported_once_gone() -> None:
    """An object once seen by a watch keeps counting as created through the next expect."""
    detector, seen = _detector()
    early = _manifest("early")
    detector.expect("app/alpha", [early], live={}, written=[])
    _relist(detector, "early")
    detector.expect("app/alpha", [early], live={}, written=[])
    _relist(detector)
    assert seen == [("early", "deleted")]


def test_deleted_event_and_changed_event_are_reported() -> None:
    """A DELETED event and an edit of a desired field are both drift."""
    detector, seen = _detector()
    early = _manifest("early")
    detector.expect("app/alpha", [early], live={early.key: _body("early")})
    detector.event("MODIFIED", _body("early", "2") | {"metadata": _body("early")["metadata"]}, KIND)
    detector.event("DELETED", _body("early"), KIND)
    assert seen == [("early", "changed"), ("early", "deleted")]
