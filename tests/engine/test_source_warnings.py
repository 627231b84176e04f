"""Warnings of a render (files that may hold manifests but are not read) reach the status board."""

from __future__ import annotations

import pytest

from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.status import StatusBoard
from gitopsd.engine.sync import Reconciler
from gitopsd.model import (
    AppInstance,
    Application,
    ClusterSelector,
    ConditionReason,
    ConditionType,
    Destination,
    Manifest,
    Outcome,
    OutcomeKind,
    ResourceKey,
    Revision,
    Source,
    SyncPolicy,
)
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import StaticDesired

WARNING = "env@aaaaaaaaaaaa:app: app/deploy.yaml.j2 is not read"


class WarningDesired(StaticDesired):
    """Static manifests whose render passed over one templated file."""

    def warnings(self, instance: AppInstance, revision: Revision) -> tuple[str, ...]:
        return (WARNING,)


def _instance() -> tuple[AppInstance, Application]:
    source = Source("env", "main", "app")
    app = Application("web", source, Destination(ClusterSelector(names=("c",)), "ns"),
                      SyncPolicy(automated=True))
    return AppInstance("web", "c", source, "ns"), app


@pytest.mark.asyncio
async def test_a_pass_carries_the_render_warnings_to_its_status_conditions() -> None:
    """A synced pass keeps the render's warnings, and the board shows each as a SourceWarning."""
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns"}}
    reconciler = Reconciler(fleet="f", cluster=FakeCluster(VirtualClock()), clock=VirtualClock(),
                            desired=WarningDesired((Manifest(ResourceKey.of(body), body),)))
    instance, app = _instance()
    done = await reconciler.reconcile(instance, app)
    assert done.kind is OutcomeKind.SYNCED, done.outcome.message
    assert done.outcome.warnings == (WARNING,)
    board = StatusBoard()
    row = board.record(instance, done.outcome, started=0, duration=1)
    assert [(c.type, c.reason, c.message) for c in row.conditions] == [
        (ConditionType.SOURCE_WARNING, ConditionReason.UNREAD_FILES, WARNING)]
    repair = Outcome(OutcomeKind.SYNCED, "1 applied (self-heal)", done.outcome.revision)
    row = board.record(instance, repair, started=2, duration=1, full=False)
    assert [c.type for c in row.conditions] == [ConditionType.SOURCE_WARNING]
    row = board.record(instance, repair, started=3, duration=1, full=True)
    assert row.conditions == []
