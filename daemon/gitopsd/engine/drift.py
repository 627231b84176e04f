"""Drift detection from watch events on owned objects.

Keeps, per instance, the desired bodies of its last comparison and an index
from (cluster, object) to the owning instance. A watch event whose object no
longer carries what gitopsd set (or a deletion of such an object) is drift;
status-only churn is not, because only desired fields are compared. What to do
about drift (self-heal, backoff, marking OutOfSync) is the daemon's decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gitopsd.core.diff import drifted
from gitopsd.core.inventory import TRACKING_ANNOTATION, parse_tracking_id
from gitopsd.model import IgnoreDifference, Manifest, ResourceKey

HASH_ANNOTATION = "gitopsd.io/desired-hash"
OnDrift = Callable[[str, ResourceKey, str], None]  # instance key, object, reason


@dataclass
class Expected:
    body: Mapping[str, Any]
    ignore: tuple[IgnoreDifference, ...]


class DriftDetector:
    def __init__(self, cluster: str, on_drift: OnDrift) -> None:
        self.cluster = cluster
        self.on_drift = on_drift
        self._expected: dict[ResourceKey, tuple[str, Expected]] = {}
        self._by_instance: dict[str, set[ResourceKey]] = {}

    def expect(self, instance_key: str, desired: Iterable[Manifest],
               ignore: tuple[IgnoreDifference, ...] = ()) -> set[tuple[str, str]]:
        """Remember what INSTANCE_KEY wants; returns its (apiVersion, kind) pairs to watch."""
        for key in self._by_instance.pop(instance_key, set()):
            self._expected.pop(key, None)
        keys: set[ResourceKey] = set()
        kinds: set[tuple[str, str]] = set()
        for m in desired:
            self._expected[m.key] = (instance_key, Expected(m.body, ignore))
            keys.add(m.key)
            kinds.add((m.api_version, m.key.kind))
        self._by_instance[instance_key] = keys
        return kinds

    def body(self, key: ResourceKey) -> Mapping[str, Any] | None:
        """The desired body last applied for KEY, if an instance expects it."""
        entry = self._expected.get(key)
        return entry[1].body if entry is not None else None

    def forget(self, instance_key: str) -> None:
        for key in self._by_instance.pop(instance_key, set()):
            self._expected.pop(key, None)

    def event(self, etype: str, obj: Any, kind: tuple[str, str] = ("", "")) -> None:
        """Handle one watch event of KIND (group, kind); "SYNCED" carries a full list."""
        if etype == "SYNCED":
            self._listed(obj, kind)
            return
        if not isinstance(obj, Mapping):
            return
        key = ResourceKey.of(obj)
        entry = self._expected.get(key)
        if entry is None:
            return
        instance_key, expected = entry
        if not self._ours(obj, instance_key):
            return
        if etype == "DELETED":
            self.on_drift(instance_key, key, "deleted")
        elif _hash(obj) != _hash(expected.body):
            return  # applied by a newer sync than the one recorded here; it reports its own result
        elif drifted(expected.body, obj, expected.ignore):
            self.on_drift(instance_key, key, "changed")

    def _listed(self, items: Any, kind: tuple[str, str]) -> None:
        seen: set[ResourceKey] = set()
        for obj in items if isinstance(items, list) else []:
            seen.add(ResourceKey.of(obj))
            self.event("MODIFIED", obj)
        for key, (instance_key, _) in list(self._expected.items()):
            if (key.group, key.kind) == kind and key not in seen:
                self.on_drift(instance_key, key, "deleted")

    @staticmethod
    def _ours(obj: Mapping[str, Any], instance_key: str) -> bool:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        parsed = parse_tracking_id(str(annotations.get(TRACKING_ANNOTATION, "")))
        return parsed is not None and parsed[0] == instance_key.split("/", 1)[0]


def _hash(obj: Mapping[str, Any]) -> object:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(HASH_ANNOTATION)
