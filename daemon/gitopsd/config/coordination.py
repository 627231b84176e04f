"""``settings.coordination`` to a ``Coordination`` value: several daemons sharing one fleet.

```yaml
settings:
  coordination:
    cluster: hub                # one of the fleet's clusters; member Leases live there
    namespace: gitopsd-system   # where the member Leases are kept
    leaseDuration: 12s          # a member Lease unchanged this long is dead
    renewInterval: 3s           # at most a quarter of leaseDuration
    pinLabel: gitopsd.io/host   # optional: a cluster label naming the host that owns its instances
    epsilon: 0.25               # optional: load bound, ceil(average * (1 + epsilon))
```

Every problem is reported with the file, line and field it is at. This module
reads YAML nodes only: who is a member and who owns what is the engine's and
``core.shards``' business.
"""

from __future__ import annotations

from collections.abc import Collection

from yaml.nodes import MappingNode, Node, ScalarNode

from gitopsd.config.reader import Reader
from gitopsd.config.rules import check_namespace
from gitopsd.model.fleet import Coordination

__all__ = ["COORDINATION_FIELDS", "check_coordination_cluster", "parse_coordination"]

COORDINATION_FIELDS = ("cluster", "namespace", "leaseDuration", "renewInterval", "pinLabel", "epsilon")
PATH = "settings.coordination"


def parse_coordination(r: Reader, node: Node) -> Coordination | None:
    f = r.mapping(node, PATH, COORDINATION_FIELDS, required=("cluster",))
    if f is None or "cluster" not in f:
        return None
    cluster = r.string(f["cluster"], f"{PATH}.cluster")
    if cluster is None:
        return None
    base = Coordination(cluster=cluster)
    namespace = base.namespace
    if "namespace" in f:
        namespace = r.string(f["namespace"], f"{PATH}.namespace") or namespace
        if reason := check_namespace(namespace):
            r.issue(f["namespace"], f"{PATH}.namespace", reason)
    duration, renew = base.lease_duration, base.renew_interval
    if "leaseDuration" in f:
        got = r.duration(f["leaseDuration"], f"{PATH}.leaseDuration")
        duration = duration if got is None else got
    if "renewInterval" in f:
        got = r.duration(f["renewInterval"], f"{PATH}.renewInterval")
        renew = renew if got is None else got
    if renew <= 0 or renew * 4 > duration:
        r.issue(f.get("renewInterval") or f.get("leaseDuration") or node, f"{PATH}.renewInterval",
                f"must be more than 0 and at most a quarter of leaseDuration ({duration:g}s): "
                "a member acts only until leaseDuration - 2 * renewInterval after its last renewal")
    pin = ""
    if "pinLabel" in f:
        pin = r.string(f["pinLabel"], f"{PATH}.pinLabel") or ""
    epsilon = base.epsilon
    if "epsilon" in f:
        got_eps = r.number(f["epsilon"], f"{PATH}.epsilon", minimum=0.0, maximum=10.0)
        epsilon = epsilon if got_eps is None else got_eps
    return Coordination(cluster=cluster, namespace=namespace, lease_duration=duration,
                        renew_interval=renew, pin_label=pin, epsilon=epsilon)


def check_coordination_cluster(r: Reader, settings_node: Node | None, coordination: Coordination | None,
                               clusters: Collection[str]) -> None:
    """The coordination cluster must be one of the fleet's clusters."""
    if coordination is None or settings_node is None or coordination.cluster in clusters:
        return
    node = _field(_field(settings_node, "coordination"), "cluster")
    r.issue(node, f"{PATH}.cluster", f"names no cluster of this fleet: {coordination.cluster!r}")


def _field(node: Node | None, name: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    found = [v for k, v in node.value if isinstance(k, ScalarNode) and k.value == name]
    return found[-1] if found else None
