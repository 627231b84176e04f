"""The engine's steps and plain attribute words become gitopsd's span and attribute names."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gitopsd.edges.telemetry import semconv as sc
from gitopsd.edges.telemetry.spans import OtelTracing
from gitopsd.edges.telemetry.tracing import build_provider
from gitopsd.engine.ports import Step


def _tracing() -> tuple[OtelTracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    return OtelTracing(provider=build_provider("0.0.0-test", exporter=exporter)), exporter


def test_every_engine_step_has_a_documented_span_name() -> None:
    """Each Step opens a span whose name is one of semconv's span names."""
    tracing, exporter = _tracing()
    for step in Step:
        with tracing.span(step):
            pass
    assert [s.name for s in exporter.get_finished_spans()] == [
        sc.SPAN_RECONCILE, sc.SPAN_SOURCE, sc.SPAN_RENDER, sc.SPAN_DIFF, sc.SPAN_PLAN,
        sc.SPAN_APPLY_WAVE, sc.SPAN_PRUNE, sc.SPAN_HEALTH, sc.SPAN_HOOK]


def test_engine_words_map_to_semantic_conventions_and_gitopsd_names() -> None:
    """Known words take their OpenTelemetry names, others live under gitopsd.*; a title names the span."""
    tracing, exporter = _tracing()
    with tracing.span(Step.HOOK, "hook PreSync Job/migrate", app="web", cluster="prod", revision="abc",
                      wave=2, tasks=3) as span:
        span.set(outcome="Synced")
        tracing.current().event("object", object="Job ns/migrate", action="created")
        span.fail("hook failed: exit 1")
    [finished] = exporter.get_finished_spans()
    assert finished.name == "hook PreSync Job/migrate"
    assert dict(finished.attributes or {}) == {
        sc.ATTR_APP: "web", sc.ATTR_CLUSTER: "prod", sc.ATTR_REVISION: "abc", sc.ATTR_WAVE: 2,
        "gitopsd.tasks": 3, sc.ATTR_OUTCOME: "Synced"}
    assert [(e.name, dict(e.attributes or {})) for e in finished.events] == [
        ("object", {"object": "Job ns/migrate", "action": "created"})]
    assert finished.status.status_code is trace.StatusCode.ERROR
    assert finished.status.description == "hook failed: exit 1"


def test_a_span_links_to_the_context_of_an_earlier_one() -> None:
    """A retry's root span links to the span context the failed attempt handed out."""
    tracing, exporter = _tracing()
    with tracing.span(Step.RECONCILE) as first:
        earlier = first.context()
    with tracing.span(Step.RECONCILE, links=[earlier]) as second:
        assert second.trace_id != first.trace_id
    failed, retry = exporter.get_finished_spans()
    assert [link.context for link in retry.links] == [failed.context]
