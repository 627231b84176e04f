"""Compare an instance's desired objects with the cluster: the first half of a sync.

Reads the live objects and the in-cluster inventory, checks ownership, and
decides per object whether it is in sync, out of sync, missing or extraneous.
Each prune candidate that is still the application's leaves with the uid and
resourceVersion its tracking id was checked on, for the delete's
preconditions; one that is not is named with why. An inventory that is
unreadable, or missing although the application has had one (an earlier
comparison knew it, or one of its desired objects is live and its own), is
rebuilt from the live objects that carry the fleet label and the
application's tracking id (one labelled list per kind the application is
known to use), so that prune decisions never start from a lost memory; a
first sync lists nothing.
A no-op comparison performs no writes: an object whose recorded desired hash
matches and whose live fields still hold what gitopsd set is in sync without
asking the API server anything; only suspected drift costs a server-side
dry-run. This module never changes the cluster.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitopsd.core import health as healthmod
from gitopsd.core.diff import DiffState, ObjectDiff, diff_objects, drifted
from gitopsd.core.health.custom import Assess
from gitopsd.core.inventory import Inventory, InventoryEntry, inventory_name, stamp
from gitopsd.core.marks import APP_ANNOTATION, HASH_ANNOTATION, fleet_selector
from gitopsd.core.ownership import Ownership, OwnershipState, ownership, recover
from gitopsd.core.plan import Preconditions
from gitopsd.core.plan.hooks import HookRole, read_hook
from gitopsd.engine.ports import ClusterPort, Obj
from gitopsd.errors import ApiError, InventoryError
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
    assess: Assess = field(default=healthmod.assess, repr=False, compare=False)
    rebuilt: bool = False  # the inventory was missing or unreadable and was rebuilt from live objects
    warnings: tuple[str, ...] = ()  # what the render passed over (``DesiredPort.warnings``)
    source_key: str = ""  # what the desired state was rendered from (``DesiredPort.source_key``)

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
                           if live is None else self.assess(live))
        return Health.worst(healths)

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for d in self.diffs.values():
            counts[d.state.value] = counts.get(d.state.value, 0) + 1
        if self.extraneous:
            counts[DiffState.EXTRANEOUS.value] = len(self.extraneous)
        return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


async def read_inventory(cluster: ClusterPort, *, app: str,
                         namespace: str) -> tuple[Inventory | None, Obj | None]:
    """The instance's inventory as recorded in the cluster, and its ConfigMap; None for the
    inventory when there is none or it cannot be read.

    Raises ``InventoryError`` when the ConfigMap is another application's (a hashed-name
    collision): it is never read nor overwritten.
    """
    try:
        body = await cluster.get("v1", "ConfigMap", inventory_name(app), namespace)
    except ApiError as e:
        if e.status == 404:
            return None, None
        raise
    if body is None:
        return None, None
    try:
        return Inventory.from_configmap(body, app=app), body
    except InventoryError:
        if objects.annotations(body).get(APP_ANNOTATION, app) != app:
            raise
        return None, body


async def rebuild_inventory(cluster: ClusterPort, kinds: Collection[tuple[str, str]], *,
                            fleet: str, app: str, namespaces: Collection[str]) -> Inventory:
    """APP's inventory from the live objects of KINDS ((apiVersion, kind) pairs) that carry
    FLEET's label and APP's tracking id. A kind not served is skipped; where listing a kind
    across the cluster is forbidden, it is listed in NAMESPACES instead."""
    selector = fleet_selector(fleet)

    async def listed(api_version: str, kind: str) -> list[Obj]:
        try:
            return await cluster.select(api_version, kind, label_selector=selector)
        except ApiError as e:
            if e.status == 404:
                return []
            if e.status != 403:
                raise
        found: list[Obj] = []
        for namespace in sorted(namespaces):
            try:
                found += await cluster.select(api_version, kind, namespace=namespace,
                                              label_selector=selector)
            except ApiError as e:
                if e.status not in (403, 404):
                    raise
        return found

    lists = await asyncio.gather(*(listed(v, k) for v, k in sorted(set(kinds))))
    return recover((obj for found in lists for obj in found), fleet=fleet, app=app)


async def compare(cluster: ClusterPort, revision: Revision, manifests: Sequence[Manifest], *,
                  fleet: str, app: str, inventory_namespace: str,
                  ignore: Sequence[IgnoreDifference] = (), live_reader: LiveReader | None = None,
                  with_diff: bool = False, assess: Assess = healthmod.assess,
                  known_kinds: Collection[tuple[str, str]] = ()) -> Comparison:
    """Compare MANIFESTS (as rendered) with the cluster, without changing it.

    KNOWN_KINDS are the (apiVersion, kind) pairs the application owned or wanted in earlier
    comparisons. A missing inventory is rebuilt (listing those kinds and the desired ones) when
    the application is known to have had one: KNOWN_KINDS are given, or a desired object is
    live and the application's. A first sync, where neither holds, lists nothing.
    """
    desired = tuple(prepare(m, fleet=fleet, app=app) for m in manifests)
    recorded, inventory_live = await read_inventory(cluster, app=app, namespace=inventory_namespace)
    result = Comparison(revision, desired, Inventory.of(()) if recorded is None else recorded,
                        inventory_live, assess=assess)

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
    absent = set() if len(result.inventory) or live_reader is not None else \
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

    if recorded is None:
        await asyncio.gather(*(one(m) for m in compared))
        if inventory_live is not None or known_kinds or any(
                o.state is OwnershipState.OURS for o in result.owners.values()):
            result.rebuilt = True
            result.inventory = await rebuild_inventory(
                cluster, {(m.api_version, m.key.kind) for m in compared} | set(known_kinds),
                fleet=fleet, app=app, namespaces={m.key.namespace for m in compared if m.key.namespace})
        leftovers = [e for e in result.inventory if e.key not in desired_keys]
        await asyncio.gather(*(stale(e) for e in leftovers))
    else:
        leftovers = [e for e in recorded if e.key not in desired_keys]
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
