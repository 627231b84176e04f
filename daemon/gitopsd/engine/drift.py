"""Drift detection and observed state from watch events on owned objects.

Keeps, per instance, the desired bodies of its last sync and, per object, what
the watches last showed: present or not, still carrying what gitopsd set or
not, and its health. A watch event whose object no longer carries what gitopsd
set (or a deletion of such an object) is drift; status-only churn is not,
because only desired fields are compared. The observations let a periodic
resync of an instance whose objects are all known to be in place skip the API
server entirely. What to do about drift is the daemon's decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gitopsd.core import health as healthmod
from gitopsd.core.diff import drifted
from gitopsd.core.inventory import TRACKING_ANNOTATION, parse_tracking_id
from gitopsd.model import Health, IgnoreDifference, Manifest, ResourceKey

HASH_ANNOTATION = "gitopsd.io/desired-hash"
OnDrift = Callable[[str, ResourceKey, str], None]  # instance key, object, reason
OnHealth = Callable[[str], None]  # instance key whose objects' health changed
Kind = tuple[str, str]  # (group, kind)


@dataclass
class Expected:
    instance: str
    body: Mapping[str, Any]
    ignore: tuple[IgnoreDifference, ...]
    clean: bool = False          # the live object was last seen carrying this body
    health: Health | None = None  # its health when last seen
    exists: bool = False         # the object is known to have been created
    watched: bool = False        # a watch event was seen since this entry was made


class DriftDetector:
    def __init__(self, cluster: str, on_drift: OnDrift, on_health: OnHealth | None = None) -> None:
        self.cluster = cluster
        self.on_drift = on_drift
        self.on_health = on_health
        self._expected: dict[ResourceKey, Expected] = {}
        self._by_instance: dict[str, set[ResourceKey]] = {}
        self._listing: dict[Kind, set[ResourceKey]] = {}  # keys seen by a list in progress
        self._synced: set[Kind] = set()  # kinds whose watch has listed and is streaming

    def expect(self, instance_key: str, desired: Iterable[Manifest],
               ignore: tuple[IgnoreDifference, ...] = (),
               live: Mapping[ResourceKey, Mapping[str, Any] | None] | None = None,
               written: Iterable[ResourceKey] = ()) -> set[tuple[str, str]]:
        """Remember what INSTANCE_KEY wants, what LIVE showed and which objects the sync WROTE;
        returns (apiVersion, kind) pairs. An object that never existed (a failed sync did not
        reach it) is missing, not deleted: the retry creates it, self-heal does not."""
        previous = {key: self._expected[key].exists
                    for key in self._by_instance.get(instance_key, ()) if key in self._expected}
        self.forget(instance_key)
        written = set(written)
        keys: set[ResourceKey] = set()
        kinds: set[tuple[str, str]] = set()
        for m in desired:
            expected = Expected(instance_key, m.body, ignore,
                                exists=m.key in written or previous.get(m.key, False))
            obj = (live or {}).get(m.key)
            if obj is not None:
                self._observe(expected, obj)
            self._expected[m.key] = expected
            keys.add(m.key)
            kinds.add((m.api_version, m.key.kind))
        self._by_instance[instance_key] = keys
        return kinds

    def confirm(self, instance_key: str, live: Mapping[ResourceKey, Mapping[str, Any] | None],
                written: Iterable[ResourceKey]) -> None:
        """After a sync wrote WRITTEN: they exist, and what the writes returned (in LIVE) stands
        for them until a watch event says otherwise."""
        for key in written:
            entry = self._expected.get(key)
            if entry is None or entry.instance != instance_key:
                continue
            entry.exists = True
            obj = live.get(key)
            if not entry.watched and obj is not None:
                self._observe(entry, obj)

    def body(self, key: ResourceKey) -> Mapping[str, Any] | None:
        """The desired body last applied for KEY, if an instance expects it."""
        entry = self._expected.get(key)
        return entry.body if entry is not None else None

    def forget(self, instance_key: str) -> None:
        for key in self._by_instance.pop(instance_key, set()):
            self._expected.pop(key, None)

    def settled(self, instance_key: str) -> Health | None:
        """The instance's health when every object it owns is known to be in place, else None."""
        keys = self._by_instance.get(instance_key)
        if keys is None:
            return None
        healths = []
        for key in keys:
            entry = self._expected.get(key)
            if entry is None or not entry.clean or entry.health is None or \
                    (key.group, key.kind) not in self._synced:
                return None
            healths.append(entry.health)
        return Health.worst(healths)

    # -- watch events -------------------------------------------------------------

    def watch_started(self, kind: Kind) -> None:
        """A watch for KIND (re)starts: observations of it are unconfirmed until it has listed."""
        self._synced.discard(kind)
        self._listing[kind] = set()

    def event(self, etype: str, obj: Any, kind: Kind = ("", "")) -> None:
        """Handle one watch event of KIND: LISTED (an item of a list), SYNCED (the list is
        complete), ADDED, MODIFIED or DELETED."""
        if etype == "SYNCED":
            self._listed(kind)
            return
        if not isinstance(obj, Mapping):
            return
        key = ResourceKey.of(obj)
        if etype == "LISTED":
            self._listing.setdefault(kind, set()).add(key)
        entry = self._expected.get(key)
        if entry is None or not self._ours(obj, entry.instance):
            return
        entry.watched = True
        if etype == "DELETED":
            entry.clean = entry.exists = False
            self.on_drift(entry.instance, key, "deleted")
            return
        entry.exists = True
        if _hash(obj) != _hash(entry.body):
            entry.clean = False  # written for another desired state than the one recorded here
            return
        before = entry.health
        if self._observe(entry, obj):
            self.on_drift(entry.instance, key, "changed")
        elif self.on_health is not None and entry.health != before:
            self.on_health(entry.instance)

    def _observe(self, entry: Expected, obj: Mapping[str, Any]) -> bool:
        """Record what OBJ shows for ENTRY; True when it drifted from the desired body."""
        entry.health = healthmod.assess(obj)
        entry.exists = True
        changed = _hash(obj) != _hash(entry.body) or drifted(entry.body, obj, entry.ignore)
        entry.clean = not changed
        return changed

    def _listed(self, kind: Kind) -> None:
        seen = self._listing.pop(kind, set())
        for key, entry in list(self._expected.items()):
            if (key.group, key.kind) == kind and key not in seen and entry.exists:
                entry.clean = entry.exists = False
                self.on_drift(entry.instance, key, "deleted")
        self._synced.add(kind)
        if self.on_health is not None:
            for instance in sorted({e.instance for k, e in self._expected.items()
                                    if (k.group, k.kind) == kind}):
                self.on_health(instance)

    @staticmethod
    def _ours(obj: Mapping[str, Any], instance_key: str) -> bool:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        parsed = parse_tracking_id(str(annotations.get(TRACKING_ANNOTATION, "")))
        return parsed is not None and parsed[0] == instance_key.split("/", 1)[0]


def _hash(obj: Mapping[str, Any]) -> object:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(HASH_ANNOTATION)
