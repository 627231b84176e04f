"""What members of a shared fleet share out, pins from cluster labels, and the single-host fallback."""

from __future__ import annotations

from dataclasses import replace

from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.lease import Leases
from gitopsd.engine.writers import Writers, membership_for, pins_of, removals_item, shared_items
from gitopsd.model import AppInstance, Cluster, Fleet
from gitopsd.model import Settings as FleetSettings
from gitopsd.model.fleet import Coordination
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import fleet_on


def _fleet(pin_label: str = "") -> Fleet:
    base = fleet_on()
    src = base.applications[0].source
    return replace(base, clusters=(Cluster("alpha", "unused", labels={"gitopsd.io/host": "host-b"}),
                                   Cluster("beta", "unused")),
                   instances=(AppInstance("web", "alpha", src, "web"),
                              AppInstance("web", "beta", src, "web")),
                   settings=FleetSettings(coordination=Coordination("alpha", pin_label=pin_label)))


def test_every_instance_and_each_clusters_removal_sweep_is_shared_out() -> None:
    """The items are the instances and one removal sweep per cluster, each weighing 1."""
    assert shared_items(_fleet()) == {"web/alpha": 1.0, "web/beta": 1.0, removals_item("alpha"): 1.0,
                                      removals_item("beta"): 1.0}


def test_a_pin_label_pins_the_instances_and_sweep_of_its_cluster() -> None:
    """With pinLabel set, a labelled cluster's instances and sweep name the labelled host; others are free."""
    assert pins_of(_fleet("gitopsd.io/host")) == {"web/alpha": "host-b", "removals/alpha": "host-b"}
    assert pins_of(_fleet()) == {}


def test_without_coordination_writers_ask_the_cluster_lease() -> None:
    """A fleet without coordination has no membership, and writability is the cluster Lease's answer."""
    fleet = replace(fleet_on(), settings=FleetSettings())
    clock = VirtualClock()
    assert membership_for(fleet, {"alpha": FakeCluster()}, identity="h:/s", clock=clock) is None
    writers = Writers(Leases({}), None)
    assert writers.writable(fleet.instances[0])
    assert writers.members() == []
    assert writers.owner("web/alpha") == ""
