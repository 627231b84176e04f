"""Sync windows: may an application sync now, and when does that change.

Argo CD's rule, as its AppProjects apply it:

- a window applies to an application when one of its selectors matches
  (application name, destination namespace, destination cluster; globs), or
  every selector it gives when it says ``andOperator``; a window that selects
  nothing applies to nothing;
- a window is active from each start of its schedule (read in its time zone)
  for its duration;
- with no window applying, every sync may run;
- an active deny window stops syncs (deny wins over allow);
- else an active allow window lets them run;
- else, when allow windows apply but none is active, syncs are stopped;
- a manual sync stopped this way still runs when every window stopping it
  says ``manualSync``.

``evaluate`` answers for one instant and one target, and says when the answer
for automated syncs next changes, so that a caller can wait for exactly that
instant instead of asking again and again. The instant is an argument: this
module never reads a clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from gitopsd.core.policy.windowtime import last_start, next_start, open_until
from gitopsd.model.globs import glob_match
from gitopsd.model.windows import SyncWindow, WindowKind

__all__ = ["WindowTarget", "WindowVerdict", "applies", "evaluate", "is_active", "next_transition"]

HORIZON = dt.timedelta(days=366)  # how far ahead a change is looked for
_STEPS = 64  # window starts and ends looked at when looking for a change
MERGE_LIMIT = dt.timedelta(days=32)  # a window that keeps reopening for this long "stays open"


@dataclass(frozen=True)
class WindowTarget:
    """What windows select on: an application, where it deploys and to which cluster."""

    application: str
    namespaces: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()  # every name the destination cluster is known by


@dataclass(frozen=True)
class WindowVerdict:
    applying: tuple[SyncWindow, ...] = ()  # windows whose selectors match the target
    active: tuple[SyncWindow, ...] = ()  # of those, the ones active now
    automated: bool = True  # an automated sync (or a self-heal write) may run now
    manual: bool = True  # a manual sync may run now
    blocking: tuple[SyncWindow, ...] = ()  # what stops syncs: active deny windows, else inactive allows
    changes_at: dt.datetime | None = None  # when ``automated`` flips next (None: not within HORIZON)


def _any(patterns: Sequence[str], values: Sequence[str]) -> bool:
    return any(p == "*" or glob_match(p, v) for p in patterns for v in values if v)


def applies(window: SyncWindow, target: WindowTarget) -> bool:
    """Whether WINDOW's selectors select TARGET."""
    checks = [_any(patterns, values) for patterns, values in (
        (window.applications, (target.application,)), (window.clusters, target.clusters),
        (window.namespaces, target.namespaces)) if patterns]
    if not checks:
        return False
    return all(checks) if window.and_operator else any(checks)


def _zone(window: SyncWindow) -> ZoneInfo:
    return ZoneInfo(window.time_zone)


def is_active(window: SyncWindow, at: dt.datetime) -> bool:
    """Whether WINDOW is open at the instant AT (a start in (AT - duration, AT])."""
    length = dt.timedelta(seconds=window.duration)
    return last_start(window.schedule, _zone(window), at, at - length) is not None


def _edge(window: SyncWindow, at: dt.datetime, horizon: dt.datetime) -> dt.datetime | None:
    """The next instant after AT at which WINDOW opens or closes (None: none before HORIZON, or it
    keeps reopening before it closes for ``MERGE_LIMIT``)."""
    length = dt.timedelta(seconds=window.duration)
    zone = _zone(window)
    start = last_start(window.schedule, zone, at, at - length)
    if start is None:
        return next_start(window.schedule, zone, at, horizon)
    return open_until(window.schedule, zone, start, length, min(horizon, at + MERGE_LIMIT))


def _may_sync(active: Sequence[SyncWindow], applying: Sequence[SyncWindow],
              manual: bool) -> tuple[bool, tuple[SyncWindow, ...]]:
    denies = tuple(w for w in active if w.kind is WindowKind.DENY)
    if denies:
        return manual and all(w.manual_sync for w in denies), denies
    if any(w.kind is WindowKind.ALLOW for w in active):
        return True, ()
    closed = tuple(w for w in applying if w.kind is WindowKind.ALLOW)
    if closed:
        return manual and all(w.manual_sync for w in closed), closed
    return True, ()


def _state(applying: Sequence[SyncWindow], at: dt.datetime) -> tuple[tuple[SyncWindow, ...], bool]:
    active = tuple(w for w in applying if is_active(w, at))
    return active, _may_sync(active, applying, manual=False)[0]


def _next_change(applying: Sequence[SyncWindow], at: dt.datetime, now_allowed: bool) -> dt.datetime | None:
    """The first instant after AT at which automated syncs stop being (or start being) allowed."""
    horizon = at + HORIZON
    edges = {i: _edge(w, at, horizon) for i, w in enumerate(applying)}
    for _ in range(_STEPS):
        pending = [e for e in edges.values() if e is not None]
        if not pending:
            return None
        t = min(pending)
        if _state(applying, t)[1] != now_allowed:
            return t
        for i, w in enumerate(applying):
            if edges[i] == t:
                edges[i] = _edge(w, t, horizon)
    return None


def evaluate(windows: Sequence[SyncWindow], at: dt.datetime, target: WindowTarget) -> WindowVerdict:
    """What WINDOWS say of syncing TARGET at the instant AT (timezone-aware)."""
    applying = tuple(w for w in windows if applies(w, target))
    if not applying:
        return WindowVerdict()
    active, automated = _state(applying, at)
    _, blocking = _may_sync(active, applying, manual=False)
    manual, _ = _may_sync(active, applying, manual=True)
    return WindowVerdict(applying=applying, active=active, automated=automated, manual=manual,
                         blocking=blocking, changes_at=_next_change(applying, at, automated))


def next_transition(windows: Sequence[SyncWindow], at: dt.datetime) -> dt.datetime | None:
    """The first instant after AT at which one of WINDOWS opens or closes (None: not within HORIZON)."""
    moments = [_edge(w, at, at + HORIZON) for w in windows]
    later = [m for m in moments if m is not None]
    return min(later) if later else None
