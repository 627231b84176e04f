"""Daemons sharing one fleet: who is a member, and which instances this member acts on.

With ``settings.coordination`` every daemon keeps a member Lease
``gitopsd-<fleet>-member-<hash of its identity>`` in one cluster and renews it
every ``renew`` seconds, and reads the others' between renewals too (every
second, and at least halfway).
The members are the Leases not yet dead: a Lease is dead once it has kept one
resourceVersion for its ``leaseDurationSeconds`` by this daemon's own clock
(clocks of hosts are never compared), or when it is gone (a member that stops
deletes its Lease). Every member computes the same
assignment (``core.shards``) from the sorted member set.

Fencing: a member acts on an instance only while its own Lease was renewed
less than ``duration - 2 * renew`` ago (measured from before the renewal was
sent), so its right to act ends before any other member may judge it dead.
A member whose right lapsed (paused, cut off) acts on nothing until it has
renewed and recomputed. An instance gained from a member that is still live
(a newcomer taking its share, a member coming back) waits ``1.5 * renew``
first, the time the previous owner needs to see the change; one gained from a
dead or departed member is acted on at once.

Leases of dead members are collected: the first live member (in sorted order)
deletes a Lease that has kept one resourceVersion for ``COLLECT_AFTER`` times
its duration, on the condition that it still has that resourceVersion, so a
member that renewed meanwhile (it came back) keeps its Lease; one that comes
back after the deletion creates it again at its next renewal.

Members agree only if they share out the same items (the same fleet file, the
same Argo CD Applications read). Each publishes a digest of what it shares
out on its Lease; while the live members' digests differ (a fleet file rolled
out to one host before another), all of them fall back to plain rendezvous
hashing without load bound or pins, where each item's owner depends on that
item and the member set alone, so members that disagree on the other items
still agree on each shared one.

This module decides who acts, never what is written: the daemon, executor,
repairer and removal sweeps ask through ``engine.writers``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from gitopsd.core.shards import assign
from gitopsd.engine.clock import Clock
from gitopsd.engine.lease import API_VERSION, create_in_namespace, micro_time
from gitopsd.engine.ports import ClusterPort, MetricsPort, Obj
from gitopsd.errors import ApiError, GitopsdError
from gitopsd.model import objects

log = structlog.get_logger("gitopsd.membership")
MEMBER_LABEL = "gitopsd.io/member-of"  # value: the fleet
INPUTS_ANNOTATION = "gitopsd.io/assignment-inputs"  # digest of the items, weights, pins and bound
COLLECT_AFTER = 4.0  # a Lease unchanged this many of its durations is deleted
LOOK_EVERY = 1.0  # seconds at most between two reads of the member Leases (at least twice a renewal)


def member_lease_name(fleet: str, identity: str) -> str:
    return f"gitopsd-{fleet}-member-{hashlib.sha256(identity.encode()).hexdigest()[:10]}"


@dataclass
class _Seen:
    identity: str
    inputs: str
    version: str
    since: float  # this daemon's clock when the Lease was first seen at VERSION
    duration: float  # its leaseDurationSeconds


class Membership:
    def __init__(self, objects_: ClusterPort, *, fleet: str, namespace: str, identity: str, clock: Clock,
                 items: Callable[[], Mapping[str, float]], duration: float = 15.0, renew: float = 5.0,
                 epsilon: float = 0.25, pins: Mapping[str, str] | None = None,
                 metrics: MetricsPort | None = None,
                 counted: Callable[[str], bool] = lambda _item: True) -> None:
        self.objects = objects_
        self.fleet = fleet
        self.namespace = namespace
        self.identity = identity
        self.clock = clock
        self.items = items  # item -> weight, read at each recomputation
        self.duration = duration
        self.renew = renew
        self.epsilon = epsilon
        self.pins = dict(pins or {})
        self.metrics = metrics
        self.counted = counted  # the items metrics count as instances (not the removal sweeps)
        self.name = member_lease_name(fleet, identity)
        self.on_gained: Callable[[list[str]], None] | None = None  # items this member now acts on
        self.on_lost: Callable[[list[str]], None] | None = None  # items another member now owns
        self.members: tuple[str, ...] = ()
        self.assignment: dict[str, str] = {}
        self._valid_until = -math.inf
        self._act_from: dict[str, float] = {}  # owned item -> when this member may act on it
        self._seen: dict[str, _Seen] = {}  # Lease name -> how it was first seen at its version
        self.agreed = True  # every live member shares out the same items (else: plain rendezvous)

    def inputs(self) -> str:
        """A digest of what this member shares out and how: equal digests, equal assignments."""
        text = json.dumps([sorted(self.items().items()), sorted(self.pins.items()), self.epsilon])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def margin(self) -> float:
        return self.duration - 2 * self.renew

    def valid(self) -> bool:
        return self.clock.now() < self._valid_until

    def owner(self, item: str) -> str:
        return self.assignment.get(item, "")

    def acts_on(self, item: str) -> bool:
        """Whether this member may write for ITEM now: it owns it, its hold-off is over and
        its own Lease is fresh."""
        now = self.clock.now()
        return (now < self._valid_until and self.assignment.get(item) == self.identity
                and self._act_from.get(item, math.inf) <= now)

    async def run(self) -> None:
        reads = max(2, math.ceil(self.renew / LOOK_EVERY))  # per renewal interval, the renewal's included
        while True:
            for call in (self.step, *[self.look] * (reads - 1)):
                try:
                    await call()
                except GitopsdError as e:  # the coordination cluster does not answer: the right lapses
                    log.warning("membership.error", error=str(e))
                await self.clock.sleep(self.renew / reads)

    async def step(self) -> bool:
        """Renew this member's Lease, read the others', recompute; True when this member may act."""
        started = self.clock.now()
        continuous = self.valid()
        if not continuous:
            self._act_from.clear()  # a lapsed right is earned again, item by item
        try:
            renewed = await self._renew()
        except GitopsdError:
            self._renewed(started, ok=False)
            raise
        self._renewed(started, ok=renewed)
        if not renewed:
            self._lapse()
            return False
        await self._observe(started, continuous=continuous, renewed=True)
        self._valid_until = started + self.margin
        return self.valid()

    async def look(self) -> None:
        """Between renewals, read the others' Leases and recompute, so that the instances of a
        member that left are taken over within ``LOOK_EVERY`` (at most half a renewal interval);
        nothing while this member's own right has lapsed (the next renewal comes first)."""
        if self.valid():
            await self._observe(self.clock.now(), continuous=True, renewed=False)

    async def _observe(self, started: float, *, continuous: bool, renewed: bool) -> None:
        """Read the member Leases and recompute; right after a renewal (RENEWED), also collect
        the Leases of long-dead members."""
        listed = await self.objects.select(API_VERSION, "Lease", namespace=self.namespace,
                                           label_selector=f"{MEMBER_LABEL}={self.fleet}")
        if not renewed and not self.valid():
            return  # the right lapsed while listing: the next renewal recomputes
        live = self._live(listed, started)
        if renewed and live[0] == self.identity:
            await self._collect(started)
        inputs = self.inputs()
        agreed = all(s.inputs == inputs for s in self._seen.values() if s.identity in live)
        if agreed != self.agreed:
            log.warning("membership.inputs", agreed=agreed,
                        detail="members share out the same items" if agreed else
                        "members share out different items (fleet files differ): plain rendezvous")
        self.agreed = agreed
        self._recompute(live, continuous=continuous)

    async def release(self) -> None:
        """Stop acting at once, then delete this member's Lease so the others take over now."""
        self._lapse()
        try:
            await self.objects.delete(API_VERSION, "Lease", self.name, self.namespace,
                                      propagation="Background")
        except GitopsdError as e:
            log.warning("membership.release_failed", error=str(e))

    def _renewed(self, started: float, *, ok: bool) -> None:
        if self.metrics is not None:
            self.metrics.lease_renewed(self.clock.now() - started, ok)

    def _lapse(self) -> None:
        self._valid_until = -math.inf
        self._act_from.clear()

    def _live(self, listed: Sequence[Obj], now: float) -> list[str]:
        live = {self.identity}
        names = set()
        for lease in listed:
            name = str(lease["metadata"].get("name") or "")
            spec: Mapping[str, Any] = lease.get("spec") or {}
            identity = str(spec.get("holderIdentity") or "")
            if name == self.name or not identity:
                continue
            names.add(name)
            version = objects.resource_version(lease)
            seen = self._seen.get(name)
            if seen is None or seen.version != version:
                inputs = str((lease["metadata"].get("annotations") or {}).get(INPUTS_ANNOTATION) or "")
                duration = float(spec.get("leaseDurationSeconds") or self.duration)
                self._seen[name] = seen = _Seen(identity, inputs, version, now, duration)
            if now - seen.since < seen.duration:
                live.add(identity)
        self._seen = {n: s for n, s in self._seen.items() if n in names}
        return sorted(live)

    async def _collect(self, now: float) -> None:
        """Delete the Leases of members dead for ``COLLECT_AFTER`` of their durations, each only while
        it still has the resourceVersion seen."""
        for name, seen in sorted(self._seen.items()):
            if now - seen.since < COLLECT_AFTER * seen.duration:
                continue
            try:
                deleted = await self.objects.delete(API_VERSION, "Lease", name, self.namespace,
                                                    propagation="Background", resource_version=seen.version)
            except GitopsdError as e:
                log.warning("membership.collect_failed", lease=name, error=str(e))
                return
            del self._seen[name]  # deleted, or renewed or deleted by someone else: read afresh
            if deleted:
                log.info("membership.collected", lease=name, member=seen.identity,
                         unchanged_seconds=round(now - seen.since, 1))
                if self.metrics is not None:
                    self.metrics.member_leases_collected(1)

    def _recompute(self, live: list[str], *, continuous: bool) -> None:
        now = self.clock.now()
        if self.agreed:
            new = assign(self.items(), live, epsilon=self.epsilon, pins=self.pins)
        else:
            new = assign(self.items(), live, epsilon=math.inf)
        old = self.assignment if continuous else {}
        gained: list[str] = []
        for item, member in sorted(new.items()):
            if member != self.identity:
                self._act_from.pop(item, None)
                continue
            if item in self._act_from:
                continue
            previous = old.get(item)
            contested = (previous in live and previous != self.identity) if continuous else len(live) > 1
            self._act_from[item] = now + (1.5 * self.renew if contested else 0.0)
            gained.append(item)
        if tuple(live) != self.members:
            log.info("membership.changed", members=live,
                     owned=sum(1 for m in new.values() if m == self.identity))
        lost = sorted(i for i, m in self.assignment.items() if m == self.identity and new.get(i) != m)
        if self.metrics is not None:
            self._count(self.assignment, new, lost, len(live))
        self.assignment, self.members = new, tuple(live)
        if gained and self.on_gained is not None:
            self.on_gained(gained)
        if lost and self.on_lost is not None:
            self.on_lost(lost)

    def _count(self, old: Mapping[str, str], new: Mapping[str, str], lost: list[str], live: int) -> None:
        """Members seen, instances owned, and instances whose owner changed to or from this member
        since the last recomputation (not those first seen, nor a lapsed right earned again)."""
        assert self.metrics is not None
        me = self.identity
        gained = [i for i, m in new.items() if m == me and old.get(i, me) != me and self.counted(i)]
        self.metrics.set_members(live, sum(1 for i, m in new.items() if m == me and self.counted(i)))
        self.metrics.handed_over("gained", len(gained))
        self.metrics.handed_over("lost", sum(1 for i in lost if i in new and self.counted(i)))

    async def _renew(self) -> bool:
        live = await self.objects.get(API_VERSION, "Lease", self.name, self.namespace)
        now = micro_time()
        spec: dict[str, Any] = dict((live or {}).get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = now
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=math.ceil(self.duration),
                    renewTime=now)
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace,
                                "labels": {MEMBER_LABEL: self.fleet},
                                "annotations": {INPUTS_ANNOTATION: self.inputs()}}
        body = {"apiVersion": API_VERSION, "kind": "Lease", "metadata": meta, "spec": spec}
        try:
            if live is None:
                await self._create(body)
            else:
                meta["resourceVersion"] = objects.resource_version(live)
                await self.objects.apply(body, force=True)
        except ApiError as e:
            if e.status != 409:
                raise
            return False  # written by someone else meanwhile: try again next round
        return True

    async def _create(self, body: dict[str, Any]) -> None:
        await create_in_namespace(self.objects, body, self.namespace)
