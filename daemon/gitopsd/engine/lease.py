"""One writer per fleet and cluster: a Lease that a daemon holds before it writes there.

Two daemons started on the same fleet (a second host, a forgotten test run)
would otherwise fight: one behind on Git prunes what the other just applied.
Before it writes to a cluster, a daemon must hold the ``coordination.k8s.io``
Lease ``gitopsd-<fleet>`` in the inventory namespace. It renews it every
``renew`` seconds; once a renewal fails or is overdue, no new write starts: a
pass checks before it starts and before each wave, a self-heal repair right
before its write, a removal sweep before it starts (a wave already sent is
not called back).
Another daemon's Lease is taken over only once it has not changed for
``duration`` seconds by this daemon's own clock (a changing resourceVersion is
a live holder), so clocks of different hosts are never compared, as in
client-go's leader election. Every write of the Lease is conditional on the
resourceVersion that was read, so two candidates never both win. On a clean
stop the holder gives the Lease up, and the other daemon takes it at once.
Whoever gains the Lease (at first, after a lapse, or from another daemon) is
told through ``on_acquired``: what happened on the cluster while it could not
write (drift it saw and left alone, a cluster restored empty) is its to
reconcile now.

This module decides who may write, never what is written: the daemon, the
executor, the repairer and the removal sweeps ask ``Leases.writable``.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from gitopsd.engine.clock import Clock
from gitopsd.engine.ports import ClusterPort, Obj
from gitopsd.errors import ApiError, GitopsdError
from gitopsd.model import objects

log = structlog.get_logger("gitopsd.lease")
API_VERSION = "coordination.k8s.io/v1"


@dataclass
class _Seen:
    holder: str
    version: str
    since: float  # this daemon's clock when the Lease was first seen at VERSION


def micro_time() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def create_in_namespace(cluster: ClusterPort, body: Obj, namespace: str) -> None:
    """Create BODY in NAMESPACE, creating the namespace first when it is missing (a cluster
    restored empty has none)."""
    try:
        await cluster.create(body)
    except ApiError as e:
        if e.status != 404:
            raise
        await cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        await cluster.create(body)


class ClusterLease:
    def __init__(self, objects_: ClusterPort, *, cluster: str, fleet: str, namespace: str, identity: str,
                 clock: Clock, duration: float = 15.0, renew: float = 5.0) -> None:
        self.objects = objects_
        self.cluster = cluster
        self.name = f"gitopsd-{fleet}"
        self.namespace = namespace
        self.identity = identity
        self.clock = clock
        self.duration = duration
        self.renew = renew
        self.holder = ""  # who holds it as last seen ("" when nobody or unknown)
        self.on_acquired: Callable[[], None] | None = None  # called each time it is (re)gained
        self._valid_until = float("-inf")
        self._seen: _Seen | None = None

    def held(self) -> bool:
        return self.clock.now() < self._valid_until

    async def run(self) -> None:
        """Acquire and renew for as long as the task runs."""
        while True:
            try:
                await self.step()
            except GitopsdError as e:  # an unreachable cluster: the Lease lapses on its own
                log.warning("lease.error", cluster=self.cluster, error=str(e))
            await self.clock.sleep(self.renew)

    async def step(self) -> bool:
        """Try once to acquire or renew; True when this daemon holds the Lease afterwards."""
        started = self.clock.now()
        live = await self.objects.get(API_VERSION, "Lease", self.name, self.namespace)
        if live is None:
            return await self._write(self._body(None, transitions=0), started, create=True)
        spec: Mapping[str, Any] = live.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        version = objects.resource_version(live)
        self.holder = holder
        if holder and holder != self.identity:
            self._valid_until = float("-inf")
            if self._seen is None or (self._seen.holder, self._seen.version) != (holder, version):
                self._seen = _Seen(holder, version, started)
                return False
            if started - self._seen.since < self.duration:
                return False
            log.warning("lease.takeover", cluster=self.cluster, previous=holder)
        transitions = int(spec.get("leaseTransitions") or 0) + (holder != self.identity)
        return await self._write(self._body(live, transitions=transitions), started, create=False)

    async def release(self) -> None:
        """Give the Lease up (when held), so another daemon need not wait for it to lapse."""
        if not self.held():
            return
        self._valid_until = float("-inf")
        try:
            live = await self.objects.get(API_VERSION, "Lease", self.name, self.namespace)
            spec = (live or {}).get("spec") or {}
            if live is not None and spec.get("holderIdentity") == self.identity:
                body = self._body(live, transitions=int(spec.get("leaseTransitions") or 0))
                body["spec"]["holderIdentity"] = ""
                await self.objects.apply(body, force=True)
        except GitopsdError as e:
            log.warning("lease.release_failed", cluster=self.cluster, error=str(e))

    def _body(self, live: Obj | None, *, transitions: int) -> dict[str, Any]:
        now = micro_time()
        spec = dict((live or {}).get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = now
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=int(self.duration),
                    renewTime=now, leaseTransitions=transitions)
        meta: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if live is not None:
            meta["resourceVersion"] = objects.resource_version(live)
        return {"apiVersion": API_VERSION, "kind": "Lease", "metadata": meta, "spec": spec}

    async def _write(self, body: dict[str, Any], started: float, *, create: bool) -> bool:
        try:
            if create:
                await self._create(body)
            else:
                await self.objects.apply(body, force=True)
        except ApiError as e:
            if e.status != 409:
                raise
            self._valid_until = float("-inf")  # someone else wrote it first
            return False
        gained = not self.held()
        self.holder, self._seen = self.identity, None
        self._valid_until = started + self.duration
        if gained:
            log.info("lease.acquired", cluster=self.cluster, lease=f"{self.namespace}/{self.name}")
            if self.on_acquired is not None:
                self.on_acquired()
        return True

    async def _create(self, body: dict[str, Any]) -> None:
        await create_in_namespace(self.objects, body, self.namespace)


class Leases:
    """The Lease of every cluster of the fleet, by cluster name."""

    def __init__(self, leases: Mapping[str, ClusterLease]) -> None:
        self.by_cluster = dict(leases)

    def writable(self, cluster: str) -> bool:
        lease = self.by_cluster.get(cluster)
        return lease is None or lease.held()

    def lapsed(self, cluster: str) -> bool:
        """True while this daemon cannot write to CLUSTER although no other daemon holds its
        Lease (renewals failed: the cluster was away): it writes there again once it is back."""
        lease = self.by_cluster.get(cluster)
        return lease is not None and not lease.held() and lease.holder in ("", lease.identity)

    def holder(self, cluster: str) -> str:
        lease = self.by_cluster.get(cluster)
        return lease.holder if lease is not None else ""

    async def acquire(self, timeout: float) -> None:
        """One attempt on every cluster at once, for at most TIMEOUT seconds (an unreachable
        cluster must not hold up the others)."""
        async def one(lease: ClusterLease) -> None:
            try:
                await asyncio.wait_for(lease.step(), timeout)
            except (GitopsdError, TimeoutError) as e:
                log.warning("lease.error", cluster=lease.cluster, error=str(e) or type(e).__name__)
        await asyncio.gather(*(one(lease) for lease in self.by_cluster.values()))

    async def release(self) -> None:
        await asyncio.gather(*(lease.release() for lease in self.by_cluster.values()))
