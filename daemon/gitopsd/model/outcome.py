"""The result of one reconcile pass, as the engine's queue consumes it."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from gitopsd.model.changeset import ChangeSet
from gitopsd.model.health import Health, HealthStatus


class OutcomeKind(enum.Enum):
    SYNCED = "Synced"          # desired state applied and healthy
    OUT_OF_SYNC = "OutOfSync"  # drift found, not applied (no automated sync / selfHeal)
    FAILED = "Failed"          # retry with backoff
    STALLED = "Stalled"        # retrying cannot help until the input changes


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    message: str = ""
    revision: str = ""
    changes: ChangeSet = field(default_factory=ChangeSet)
    health: Health = field(default_factory=lambda: Health(HealthStatus.UNKNOWN))
    error: str = ""  # what ended the pass: status.error_kind(exc), e.g. ErrorKind.CLUSTER_UNREACHABLE
    warnings: tuple[str, ...] = ()  # what the render passed over (files that may hold manifests)
