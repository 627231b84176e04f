"""Sync windows in the engine: asked before every automated sync and self-heal write.

The windows that apply to an application come from a ``WindowSource`` (the
composition root fills it, from projects; by default there are none). The
``WindowGate`` asks the pure rule (``core.policy.windows``) with the wall
clock: whether an automated sync or a self-heal write may run now, whether a
manual sync may, and when that changes. A refusal (``Closed``) carries the
condition the status board shows (naming the window and when syncs resume)
and how long to wait, so the daemon requeues the instance for the moment the
window opens instead of asking again and again. The gate also says which
windows are active, for the status rows and the
``gitopsd_sync_window_active`` gauge, which it refreshes at each opening and
closing. It decides nothing else: comparing, repairing and requeueing stay
with the reconciler, the drift controller and the daemon.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gitopsd.core.policy.windows import WindowTarget, WindowVerdict, evaluate, next_transition
from gitopsd.engine.clock import Clock
from gitopsd.engine.ports import MetricsPort
from gitopsd.engine.status import Condition
from gitopsd.model import AppInstance, ConditionReason, ConditionType, Fleet
from gitopsd.model.windows import SyncWindow, WindowKind

__all__ = ["Closed", "NoWindows", "WindowGate", "WindowSource", "WindowsByApp"]

MAX_SLEEP = 3600.0  # the gauge is refreshed at least this often (the wall clock may jump)
MARGIN = 1.0  # seconds past a window's edge before an instance is tried again


class WindowSource(Protocol):
    """The sync windows that may apply to an application (its project's windows)."""

    def windows(self, app: str) -> Sequence[SyncWindow]:
        """APP's candidate windows; their selectors still decide whether each applies."""
        ...


class NoWindows:
    """No application has sync windows."""

    def windows(self, app: str) -> Sequence[SyncWindow]:
        return ()


class WindowsByApp:
    """Windows per application name, from a plain mapping."""

    def __init__(self, by_app: Mapping[str, Sequence[SyncWindow]]) -> None:
        self._by_app = {app: tuple(ws) for app, ws in by_app.items()}

    @classmethod
    def of(cls, fleet: Fleet) -> WindowsByApp:
        """Each application of FLEET with the windows of its project."""
        return cls({a.name: p.sync_windows for a in fleet.applications
                    if (p := fleet.project(a.project)) is not None})

    def windows(self, app: str) -> Sequence[SyncWindow]:
        return self._by_app.get(app, ())


@dataclass(frozen=True)
class Closed:
    """A sync that may not run now: the condition to show, and how long until it may."""

    condition: Condition
    reopens_in: float | None  # seconds until automated syncs may run (None: no opening in sight)

    @property
    def message(self) -> str:
        return self.condition.message


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _names(windows: Iterable[SyncWindow]) -> str:
    return ", ".join(w.describe() for w in windows)


def _closed(verdict: WindowVerdict, now: dt.datetime, *, manual: bool) -> Closed:
    denies = [w for w in verdict.blocking if w.kind is WindowKind.DENY]
    what = "manual syncs" if manual else "automated syncs and self-heal"
    if denies:
        reason = ConditionReason.DENY_WINDOW_ACTIVE
        why = f"{what} are stopped by the active {_names(denies)}"
    else:
        reason = ConditionReason.OUTSIDE_ALLOW_WINDOWS
        why = f"{what} run only inside {_names(verdict.blocking)}, and none is active"
    if manual:
        why += " (manualSync is not set on every window stopping it)"
    at = verdict.changes_at
    resume = f"; automated syncs resume at {_stamp(at)}" if at is not None else \
        "; no opening in sight"
    wait = None if at is None else max((at - now).total_seconds(), 0.0) + MARGIN
    return Closed(Condition(ConditionType.SYNC_WINDOW_CLOSED, reason, why + resume), wait)


class WindowGate:
    """Asks the sync windows of each instance, on the wall clock WALL (seconds since the epoch)."""

    def __init__(self, source: WindowSource, *, wall: Callable[[], float]) -> None:
        self.source = source
        self.wall = wall

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.wall(), dt.UTC)

    def verdict(self, inst: AppInstance, at: dt.datetime | None = None) -> WindowVerdict:
        target = WindowTarget(inst.app, (inst.namespace,), (inst.cluster,))
        return evaluate(self.source.windows(inst.app), at or self.now(), target)

    def closed(self, inst: AppInstance, manual: bool = False) -> Closed | None:
        """None when a sync of INST (MANUAL or automated) may run now, else why not."""
        now = self.now()
        verdict = self.verdict(inst, now)
        if verdict.manual if manual else verdict.automated:
            return None
        return _closed(verdict, now, manual=manual)

    def row(self, inst: AppInstance) -> dict[str, Any] | None:
        """What the status row says of INST's windows (None when none applies)."""
        verdict = self.verdict(inst)
        if not verdict.applying:
            return None
        return {"automated": verdict.automated, "manual": verdict.manual,
                "changes_at": _stamp(verdict.changes_at) if verdict.changes_at else "",
                "active": [{"kind": w.kind.value, "schedule": str(w.schedule),
                            "duration": w.duration_text or f"{w.duration:g}s", "timeZone": w.time_zone,
                            "manualSync": w.manual_sync, "description": w.description}
                           for w in verdict.active]}

    def refresh(self, instances: Iterable[AppInstance], metrics: MetricsPort | None) -> float:
        """Set the active-window gauge of every application with windows; returns the seconds
        until the next window opens or closes (at most ``MAX_SLEEP``)."""
        now = self.now()
        active: dict[tuple[str, str], bool] = {}
        edges: list[dt.datetime] = []
        for inst in instances:
            verdict = self.verdict(inst, now)
            if not verdict.applying:
                continue
            for kind in WindowKind:
                seen = any(w.kind is kind for w in verdict.active)
                active[(inst.app, kind.value)] = active.get((inst.app, kind.value), False) or seen
            edge = next_transition(verdict.applying, now)
            if edge is not None:
                edges.append(edge)
        if metrics is not None:
            for (app, kind_word), on in sorted(active.items()):
                metrics.set_sync_window_active(app, kind_word, on)
        if not edges:
            return MAX_SLEEP
        return min(MAX_SLEEP, max((min(edges) - now).total_seconds(), 0.0) + MARGIN)

    async def refresh_forever(self, instances: Callable[[], Iterable[AppInstance]],
                              metrics: MetricsPort | None, clock: Clock) -> None:
        """Keep the gauge current: refresh at each opening and closing of a window."""
        while True:
            await clock.sleep(self.refresh(instances(), metrics))
