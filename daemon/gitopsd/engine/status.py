"""The live status board: one row per application instance.

Folds each reconcile Outcome into what users ask about: sync status, health,
revisions, last sync result and conditions with reasons. A row says Synced
only when the last full sync of the current revision succeeded (and no drift
has been reported since); ``revision`` is what is applied, and a sync that
failed or stalled shows the revision it failed on beside it
(``failed_revision``, much as Argo CD shows a failed operation's
``operationState.syncResult.revision`` beside the revision last deployed).
It holds values only; exposing them (API, metrics) is done by the edges the
composition root wires.
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
    reason: str  # a ConditionReason, or for SyncError, SignatureInvalid and ProjectViolation the
    # pass's OutcomeKind
    message: str


@dataclass
class InstanceStatus:
    app: str
    cluster: str
    sync_status: SyncStatus = SyncStatus.UNKNOWN
    health: Health = field(default_factory=lambda: Health(HealthStatus.UNKNOWN))
    revision: str = ""  # the revision whose sync last succeeded: what is applied
    failed_revision: str = ""  # the revision a sync failed or stalled on after that; "" when none
    last_revision: str = ""  # the revision the last pass worked on
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
            "revision": self.revision, "failed_revision": self.failed_revision,
            "last_sync": {"result": self.last_result, "revision": self.last_revision,
                          "message": self.last_message,
                          "started": self.last_started, "duration": round(self.last_duration, 3),
                          "trace_id": self.last_trace_id, "attempts": self.attempts},
            "conditions": [c.__dict__ for c in self.conditions],
        }


# conditions a sync result does not clear: a fight ends when the drift stops, and a repository
# outage when the repository answers (a pass may succeed from the Git cache meanwhile)
STICKY = (ConditionType.SELF_HEAL_FIGHT, ConditionType.SOURCE_UNAVAILABLE)
FAILURES = (OutcomeKind.FAILED, OutcomeKind.STALLED)
# the condition a failed pass shows, by what ended it; any other error shows SyncError
_FAILURE_CONDITIONS = {ErrorKind.SIGNATURE_INVALID.value: ConditionType.SIGNATURE_INVALID,
                       ErrorKind.PROJECT_VIOLATION.value: ConditionType.PROJECT_VIOLATION}


class StatusBoard:
    def __init__(self) -> None:
        self._rows: dict[str, InstanceStatus] = {}

    def ensure(self, instance: AppInstance) -> InstanceStatus:
        row = self._rows.get(instance.key)
        if row is None:
            row = self._rows[instance.key] = InstanceStatus(instance.app, instance.cluster)
        return row

    def reject(self, app: str, cluster: str, reasons: Iterable[str],
               summary: str = "") -> InstanceStatus:
        """A row for an application gitopsd refused to run: Unknown, with an InvalidSpecError
        condition carrying REASONS, and SUMMARY (else the first reason) as its message."""
        shown = list(reasons)
        key = f"{app}/{cluster}"
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = InstanceStatus(app, cluster)
            row.last_message = summary or (shown[0] if shown else "")
        self.mark(key, condition=Condition(ConditionType.INVALID_SPEC,
                                           ConditionReason.UNSUPPORTED_APPLICATION,
                                           "\n".join(shown)))
        return row

    def get(self, key: str) -> InstanceStatus | None:
        return self._rows.get(key)

    def forget(self, key: str) -> None:
        self._rows.pop(key, None)

    def rows(self) -> list[InstanceStatus]:
        return [self._rows[k] for k in sorted(self._rows)]

    def record(self, instance: AppInstance, outcome: Outcome, *, started: float, duration: float,
               trace_id: str = "", full: bool = True, settled: bool = True) -> InstanceStatus:
        """Fold OUTCOME into INSTANCE's row. FULL is False for a self-heal repair, which re-applies
        single objects: it makes the row Synced again only when no failed revision is pending and
        no other drift of the instance waits (SETTLED)."""
        row = self.ensure(instance)
        row.health = outcome.health
        row.last_revision = outcome.revision
        row.last_result = outcome.kind.value
        row.last_message = outcome.message
        row.last_started, row.last_duration, row.last_trace_id = started, duration, trace_id
        if not full and (row.failed_revision or not settled):
            return row  # the failed sync or the waiting drift, and their conditions, still stand
        failed = outcome.kind in FAILURES
        row.attempts = row.attempts + 1 if failed else 0
        row.sync_status = _sync_status(row, outcome)
        if outcome.kind is OutcomeKind.SYNCED:
            row.revision = outcome.revision or row.revision
            row.failed_revision = ""
        elif failed and outcome.revision:
            row.failed_revision = outcome.revision
        keep = STICKY if full else (*STICKY, ConditionType.SOURCE_WARNING)
        row.conditions = [c for c in row.conditions if c.type in keep]
        row.conditions += [Condition(ConditionType.SOURCE_WARNING, ConditionReason.UNREAD_FILES, w)
                           for w in outcome.warnings]
        if failed:
            kind = _FAILURE_CONDITIONS.get(outcome.error, ConditionType.SYNC_ERROR)
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


def _sync_status(row: InstanceStatus, outcome: Outcome) -> SyncStatus:
    """What a full pass that ended in OUTCOME says of ROW's sync status (before ROW takes it in)."""
    if outcome.kind is OutcomeKind.SYNCED:
        return SyncStatus.SYNCED
    if outcome.kind is OutcomeKind.OUT_OF_SYNC:
        return SyncStatus.OUT_OF_SYNC
    if outcome.revision and outcome.revision != row.revision:
        return SyncStatus.OUT_OF_SYNC  # Git is at a revision that is not applied
    if not outcome.error:
        return SyncStatus.OUT_OF_SYNC  # the sync itself ran: writes failed or prunes were refused
    return SyncStatus.UNKNOWN  # an error stopped it at the applied revision: nothing more is known


def sync_result(kind: OutcomeKind) -> SyncResult:
    """The result label a finished pass is counted under (Argo CD's spelling)."""
    return {OutcomeKind.SYNCED: SyncResult.SUCCEEDED, OutcomeKind.OUT_OF_SYNC: SyncResult.SUCCEEDED,
            OutcomeKind.FAILED: SyncResult.FAILED, OutcomeKind.STALLED: SyncResult.ERROR}[kind]
