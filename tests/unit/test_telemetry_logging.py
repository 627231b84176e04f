"""JSON logs: one object per line, trace ids inside spans, no secrets, no frame locals."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gitopsd.edges.telemetry import logging as tlog
from gitopsd.edges.telemetry import tracing

FAKE_TOKEN = "tok-4f9d2c1be0a7"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Logging configured into a buffer; the previous root logger state is restored afterwards."""
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    tlog.configure_logging("debug", stream)
    yield stream
    tlog.unconfigure_logging()
    tlog.clear_secrets()
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_structlog_event_is_one_json_line(log_stream: io.StringIO) -> None:
    """A structlog event becomes one JSON object with level, logger, UTC timestamp and fields."""
    tlog.get_logger("gitopsd.test").info("synced", app="guestbook", changed=3)
    [line] = lines(log_stream)
    assert line["event"] == "synced"
    assert line["level"] == "info"
    assert line["logger"] == "gitopsd.test"
    assert line["app"] == "guestbook"
    assert line["changed"] == 3
    assert line["timestamp"].endswith("Z")
    assert "trace_id" not in line


def test_foreign_stdlib_logs_are_json_too(log_stream: io.StringIO) -> None:
    """A record from a library using plain logging is rendered as JSON with its arguments applied."""
    logging.getLogger("somelib.client").warning("retrying %s in %d s", "connect", 5)
    [line] = lines(log_stream)
    expected = {"event": "retrying connect in 5 s", "level": "warning", "logger": "somelib.client"}
    assert line == {**line, **expected}


def test_level_filters_debug() -> None:
    """At level info, debug events are dropped and info events pass."""
    stream = io.StringIO()
    root_level = logging.getLogger().level
    tlog.configure_logging("info", stream)
    try:
        log = tlog.get_logger("gitopsd.level")
        log.debug("hidden")
        log.info("shown")
    finally:
        tlog.unconfigure_logging()
        logging.getLogger().setLevel(root_level)
    assert [line["event"] for line in lines(stream)] == ["shown"]


def test_unknown_level_is_rejected() -> None:
    """A misspelt level name is an error, not a silent default."""
    with pytest.raises(ValueError, match="unknown log level"):
        tlog.configure_logging("verbose", io.StringIO())


def test_configure_twice_keeps_one_handler(log_stream: io.StringIO) -> None:
    """Reconfiguring replaces the handler, so each event is written once, to the new stream."""
    second = io.StringIO()
    tlog.configure_logging("debug", second)
    tlog.get_logger("gitopsd.twice").info("once")
    assert log_stream.getvalue() == ""
    assert [line["event"] for line in lines(second)] == ["once"]


def test_trace_and_span_ids_inside_a_span(log_stream: io.StringIO) -> None:
    """Inside a span, a log line carries that span's trace and span id in W3C hex form."""
    provider = tracing.build_provider("test", exporter=InMemorySpanExporter())
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("reconcile") as span:
        tlog.get_logger("gitopsd.trace").info("inside")
        ctx = span.get_span_context()
    tlog.get_logger("gitopsd.trace").info("outside")
    inside, outside = lines(log_stream)
    assert inside["trace_id"] == format(ctx.trace_id, "032x")
    assert inside["span_id"] == format(ctx.span_id, "016x")
    assert len(inside["trace_id"]) == 32
    assert len(inside["span_id"]) == 16
    assert "trace_id" not in outside


@pytest.mark.parametrize("key", [
    "token", "bearer_token", "password", "client_secret", "Authorization", "api_key",
    "private_key", "key_data", "age_key", "webhook_hmac", "passphrase", "credentials",
])
def test_secret_looking_keys_are_redacted(log_stream: io.StringIO, key: str) -> None:
    """A value under a secret-looking key is replaced before rendering."""
    tlog.get_logger("gitopsd.redact").info("event", **{key: "v4lue-that-leaks"})
    [line] = lines(log_stream)
    assert line[key] == tlog.REDACTED
    assert "v4lue-that-leaks" not in log_stream.getvalue()


@pytest.mark.parametrize("key", ["app", "token_file", "secret_name", "cluster", "keys", "revision"])
def test_ordinary_keys_are_kept(log_stream: io.StringIO, key: str) -> None:
    """Keys that name a place or a thing, not a secret, keep their values."""
    tlog.get_logger("gitopsd.redact").info("event", **{key: "plain-value"})
    [line] = lines(log_stream)
    assert line[key] == "plain-value"


def test_nested_values_and_secret_objects_are_redacted(log_stream: io.StringIO) -> None:
    """Secret keys deep inside dicts and lists, and a Kubernetes Secret's data, are redacted."""
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
           "data": {"pw": "c2VjcmV0"}, "stringData": {"pw": "plain-secret"}}
    tlog.get_logger("gitopsd.redact").info(
        "applied", objects=[obj], request={"headers": {"Authorization": "Bearer abc123xyz"}})
    [line] = lines(log_stream)
    assert line["objects"][0]["data"] == tlog.REDACTED
    assert line["objects"][0]["stringData"] == tlog.REDACTED
    assert line["objects"][0]["metadata"] == {"name": "db"}
    assert line["request"]["headers"]["Authorization"] == tlog.REDACTED
    for leaked in ("c2VjcmV0", "plain-secret", "abc123xyz"):
        assert leaked not in log_stream.getvalue()


def test_registered_secret_is_scrubbed_everywhere(log_stream: io.StringIO) -> None:
    """A registered token disappears from messages, values and foreign log lines alike."""
    tlog.register_secret(FAKE_TOKEN + "\n")
    log = tlog.get_logger("gitopsd.scrub")
    log.info(f"header was Bearer {FAKE_TOKEN}", url=f"https://x:{FAKE_TOKEN}@git.example/r.git")
    logging.getLogger("thirdparty.transport").info("sending %s", FAKE_TOKEN)
    text = log_stream.getvalue()
    assert FAKE_TOKEN not in text
    assert text.count(tlog.REDACTED) == 3
    first, second = lines(log_stream)
    assert first["url"] == f"https://x:{tlog.REDACTED}@git.example/r.git"
    assert second["event"] == f"sending {tlog.REDACTED}"


def test_registered_secret_with_json_escapes_is_scrubbed(log_stream: io.StringIO) -> None:
    """A secret containing characters JSON escapes is still found in the rendered line."""
    secret = 'pa"ss\\word-9x'
    tlog.register_secret(secret)
    tlog.get_logger("gitopsd.scrub").info("value", v=f"<{secret}>")
    [line] = lines(log_stream)
    assert line["v"] == f"<{tlog.REDACTED}>"


def test_short_values_are_not_registered(log_stream: io.StringIO) -> None:
    """Registering a very short string does not cut that string out of ordinary words."""
    tlog.register_secret("ab")
    tlog.get_logger("gitopsd.scrub").info("about abc")
    [line] = lines(log_stream)
    assert line["event"] == "about abc"


def _fail_with_secret_in_a_local() -> None:
    decrypted_value = "hunter2-" + "local-frame-value"
    raise RuntimeError(f"decryption of {len(decrypted_value)} bytes failed")


@pytest.mark.parametrize("origin", ["structlog", "stdlib"])
def test_exception_has_frames_but_no_locals(log_stream: io.StringIO, origin: str) -> None:
    """An exception log carries a structured traceback without any frame locals."""
    try:
        _fail_with_secret_in_a_local()
    except RuntimeError:
        if origin == "structlog":
            tlog.get_logger("gitopsd.exc").exception("decrypt failed")
        else:
            logging.getLogger("lib").exception("decrypt failed")
    text = log_stream.getvalue()
    [line] = lines(log_stream)
    [exc] = line["exception"]
    assert exc["exc_type"] == "RuntimeError"
    assert exc["frames"][-1]["name"] == "_fail_with_secret_in_a_local"
    assert all("locals" not in frame for frame in exc["frames"])
    assert "hunter2-local-frame-value" not in text
    assert "decrypted_value" not in text


def test_exception_message_with_registered_secret_is_scrubbed(log_stream: io.StringIO) -> None:
    """A registered secret inside an exception message does not reach the log."""
    tlog.register_secret(FAKE_TOKEN)
    try:
        raise PermissionError(f"token {FAKE_TOKEN} rejected")
    except PermissionError:
        tlog.get_logger("gitopsd.exc").exception("auth failed")
    assert FAKE_TOKEN not in log_stream.getvalue()
    [line] = lines(log_stream)
    assert line["exception"][0]["exc_value"] == f"token {tlog.REDACTED} rejected"


def test_context_bindings_are_merged(log_stream: io.StringIO) -> None:
    """Values bound with structlog.contextvars appear in every line logged inside the binding."""
    import structlog

    with structlog.contextvars.bound_contextvars(app="guestbook", cluster="prod-eu"):
        tlog.get_logger("gitopsd.ctx").info("inside")
    tlog.get_logger("gitopsd.ctx").info("outside")
    inside, outside = lines(log_stream)
    assert (inside["app"], inside["cluster"]) == ("guestbook", "prod-eu")
    assert "app" not in outside
