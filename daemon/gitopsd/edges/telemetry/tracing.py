"""Sets up the OpenTelemetry SDK so every reconcile becomes a trace in Jaeger.

The engine creates spans through the no-op safe ``opentelemetry.trace`` API
only; this module decides where they go. Spans are exported over OTLP/HTTP
(protobuf) when an endpoint is configured, either explicitly or through the
standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
variables, with a batching processor that exports from its own thread.

OpenTelemetry accepts one global tracer provider per process. ``configure_tracing``
installs it once; later calls reuse it and only add the exporter they were given.
``build_provider`` makes a provider without touching the global one, for callers
(tests) that pass it explicitly.

This module must not create spans itself or decide what they contain. Span
and attribute names live in ``semconv`` (re-exported here for convenience),
which the engine can import without pulling in the SDK.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import trace
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from gitopsd.edges.telemetry.logging import get_logger
from gitopsd.edges.telemetry.semconv import (
    ATTR_APP,
    ATTR_CLUSTER,
    ATTR_NAMESPACE,
    ATTR_OUTCOME,
    ATTR_PHASE,
    ATTR_REF_NAME,
    ATTR_REPOSITORY_URL,
    ATTR_REVISION,
    ATTR_WAVE,
    repository_url,
)

__all__ = [
    "ATTR_APP",
    "ATTR_CLUSTER",
    "ATTR_NAMESPACE",
    "ATTR_OUTCOME",
    "ATTR_PHASE",
    "ATTR_REF_NAME",
    "ATTR_REPOSITORY_URL",
    "ATTR_REVISION",
    "ATTR_WAVE",
    "SERVICE_NAME",
    "TRACER_NAME",
    "build_provider",
    "configure_tracing",
    "otlp_endpoint_from_env",
    "repository_url",
    "shutdown_tracing",
]

SERVICE_NAME = "gitopsd"
TRACER_NAME = "gitopsd"

_TRACES_PATH = "/v1/traces"
_ENV_TRACES = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
_ENV_BASE = "OTEL_EXPORTER_OTLP_ENDPOINT"

_log = get_logger("gitopsd.edges.telemetry.tracing")
_lock = threading.Lock()
_installed: TracerProvider | None = None
_attached_endpoints: set[str] = set()


def _traces_url(endpoint: str) -> str:
    """A base URL (``http://jaeger:4318``) gets ``/v1/traces``; a URL with a path is kept."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"OTLP endpoint must be an http(s) URL, got {repository_url(endpoint)!r}")
    if parts.path in ("", "/"):
        return urlunsplit((parts.scheme, parts.netloc, _TRACES_PATH, parts.query, ""))
    return endpoint


def otlp_endpoint_from_env(environ: dict[str, str] | None = None) -> str | None:
    """The OTLP/HTTP traces URL the standard environment variables ask for, or None."""
    env = os.environ if environ is None else environ
    specific = env.get(_ENV_TRACES, "").strip()
    if specific:
        return specific
    base = env.get(_ENV_BASE, "").strip()
    if base:
        return base.rstrip("/") + _TRACES_PATH
    return None


def _resource(service_version: str) -> Resource:
    """gitopsd's resource; ``OTEL_RESOURCE_ATTRIBUTES`` may add to it and name the instance."""
    instance = OTELResourceDetector().detect().attributes.get("service.instance.id") or socket.gethostname()
    return Resource.create({
        "service.name": SERVICE_NAME,
        "service.version": service_version,
        "service.instance.id": instance,
    })


def _otlp_url(endpoint: str | None) -> str | None:
    return _traces_url(endpoint) if endpoint else otlp_endpoint_from_env()


def _otlp_processor(url: str) -> BatchSpanProcessor:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return BatchSpanProcessor(OTLPSpanExporter(endpoint=url))


def build_provider(service_version: str, *, endpoint: str | None = None,
                   exporter: SpanExporter | None = None) -> TracerProvider:
    """A new tracer provider, not installed globally.

    EXPORTER, when given, receives every span synchronously (tests). ENDPOINT
    (or the standard environment variables) adds a batching OTLP/HTTP exporter.
    ENDPOINT may be a base URL (``http://jaeger:4318``, ``/v1/traces`` is
    appended) or the full traces URL.
    """
    provider = TracerProvider(resource=_resource(service_version), shutdown_on_exit=False)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    url = _otlp_url(endpoint)
    if url is not None:
        provider.add_span_processor(_otlp_processor(url))
    return provider


def configure_tracing(service_version: str, *, endpoint: str | None = None,
                      exporter: SpanExporter | None = None) -> TracerProvider:
    """Install the process-wide tracer provider once and return it.

    The first call creates the provider (resource ``service.name=gitopsd``,
    ``service.version``, ``service.instance.id``=hostname) and installs it with
    ``trace.set_tracer_provider``. Later calls return the same provider,
    adding EXPORTER (synchronous, for tests) and any OTLP endpoint not yet
    attached; the resource of the first call stays. A provider that another
    party installed earlier in the process is adopted, never overridden.
    """
    global _installed
    with _lock:
        if _installed is None:
            current = trace.get_tracer_provider()
            if isinstance(current, TracerProvider):
                _installed = current
            else:
                _installed = TracerProvider(resource=_resource(service_version), shutdown_on_exit=False)
                trace.set_tracer_provider(_installed)
        if exporter is not None:
            _installed.add_span_processor(SimpleSpanProcessor(exporter))
        url = _otlp_url(endpoint)
        if url is not None and url not in _attached_endpoints:
            _installed.add_span_processor(_otlp_processor(url))
            _attached_endpoints.add(url)
            _log.info("exporting traces over OTLP/HTTP", otlp_endpoint=repository_url(url))
        return _installed


def shutdown_tracing(timeout: float = 10.0, provider: TracerProvider | None = None) -> bool:
    """Flush and shut down PROVIDER (default: the installed one) within TIMEOUT seconds.

    Returns False when pending spans could not be exported in time; the
    exporter threads are then abandoned, so a stuck collector never delays
    the process's exit beyond TIMEOUT.
    """
    target = provider
    if target is None:
        with _lock:
            target = _installed
    if target is None:
        return True
    tp = target
    done = threading.Event()

    def run() -> None:
        tp.force_flush(timeout_millis=max(1, int(timeout * 1000)))
        tp.shutdown()
        done.set()

    worker = threading.Thread(target=run, name="gitopsd-tracing-shutdown", daemon=True)
    worker.start()
    finished = done.wait(timeout)
    if not finished:
        _log.warning("spans not exported before the shutdown deadline", timeout_seconds=timeout)
    return finished
