"""The live status board: one row per application instance.

Folds each reconcile Outcome into what users ask about: sync status, health,
revision, last sync result and conditions with reasons. It holds values only;
exposing them (API, metrics) is done by the edges the composition root wires.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gitopsd.model import (
    AppInstance,
    ConditionReason,
    ConditionType,
    ErrorKind,
    Health,
    HealthStatus,
    Outcome,
    OutcomeKind,
    SyncResult,
    SyncStatus,
)


@dataclass
class Condition:
    type: ConditionType
    reason: str  # a ConditionReason, or for SyncError and SignatureInvalid the pass's OutcomeKind
    message: str


@dataclass
class InstanceStatus:
    app: str
    cluster: str
    sync_status: SyncStatus = SyncStatus.UNKNOWN
    health: Health = field(default_factory=lambda: Health(HealthStatus.UNKNOWN))
    revision: str = ""
    last_result: str = ""
    last_message: str = ""
    last_started: float = 0.0
    last_duration: float = 0.0
    last_trace_id: str = ""
    attempts: int = 0
    conditions: list[Condition] = field(default_factory=list)

    def as_row(self) -> dict[str, Any]:
        return {
            "app": self.app, "cluster": self.cluster, "sync_status": self.sync_status,
            "health": self.health.status.value, "health_message": self.health.message,
            "revision": self.revision,
            "last_sync": {"result": self.last_result, "message": self.last_message,
                          "started": self.last_started, "duration": round(self.last_duration, 3),
                          "trace_id": self.last_trace_id, "attempts": self.attempts},
            "conditions": [c.__dict__ for c in self.conditions],
        }


STICKY = (ConditionType.SELF_HEAL_FIGHT,)  # conditions a sync result does not clear


class StatusBoard:
    def __init__(self) -> None:
        self._rows: dict[str, InstanceStatus] = {}

    def ensure(self, instance: AppInstance) -> InstanceStatus:
        row = self._rows.get(instance.key)
        if row is None:
            row = self._rows[instance.key] = InstanceStatus(instance.app, instance.cluster)
        return row

    def get(self, key: str) -> InstanceStatus | None:
        return self._rows.get(key)

    def forget(self, key: str) -> None:
        self._rows.pop(key, None)

    def rows(self) -> list[InstanceStatus]:
        return [self._rows[k] for k in sorted(self._rows)]

    def record(self, instance: AppInstance, outcome: Outcome, *, started: float, duration: float,
               trace_id: str = "") -> InstanceStatus:
        row = self.ensure(instance)
        row.sync_status = SyncStatus.SYNCED if outcome.kind is OutcomeKind.SYNCED else (
            SyncStatus.OUT_OF_SYNC if outcome.kind is OutcomeKind.OUT_OF_SYNC else row.sync_status
            if row.sync_status != SyncStatus.UNKNOWN else SyncStatus.OUT_OF_SYNC)
        row.health = outcome.health
        if outcome.revision:
            row.revision = outcome.revision
        row.last_result = outcome.kind.value
        row.last_message = outcome.message
        row.last_started, row.last_duration, row.last_trace_id = started, duration, trace_id
        row.attempts = row.attempts + 1 if outcome.kind in (OutcomeKind.FAILED,
                                                              OutcomeKind.STALLED) else 0
        row.conditions = [c for c in row.conditions if c.type in STICKY]
        if outcome.kind in (OutcomeKind.FAILED, OutcomeKind.STALLED):
            kind = ConditionType.SIGNATURE_INVALID if outcome.error == ErrorKind.SIGNATURE_INVALID \
                else ConditionType.SYNC_ERROR
            row.conditions.append(Condition(kind, outcome.kind.value, outcome.message))
        if outcome.kind is OutcomeKind.OUT_OF_SYNC:
            row.conditions.append(Condition(ConditionType.OUT_OF_SYNC, ConditionReason.DRIFT_DETECTED,
                                            outcome.message))
        return row

    def replace(self, keys: Iterable[str], types: tuple[ConditionType, ...],
                condition: Condition | None) -> None:
        """On each of KEYS, drop the conditions of TYPES and then show CONDITION (if any)."""
        for key in keys:
            for condition_type in types:
                self.clear(key, condition_type)
            if condition is not None:
                self.mark(key, condition=condition)

    def clear(self, key: str, condition_type: ConditionType) -> None:
        row = self._rows.get(key)
        if row is not None:
            row.conditions = [c for c in row.conditions if c.type != condition_type]

    def mark(self, key: str, *, sync_status: SyncStatus | None = None,
             condition: Condition | None = None) -> None:
        row = self._rows.get(key)
        if row is None:
            return
        if sync_status:
            row.sync_status = sync_status
        if condition:
            row.conditions = [c for c in row.conditions if c.type != condition.type] + [condition]


def sync_result(kind: OutcomeKind) -> SyncResult:
    """The result label a finished pass is counted under (Argo CD's spelling)."""
    return {OutcomeKind.SYNCED: SyncResult.SUCCEEDED, OutcomeKind.OUT_OF_SYNC: SyncResult.SUCCEEDED,
            OutcomeKind.FAILED: SyncResult.FAILED, OutcomeKind.STALLED: SyncResult.ERROR}[kind]
