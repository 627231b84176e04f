"""Argo CD Application files read through the Git port: the good ones run, a bad one stands alone.

A rejected Application is a row with its reason on the status board, and what
it deployed earlier is never removed for its absence from the running fleet.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from structlog.testing import capture_logs

from gitopsd.engine.argocd import expand_argocd_sources
from gitopsd.engine.clock import VirtualClock
from gitopsd.engine.daemon import Daemon, Settings
from gitopsd.engine.desired import DesiredState
from gitopsd.engine.pollers import Pollers
from gitopsd.engine.ports import ClusterHandle
from gitopsd.engine.queue import WorkQueue
from gitopsd.model import (
    AppInstance,
    ArgoCDAppSource,
    ConditionType,
    Fleet,
    HelmParams,
    Repository,
    Source,
    SourceRef,
    SyncStatus,
)
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import (
    FakeGit,
    FakeWatch,
    NoRenderer,
    Recorder,
    configmap,
    eventually,
    fleet_on,
    running,
)
from tests.engine.test_removal import inventory, owned


def argo_app(name: str, **source: Any) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": name},
            "spec": {"source": {"repoURL": "https://github.com/acme/env.git", "path": "app",
                                "targetRevision": "main", **source},
                     "destination": {"server": "https://kubernetes.default.svc",
                                     "namespace": "web"},
                     "syncPolicy": {"automated": {"prune": True}}}}


def base_fleet() -> Fleet:
    fleet = fleet_on()
    repo = replace(fleet.repositories[0], aliases=("https://github.com/acme/env",))
    cluster = replace(fleet.clusters[0], servers=("https://kubernetes.default.svc",))
    return replace(fleet, clusters=(cluster,), repositories=(repo,), applications=(),
                   instances=(), argocd_sources=(ArgoCDAppSource("apps", "env", "main", "apps"),))


@pytest.mark.asyncio
async def test_a_rejected_application_is_shown_and_its_objects_kept() -> None:
    """The plugin Application is a row with InvalidSpecError; its cascading inventory stays."""
    git = FakeGit()
    git.commit({"apps/web.yaml": argo_app("web"),
                "apps/tool.yaml": argo_app("tool", plugin={"name": "cmp"}),
                "app/settings.yaml": configmap("settings", {"a": "1"})})
    fleet = await expand_argocd_sources(base_fleet(), git, NoRenderer())
    assert [i.key for i in fleet.instances] == ["web/alpha"]
    (bad,) = fleet.rejected_applications
    assert (bad.name, bad.cluster, bad.origin) == ("tool", "alpha", "apps")
    assert "spec.source.plugin: field 'plugin' is not supported by gitopsd" in bad.reasons[0]

    cluster = FakeCluster()
    cluster.put(owned("tool", "t"))
    cluster.put(inventory("tool", ["t"], cascade=True))
    recorder = Recorder()
    daemon = Daemon(fleet, {"alpha": ClusterHandle("alpha", cluster, FakeWatch(cluster))}, git,
                    DesiredState(fleet, git, NoRenderer()), metrics=recorder, history=recorder,
                    settings=Settings(resync=3600.0, health_poll=0.01))
    async with running(daemon):
        await eventually(lambda: (r := daemon.board.get("web/alpha")) is not None
                         and r.sync_status is SyncStatus.SYNCED)
        row = daemon.board.get("tool/alpha")
        assert row is not None
        assert row.sync_status is SyncStatus.UNKNOWN
        assert [c.type for c in row.conditions] == [ConditionType.INVALID_SPEC]
        assert row.last_message.startswith(
            "spec.source.plugin: field 'plugin' is not supported by gitopsd (env@main:apps/tool.yaml:")
    assert not [e for e in cluster.events("delete") if "t" in str(e)]
    assert any(o.get("metadata", {}).get("name") == "t" for o in cluster.objects.values())


@pytest.mark.asyncio
async def test_a_moved_values_ref_queues_the_instance_that_reads_it() -> None:
    """A new commit in a repository that only lends value files queues its readers, with no commit."""
    git = FakeGit()
    git.commit({"prod/web.yaml": "a: 1\n"})
    source = Source(repo="env", target_revision="main", path="chart",
                    helm=HelmParams(value_files=("$values/prod/web.yaml",)),
                    refs=(SourceRef("values", "values", "main"),))
    instance = AppInstance("web", "alpha", source, "web")
    values = Repository("values", "/srv/values", poll_interval=1.0)
    clock = VirtualClock()
    queue = WorkQueue(clock=clock)
    pollers = Pollers(git=git, queue=queue, clock=clock, metrics=None,
                      instances=lambda: [instance], jitter=0.0)
    pollers.add(values)
    task = asyncio.ensure_future(pollers.run(values))
    try:
        await clock.advance(0.5)
        assert pollers.head("values", "main") == git.head
        assert len(queue) == 0
        git.commit({"prod/web.yaml": "a: 2\n"})
        await clock.advance(1.0)
        assert len(queue) == 1
        item = await queue.get()
        assert (item.key, item.commit) == ("web/alpha", None)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.asyncio
async def test_each_rejection_and_warning_is_logged_once_across_rereads() -> None:
    """Reading the same files again with the same memory logs nothing new."""
    git = FakeGit()
    tool = argo_app("tool", plugin={"name": "cmp"})
    web = argo_app("web")
    web["spec"]["revisionHistoryLimit"] = 3
    git.commit({"apps/tool.yaml": tool, "apps/web.yaml": web})
    logged: set[str] = set()
    with capture_logs() as logs:
        for _ in range(3):
            await expand_argocd_sources(base_fleet(), git, NoRenderer(), logged=logged)
    events = sorted(e["event"] for e in logs)
    assert events == ["argocd.application.field_ignored", "argocd.application.rejected"]
