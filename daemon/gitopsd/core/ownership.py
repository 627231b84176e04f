"""Whose an existing object is, judged from the marks gitopsd put on it (``core.inventory``).

One verdict per live object, seen from one application of one fleet: absent,
ours, another application's (never touched), or untracked (adoptable unless
shared resources must fail); and a lost inventory rebuilt from the live
objects that are the application's by those marks. Pure: it reads the objects
given and never talks to a cluster or decides what to write.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gitopsd.core.inventory import (
    FLEET_LABEL,
    TRACKING_ANNOTATION,
    Inventory,
    InventoryEntry,
    parse_tracking_id,
)
from gitopsd.core.marks import HOOK_ANNOTATIONS
from gitopsd.model import ResourceKey, objects


class OwnershipState(enum.Enum):
    """Whose an existing object is, as far as gitopsd may act on it."""

    ABSENT = "Absent"        # no live object: gitopsd may create it
    OURS = "Ours"            # our tracking id (and fleet): gitopsd may change and prune it
    FOREIGN = "Foreign"      # another application's or fleet's: never touched
    UNTRACKED = "Untracked"  # no (valid) tracking id for this object: adoptable, unless shared
                             # resources must fail


@dataclass(frozen=True)
class Ownership:
    """An ownership verdict: the state, the owner when foreign, and a one-line reason."""

    state: OwnershipState
    owner: str = ""
    reason: str = ""

    def writable(self, *, fail_on_shared_resource: bool) -> bool:
        """True when gitopsd may apply to the object (``FailOnSharedResource`` as given)."""
        if self.state is OwnershipState.UNTRACKED:
            return not fail_on_shared_resource
        return self.state in (OwnershipState.ABSENT, OwnershipState.OURS)


def ownership(live: Mapping[str, Any] | None, *, fleet: str, app: str,
              key: ResourceKey) -> Ownership:
    """Who owns the live object at ``key``, seen from application ``app`` of ``fleet``.

    A tracking id that names another object (the annotation was copied along
    with the object) marks nothing: such an object is untracked. A tracking id
    for this object from another application, or another fleet's label, makes
    it foreign.
    """
    if live is None:
        return Ownership(OwnershipState.ABSENT)
    raw = objects.annotations(live).get(TRACKING_ANNOTATION)
    parsed = parse_tracking_id(raw) if isinstance(raw, str) else None
    if parsed is None:
        reason = "no tracking id" if raw is None else "unreadable tracking id"
        return Ownership(OwnershipState.UNTRACKED, reason=f"{key}: {reason}")
    owner_app, owner_key = parsed
    if owner_key != key:
        return Ownership(OwnershipState.UNTRACKED,
                         reason=f"{key}: tracking id names another object ({owner_key})")
    owner_fleet = objects.labels(live).get(FLEET_LABEL)
    if owner_fleet not in (None, fleet):
        owner = f"{owner_app} (fleet {owner_fleet})"
        return Ownership(OwnershipState.FOREIGN, owner,
                         f"{key} belongs to application {owner}")
    if owner_app != app:
        return Ownership(OwnershipState.FOREIGN, owner_app,
                         f"{key} belongs to application {owner_app}")
    return Ownership(OwnershipState.OURS, app)


def recover(live: Iterable[Mapping[str, Any]], *, fleet: str, app: str) -> Inventory:
    """The inventory of ``app`` rebuilt from ``live`` objects (those carrying ``fleet``'s label):
    every one that is the application's by a tracking id naming itself. Hooks are left out,
    as ``from_manifests`` leaves them out."""
    entries = []
    for obj in live:
        annotations = objects.annotations(obj)
        if not objects.name(obj) or any(a in annotations for a in HOOK_ANNOTATIONS):
            continue
        if ownership(obj, fleet=fleet, app=app, key=ResourceKey.of(obj)).state is OwnershipState.OURS:
            entries.append(InventoryEntry.of(obj))
    return Inventory.of(entries)
