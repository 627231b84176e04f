"""Delay sequences as values: sync retries and self-heal of objects that keep drifting.

The engine decides when to wait and reads the clock; this module only says how
long. Randomness (jitter) and times arrive as arguments, so every delay can be
checked in a test without sleeping. Argo CD's shapes are kept so that users'
settings mean the same here: retry waits ``duration * factor**attempt`` capped
at ``max_duration``; self-heal repairs the first drift at once, then waits
2 s, 6 s, 18 s ... up to 300 s while another writer keeps undoing each repair
within moments (a fight). An edit that comes later than that is a new edit,
repaired at once, however many came before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gitopsd.model.fleet import Backoff, Retry


def retry_delay(attempt: int, backoff: Backoff, *, jitter: float = 0.0,
                rand: float = 0.0) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0).

    The base delay is ``duration * factor**attempt`` capped at ``max_duration``.
    Jitter spreads retries of many applications: a fraction ``jitter`` in [0, 1]
    of the delay is taken off in proportion to ``rand`` in [0, 1), which the
    caller draws. Jitter only ever shortens the wait, so ``max_duration`` stays
    a hard cap and, for a fixed ``rand``, delays never decrease with the attempt.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter must be in [0, 1], got {jitter}")
    if not 0.0 <= rand < 1.0:
        raise ValueError(f"rand must be in [0, 1), got {rand}")
    return _capped(backoff.duration, backoff.factor, attempt,
                   backoff.max_duration) * (1.0 - jitter * rand)


def retries_exhausted(attempt: int, retry: Retry) -> bool:
    """True when ``attempt`` retries already made use up ``retry.limit`` (< 0: never)."""
    return retry.limit >= 0 and attempt >= retry.limit


def _capped(duration: float, factor: float, exponent: int, cap: float) -> float:
    try:
        return min(duration * factor ** exponent, cap)
    except OverflowError:
        return cap


@dataclass(frozen=True)
class SelfHealDecision:
    """When to repair an object's drift next, and whether someone is fighting us.

    ``delay`` is seconds from now (0: repair at once); ``streak`` counts the
    repairs that belong to the current run of drift; ``fighting`` is True when
    that run is long enough to suggest another controller changes the object.
    """

    delay: float
    streak: int
    fighting: bool


@dataclass(frozen=True)
class SelfHealBackoff:
    """How often gitopsd repairs an object that keeps drifting.

    A streak is the recent repairs whose gaps (and the time since the last)
    are all shorter than ``quiet_window``; a longer quiet period resets it. The
    first repair of a streak is immediate; after ``n`` repairs the next waits
    ``duration * factor**(n-1)`` seconds from the last one, capped at
    ``max_duration``. ``quiet_window`` should exceed ``max_duration``, or a
    streak ends before its delays reach the cap.

    Only repairs that were undone count: drift seen more than ``fight_window``
    seconds after the last repair landed is someone's new edit, not a fight
    (``undoes``), and starts from an empty streak.
    """

    duration: float = 2.0
    factor: float = 3.0
    max_duration: float = 300.0
    quiet_window: float = 600.0
    fight_threshold: int = 3
    fight_window: float = 1.0

    def undoes(self, repaired: float | None, now: float) -> bool:
        """True when drift seen at ``now`` undoes the repair that landed at ``repaired`` (None:
        no repair yet), i.e. came within ``fight_window`` seconds of it."""
        return repaired is not None and 0.0 <= now - repaired <= self.fight_window

    def next_repair(self, repairs: Sequence[float], now: float) -> SelfHealDecision:
        """Decide for an object whose past repairs happened at ``repairs`` (seconds).

        Times may come in any order; times after ``now`` are treated as ``now``.
        """
        times = sorted(min(t, now) for t in repairs)
        streak = 0
        later = now
        for t in reversed(times):
            if later - t >= self.quiet_window:
                break
            streak += 1
            later = t
        if streak == 0:
            return SelfHealDecision(0.0, 0, fighting=False)
        wait = _capped(self.duration, self.factor, streak - 1, self.max_duration)
        delay = max(0.0, wait - (now - times[-1]))
        return SelfHealDecision(delay, streak, fighting=streak >= self.fight_threshold)
