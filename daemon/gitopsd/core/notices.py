"""Which notices a pass raises, which of them go out, to whom, and in what words.

Pure rules for notifications: ``raised`` names the triggers of one finished
pass or status change, ``NoticeGate`` keeps each (instance, trigger, revision)
to one notice, holds back identical notices within the rate limit, remembers
open problems (to resolve them, and to remind while they last), ``routes``
matches subscriptions, and ``render`` fills a template from a fixed context.
The open problems can be listed and restored, so that a restarted daemon
resolves an incident it opened before. The clock is an argument. This module
sends nothing and reads no file.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from gitopsd.model.globs import glob_match
from gitopsd.model.notifications import PROBLEMS, Notice, Notifications, Subscription, Trigger
from gitopsd.model.status import ErrorKind

__all__ = [
    "DEFAULT_TEMPLATES",
    "NoticeGate",
    "PassFacts",
    "raised",
    "render",
    "routes",
]

DEFAULT_TEMPLATES: Mapping[Trigger, str] = {
    Trigger.SYNC_FAILED: "$app on $cluster: sync of $short_revision failed: $message",
    Trigger.SYNC_SUCCEEDED: "$app on $cluster: synced $short_revision",
    Trigger.DEPLOYED: "$app on $cluster: $short_revision deployed and Healthy",
    Trigger.HEALTH_DEGRADED: "$app on $cluster: health is $health: $message",
    Trigger.DRIFT_REVERTED: "$app on $cluster: drift of $subject reverted",
    Trigger.OUT_OF_SYNC: "$app on $cluster: out of sync since $message",
    Trigger.PRUNE_REFUSED: "$app on $cluster: prune refused: $message",
    Trigger.SIGNATURE_INVALID: "$app on $cluster: signature of $short_revision refused: $message",
    Trigger.CLUSTER_UNREACHABLE: "$app: cluster $cluster unreachable: $message",
}
# failures with a trigger of their own, besides on-sync-failed
_SPECIFIC = {ErrorKind.PRUNE_REFUSED: Trigger.PRUNE_REFUSED,
             ErrorKind.SIGNATURE_INVALID: Trigger.SIGNATURE_INVALID,
             ErrorKind.CLUSTER_UNREACHABLE: Trigger.CLUSTER_UNREACHABLE}
RESOLVED_TEMPLATE = "$app on $cluster: resolved ($trigger): Synced at $short_revision, health $health"


@dataclass(frozen=True)
class PassFacts:
    """What the engine saw of one finished pass (or status change), in plain values."""

    full: bool  # a whole pass; False for a self-heal repair or a status change between passes
    finished: bool  # a pass ended (False: only the status changed)
    result: str  # "Synced", "OutOfSync", "Failed", "Stalled" or "" when no pass ended
    error: str  # ErrorKind of what ended the pass
    wrote: bool
    revision: str  # the revision applied now
    previous_revision: str  # the revision applied before
    health: str
    previous_health: str
    sync_status: str


def raised(f: PassFacts) -> list[Trigger]:
    """The triggers of the pass or change F (on-out-of-sync and on-deployed are
    decided by the engine with the gate: they depend on time and on later health)."""
    out: list[Trigger] = []
    if f.finished and f.full and f.result in ("Failed", "Stalled"):
        out.append(Trigger.SYNC_FAILED)
        specific = {str(k): t for k, t in _SPECIFIC.items()}.get(f.error)
        if specific is not None:
            out.append(specific)
    if f.finished and f.full and f.result == "Synced" and f.wrote:
        out.append(Trigger.SYNC_SUCCEEDED)
    if f.finished and not f.full and f.result == "Synced" and f.wrote:
        out.append(Trigger.DRIFT_REVERTED)
    if f.health == "Degraded" and f.previous_health != "Degraded":
        out.append(Trigger.HEALTH_DEGRADED)
    return out


@dataclass
class _Open:
    notice: Notice
    since: float
    reminded: float


@dataclass
class NoticeGate:
    """Decides which notices go out: once per (instance, trigger, revision), identical ones at most
    once per RATE_LIMIT seconds, and open problems reminded every REMINDER seconds (0: never)."""

    rate_limit: float = 300.0
    reminder: float = 0.0
    _once: set[tuple[str, str, str, str]] = field(default_factory=set)
    _last: dict[tuple[str, str, str, str, str, bool], float] = field(default_factory=dict)
    _open: dict[tuple[str, str, Trigger], _Open] = field(default_factory=dict)
    _deployed: dict[tuple[str, str], str] = field(default_factory=dict)  # revision awaiting Healthy
    version: int = 0  # counts changes of the open problems, so a caller knows when to keep them
    restored: bool = False  # whether open problems kept from an earlier run were taken back

    def admit(self, notice: Notice, now: float) -> bool:
        """Whether NOTICE goes out at NOW (monotonic seconds); an admitted problem is open."""
        once = (notice.app, notice.cluster, notice.trigger.value, notice.revision)
        keyed = notice.trigger is not Trigger.DRIFT_REVERTED and not notice.resolved
        if keyed and once in self._once:
            return False
        last = self._last.get(notice.identity)
        if last is not None and now - last < self.rate_limit:
            return False
        if keyed:
            self._once.add(once)
        self._last[notice.identity] = now
        if notice.trigger in PROBLEMS and not notice.resolved:
            key = (notice.app, notice.cluster, notice.trigger)
            if key not in self._open:
                self._open[key] = _Open(notice, now, now)
                self.version += 1
        return True

    def open_notices(self) -> list[Notice]:
        """The notices of the problems open now, as they were first told."""
        return [entry.notice for entry in self._open.values()]

    def restore(self, notices: Iterable[Notice], now: float) -> None:
        """Take back problems a previous run left open: they resolve and remind as if told at NOW,
        and each is not told again for the same revision."""
        self.restored = True
        for notice in notices:
            if notice.trigger not in PROBLEMS or notice.resolved:
                continue
            self._open.setdefault((notice.app, notice.cluster, notice.trigger), _Open(notice, now, now))
            self._once.add((notice.app, notice.cluster, notice.trigger.value, notice.revision))

    def resolve(self, app: str, cluster: str, *, revision: str, health: str, at: float,
                now: float) -> list[Notice]:
        """The open problems of (APP, CLUSTER), closed: it is Synced at REVISION and not Degraded.
        Their once-per-revision marks are forgotten, so the same problem may be told again."""
        out = []
        for key in [k for k in self._open if k[:2] == (app, cluster)]:
            problem = self._open.pop(key).notice
            self._once = {o for o in self._once if o[:3] != (app, cluster, problem.trigger.value)}
            out.append(replace(problem, resolved=True, revision=revision, health=health, at=at,
                               sync_status="Synced", reminder=False))
            self._last[out[-1].identity] = now
            self.version += 1
        return out

    def is_open(self, app: str, cluster: str, trigger: Trigger) -> bool:
        return (app, cluster, trigger) in self._open

    def revision_applied(self, app: str, cluster: str, revision: str) -> None:
        """REVISION became the applied one: on-deployed fires when the instance is next Healthy."""
        self._deployed[(app, cluster)] = revision

    def deployed(self, app: str, cluster: str, health: str) -> str | None:
        """The revision now deployed, if one awaited HEALTH becoming Healthy."""
        if health != "Healthy":
            return None
        return self._deployed.pop((app, cluster), None)

    def reminders(self, now: float, at: float) -> list[Notice]:
        """Notices of the problems open for a whole reminder period since they were last told."""
        if self.reminder <= 0:
            return []
        out = []
        for entry in self._open.values():
            if now - entry.reminded >= self.reminder:
                entry.reminded = now
                out.append(replace(entry.notice, reminder=True, at=at))
        return out

    def forget(self, app: str, cluster: str) -> None:
        """APP left CLUSTER: nothing of it stays open, reminded or marked as told."""
        for key in [k for k in self._open if k[:2] == (app, cluster)]:
            del self._open[key]
            self.version += 1
        self._once = {o for o in self._once if o[:2] != (app, cluster)}
        self._last = {k: v for k, v in self._last.items() if k[:2] != (app, cluster)}
        self._deployed.pop((app, cluster), None)


def routes(config: Notifications, notice: Notice,
           extra: Iterable[Subscription] = ()) -> dict[str, tuple[str, ...]]:
    """Service name -> recipients for NOTICE: every subscription (the fleet file's, then EXTRA, an
    application's own) whose triggers, applications and projects match. A resolved notice goes
    only to services that send resolutions, and a reminder only where the problem went."""
    out: dict[str, list[str]] = {}
    for sub in (*config.subscriptions, *extra):
        if notice.trigger not in sub.triggers:
            continue
        if sub.applications and not any(glob_match(p, notice.app) for p in sub.applications):
            continue
        if sub.projects and not any(glob_match(p, notice.project) for p in sub.projects):
            continue
        for name in sub.services:
            service = config.service(name)
            if service is None or (notice.resolved and not service.send_resolved):
                continue
            chosen = out.setdefault(name, [])
            for r in sub.recipients or service.recipients:
                if r not in chosen:
                    chosen.append(r)
    return {name: tuple(rs) for name, rs in out.items()}


def context(notice: Notice) -> dict[str, str]:
    """The fixed template context of NOTICE (every name of ``CONTEXT``)."""
    return {
        "trigger": notice.trigger.value, "status": "resolved" if notice.resolved else "firing",
        "fleet": notice.fleet, "app": notice.app, "cluster": notice.cluster,
        "project": notice.project, "revision": notice.revision,
        "short_revision": notice.revision[:12] or "(none)", "message": notice.message,
        "sync_status": notice.sync_status, "health": notice.health, "subject": notice.subject,
        "trace_id": notice.trace_id,
        "time": datetime.fromtimestamp(notice.at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def render(config: Notifications, notice: Notice) -> str:
    """NOTICE in words: the fleet's template for its trigger, else the built-in one."""
    if notice.resolved:
        text = RESOLVED_TEMPLATE
    else:
        text = config.templates.get(notice.trigger) or DEFAULT_TEMPLATES[notice.trigger]
    words = string.Template(text).safe_substitute(context(notice))
    return f"[reminder] {words}" if notice.reminder else words
