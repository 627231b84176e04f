"""Retry and self-heal delays: Argo CD's shapes, caps, jitter and drift fights."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitopsd.core.backoff import (
    SelfHealBackoff,
    SelfHealDecision,
    retries_exhausted,
    retry_delay,
)
from gitopsd.model import Backoff, Retry

ARGO_DEFAULT = Backoff(duration=5.0, factor=2.0, max_duration=180.0)


def test_retry_delays_follow_argo_defaults() -> None:
    """With 5 s / 2 / 3 min the waits double from 5 s and stop at 180 s."""
    assert [retry_delay(n, ARGO_DEFAULT) for n in range(8)] == [
        5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 180.0, 180.0]


def test_retry_delay_survives_huge_attempts() -> None:
    """An attempt count whose power overflows a float still yields the cap."""
    assert retry_delay(10_000, ARGO_DEFAULT) == 180.0


@pytest.mark.parametrize(("jitter", "rand", "expected"), [
    (0.0, 0.9, 40.0),
    (0.5, 0.0, 40.0),
    (0.5, 0.5, 30.0),
    (0.25, 0.5, 35.0),
    (1.0, 0.75, 10.0),
])
def test_jitter_only_shortens(jitter: float, rand: float, expected: float) -> None:
    """Jitter takes up to its fraction off the delay, in proportion to the caller's random draw."""
    assert retry_delay(3, ARGO_DEFAULT, jitter=jitter, rand=rand) == pytest.approx(expected)


@pytest.mark.parametrize(("attempt", "jitter", "rand"), [(-1, 0.0, 0.0), (0, 1.5, 0.0),
                                                         (0, -0.1, 0.0), (0, 0.5, 1.0),
                                                         (0, 0.5, -0.2)])
def test_retry_delay_rejects_bad_arguments(attempt: int, jitter: float, rand: float) -> None:
    """A negative attempt, jitter outside [0, 1] or rand outside [0, 1) is a programming error."""
    with pytest.raises(ValueError, match="must be"):
        retry_delay(attempt, ARGO_DEFAULT, jitter=jitter, rand=rand)


@pytest.mark.parametrize(("attempt", "limit", "exhausted"), [
    (0, 0, True), (0, 1, False), (4, 5, False), (5, 5, True), (6, 5, True),
    (0, -1, False), (1_000_000, -1, False),
])
def test_retries_exhausted(attempt: int, limit: int, exhausted: bool) -> None:
    """Retries stop once ``limit`` retries were made; a negative limit never stops them."""
    assert retries_exhausted(attempt, Retry(limit=limit)) is exhausted


backoffs = st.builds(Backoff,
                     duration=st.floats(0.01, 60.0),
                     factor=st.floats(1.0, 10.0),
                     max_duration=st.floats(0.01, 3600.0))


@given(backoffs, st.integers(0, 2000), st.floats(0.0, 1.0),
       st.floats(0.0, 1.0, exclude_max=True))
def test_retry_delay_is_monotonic_and_capped(backoff: Backoff, attempt: int, jitter: float,
                                             rand: float) -> None:
    """For one random draw the delay never decreases with attempts and never exceeds the cap."""
    here = retry_delay(attempt, backoff, jitter=jitter, rand=rand)
    following = retry_delay(attempt + 1, backoff, jitter=jitter, rand=rand)
    assert 0.0 <= here <= following <= backoff.max_duration
    assert here >= retry_delay(attempt, backoff) * (1.0 - jitter) - 1e-9


HEAL = SelfHealBackoff()


@pytest.mark.parametrize(("repairs", "now", "expected"), [
    ((), 100.0, SelfHealDecision(0.0, 0, fighting=False)),
    ((100.0,), 100.0, SelfHealDecision(2.0, 1, fighting=False)),
    ((100.0,), 101.5, SelfHealDecision(0.5, 1, fighting=False)),
    ((100.0,), 150.0, SelfHealDecision(0.0, 1, fighting=False)),
    ((100.0, 102.0), 102.0, SelfHealDecision(6.0, 2, fighting=False)),
    ((100.0, 102.0, 108.0), 108.0, SelfHealDecision(18.0, 3, fighting=True)),
    ((108.0, 100.0, 102.0), 110.0, SelfHealDecision(16.0, 3, fighting=True)),
    ((0.0, 2.0, 8.0, 26.0, 80.0, 242.0), 242.0, SelfHealDecision(300.0, 6, fighting=True)),
    ((100.0, 102.0, 108.0), 708.0, SelfHealDecision(0.0, 0, fighting=False)),
    ((100.0, 900.0), 900.0, SelfHealDecision(2.0, 1, fighting=False)),
    ((100.0,), 50.0, SelfHealDecision(2.0, 1, fighting=False)),
])
def test_self_heal_delays(repairs: tuple[float, ...], now: float,
                          expected: SelfHealDecision) -> None:
    """The first repair is immediate, then 2 s, 6 s, 18 s ... capped at 300 s, reset by quiet."""
    assert HEAL.next_repair(repairs, now) == expected


def test_self_heal_fight_threshold_is_configurable() -> None:
    """A stricter threshold calls two quick repairs a fight."""
    strict = SelfHealBackoff(fight_threshold=2)
    assert strict.next_repair([10.0, 12.0], 12.0).fighting
    assert not strict.next_repair([10.0], 12.0).fighting


@given(st.lists(st.floats(0.0, 10_000.0), max_size=30), st.floats(0.0, 12_000.0))
def test_self_heal_delay_is_bounded(repairs: list[float], now: float) -> None:
    """The delay stays within [0, max_duration] and the streak never counts more than the repairs."""
    decision = HEAL.next_repair(repairs, now)
    assert 0.0 <= decision.delay <= HEAL.max_duration
    assert 0 <= decision.streak <= len(repairs)
    assert decision.fighting == (decision.streak >= HEAL.fight_threshold)
    if decision.streak == 0:
        assert decision.delay == 0.0


@given(st.integers(1, 12))
def test_self_heal_waits_grow_until_the_cap(streak: int) -> None:
    """Repairing exactly when allowed makes each wait at least the previous one, up to the cap."""
    times: list[float] = []
    now = 0.0
    waits = []
    for _ in range(streak):
        decision = HEAL.next_repair(times, now)
        waits.append(decision.delay)
        now += decision.delay
        times.append(now)
    assert waits[0] == 0.0
    assert waits == sorted(waits)
    assert max(waits) <= HEAL.max_duration


@pytest.mark.parametrize(("repaired", "now", "undone"), [
    (None, 5.0, False),
    (100.0, 100.05, True),
    (100.0, 101.0, True),
    (100.0, 101.5, False),
    (100.0, 103.0, False),
])
def test_only_drift_within_moments_of_a_repair_undoes_it(repaired: float | None, now: float,
                                                          undone: bool) -> None:
    """Drift right after a repair landed is a fight; drift seconds later is a new edit."""
    assert HEAL.undoes(repaired, now) is undone
