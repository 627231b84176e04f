"""Which member of a shared fleet acts on which application instance.

Several daemons that share one fleet must agree on an owner for every
instance without talking to each other: each computes the same assignment
from the same inputs (the sorted set of live members, the instances and their
weights). Rendezvous hashing gives each (member, instance) pair a score; an
instance goes to the best-scoring member that still has room, where room is a
bound of ``ceil(average load * (1 + epsilon))`` (bounded loads), so no member
carries much more than its share while an instance moves only when its own
best members change. Weights are the managed-object counts when known (1
otherwise). A pin (an instance that names a member) wins while that member is
live.

This module only computes; it never learns who is live (the engine's
membership does) and keeps no state between calls.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping

DEFAULT_EPSILON = 0.25


def score(member: str, item: str) -> int:
    """The rendezvous score of ITEM on MEMBER: a stable 64-bit hash of both."""
    digest = hashlib.sha256(f"{member}\0{item}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def ranked(item: str, members: Iterable[str]) -> list[str]:
    """MEMBERS from best to worst for ITEM (ties, which need a hash collision, by name)."""
    return sorted(set(members), key=lambda m: (-score(m, item), m))


def owner(item: str, members: Iterable[str]) -> str | None:
    """The single best member for ITEM regardless of load (None without members)."""
    best = ranked(item, members)
    return best[0] if best else None


def matches(member: str, wanted: str) -> bool:
    """Whether MEMBER (an identity ``host:statedir``) is the one a pin names: the whole
    identity or its host part."""
    return member == wanted or member.partition(":")[0] == wanted


def capacity(total: float, members: int, epsilon: float) -> float:
    """The most a member may carry: the average load times (1 + EPSILON), rounded up."""
    if not members:
        return 0.0
    return math.inf if math.isinf(epsilon) else math.ceil(total / members * (1 + epsilon))


def assign(weights: Mapping[str, float], members: Iterable[str], *, epsilon: float = DEFAULT_EPSILON,
           pins: Mapping[str, str] | None = None) -> dict[str, str]:
    """Owner of every item of WEIGHTS among MEMBERS; empty when there are no members.

    Pinned items go first to a live member the pin names; the others, heaviest
    first (then in a hash order independent of their names), to their best
    member with room for them, or the least loaded member when none has room
    (an item heavier than the bound).
    """
    live = sorted(set(members))
    if not live:
        return {}
    pins = pins or {}
    load = dict.fromkeys(live, 0.0)
    out: dict[str, str] = {}
    for item, wanted in sorted(pins.items()):
        chosen = next((m for m in ranked(item, live) if matches(m, wanted)), None)
        if item in weights and chosen is not None:
            out[item] = chosen
            load[chosen] += _weight(weights[item])
    bound = capacity(sum(_weight(w) for w in weights.values()), len(live), epsilon)
    rest = sorted((i for i in weights if i not in out), key=lambda i: (-_weight(weights[i]), score("", i), i))
    for item in rest:
        w = _weight(weights[item])
        order = ranked(item, live)
        chosen = next((m for m in order if load[m] + w <= bound), None)
        if chosen is None:
            chosen = min(order, key=lambda m: load[m])
        out[item] = chosen
        load[chosen] += w
    return out


def loads(assignment: Mapping[str, str], weights: Mapping[str, float]) -> dict[str, float]:
    """Total weight each member of ASSIGNMENT carries."""
    out: dict[str, float] = {}
    for item, member in assignment.items():
        out[member] = out.get(member, 0.0) + _weight(weights.get(item, 1))
    return out


def _weight(w: float) -> float:
    return w if w > 0 else 1.0
