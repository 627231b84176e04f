"""One OpenTelemetry trace per sync: the span tree of a real daemon's syncs, in memory and over OTLP/HTTP.

The in-memory test runs the engine's ``Daemon`` in this process, assembled by
the runtime from a real API server and a real Git repository, and reads the
spans back from the SDK's in-memory exporter. The OTLP test runs ``gitopsd run``
as a subprocess and finds the sync's trace at a local OTLP/HTTP receiver.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from gitopsd.edges.telemetry import semconv as sc
from gitopsd.edges.telemetry.tracing import configure_tracing
from gitopsd.engine.daemon import Daemon
from gitopsd.localcluster import LocalCluster
from gitopsd.model import Backoff, Fleet, Retry, SyncPolicy
from gitopsd.runtime import RunOptions, Runtime
from tests.integration.daemonproc import (
    OtlpReceiver,
    ReceivedSpan,
    running_daemon,
    wait_for,
    write_fleet,
)
from tests.integration.synckit import cm, make_fleet
from tests.testenv.git_fixtures import BareRepo, RepoFactory

WAVE = "argocd.argoproj.io/sync-wave"
MakeNamespace = Callable[[LocalCluster], str]
POLICY = SyncPolicy(automated=True, prune=True, self_heal=True,
                    sync_options=("PrunePropagationPolicy=background",))


@pytest.fixture(scope="session")
def session_spans() -> InMemorySpanExporter:
    """The process-wide tracer provider, configured once per session with an in-memory exporter."""
    exporter = InMemorySpanExporter()
    configure_tracing("0.0.0-test", exporter=exporter)
    return exporter


@pytest.fixture
def spans(session_spans: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    """The session's in-memory exporter, emptied before and after each test."""
    session_spans.clear()
    yield session_spans
    session_spans.clear()


def _files(early: str, late: str, *, extra: bool) -> dict[str, str | None]:
    return {"app/early.yaml": cm("early", {"v": early}, {WAVE: "-1"}),
            "app/late.yaml": cm("late", {"v": late}, {WAVE: "1"}),
            "app/extra.yaml": cm("extra", {"v": "1"}, {WAVE: "1"}) if extra else None}


@asynccontextmanager
async def _daemon(fleet: Fleet, state_dir: Path) -> AsyncIterator[Daemon]:
    """The engine's Daemon, assembled as ``gitopsd run`` assembles it, started and stopped."""
    runtime = Runtime(RunOptions(config="", state_dir=state_dir))
    daemon = await runtime.build(fleet)
    await daemon.start()
    try:
        yield daemon
    finally:
        await daemon.stop()
        await runtime.close_clients()
        await runtime.renderer.aclose()
        await runtime.store.close()


async def _synced(daemon: Daemon, key: str, revision: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = daemon.board.get(key)
        if row is not None and row.last_revision == revision and row.last_result:
            return
        await asyncio.sleep(0.1)
    row = daemon.board.get(key)
    raise AssertionError(f"{key} did not sync {revision[:12]} in {timeout}s: "
                         f"{row.as_row() if row else None}")


def _trees(finished: Sequence[ReadableSpan]) -> dict[int, list[ReadableSpan]]:
    by_trace: dict[int, list[ReadableSpan]] = defaultdict(list)
    for span in finished:
        by_trace[span.context.trace_id].append(span)
    return by_trace


def _children(tree: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    kids = [s for s in tree if s.parent is not None and s.parent.span_id == parent.context.span_id]
    return sorted(kids, key=lambda s: s.start_time or 0)


def _sync_trace(by_trace: dict[int, list[ReadableSpan]], revision: str, trigger: str, *,
                first: bool = False) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The trace of the one reconcile of REVISION started by TRIGGER (the earliest, with FIRST)."""
    found = []
    for tree in by_trace.values():
        for root in tree:
            attrs = root.attributes or {}
            if root.name == sc.SPAN_RECONCILE and attrs.get(sc.ATTR_REVISION) == revision \
                    and attrs.get(sc.ATTR_TRIGGER) == trigger:
                found.append((root, tree))
    found.sort(key=lambda pair: pair[0].start_time or 0)
    assert found if first else len(found) == 1, \
        f"expected one {trigger} reconcile of {revision[:12]}, got {len(found)}"
    return found[0]


def _events_with_messages(span: ReadableSpan) -> list[tuple[str, str, str]]:
    return [(str((e.attributes or {})["object"]), str((e.attributes or {})["action"]),
             str((e.attributes or {}).get("message", ""))) for e in span.events if e.name == "object"]


def _events(span: ReadableSpan) -> list[tuple[str, str]]:
    return [(str((e.attributes or {})["object"]), str((e.attributes or {})["action"]))
            for e in span.events if e.name == "object"]


@pytest.mark.asyncio
async def test_sync_with_two_waves_and_a_prune_is_one_trace(
        cluster_a: LocalCluster, make_namespace: MakeNamespace, git_repos: RepoFactory,
        tmp_path: Path, spans: InMemorySpanExporter) -> None:
    """Each daemon sync is one trace: reconcile > source, render, diff, plan, waves, prune; object events."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    first = repo.commit(_files("1", "1", extra=True))
    app = f"traced-{ns.rpartition('-')[2]}"
    fleet, _ = make_fleet(cluster_a, repo, app=app, path="app", namespace=ns, policy=POLICY)
    key = fleet.instances[0].key
    async with _daemon(fleet, tmp_path / "state") as daemon:
        await _synced(daemon, key, first)
        second = repo.commit(_files("2", "2", extra=False))
        assert daemon.repo_push("env") == ["env"]
        await _synced(daemon, key, second)

    finished = spans.get_finished_spans()
    by_trace = _trees(finished)
    for tree in by_trace.values():
        roots = [s for s in tree if s.parent is None]
        assert [r.name for r in roots] == [sc.SPAN_RECONCILE], "every trace has one reconcile root"

    root, tree = _sync_trace(by_trace, first, "poll")
    assert _sync_trace(by_trace, second, "webhook")[0].context.trace_id != root.context.trace_id
    assert dict(root.attributes or {}) == {
        sc.ATTR_APP: app, sc.ATTR_CLUSTER: cluster_a.name, sc.ATTR_NAMESPACE: ns,
        sc.ATTR_TRIGGER: "poll", sc.ATTR_REF_NAME: "main", sc.ATTR_REVISION: first,
        sc.ATTR_OUTCOME: "Synced", sc.ATTR_APPLIED: 3, sc.ATTR_PRUNED: 0}
    names = [s.name for s in _children(tree, root)]
    assert names == [sc.SPAN_SOURCE, sc.SPAN_RENDER, sc.SPAN_DIFF, sc.SPAN_PLAN,
                     sc.SPAN_APPLY_WAVE, sc.SPAN_APPLY_WAVE]

    root, tree = _sync_trace(by_trace, second, "webhook")
    attrs = root.attributes or {}
    assert (attrs[sc.ATTR_OUTCOME], attrs[sc.ATTR_APPLIED], attrs[sc.ATTR_PRUNED]) == ("Synced", 2, 1)
    children = _children(tree, root)
    assert [s.name for s in children] == [sc.SPAN_SOURCE, sc.SPAN_RENDER, sc.SPAN_DIFF, sc.SPAN_PLAN,
                                          sc.SPAN_APPLY_WAVE, sc.SPAN_APPLY_WAVE, sc.SPAN_PRUNE]
    source = children[0]
    assert (source.attributes or {})[sc.ATTR_REVISION] == second
    waves = [s for s in children if s.name == sc.SPAN_APPLY_WAVE]
    assert [((s.attributes or {})[sc.ATTR_PHASE], (s.attributes or {})[sc.ATTR_WAVE]) for s in waves] == \
        [("Sync", -1), ("Sync", 1)]
    assert [[c.name for c in _children(tree, w)] for w in waves] == [["health"], ["health"]]
    assert _events(waves[0]) == [(f"ConfigMap {ns}/early", "configured")]
    assert _events(waves[1]) == [(f"ConfigMap {ns}/late", "configured")]
    prune = children[-1]
    assert (prune.attributes or {})[sc.ATTR_WAVE] == 1
    assert _events(prune) == [(f"ConfigMap {ns}/extra", "pruned")]
    assert (waves[0].end_time or 0) <= (waves[1].start_time or 0)
    assert root.end_time is not None
    assert all(span.end_time is not None and span.end_time <= root.end_time for span in tree)


def _foreign(name: str, ns: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns, "labels": {"gitopsd.io/fleet": "testfleet"},
                         "annotations": {"gitopsd.io/tracking-id": f"other:/ConfigMap:{ns}/{name}"}},
            "data": {"owner": "other"}}


HOOK = {"argocd.argoproj.io/hook": "PreSync"}


@pytest.mark.parametrize(("case", "failing_span", "event"), [
    ("wave", sc.SPAN_APPLY_WAVE, ("ConfigMap {ns}/taken", "belongs to application other")),
    ("hook", "hook PreSync ConfigMap/prepare", ("ConfigMap {ns}/prepare", "hook: ")),
])
@pytest.mark.asyncio
async def test_failed_step_marks_its_span_and_the_root_as_errors(
        cluster_a: LocalCluster, make_namespace: MakeNamespace, git_repos: RepoFactory, tmp_path: Path,
        spans: InMemorySpanExporter, case: str, failing_span: str, event: tuple[str, str]) -> None:
    """A wave or hook that fails ends with an error status on its own span and on the reconcile root."""
    ns = make_namespace(cluster_a)
    files: dict[str, str | None] = {"app/early.yaml": cm("early", {"v": "1"}, {WAVE: "-1"})}
    if case == "wave":
        status, _ = cluster_a.request("POST", f"/api/v1/namespaces/{ns}/configmaps", _foreign("taken", ns))
        assert status == 201
        files["app/taken.yaml"] = cm("taken", {"v": "1"}, {WAVE: "1"})
    else:
        files["app/prepare.yaml"] = cm("prepare", {"not a valid key!": "1"}, HOOK)  # 422 on apply
    repo = git_repos.new()
    head = repo.commit(files)
    app = f"failing-{ns.rpartition('-')[2]}"
    fleet, _ = make_fleet(cluster_a, repo, app=app, path="app", namespace=ns, policy=POLICY)
    async with _daemon(fleet, tmp_path / "state") as daemon:
        await _synced(daemon, fleet.instances[0].key, head)
        row = daemon.board.get(fleet.instances[0].key)
    assert row is not None
    assert row.last_result == "Failed"

    root, tree = _sync_trace(_trees(spans.get_finished_spans()), head, "poll", first=True)
    assert (root.attributes or {})[sc.ATTR_OUTCOME] == "Failed"
    assert root.status.status_code is StatusCode.ERROR
    failed = [s for s in tree if s.status.status_code is StatusCode.ERROR and s is not root]
    assert [s.name for s in failed] == [failing_span] + ([sc.SPAN_APPLY_WAVE] if case == "hook" else [])
    assert event[1] in (failed[0].status.description or "")
    obj, message = event[0].format(ns=ns), event[1]
    [(action, text)] = [(a, m) for o, a, m in _events_with_messages(failed[0]) if o == obj]
    assert action == "failed"
    assert message in text
    ok = [s for s in tree if s.name == sc.SPAN_APPLY_WAVE and (s.attributes or {})[sc.ATTR_WAVE] == -1]
    assert [s.status.status_code for s in ok] == ([StatusCode.UNSET] if case == "wave" else [])


@pytest.mark.asyncio
async def test_retry_is_its_own_trace_linked_to_the_failed_attempt(
        cluster_a: LocalCluster, make_namespace: MakeNamespace, git_repos: RepoFactory, tmp_path: Path,
        spans: InMemorySpanExporter) -> None:
    """A retry of a failed sync is a new trace, marked as a retry, whose root links to the failed attempt."""
    ns = make_namespace(cluster_a)
    status, _ = cluster_a.request("POST", f"/api/v1/namespaces/{ns}/configmaps", _foreign("taken", ns))
    assert status == 201
    repo = git_repos.new()
    head = repo.commit({"app/taken.yaml": cm("taken", {"v": "1"})})
    app = f"retried-{ns.rpartition('-')[2]}"
    policy = replace(POLICY, retry=Retry(limit=3, backoff=Backoff(duration=0.3, factor=1.0)))
    fleet, _ = make_fleet(cluster_a, repo, app=app, path="app", namespace=ns, policy=policy)
    key = fleet.instances[0].key
    async with _daemon(fleet, tmp_path / "state") as daemon:
        deadline = time.monotonic() + 30
        while (row := daemon.board.get(key)) is None or row.attempts < 3:
            assert time.monotonic() < deadline, f"no third attempt: {row}"
            await asyncio.sleep(0.1)

    roots = sorted((s for s in spans.get_finished_spans()
                    if s.name == sc.SPAN_RECONCILE and (s.attributes or {})[sc.ATTR_APP] == app),
                   key=lambda s: s.start_time or 0)[:3]
    assert [(s.attributes or {})[sc.ATTR_TRIGGER] for s in roots] == ["poll", "retry", "retry"]
    assert [(s.attributes or {})[sc.ATTR_OUTCOME] for s in roots] == ["Failed"] * 3
    assert {(s.attributes or {})[sc.ATTR_REVISION] for s in roots} == {head}
    assert len({s.context.trace_id for s in roots}) == 3
    assert list(roots[0].links) == []
    for earlier, later in itertools.pairwise(roots):
        assert [link.context for link in later.links] == [earlier.context]


def test_otlp_export_from_the_daemon_process(cluster_a: LocalCluster, make_namespace: MakeNamespace,
                                             git_repos: RepoFactory, tmp_path: Path) -> None:
    """``gitopsd run`` with OTEL_EXPORTER_OTLP_ENDPOINT exports its sync's trace to that endpoint."""
    ns = make_namespace(cluster_a)
    repo: BareRepo = git_repos.new()
    head = repo.commit(_files("1", "1", extra=True))
    app = f"otlp-{ns.rpartition('-')[2]}"
    fleet = write_fleet(tmp_path / "fleet.yaml", cluster=cluster_a, repo_url=str(repo.path), app=app,
                        namespace=ns)
    with OtlpReceiver.running() as receiver, running_daemon(
            tmp_path / "run", fleet, token="api-token-for-otlp-test", webhook_secret="hook-secret-otlp",
            env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base, "OTEL_BSP_SCHEDULE_DELAY": "200"}) as daemon:
        daemon.wait_synced(app, cluster_a.name, head)

        def exported() -> list[ReceivedSpan] | None:
            roots = [s for s in receiver.spans() if s.name == sc.SPAN_RECONCILE
                     and s.attributes.get(sc.ATTR_APP) == app
                     and s.attributes.get(sc.ATTR_REVISION) == head]
            return roots or None
        [root] = wait_for(exported, 30, "the reconcile span at the OTLP receiver")
        assert daemon.terminate(30) == 0
    assert root.resource["service.name"] == "gitopsd"
    assert root.attributes[sc.ATTR_CLUSTER] == cluster_a.name
    assert root.attributes[sc.ATTR_NAMESPACE] == ns
    assert root.attributes[sc.ATTR_OUTCOME] == "Synced"
    assert not root.span.parent_span_id
    same_trace = [s for s in receiver.spans() if s.span.trace_id == root.span.trace_id]
    children = sorted((s for s in same_trace if s.span.parent_span_id == root.span.span_id),
                      key=lambda s: s.span.start_time_unix_nano)
    assert [s.name for s in children] == [sc.SPAN_SOURCE, sc.SPAN_RENDER, sc.SPAN_DIFF, sc.SPAN_PLAN,
                                          sc.SPAN_APPLY_WAVE, sc.SPAN_APPLY_WAVE]
    assert [s.attributes[sc.ATTR_WAVE] for s in children[-2:]] == [-1, 1]
