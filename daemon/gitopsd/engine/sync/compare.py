"""Compare an instance's desired objects with the cluster: the first half of a sync.

Reads the live objects and the in-cluster inventory, checks ownership, and
decides per object whether it is in sync, out of sync, missing or extraneous.
Each prune candidate that is still the application's leaves with the uid and
resourceVersion its tracking id was checked on, for the delete's
preconditions; one that is not is named with why.
A no-op comparison performs no writes: an object whose recorded desired hash
matches and whose live fields still hold what gitopsd set is in sync without
asking the API server anything; only suspected drift costs a server-side
dry-run. This module never changes the cluster.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitopsd.core import health as healthmod
from gitopsd.core.diff import DiffState, ObjectDiff, diff_objects, drifted
from gitopsd.core.inventory import (
    Inventory,
    InventoryEntry,
    Ownership,
    OwnershipState,
    inventory_name,
    ownership,
    stamp,
)
from gitopsd.core.marks import HASH_ANNOTATION
from gitopsd.core.plan import Preconditions
from gitopsd.core.plan.hooks import HookRole, read_hook
from gitopsd.engine.ports import ClusterPort, Obj
from gitopsd.errors import ApiError
from gitopsd.model import (
    Health,
    HealthStatus,
    IgnoreDifference,
    Manifest,
    ResourceKey,
    Revision,
    objects,
)

READ_CONCURRENCY = 16  # concurrent reads per comparison

LiveReader = Callable[[ResourceKey, str], Awaitable[Obj | None]]


def is_hook(manifest: Manifest) -> bool:
    """True for hooks and objects a sync never applies (Skip, deletion hooks)."""
    try:
        return read_hook(manifest.annotations).role is not HookRole.PLAIN
    except ValueError:
        return False  # the planner reports the bad annotation with its object


def desired_hash(body: Mapping[str, Any]) -> str:
    """A short, stable hash of a desired body (without the hash annotation itself)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def prepare(manifest: Manifest, *, fleet: str, app: str) -> Manifest:
    """The manifest as gitopsd applies it: ownership stamped and desired hash recorded."""
    body = stamp(manifest.body, fleet=fleet, app=app, key=manifest.key)
    body["metadata"]["annotations"][HASH_ANNOTATION] = desired_hash(body)
    return Manifest(manifest.key, body, manifest.source)


@dataclass
class Comparison:
    revision: Revision
    desired: tuple[Manifest, ...]
    inventory: Inventory
    inventory_live: Obj | None
    live: dict[ResourceKey, Obj | None] = field(default_factory=dict)
    diffs: dict[ResourceKey, ObjectDiff] = field(default_factory=dict)
    owners: dict[ResourceKey, Ownership] = field(default_factory=dict)
    extraneous: tuple[ResourceKey, ...] = ()
    prune_annotations: dict[ResourceKey, Mapping[str, Any]] = field(default_factory=dict)
    prune_preconditions: dict[ResourceKey, Preconditions] = field(default_factory=dict)
    not_ours: dict[ResourceKey, str] = field(default_factory=dict)  # prune candidates: why not ours
    unreadable: dict[ResourceKey, str] = field(default_factory=dict)

    @property
    def tracked(self) -> tuple[Manifest, ...]:
        """Desired objects that are compared and watched: hooks only run during syncs."""
        return tuple(m for m in self.desired if m.key in self.diffs)

    @property
    def out_of_sync(self) -> set[ResourceKey]:
        return {k for k, d in self.diffs.items() if not d.in_sync}

    @property
    def conflicts(self) -> dict[ResourceKey, Ownership]:
        return {k: o for k, o in self.owners.items() if o.state is OwnershipState.FOREIGN}

    @property
    def in_sync(self) -> bool:
        return not self.out_of_sync and not self.extraneous

    def health(self) -> Health:
        healths = []
        for m in self.tracked:
            live = self.live.get(m.key)
            healths.append(Health(HealthStatus.MISSING, f"{m.key} does not exist")
                           if live is None else healthmod.assess(live))
        return Health.worst(healths)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for d in self.diffs.values():
            counts[d.state.value] = counts.get(d.state.value, 0) + 1
        if self.extraneous:
            counts[DiffState.EXTRANEOUS.value] = len(self.extraneous)
        return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


async def read_inventory(cluster: ClusterPort, *, app: str,
                         namespace: str) -> tuple[Inventory, Obj | None]:
    """The instance's inventory as recorded in the cluster (empty when there is none).

    Raises ``InventoryError`` when the ConfigMap is not this application's or unreadable.
    """
    try:
        body = await cluster.get("v1", "ConfigMap", inventory_name(app), namespace)
    except ApiError as e:
        if e.status == 404:
            return Inventory.of(()), None
        raise
    if body is None:
        return Inventory.of(()), None
    return Inventory.from_configmap(body, app=app), body


async def compare(cluster: ClusterPort, revision: Revision, manifests: Sequence[Manifest], *,
                  fleet: str, app: str, inventory_namespace: str,
                  ignore: Sequence[IgnoreDifference] = (), live_reader: LiveReader | None = None,
                  with_diff: bool = False) -> Comparison:
    """Compare MANIFESTS (as rendered) with the cluster, without changing it."""
    desired = tuple(prepare(m, fleet=fleet, app=app) for m in manifests)
    inventory, inventory_live = await read_inventory(cluster, app=app, namespace=inventory_namespace)
    result = Comparison(revision, desired, inventory, inventory_live)

    async def read(key: ResourceKey, api_version: str) -> Obj | None:
        if live_reader is not None:
            return await live_reader(key, api_version)
        try:
            return await cluster.get(api_version, key.kind, key.name, key.namespace)
        except ApiError as e:
            if e.status == 404:  # kind not served yet (a CRD in this same sync)
                return None
            if e.status == 403:  # reported per object when the sync writes it
                result.unreadable[key] = str(e)
                return None
            raise

    slots = asyncio.Semaphore(READ_CONCURRENCY)
    desired_keys = {m.key for m in desired}
    compared = [m for m in desired if not is_hook(m)]
    absent = set() if len(inventory) or live_reader is not None else \
        await _absent_namespaces(cluster, {m.key.namespace for m in compared if m.key.namespace})

    async def one(m: Manifest) -> None:
        async with slots:
            skip = m.key.namespace in absent and await cluster.namespaced(m.api_version, m.key.kind) is True
            live = None if skip else await read(m.key, m.api_version)
            result.live[m.key] = live
            result.owners[m.key] = ownership(live, fleet=fleet, app=app, key=m.key)
            result.diffs[m.key] = await _diff_one(cluster, m, live, ignore, with_diff)

    async def stale(entry: InventoryEntry) -> None:
        async with slots:
            live = await read(entry.key, entry.api_version)
        if live is None:
            return
        owner = ownership(live, fleet=fleet, app=app, key=entry.key)
        if owner.state is not OwnershipState.OURS:
            result.not_ours[entry.key] = owner.reason or f"{entry.key} is not this application's"
            return
        result.live[entry.key] = live
        result.prune_annotations[entry.key] = objects.annotations(live)
        result.prune_preconditions[entry.key] = Preconditions(objects.uid(live),
                                                              objects.resource_version(live))

    leftovers = [e for e in inventory if e.key not in desired_keys]
    await asyncio.gather(*(one(m) for m in compared), *(stale(e) for e in leftovers))
    result.diffs = {m.key: result.diffs[m.key] for m in compared}
    result.extraneous = tuple(e.key for e in leftovers if e.key in result.prune_annotations)
    return result


async def _absent_namespaces(cluster: ClusterPort, namespaces: set[str]) -> set[str]:
    """Which of NAMESPACES do not exist: nothing in them needs reading. Asked only when an
    instance has no inventory yet (a first sync), where it saves one read per object."""
    async def exists(name: str) -> bool:
        try:
            return await cluster.get("v1", "Namespace", name) is not None
        except ApiError:
            return True  # not allowed to read Namespaces: read the objects one by one
    names = sorted(namespaces)
    found = await asyncio.gather(*(exists(n) for n in names))
    return {n for n, there in zip(names, found, strict=True) if not there}


async def _diff_one(cluster: ClusterPort, m: Manifest, live: Obj | None,
                    ignore: Sequence[IgnoreDifference], with_diff: bool) -> ObjectDiff:
    if live is None:
        return diff_objects(m.body, None, ignore=ignore)
    live_hash = objects.annotations(live).get(HASH_ANNOTATION)
    want_hash = m.annotations.get(HASH_ANNOTATION)
    if live_hash == want_hash and not drifted(m.body, live, ignore):
        return ObjectDiff(m.key, DiffState.IN_SYNC)
    if live_hash != want_hash and not with_diff:
        return ObjectDiff(m.key, DiffState.OUT_OF_SYNC, "desired state changed in Git\n")
    try:
        predicted = await cluster.apply(m.body, dry_run=True, force=True)
    except ApiError as e:
        return ObjectDiff(m.key, DiffState.OUT_OF_SYNC, f"server-side dry-run failed: {e}\n")
    return diff_objects(predicted, live, ignore=ignore)
