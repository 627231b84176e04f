"""The engine's TracingPort on OpenTelemetry: steps and plain attribute words become named spans.

The engine says which step of a pass runs (``Step``) and describes it in its
own words (``app``, ``cluster``, ``revision``, ``wave``...); this module
knows how those are spelled in a trace: span names and OpenTelemetry
semantic-convention attributes from ``semconv``, gitopsd's own under
``gitopsd.<word>``. It opens spans with the no-op safe ``opentelemetry.trace``
API, so where they go is ``tracing``'s decision, not this module's; it never
decides what a span contains.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

from opentelemetry import trace

from gitopsd.edges.telemetry import semconv as sc

# the engine's words for attributes that have a name of their own in a trace
ATTRIBUTES = {
    "app": sc.ATTR_APP, "cluster": sc.ATTR_CLUSTER, "namespace": sc.ATTR_NAMESPACE,
    "trigger": sc.ATTR_TRIGGER, "ref": sc.ATTR_REF_NAME, "revision": sc.ATTR_REVISION,
    "outcome": sc.ATTR_OUTCOME, "applied": sc.ATTR_APPLIED, "pruned": sc.ATTR_PRUNED,
    "wave": sc.ATTR_WAVE, "phase": sc.ATTR_PHASE,
}
SPANS = {
    "reconcile": sc.SPAN_RECONCILE, "source": sc.SPAN_SOURCE, "render": sc.SPAN_RENDER,
    "diff": sc.SPAN_DIFF, "plan": sc.SPAN_PLAN, "apply wave": sc.SPAN_APPLY_WAVE,
    "prune": sc.SPAN_PRUNE, "health": sc.SPAN_HEALTH, "hook": sc.SPAN_HOOK,
}
Value = str | int | float | bool


def attribute(word: str) -> str:
    """The trace's name for the engine's attribute WORD."""
    return ATTRIBUTES.get(word, f"gitopsd.{word}")


class OtelSpan:
    def __init__(self, span: trace.Span) -> None:
        self._span = span

    @property
    def trace_id(self) -> str:
        return format(self._span.get_span_context().trace_id, "032x")

    def set(self, **attributes: Value) -> None:
        self._span.set_attributes({attribute(k): v for k, v in attributes.items()})

    def event(self, name: str, **attributes: Value) -> None:
        self._span.add_event(name, dict(attributes))

    def fail(self, message: str) -> None:
        self._span.set_status(trace.Status(trace.StatusCode.ERROR, message[:500]))

    def context(self) -> object:
        return self._span.get_span_context()


class OtelTracing:
    def __init__(self, name: str = "gitopsd.engine", provider: trace.TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer(name, tracer_provider=provider)

    def span(self, step: str, title: str = "", *, links: Sequence[object] = (),
             **attributes: Value) -> AbstractContextManager[OtelSpan]:
        return self._open(title or SPANS.get(step, step), links, attributes)

    @contextmanager
    def _open(self, name: str, links: Sequence[object], attributes: dict[str, Value]) -> Iterator[OtelSpan]:
        linked = [trace.Link(c) for c in links if isinstance(c, trace.SpanContext)]
        with self._tracer.start_as_current_span(
                name, links=linked, attributes={attribute(k): v for k, v in attributes.items()}) as span:
            yield OtelSpan(span)

    def current(self) -> OtelSpan:
        return OtelSpan(trace.get_current_span())
