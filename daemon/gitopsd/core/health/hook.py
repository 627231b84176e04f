"""Whether a hook object has finished, and how: the one rule for syncs and removals alone.

A hook runs until its live object says it is done. Jobs, Pods and Argo
Workflows run to completion, so only their final verdicts end them: Healthy
is Succeeded, Degraded is Failed, anything else (Progressing, Suspended,
Unknown) is still Running. Any other kind is a hook that is done once it
is settled (Healthy or Suspended) and has failed once it is Degraded. A hook
object that is gone before it finished has failed.

The verdict comes from ``assess``, so the ignore-healthcheck annotations and
the pending-deletion rule hold for hooks too. This module does not wait,
poll or delete: the engine does, and asks this module after every read.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from gitopsd.core.health.dispatch import assess, group_kind
from gitopsd.model.health import Health, HealthStatus

RUN_TO_COMPLETION: Final = frozenset({("batch", "Job"), ("", "Pod"), ("argoproj.io", "Workflow")})
"""(group, kind) of the hook kinds that end only with a final phase of their own."""


class HookPhase(enum.Enum):
    """Where a hook stands (the names of Argo CD's hook phases)."""

    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class HookState:
    """A hook's phase with a one-line reason (the health message of its object)."""

    phase: HookPhase
    message: str = ""

    @property
    def done(self) -> bool:
        return self.phase is not HookPhase.RUNNING


def hook_state(live: Mapping[str, Any] | None,
               judge: Callable[[Mapping[str, Any]], Health] = assess) -> HookState:
    """The state of a hook from its live object (None: the object is gone), judged by JUDGE."""
    if live is None:
        return HookState(HookPhase.FAILED, "hook object disappeared")
    health = judge(live)
    if health.status is HealthStatus.HEALTHY:
        return HookState(HookPhase.SUCCEEDED, health.message)
    if health.status is HealthStatus.DEGRADED:
        return HookState(HookPhase.FAILED, health.message or health.status.value)
    if health.status is HealthStatus.SUSPENDED and group_kind(live) not in RUN_TO_COMPLETION:
        return HookState(HookPhase.SUCCEEDED, health.message)
    return HookState(HookPhase.RUNNING, health.message or health.status.value)
