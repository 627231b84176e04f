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
from gitopsd.core.health.custom import Assess
from gitopsd.core.inventory import parse_tracking_id
from gitopsd.core.marks import FLEET_LABEL, HASH_ANNOTATION, TRACKING_ANNOTATION
from gitopsd.model import Health, IgnoreDifference, Manifest, ResourceKey
from gitopsd.model import objects as fields

OnDrift = Callable[[str, ResourceKey, str], None]  # instance key, object, reason
OnHealth = Callable[[str], object]  # instance key whose objects' health changed
Kind = tuple[str, str]  # (group, kind)


@dataclass
class Expected:
    instance: str
    body: Mapping[str, Any]
    ignore: tuple[IgnoreDifference, ...]
    clean: bool = False          # the live object was last seen carrying this body
    health: Health | None = None  # its health when last seen
    version: int = -1            # resourceVersion of that observation; -1 when none or opaque
    exists: bool = False         # known to exist in the fleet's watch (labelled and tracked)
    since: int = 0               # list generation of its kind when that was learnt
    ours_version: int = -1       # newest resourceVersion seen while it carried this app's marks
    settling: bool = False       # its controller has not yet observed its latest generation


class DriftDetector:
    def __init__(self, cluster: str, on_drift: OnDrift, on_health: OnHealth | None = None, *,
                 fleet: str = "", assess: Assess = healthmod.assess) -> None:
        self.cluster = cluster
        self.assess = assess
        self.fleet = fleet
        self.on_drift = on_drift
        self.on_health = on_health
        self._expected: dict[ResourceKey, Expected] = {}
        self._by_instance: dict[str, set[ResourceKey]] = {}
        self._listing: dict[Kind, set[ResourceKey]] = {}  # keys seen by a list in progress
        self._generation: dict[Kind, int] = {}  # lists started per kind
        self._synced: set[Kind] = set()  # kinds whose watch has listed and is streaming

    def expect(self, instance_key: str, desired: Iterable[Manifest],
               ignore: tuple[IgnoreDifference, ...] = (),
               live: Mapping[ResourceKey, Mapping[str, Any] | None] | None = None) -> set[tuple[str, str]]:
        """Remember what INSTANCE_KEY wants and what LIVE (a comparison's reads) showed; returns
        (apiVersion, kind) pairs. An observation newer than LIVE's is kept. An object that does
        not exist (a failed sync did not reach it) is missing, not deleted: the retry creates
        it, self-heal does not."""
        live = live or {}
        previous = {key: entry for key in self._by_instance.get(instance_key, ())
                    if (entry := self._expected.get(key)) is not None and entry.instance == instance_key}
        self.forget(instance_key)
        keys: set[ResourceKey] = set()
        kinds: set[tuple[str, str]] = set()
        for m in desired:
            entry = Expected(instance_key, m.body, ignore)
            old = previous.get(m.key)
            obj = live.get(m.key)
            if obj is not None:
                self._observe(entry, m.key, obj)
            if old is not None and (obj is not None or m.key not in live):
                if obj is None:  # not read this time: what was known still holds
                    entry.exists, entry.since = old.exists, old.since
                if old.version > entry.version and _hash(old.body) == _hash(m.body) and \
                        old.ignore == ignore:
                    entry.clean, entry.health, entry.version = old.clean, old.health, old.version
                    entry.exists, entry.since = old.exists, old.since
                entry.ours_version = old.ours_version
            self._expected[m.key] = entry
            keys.add(m.key)
            kinds.add((m.api_version, m.key.kind))
        self._by_instance[instance_key] = keys
        return kinds

    def confirm(self, instance_key: str, live: Mapping[ResourceKey, Mapping[str, Any] | None],
                written: Iterable[ResourceKey]) -> None:
        """After a sync wrote WRITTEN, what the writes returned (in LIVE) stands for those objects
        unless a watch event already showed something newer."""
        for key in written:
            entry = self._expected.get(key)
            obj = live.get(key)
            if entry is None or entry.instance != instance_key or obj is None:
                continue
            version = _version(obj)
            if version < 0 or version > entry.version:
                self._observe(entry, key, obj)
            entry.ours_version = max(entry.ours_version, version)

    def wrote(self, key: ResourceKey, obj: Mapping[str, Any]) -> None:
        """A self-heal repair wrote KEY and got OBJ back: it stands unless a watch event already
        showed something newer, so events older than the repair are not taken for new drift."""
        entry = self._expected.get(key)
        if entry is None or not obj:
            return
        version = _version(obj)
        if version < 0 or version > entry.version:
            self._observe(entry, key, obj)
        entry.ours_version = max(entry.ours_version, version)

    def body(self, key: ResourceKey) -> Mapping[str, Any] | None:
        """The desired body last applied for KEY, if an instance expects it."""
        entry = self._expected.get(key)
        return entry.body if entry is not None else None

    def version(self, key: ResourceKey) -> int:
        """The resourceVersion of the last observation of KEY, or -1."""
        entry = self._expected.get(key)
        return entry.version if entry is not None else -1

    def settling(self, key: ResourceKey) -> bool:
        """True when the last observation of KEY showed a generation its controller had not yet
        observed (a status write is about to follow)."""
        entry = self._expected.get(key)
        return entry is not None and entry.settling

    def ours_version(self, key: ResourceKey) -> int:
        """The newest resourceVersion a watch event or one of gitopsd's own writes showed of KEY
        while it carried its application's tracking id, or -1."""
        entry = self._expected.get(key)
        return entry.ours_version if entry is not None else -1

    def forget(self, instance_key: str) -> None:
        for key in self._by_instance.pop(instance_key, set()):
            entry = self._expected.get(key)
            if entry is not None and entry.instance == instance_key:
                del self._expected[key]

    def settled(self, instance_key: str) -> Health | None:
        """The instance's health when every object it owns is known to be in place, else None."""
        keys = self._by_instance.get(instance_key)
        if keys is None:
            return None
        healths = []
        for key in keys:
            entry = self._expected.get(key)
            if entry is None or entry.instance != instance_key or not entry.clean or \
                    entry.health is None or (key.group, key.kind) not in self._synced:
                return None
            healths.append(entry.health)
        return Health.worst(healths)

    # -- watch events -------------------------------------------------------------

    def watch_started(self, kind: Kind) -> None:
        """A list of KIND starts: observations of it are unconfirmed until it completes."""
        self._synced.discard(kind)
        self._listing[kind] = set()
        self._generation[kind] = self._generation.get(kind, 0) + 1

    def event(self, etype: str, obj: Any, kind: Kind = ("", "")) -> None:
        """Handle one watch event of KIND: LISTING (a list starts), LISTED (an item of it),
        SYNCED (it is complete), ADDED, MODIFIED or DELETED."""
        if etype == "LISTING":
            self.watch_started(kind)
            return
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
        version = _version(obj)
        stale = version < entry.version if etype == "DELETED" else version <= entry.version
        if version >= 0 and stale:
            return  # no newer than what a read or a write already showed
        if etype == "DELETED":
            entry.clean = entry.exists = False
            entry.version, entry.ours_version = version, -1
            self.on_drift(entry.instance, key, "deleted")
            return
        entry.ours_version = max(entry.ours_version, version)
        before = (entry.clean, entry.health)
        if _hash(obj) != _hash(entry.body):
            # written for another desired state than the one recorded here
            entry.clean, entry.version = False, version
            self._exists(entry, key, obj)
            return
        if self._observe(entry, key, obj):
            self.on_drift(entry.instance, key, "changed")
        elif self.on_health is not None and (entry.clean, entry.health) != before:
            self.on_health(entry.instance)

    def _observe(self, entry: Expected, key: ResourceKey, obj: Mapping[str, Any]) -> bool:
        """Record what OBJ shows for ENTRY; True when it drifted from the desired body."""
        entry.health = self.assess(obj)
        entry.version = _version(obj)
        entry.settling = _settling(obj)
        changed = _hash(obj) != _hash(entry.body) or drifted(entry.body, obj, entry.ignore)
        entry.clean = not changed
        self._exists(entry, key, obj)
        return changed

    def _exists(self, entry: Expected, key: ResourceKey, obj: Mapping[str, Any]) -> None:
        """OBJ exists; it counts once it carries what puts it in this fleet's watch."""
        if entry.exists or not self._ours(obj, entry.instance) or \
                (self.fleet and fields.labels(obj).get(FLEET_LABEL) != self.fleet):
            return
        entry.exists, entry.since = True, self._generation.get((key.group, key.kind), 0)

    def _listed(self, kind: Kind) -> None:
        seen = self._listing.pop(kind, set())
        generation = self._generation.get(kind, 0)
        for key, entry in list(self._expected.items()):
            # an object learnt of while this list ran may be newer than its snapshot
            if (key.group, key.kind) == kind and key not in seen and entry.exists and \
                    entry.since < generation:
                entry.clean = entry.exists = False
                self.on_drift(entry.instance, key, "deleted")
        self._synced.add(kind)
        if self.on_health is not None:
            for instance in sorted({e.instance for k, e in self._expected.items()
                                    if (k.group, k.kind) == kind}):
                self.on_health(instance)

    @staticmethod
    def _ours(obj: Mapping[str, Any], instance_key: str) -> bool:
        parsed = parse_tracking_id(str(fields.annotations(obj).get(TRACKING_ANNOTATION, "")))
        return parsed is not None and parsed[0] == instance_key.split("/", 1)[0]


def _hash(obj: Mapping[str, Any]) -> object:
    return fields.annotations(obj).get(HASH_ANNOTATION)


def _settling(obj: Mapping[str, Any]) -> bool:
    generation = fields.meta(obj).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    return isinstance(generation, int) and isinstance(observed, int) and observed < generation


def _version(obj: Mapping[str, Any]) -> int:
    """The object's resourceVersion as a number, or -1 when it is absent or not a number."""
    rv = fields.resource_version(obj)
    return int(rv) if rv.isdigit() else -1
