"""Tracing set-up: the global provider once per process, in-memory capture, and OTLP/HTTP export."""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from aiohttp import web
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gitopsd.edges.telemetry import tracing


@pytest.fixture(scope="session")
def session_exporter() -> InMemorySpanExporter:
    """The process-wide provider, configured once for the session with an in-memory exporter."""
    exporter = InMemorySpanExporter()
    tracing.configure_tracing("0.0.0-test", exporter=exporter)
    return exporter


@pytest.fixture
def spans(session_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    """The session exporter, emptied before and after each test."""
    session_exporter.clear()
    yield session_exporter
    session_exporter.clear()


def test_engine_style_spans_are_recorded(spans: InMemorySpanExporter) -> None:
    """Spans made through the plain API (as the engine makes them) reach the configured exporter."""
    tracer = trace.get_tracer("gitopsd.engine")
    with tracer.start_as_current_span("reconcile", attributes={
        tracing.ATTR_APP: "guestbook", tracing.ATTR_CLUSTER: "prod-eu"}), \
            tracer.start_as_current_span("apply wave", attributes={tracing.ATTR_WAVE: 1}):
        pass
    finished = {s.name: s for s in spans.get_finished_spans()}
    assert set(finished) == {"reconcile", "apply wave"}
    parent, child = finished["reconcile"], finished["apply wave"]
    assert child.parent is not None
    assert child.parent.span_id == parent.context.span_id
    assert parent.attributes == {"gitopsd.app": "guestbook", "k8s.cluster.name": "prod-eu"}
    assert parent.resource.attributes["service.name"] == "gitopsd"
    assert parent.resource.attributes["service.instance.id"] == socket.gethostname()


def test_configure_again_reuses_the_provider_without_warning(
        spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture) -> None:
    """A second configure_tracing returns the same provider, warns nothing, and adds its exporter."""
    second = InMemorySpanExporter()
    before = trace.get_tracer_provider()
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING):
        warnings.simplefilter("error")
        provider = tracing.configure_tracing("0.0.0-other", exporter=second)
    assert provider is before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert provider.resource.attributes["service.version"] == "0.0.0-test"
    with trace.get_tracer("t").start_as_current_span("both"):
        pass
    assert [s.name for s in second.get_finished_spans()] == ["both"]
    assert [s.name for s in spans.get_finished_spans()] == ["both"]
    second.shutdown()


def test_build_provider_does_not_touch_the_global() -> None:
    """build_provider makes a provider that records spans without being installed globally."""
    exporter = InMemorySpanExporter()
    provider = tracing.build_provider("1.2.3", exporter=exporter)
    assert trace.get_tracer_provider() is not provider
    with provider.get_tracer("t").start_as_current_span("local"):
        pass
    [span] = exporter.get_finished_spans()
    assert span.name == "local"
    assert span.resource.attributes["service.version"] == "1.2.3"
    provider.shutdown()


@pytest.mark.parametrize(("url", "expected"), [
    ("https://user:tok3n@git.example.com/org/repo.git", "https://git.example.com/org/repo.git"),
    ("https://git.example.com:8443/org/repo.git?private_token=abc#x", "https://git.example.com:8443/org/repo.git"),
    ("ssh://git@git.example.com:2222/org/repo.git", "ssh://git.example.com:2222/org/repo.git"),
    ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
    ("https://[::1]:3000/r.git", "https://[::1]:3000/r.git"),
])
def test_repository_url_drops_credentials(url: str, expected: str) -> None:
    """The URL recorded as vcs.repository.url.full carries no user info, query or fragment."""
    assert tracing.repository_url(url) == expected


@pytest.mark.parametrize(("env", "expected"), [
    ({}, None),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "http://c:4318/v1/traces"),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/x"},
     "http://t/x"),
])
def test_endpoint_from_env(env: dict[str, str], expected: str | None) -> None:
    """The standard OTLP variables select the traces URL, the signal-specific one first."""
    assert tracing.otlp_endpoint_from_env(env) == expected


def test_endpoint_must_be_http() -> None:
    """A non-HTTP endpoint is refused with a message that carries no credentials."""
    with pytest.raises(ValueError, match="http") as info:
        tracing.build_provider("1", endpoint="grpc://user:pw-123456@collector:4317")
    assert "pw-123456" not in str(info.value)


# -- OTLP/HTTP export to a real receiver ------------------------------------------------------


@dataclass
class Receiver:
    """A minimal OTLP/HTTP traces endpoint that keeps what it was sent."""

    base: str = ""
    requests: list[ExportTraceServiceRequest] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)

    def span_names(self) -> list[str]:
        return [span.name for req in self.requests for rs in req.resource_spans
                for ss in rs.scope_spans for span in ss.spans]

    def resource_attributes(self) -> dict[str, str]:
        return {kv.key: kv.value.string_value for req in self.requests for rs in req.resource_spans
                for kv in rs.resource.attributes}


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """An aiohttp server on 127.0.0.1 accepting POST /v1/traces and decoding the protobuf body."""
    state = Receiver()

    async def traces(request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        state.requests.append(message)
        state.content_types.append(request.content_type)
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    state.base = f"http://{host}:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()


def _emit(provider: TracerProvider, name: str) -> None:
    tracer = provider.get_tracer("gitopsd.test")
    with tracer.start_as_current_span(name, attributes={tracing.ATTR_REVISION: "0" * 40}):
        pass


@pytest.mark.asyncio
async def test_otlp_http_export_reaches_the_receiver(receiver: Receiver) -> None:
    """A span ends up at the OTLP/HTTP endpoint as protobuf after shutdown_tracing flushes the batch."""
    provider = tracing.build_provider("9.9.9", endpoint=receiver.base)
    _emit(provider, "reconcile guestbook")
    flushed = await asyncio.to_thread(tracing.shutdown_tracing, 10.0, provider)
    assert flushed
    assert receiver.span_names() == ["reconcile guestbook"]
    assert receiver.content_types == ["application/x-protobuf"]
    attrs = receiver.resource_attributes()
    assert (attrs["service.name"], attrs["service.version"]) == ("gitopsd", "9.9.9")


@pytest.mark.asyncio
async def test_otlp_endpoint_from_environment(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """With only OTEL_EXPORTER_OTLP_ENDPOINT set, spans are exported to its /v1/traces."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.base)
    provider = tracing.build_provider("9.9.9")
    _emit(provider, "from-env")
    assert await asyncio.to_thread(tracing.shutdown_tracing, 10.0, provider)
    assert receiver.span_names() == ["from-env"]


def test_no_endpoint_means_no_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an endpoint or exporter, spans still get valid ids (for logs) but go nowhere."""
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    provider = tracing.build_provider("1")
    with provider.get_tracer("t").start_as_current_span("x") as span:
        assert span.get_span_context().is_valid
    assert tracing.shutdown_tracing(1.0, provider)


def test_shutdown_is_bounded_when_the_collector_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A collector that accepts connections but never answers cannot hold shutdown past its timeout."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        port = listener.getsockname()[1]
        provider = tracing.build_provider("1", endpoint=f"http://127.0.0.1:{port}")
        _emit(provider, "stuck")
        start = time.monotonic()
        assert tracing.shutdown_tracing(0.5, provider) is False
        assert time.monotonic() - start < 2.0
    finally:
        listener.close()
    for thread in threading.enumerate():
        if thread.name == "gitopsd-tracing-shutdown":
            thread.join(10)
