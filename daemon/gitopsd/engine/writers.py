"""May this daemon write for an instance now? The one question every write path asks.

Alone on a fleet, a daemon writes to a cluster while it holds the cluster's
Lease (``engine.lease``). Sharing a fleet (``settings.coordination``), it
writes for an instance while ``engine.membership`` says it acts on it; the
removal sweep of a cluster (applications that left the fleet) is an item of
its own, ``removals/<cluster>``, owned like an instance. The executor (before
each wave), the repairer (right before its write), the removal sweeps (before
they start) and the daemon (before a pass) all ask here.

This module only combines the two answers; it never writes a Lease.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import structlog

from gitopsd.engine.clock import Clock
from gitopsd.engine.lease import Leases
from gitopsd.engine.membership import Membership
from gitopsd.engine.ports import ClusterPort, MetricsPort
from gitopsd.engine.supervisor import Supervisor
from gitopsd.errors import GitopsdError
from gitopsd.model import AppInstance, Fleet

log = structlog.get_logger("gitopsd.membership")


def removals_item(cluster: str) -> str:
    return f"removals/{cluster}"


def shared_items(fleet: Fleet) -> dict[str, float]:
    """What the members share out: every instance and each cluster's removal sweep, weight 1 each
    (a count only one member knows would make the members disagree)."""
    items: dict[str, float] = {i.key: 1.0 for i in fleet.instances}
    items.update({removals_item(c.name): 1.0 for c in fleet.clusters})
    return items


def pins_of(fleet: Fleet) -> dict[str, str]:
    """Instance -> member named by its cluster's pin label (``coordination.pinLabel``)."""
    coordination = fleet.settings.coordination
    if coordination is None or not coordination.pin_label:
        return {}
    label = coordination.pin_label
    wanted = {c.name: c.labels[label] for c in fleet.clusters if c.labels.get(label)}
    pins = {i.key: wanted[i.cluster] for i in fleet.instances if i.cluster in wanted}
    pins.update({removals_item(c): m for c, m in wanted.items()})
    return pins


def membership_for(fleet: Fleet, clusters: Mapping[str, ClusterPort], *, identity: str,
                   clock: Clock, metrics: MetricsPort | None = None) -> Membership | None:
    """The membership of this daemon when the fleet is shared, else None (the loader has checked
    that the coordination cluster is one of the fleet's)."""
    coordination = fleet.settings.coordination
    if coordination is None or coordination.cluster not in clusters:
        return None
    items = shared_items(fleet)
    return Membership(clusters[coordination.cluster], fleet=fleet.name, namespace=coordination.namespace,
                      identity=identity, clock=clock, items=lambda: items,
                      duration=coordination.lease_duration, renew=coordination.renew_interval,
                      epsilon=coordination.epsilon, pins=pins_of(fleet), metrics=metrics,
                      counted=lambda item: not item.startswith(removals_item("")))


async def join(membership: Membership, supervisor: Supervisor,
               on_gained: Callable[[list[str]], None], on_lost: Callable[[list[str]], None]) -> None:
    """One attempt to join at once (bounded by a renewal interval), then renew for as long as
    the daemon runs."""
    try:
        await asyncio.wait_for(membership.step(), membership.renew)
    except (GitopsdError, TimeoutError) as e:
        log.warning("membership.error", error=str(e) or type(e).__name__)
    membership.on_gained, membership.on_lost = on_gained, on_lost
    supervisor.spawn("membership", membership.run)


class Writers:
    def __init__(self, leases: Leases, membership: Membership | None) -> None:
        self.leases = leases
        self.membership = membership

    def writable(self, inst: AppInstance) -> bool:
        if self.membership is not None:
            return self.membership.acts_on(inst.key)
        return self.leases.writable(inst.cluster)

    def lapsed(self, inst: AppInstance) -> bool:
        """True while this daemon may not write for INST although it is the one to (its own Lease
        is not fresh, or it waits for a previous owner to let go): it repairs once it may."""
        m = self.membership
        if m is not None:
            return m.owner(inst.key) == m.identity and not m.acts_on(inst.key)
        return self.leases.lapsed(inst.cluster)

    def sweeps(self, cluster: str) -> bool:
        """Whether this daemon may remove the applications that left the fleet on CLUSTER."""
        if self.membership is not None:
            return self.membership.acts_on(removals_item(cluster))
        return self.leases.writable(cluster)

    def elsewhere(self, inst: AppInstance, fleet: str, *, lease_renew: float,
                  resync: float) -> tuple[str, float]:
        """Why this daemon writes nothing for INST now, and when to ask again. Sharing a fleet, an
        instance another member owns comes back when this member gains it (``on_gained``), so it
        is asked again only at the resync; one this member owns but may not act on yet (its
        Lease lapsed, or the previous owner may still act) is asked again soon."""
        m = self.membership
        if m is None:
            holder = self.leases.holder(inst.cluster) or "another daemon"
            return (f"{holder} holds the Lease of fleet {fleet} on cluster {inst.cluster}; "
                    "this daemon writes nothing there until it lapses", lease_renew)
        owner = m.owner(inst.key)
        if owner == m.identity:
            return (f"this daemon owns the instance among the daemons sharing fleet {fleet} and acts "
                    "once its member Lease is fresh and the previous owner has let go", m.renew / 2)
        return (f"{owner or 'another daemon'} owns this instance among the daemons sharing fleet "
                f"{fleet}; this daemon writes nothing for it while that member lives", resync)

    def members(self) -> list[dict[str, object]]:
        """One row per live member as this daemon last saw them (none when the fleet is not shared);
        this daemon's own row says whether its right to act is fresh (``valid``) and whether all
        members share out the same items (``agreed``)."""
        m = self.membership
        if m is None:
            return []
        owned = {member: 0 for member in m.members}
        for item, member in m.assignment.items():
            if not item.startswith(removals_item("")) and member in owned:
                owned[member] += 1
        return [{"identity": member, "self": member == m.identity, "instances": n,
                 **({"valid": m.valid(), "agreed": m.agreed} if member == m.identity else {})}
                for member, n in owned.items()]

    def owned_elsewhere(self, keys: list[str]) -> dict[str, str]:
        """Those of KEYS another member owns, with their owners (none when the fleet is not shared)."""
        m = self.membership
        if m is None:
            return {}
        return {k: o for k in keys if (o := m.owner(k)) and o != m.identity}

    def owner(self, key: str) -> str:
        """The member that owns instance KEY ("" when the fleet is not shared)."""
        return self.membership.owner(key) if self.membership is not None else ""
