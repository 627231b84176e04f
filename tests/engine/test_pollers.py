"""A moved ref reaches the cluster through the poller and the queue, on in-memory ports."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from gitopsd.model import ResourceKey
from tests.engine.fakecluster import FakeCluster
from tests.engine.fakefleet import FakeGit, Recorder, configmap, eventually, running
from tests.engine.test_report import _daemon

KEY = ResourceKey("", "ConfigMap", "web", "settings")


@pytest.mark.asyncio
async def test_pushed_commit_is_synced_at_the_sha_the_poll_saw() -> None:
    """After a push, the poll's new head rides on the queue item and the sync fetches exactly that commit."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    git.commit({"app/cm.yaml": configmap("settings", {"level": "info"})})
    daemon = _daemon(cluster, git, recorder)
    with capture_logs() as logs:
        async with running(daemon):
            await eventually(lambda: recorder.of("record") and git.counters.listings >= 1)
            await eventually(lambda: daemon.pollers._heads)
            second = git.commit({"app/cm.yaml": configmap("settings", {"level": "debug"})})
            assert daemon.repo_push("env") == ["env"]
            await eventually(lambda: len(recorder.of("record")) == 2)
    assert cluster.objects[KEY]["data"] == {"level": "debug"}
    assert git.ensured[-1] == second
    row = daemon.board.get("web/alpha")
    assert row is not None
    assert row.revision == second
    done = [e for e in logs if e["event"] == "reconcile.done"]
    assert [e["trigger"] for e in done][-1] == "webhook"
    assert recorder.of("git_request")


@pytest.mark.asyncio
async def test_push_for_an_unknown_repository_triggers_nothing() -> None:
    """A push naming a repository the fleet does not hold polls nothing."""
    cluster, git, recorder = FakeCluster(), FakeGit(), Recorder()
    git.commit({"app/cm.yaml": configmap("settings", {"level": "info"})})
    daemon = _daemon(cluster, git, recorder)
    async with running(daemon):
        await eventually(lambda: recorder.of("record"))
        assert daemon.repo_push("https://example.invalid/other.git") == []
        assert daemon.repo_push("ssh://git@EXAMPLE.invalid/env") == ["env"]
