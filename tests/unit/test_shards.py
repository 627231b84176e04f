"""Assignment of application instances to the members of a shared fleet."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from gitopsd.core.shards import assign, capacity, loads, matches, owner, ranked

members_st = st.lists(st.sampled_from([f"host-{i}:/var/lib/gitopsd" for i in range(12)]),
                      min_size=1, max_size=8, unique=True)


def _items(n: int) -> dict[str, float]:
    return {f"app-{i}/cluster-{i % 7}": 1 for i in range(n)}


@given(members_st, st.integers(0, 300), st.sampled_from([0.0, 0.1, 0.25, 1.0]))
def test_no_member_carries_more_than_the_bound(members: list[str], n: int, epsilon: float) -> None:
    """With unit weights every member's load stays within ceil(average * (1 + epsilon))."""
    weights = _items(n)
    got = assign(weights, members, epsilon=epsilon)
    assert set(got) == set(weights)
    assert set(got.values()) <= set(members)
    bound = capacity(n, len(members), epsilon)
    assert all(load <= bound for load in loads(got, weights).values())


@given(members_st, st.integers(0, 100), st.randoms(use_true_random=False))
def test_every_member_computes_the_same_assignment(members: list[str], n: int, rnd: object) -> None:
    """The assignment depends on the member set, never on the order members are listed in."""
    shuffled = list(members)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    weights = _items(n)
    assert assign(weights, members) == assign(weights, shuffled)


@given(st.lists(st.sampled_from([f"h{i}:/s" for i in range(12)]), min_size=2, max_size=8, unique=True),
       st.integers(1, 200), st.data())
def test_without_a_bound_only_the_leaving_members_instances_move(members: list[str], n: int,
                                                                  data: st.DataObject) -> None:
    """Plain rendezvous (no load bound): when a member leaves, exactly its own instances move."""
    gone = data.draw(st.sampled_from(members))
    weights = _items(n)
    before = assign(weights, members, epsilon=math.inf)
    after = assign(weights, [m for m in members if m != gone], epsilon=math.inf)
    assert {k for k in weights if before[k] != after[k]} == {k for k in weights if before[k] == gone}


@given(st.lists(st.sampled_from([f"h{i}:/s" for i in range(12)]), min_size=2, max_size=8, unique=True),
       st.data())
def test_with_the_bound_movement_on_join_and_leave_stays_near_one_share(members: list[str],
                                                                        data: st.DataObject) -> None:
    """With the load bound, a join or a leave moves at most three shares of instances."""
    n = data.draw(st.integers(10 * len(members) + 10, 400))
    weights = _items(n)
    gone = data.draw(st.sampled_from(members))
    smaller = [m for m in members if m != gone]
    before, after = assign(weights, members), assign(weights, smaller)
    moved = sum(before[k] != after[k] for k in weights)
    assert moved <= 3 * math.ceil(n / len(smaller))
    joined = assign(weights, [*members, "newcomer:/s"])
    moved = sum(before[k] != joined[k] for k in weights)
    assert moved <= 3 * math.ceil(n / (len(members) + 1))
    assert sum(v == "newcomer:/s" for v in joined.values()) > 0


def test_heavy_instances_are_spread_by_weight() -> None:
    """Weights count: two heavy instances never share a member while lighter ones fill the rest."""
    weights = {"big-1/a": 50.0, "big-2/a": 50.0, **{f"small-{i}/a": 1.0 for i in range(20)}}
    got = assign(weights, ["m1:/s", "m2:/s"], epsilon=0.1)
    assert got["big-1/a"] != got["big-2/a"]
    assert max(loads(got, weights).values()) <= capacity(120, 2, 0.1)


def test_a_pin_wins_while_its_member_lives() -> None:
    """A pinned instance goes to the member its pin names (by host), and falls back when it is gone."""
    weights = _items(30)
    item = "app-3/cluster-3"
    natural = assign(weights, ["a:/s", "b:/s", "c:/s"])[item]
    wanted = next(m for m in ["a", "b", "c"] if f"{m}:/s" != natural)
    pinned = assign(weights, ["a:/s", "b:/s", "c:/s"], pins={item: wanted})
    assert pinned[item] == f"{wanted}:/s"
    fallback = assign(weights, [m for m in ["a:/s", "b:/s", "c:/s"] if m != f"{wanted}:/s"],
                      pins={item: wanted})
    assert fallback[item] != f"{wanted}:/s"


def test_helpers_agree_with_the_assignment() -> None:
    """The best member of an item is first in its ranking; no members means no owner."""
    assert owner("x", ["a", "b", "c"]) == ranked("x", ["c", "b", "a"])[0]
    assert owner("x", []) is None
    assert assign({"x": 1}, []) == {}
    assert matches("host:/s", "host")
    assert matches("host:/s", "host:/s")
    assert not matches("host:/s", "hos")
