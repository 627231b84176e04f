"""One report path: what every finished pass, full sync or self-heal repair, tells the world.

A pass is one trace (``reconcile_span`` opens its root span with the same
attributes whichever path ran it); its Outcome then becomes, in this order,
a row on the status board, one ``reconcile.done`` log line, the instance's
metrics and, when it wrote something, a sync failed or stalled, or the first
pass after such a failure succeeded, a history record. Only such passes are
syncs, counted by ``gitopsd_app_sync_total`` and kept in history (as Argo CD
counts and keeps sync operations); any other comparison that wrote nothing, in
sync or OutOfSync, counts only as a reconcile. A self-heal repair re-applies
single objects, so it cannot settle a revision a full pass failed on
(``finished(full=False)``, the board keeps it). Changes of an instance's status
between passes (health seen by the watches, drift without self-heal) go out
through ``changed`` so the metrics and notifications follow the board. This
module decides nothing about what to do next (requeue, retry, repair): that is
the daemon's and the drift controller's.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import structlog

from gitopsd.engine.notices import Notices
from gitopsd.engine.ports import HistoryPort, MetricsPort, SpanPort, Step, TracingPort
from gitopsd.engine.status import InstanceStatus, StatusBoard, sync_result
from gitopsd.model import AppInstance, ChangeAction, Outcome, OutcomeKind

log = structlog.get_logger("gitopsd.daemon")
_ATTEMPTS = (OutcomeKind.FAILED, OutcomeKind.STALLED)  # passes that tried to sync and did not
_FAILING = {k.value for k in _ATTEMPTS}


@dataclass(frozen=True)
class Timing:
    """When a pass started (wall clock, for people) and how long it took (engine clock)."""

    started: float
    duration: float


def reconcile_span(tracing: TracingPort, inst: AppInstance, trigger: str, *, revision: str = "",
                   links: Sequence[object] = ()) -> AbstractContextManager[SpanPort]:
    """The root span of one pass over INST."""
    extra = {"revision": revision} if revision else {}
    return tracing.span(Step.RECONCILE, links=links, app=inst.app, cluster=inst.cluster,
                        namespace=inst.namespace, trigger=trigger, ref=inst.source.target_revision,
                        **extra)


def finish_span(span: SpanPort, outcome: Outcome) -> str:
    """Record OUTCOME on the root SPAN of its pass; returns the trace id."""
    changes = outcome.changes
    applied = len(changes.by_action(ChangeAction.CREATED)) + len(changes.by_action(ChangeAction.CONFIGURED))
    span.set(outcome=outcome.kind.value, applied=applied, pruned=len(changes.by_action(ChangeAction.PRUNED)),
             **({"revision": outcome.revision} if outcome.revision else {}))
    if outcome.kind in (OutcomeKind.FAILED, OutcomeKind.STALLED):
        span.fail(outcome.message)
    return span.trace_id


class Reporter:
    def __init__(self, board: StatusBoard, *, metrics: MetricsPort | None = None,
                 history: HistoryPort | None = None, notices: Notices | None = None) -> None:
        self.board = board
        self.metrics = metrics
        self.history = history
        self.notices = notices

    async def finished(self, inst: AppInstance, outcome: Outcome, timing: Timing, *, trigger: str,
                       trace: str, full: bool = False, settled: bool = True) -> InstanceStatus:
        """Board, log, metrics and history for a pass over INST that ended in OUTCOME; FULL for a
        whole pass (the daemon's), not for a self-heal repair of single objects; a repair that is
        not SETTLED left other drift of the instance waiting."""
        before = self.board.get(inst.key)
        was_failing = before is not None and before.last_result in _FAILING
        row = self.board.record(inst, outcome, started=timing.started, duration=timing.duration,
                                trace_id=trace, full=full, settled=settled)
        # a sync, not a comparison: it wrote, it failed, or it is the first success after a failure
        attempted = outcome.changes.wrote or outcome.kind in _ATTEMPTS or (
            was_failing and outcome.kind is OutcomeKind.SYNCED)
        applied = {"applied": row.revision[:12]} if row.revision != outcome.revision else {}
        log.info("reconcile.done", app=inst.app, cluster=inst.cluster, outcome=outcome.kind.value,
                 revision=outcome.revision[:12], **applied, sync_status=row.sync_status.value,
                 seconds=round(timing.duration, 3), trigger=trigger, message=outcome.message[:300],
                 trace_id=trace)
        if self.notices is not None:
            self.notices.finished(inst, outcome, row, full=full, trace=trace)
        if self.metrics:
            self._follow(inst)
            if attempted:
                self.metrics.sync_finished(inst.app, inst.cluster, sync_result(outcome.kind))
            self.metrics.reconcile_finished(inst.cluster, timing.duration)
        if self.history and attempted:
            await self.history.record(inst.app, inst.cluster, revision=outcome.revision,
                                      started=timing.started, duration=timing.duration,
                                      result=outcome.kind.value, message=outcome.message,
                                      trace_id=trace, changes=outcome.changes.summary())
        return row

    def changed(self, inst: AppInstance) -> None:
        """The board's row for INST changed between passes: the metrics and notifications follow it."""
        row = self.board.get(inst.key)
        if self.notices is not None and row is not None:
            self.notices.changed(inst, row)
        self._follow(inst)

    def _follow(self, inst: AppInstance) -> None:
        row = self.board.get(inst.key)
        if self.metrics and row is not None:
            self.metrics.set_instance(inst.app, inst.cluster, row.sync_status, row.health.status.value)
