"""Ownership marks on applied objects, and the inventory of what an instance owns.

Every object gitopsd applies carries the label ``gitopsd.io/fleet=<fleet>``
(so watches can select only our objects) and the annotation
``gitopsd.io/tracking-id=<app>:<group>/<kind>:<namespace>/<name>`` (so a copy
of an object, which keeps the annotation but not the identity, is never taken
for ours). The set of objects each application instance owns is kept in a
ConfigMap ``gitopsd-inv-<app>`` in the target cluster, so that pruning stays
correct when the management host loses its local state.

This module builds and reads those marks and that ConfigMap as plain values
(``core.ownership`` judges the marks and rebuilds a lost inventory from them). It
never talks to a cluster and never decides to delete anything: it only says
which inventory entries are no longer desired.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from gitopsd.core.marks import (
    APP_ANNOTATION,
    CASCADE_ANNOTATION,
    HOOK_ANNOTATIONS,
    PROJECT_ANNOTATION,
    PROPAGATION_ANNOTATION,
)
from gitopsd.core.marks import FLEET_LABEL as FLEET_LABEL  # also imported from here by the engine
from gitopsd.core.marks import TRACKING_ANNOTATION as TRACKING_ANNOTATION
from gitopsd.errors import InventoryError
from gitopsd.model import objects
from gitopsd.model.resources import Manifest, ResourceKey

INVENTORY_PREFIX: Final = "gitopsd-inv-"
INVENTORY_KEY: Final = "entries"
"""The ConfigMap data key holding one ``<apiVersion> <kind> <namespace>/<name>`` line per entry."""
DELETION_HOOKS_KEY: Final = "deletion-hooks"
"""With cascadeDelete: the PreDelete/PostDelete hook objects (JSON), run when the application goes."""

_NAME_LIMIT: Final = 63
_DNS_LABEL: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE: Final = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


# --- tracking id -----------------------------------------------------------

def tracking_id(app: str, key: ResourceKey) -> str:
    """``<app>:<group>/<kind>:<namespace>/<name>``, Argo CD's annotation format.

    Raises ``ValueError`` when a part would make the id ambiguous: an empty
    app, kind or name, a ``:`` in the app, group, kind or namespace, or a
    ``/`` in the group, kind, namespace or name.
    """
    parts = {"app": app, "kind": key.kind, "name": key.name}
    for part, value in parts.items():
        if not value:
            raise ValueError(f"tracking id needs a non-empty {part}")
    for part, value in (("app", app), ("group", key.group), ("kind", key.kind),
                        ("namespace", key.namespace)):
        if ":" in value:
            raise ValueError(f"tracking id {part} {value!r} must not contain ':'")
    for part, value in (("group", key.group), ("kind", key.kind),
                        ("namespace", key.namespace), ("name", key.name)):
        if "/" in value:
            raise ValueError(f"tracking id {part} {value!r} must not contain '/'")
    return f"{app}:{key.group}/{key.kind}:{key.namespace}/{key.name}"


def parse_tracking_id(text: str) -> tuple[str, ResourceKey] | None:
    """The (app, key) a tracking id names, or None when ``text`` is not one.

    Object names may contain ``:`` (``system:controller:x``), so only the
    first two colons separate fields.
    """
    app, sep1, rest = text.partition(":")
    group_kind, sep2, where = rest.partition(":")
    group, sep3, kind = group_kind.partition("/")
    namespace, sep4, name = where.partition("/")
    if not (sep1 and sep2 and sep3 and sep4 and app and kind and name):
        return None
    if "/" in kind or "/" in name or ":" in namespace:
        return None
    return app, ResourceKey(group, kind, namespace, name)


# --- stamping --------------------------------------------------------------

def valid_label_value(value: str) -> bool:
    """True when ``value`` may be a Kubernetes label value (63 characters at most)."""
    return len(value) <= _NAME_LIMIT and bool(_LABEL_VALUE.match(value))


def stamp(body: Mapping[str, Any], *, fleet: str, app: str, key: ResourceKey) -> dict[str, Any]:
    """A deep copy of ``body`` carrying gitopsd's fleet label and tracking id.

    Every other label and annotation is kept. Raises ``ValueError`` when
    ``fleet`` is not a valid label value or the tracking id would be ambiguous.
    """
    if not fleet or not valid_label_value(fleet):
        raise ValueError(f"fleet name {fleet!r} is not a valid label value")
    value = tracking_id(app, key)
    result = copy.deepcopy(dict(body))
    meta = result.get("metadata")
    meta = dict(meta) if isinstance(meta, Mapping) else {}
    labels = meta.get("labels")
    annotations = meta.get("annotations")
    meta["labels"] = {**(labels if isinstance(labels, Mapping) else {}), FLEET_LABEL: fleet}
    meta["annotations"] = {**(annotations if isinstance(annotations, Mapping) else {}),
                           TRACKING_ANNOTATION: value}
    result["metadata"] = meta
    return result


# --- inventory -------------------------------------------------------------

@dataclass(frozen=True)
class InventoryEntry:
    """One owned object: enough to find it again (apiVersion) and to name it (key)."""

    api_version: str
    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(_group(self.api_version), self.kind, self.namespace, self.name)

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> InventoryEntry:
        """The entry for an object body (``apiVersion``, ``kind``, ``metadata``)."""
        return cls(str(obj.get("apiVersion", "")), str(obj.get("kind", "")),
                   objects.namespace(obj), objects.name(obj))

    def line(self) -> str:
        """``<apiVersion> <kind> <namespace>/<name>`` (namespace empty when cluster-scoped)."""
        return f"{self.api_version} {self.kind} {self.namespace}/{self.name}"

    @classmethod
    def parse_line(cls, text: str) -> InventoryEntry:
        """Read ``line()``'s format; raises ``ValueError`` for anything else."""
        fields = text.split(" ")
        if len(fields) != 3 or not all(fields):
            raise ValueError("expected '<apiVersion> <kind> <namespace>/<name>'")
        api_version, kind, where = fields
        namespace, sep, name = where.partition("/")
        if not sep or not name or "/" in name or api_version.count("/") > 1:
            raise ValueError("expected '<apiVersion> <kind> <namespace>/<name>'")
        return cls(api_version, kind, namespace, name)

    def _validate(self) -> None:
        if not self.api_version or not self.kind or not self.name:
            raise ValueError(f"inventory entry {self.line()!r} lacks apiVersion, kind or name")
        for part in (self.api_version, self.kind, self.namespace, self.name):
            if any(c.isspace() for c in part):
                raise ValueError(f"inventory entry {self.line()!r} contains whitespace")
        if "/" in self.kind or "/" in self.namespace or "/" in self.name \
                or self.api_version.count("/") > 1:
            raise ValueError(f"inventory entry {self.line()!r} has a misplaced '/'")


def _sort_key(entry: InventoryEntry) -> tuple[ResourceKey, str]:
    return entry.key, entry.api_version


def inventory_name(app: str) -> str:
    """Name of ``app``'s inventory ConfigMap: ``gitopsd-inv-<app>``, always a DNS label.

    Application names that are not lowercase DNS labels, or that would make
    the name longer than 63 characters, are shortened and suffixed with a hash
    of the full name, so distinct applications keep distinct ConfigMaps.
    """
    plain = INVENTORY_PREFIX + app
    if len(plain) <= _NAME_LIMIT and _DNS_LABEL.match(plain):
        return plain
    digest = hashlib.sha256(app.encode()).hexdigest()[:10]
    cleaned = re.sub(r"[^a-z0-9-]+", "-", app.lower()).strip("-")
    room = _NAME_LIMIT - len(INVENTORY_PREFIX) - len(digest) - 1
    stem = cleaned[:room].rstrip("-")
    return f"{INVENTORY_PREFIX}{stem}-{digest}" if stem else f"{INVENTORY_PREFIX}{digest}"


@dataclass(frozen=True)
class Inventory:
    """The objects one application instance owns in one cluster: unique by key, sorted.

    Build it with ``Inventory.of`` or ``Inventory.from_manifests``; the
    constructor expects entries already sorted and unique.
    """

    entries: tuple[InventoryEntry, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[InventoryEntry]) -> Inventory:
        """An inventory of ``entries``; for a key listed twice the last entry wins.

        Raises ``ValueError`` for an entry without apiVersion, kind or name,
        or one that could not be written as a line.
        """
        by_key: dict[ResourceKey, InventoryEntry] = {}
        for entry in entries:
            entry._validate()
            by_key[entry.key] = entry
        return cls(tuple(sorted(by_key.values(), key=_sort_key)))

    @classmethod
    def from_manifests(cls, manifests: Iterable[Manifest]) -> Inventory:
        """The inventory of applied manifests; hooks and ``generateName`` objects are left out.

        Hooks are deleted by their own policies, never pruned.
        """
        entries = []
        for manifest in manifests:
            if not objects.name(manifest.body) or any(a in manifest.annotations for a in HOOK_ANNOTATIONS):
                continue
            entries.append(InventoryEntry(manifest.api_version, manifest.key.kind,
                                          manifest.key.namespace, manifest.key.name))
        return cls.of(entries)

    def __iter__(self) -> Iterator[InventoryEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: object) -> bool:
        return key in self.keys

    @property
    def keys(self) -> frozenset[ResourceKey]:
        return frozenset(entry.key for entry in self.entries)

    def pairs(self) -> tuple[tuple[ResourceKey, str], ...]:
        """(key, apiVersion) of every entry, as the planner takes its previous inventory."""
        return tuple((entry.key, entry.api_version) for entry in self.entries)

    def union(self, other: Iterable[InventoryEntry]) -> Inventory:
        """This inventory plus ``other``'s entries (``other`` wins for a shared key)."""
        return Inventory.of([*self.entries, *other])

    def without(self, keys: Collection[ResourceKey]) -> Inventory:
        """This inventory minus the entries whose key is in ``keys`` (pruned objects)."""
        return Inventory(tuple(e for e in self.entries if e.key not in keys))

    def to_text(self) -> str:
        """One line per entry, sorted, newline-terminated (empty for an empty inventory)."""
        return "".join(entry.line() + "\n" for entry in self.entries)

    @classmethod
    def from_text(cls, text: str) -> Inventory:
        """Read ``to_text()``'s format; blank lines are skipped.

        Raises ``InventoryError`` naming the first line that cannot be read.
        """
        entries = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append(InventoryEntry.parse_line(line.strip()))
            except ValueError as exc:
                raise InventoryError(f"inventory line {number}: {exc}") from None
        return cls.of(entries)

    def to_configmap(self, *, app: str, fleet: str, namespace: str, cascade: bool = False,
                     propagation: str = "Foreground",
                     deletion_hooks: Sequence[Mapping[str, Any]] = (),
                     project: str = "") -> dict[str, Any]:
        """The ConfigMap body that records this inventory for ``app`` in ``namespace``.

        It carries the fleet label (so fleet-wide watches see it), the full
        application name in an annotation, since its own name may be hashed,
        and, with CASCADE, how the objects are deleted once the application
        leaves the fleet and the hooks to run around that (a later daemon reads
        them from here). Secrets are never recorded as hooks. PROJECT, when
        given, is recorded too: it bounds that removal as it bounded the syncs.
        """
        if not fleet or not valid_label_value(fleet):
            raise ValueError(f"fleet name {fleet!r} is not a valid label value")
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": inventory_name(app),
                "namespace": namespace,
                "labels": {FLEET_LABEL: fleet},
                "annotations": {APP_ANNOTATION: app, **(
                    {CASCADE_ANNOTATION: "true", PROPAGATION_ANNOTATION: propagation} if cascade else {}),
                    **({PROJECT_ANNOTATION: project} if project else {})},
            },
            "data": {INVENTORY_KEY: self.to_text(), **({DELETION_HOOKS_KEY: json.dumps(
                [dict(h) for h in deletion_hooks if h.get("kind") != "Secret"], sort_keys=True)}
                if cascade and deletion_hooks else {})},
        }

    @classmethod
    def from_configmap(cls, body: Mapping[str, Any], *, app: str | None = None) -> Inventory:
        """Read an inventory ConfigMap; with ``app`` given, check that it is that app's.

        Raises ``InventoryError`` when the ConfigMap belongs to another
        application (a hashed-name collision or a misplaced copy) or an entry
        cannot be read; pruning from such an inventory would be unsafe.
        """
        name = objects.meta(body).get("name", "")
        if app is not None:
            recorded = objects.annotations(body).get(APP_ANNOTATION)
            if recorded != app:
                raise InventoryError(
                    f"inventory ConfigMap {name} records application {recorded!r}, not {app!r}")
        data = body.get("data") or {}
        text = data.get(INVENTORY_KEY, "")
        if not isinstance(text, str):
            raise InventoryError(f"inventory ConfigMap {name}: data.{INVENTORY_KEY} is not text")
        try:
            return cls.from_text(text)
        except InventoryError as exc:
            raise InventoryError(f"inventory ConfigMap {name}: {exc}") from None


# --- pruning ---------------------------------------------------------------

def prune_candidates(inventory: Inventory,
                     desired_keys: Collection[ResourceKey]) -> tuple[InventoryEntry, ...]:
    """Entries owned before but no longer desired, in inventory order."""
    return tuple(entry for entry in inventory if entry.key not in desired_keys)
