"""A sync window: a recurring stretch of time in which syncs are allowed or denied.

The value mirrors one entry of an Argo CD AppProject's ``spec.syncWindows``
(kind, schedule, duration, timeZone, applications, namespaces, clusters,
manualSync, andOperator, description) so that projects carry over unchanged.
Whether a window is open at a given instant, and what that means for an
application, is decided in ``core.policy.windows``; this module holds values
and their wording only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gitopsd.model.cron import CronSchedule

__all__ = ["SyncWindow", "WindowKind"]


class WindowKind(enum.StrEnum):
    ALLOW = "allow"  # syncs only while one such window is active
    DENY = "deny"  # no syncs while it is active (deny wins over allow)


@dataclass(frozen=True)
class SyncWindow:
    kind: WindowKind
    schedule: CronSchedule  # when the window opens, read in time_zone
    duration: float  # seconds it stays open (elapsed time, whatever the clocks do meanwhile)
    time_zone: str = "UTC"  # an IANA name
    applications: tuple[str, ...] = ()  # globs over application names
    namespaces: tuple[str, ...] = ()  # globs over destination namespaces
    clusters: tuple[str, ...] = ()  # globs over destination cluster names
    manual_sync: bool = False  # manual syncs pass while this window would stop them
    and_operator: bool = False  # every selector given must match (default: any one)
    description: str = ""
    duration_text: str = ""  # the duration as written (e.g. 1h30m), for messages

    def describe(self) -> str:
        """One phrase that names the window for people, e.g. ``deny window '0 22 * * *' (2h, UTC)``."""
        label = f" {self.description!r}" if self.description else ""
        length = self.duration_text or f"{self.duration:g}s"
        return f"{self.kind.value} window{label} '{self.schedule}' ({length}, {self.time_zone})"
