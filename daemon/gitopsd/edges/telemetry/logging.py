"""JSON logs for gitopsd: one line per event on stderr, secrets scrubbed.

Every log line, whether it comes from gitopsd's structlog loggers or from a
library that uses the standard ``logging`` module, is rendered by the same
pipeline: ISO UTC timestamp, level, logger name, contextvars bindings, the
current OpenTelemetry trace and span ids, then JSON.

Secrets are kept out in two ways. Values whose key looks secret (``token``,
``password``, ``authorization``, ...) are replaced by ``[redacted]`` before
rendering, as are ``data``/``stringData`` of anything shaped like a Kubernetes
Secret. Strings registered with ``register_secret`` (tokens and keys read from
files) are cut out of every rendered line, wherever they appear, including
exception messages. Exceptions are rendered as structured tracebacks without
frame locals, which would otherwise carry decrypted values into the log.

This module configures logging; it must not decide what gets logged.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import MutableMapping
from typing import IO, Any

import structlog
from opentelemetry import trace

__all__ = [
    "REDACTED",
    "clear_secrets",
    "configure_logging",
    "get_logger",
    "is_secret_key",
    "register_secret",
    "scrub",
    "unconfigure_logging",
]

REDACTED = "[redacted]"

# Shorter strings would cut ordinary words out of log lines; no real credential is this short.
MIN_SECRET_LENGTH = 6

_SECRET_KEY = re.compile(
    r"token|passw|passphrase|secret|authori[sz]ation|bearer|cookie|credential|hmac|signature"
    r"|private_?key|key_?data|api_?key|client_?key|signing_?key|ssh_?key|age_?key",
)
# Keys that name where a secret lives, not the secret itself.
_HARMLESS_SUFFIX = re.compile(r"(_file|_path|_dir|_name|_ref|_env|_count|_len)$")
_SECRET_KINDS = {"Secret"}
_SECRET_OBJECT_FIELDS = ("data", "stringData")

_HANDLER_MARK = "_gitopsd_json_handler"


def is_secret_key(key: object) -> bool:
    """True when KEY (an event-dict or mapping key) names a value that must not be logged."""
    if not isinstance(key, str):
        return False
    k = key.lower().replace("-", "_").replace(".", "_")
    return bool(_SECRET_KEY.search(k)) and not _HARMLESS_SUFFIX.search(k)


class _SecretRegistry:
    """Known secret strings, cut out of rendered log lines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        value = value.strip()
        if len(value) < MIN_SECRET_LENGTH:
            return
        # JSON escapes quotes, backslashes and control characters; match the escaped form too.
        forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
        with self._lock:
            if forms <= self._values:
                return
            self._values |= forms
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = None

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None:
            return text
        return pattern.sub(REDACTED, text)


_registry = _SecretRegistry()


def register_secret(value: str | bytes) -> None:
    """Remember VALUE (surrounding whitespace stripped) so it never appears in a log line.

    Call it for every token, password or key read from a file or the environment.
    Values shorter than ``MIN_SECRET_LENGTH`` are ignored.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    _registry.add(value)


def clear_secrets() -> None:
    """Forget every registered secret (for tests and for credential rotation)."""
    _registry.clear()


def scrub(text: str) -> str:
    """TEXT with every registered secret replaced by ``[redacted]``."""
    return _registry.scrub(text)


def _redact_value(value: Any, depth: int = 0) -> Any:
    if depth > 8:
        return value
    if isinstance(value, dict):
        looks_like_secret = value.get("kind") in _SECRET_KINDS
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if is_secret_key(k) or (looks_like_secret and k in _SECRET_OBJECT_FIELDS):
                out[k] = REDACTED
            else:
                out[k] = _redact_value(v, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v, depth + 1) for v in value)
    return value


EventDict = MutableMapping[str, Any]


def redact_event(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: replace values under secret-looking keys, at any depth."""
    for key in list(event_dict):
        if key.startswith("_"):
            continue  # structlog/stdlib metadata such as _record
        if is_secret_key(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact_value(event_dict[key])
    return event_dict


def add_trace_ids(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: add ``trace_id``/``span_id`` of the current span, if any."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict["trace_id"] = format(ctx.trace_id, "032x")
        event_dict["span_id"] = format(ctx.span_id, "016x")
    return event_dict


def _scrub_rendered(_logger: Any, _method: str, rendered: Any) -> str:
    """Last processor: RENDERED is the JSON line the renderer before it produced."""
    return _registry.scrub(str(rendered))


def _level_number(level: str | int) -> int:
    if isinstance(level, int):
        return level
    mapping = logging.getLevelNamesMapping()
    number = mapping.get(level.strip().upper())
    if number is None:
        choices = ", ".join(n.lower() for n in ("debug", "info", "warning", "error", "critical"))
        raise ValueError(f"unknown log level {level!r}; use one of {choices}")
    return number


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        redact_event,
    ]


def _formatter() -> structlog.stdlib.ProcessorFormatter:
    exceptions = structlog.tracebacks.ExceptionDictTransformer(show_locals=False, use_rich=False)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.ExceptionRenderer(exceptions),
            structlog.processors.JSONRenderer(default=repr),
            _scrub_rendered,
        ],
    )


def _remove_our_handlers(root: logging.Logger) -> None:
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
            handler.close()


def configure_logging(level: str | int = "info", stream: IO[str] | None = None) -> None:
    """Send every log record (structlog and stdlib) to STREAM (default stderr) as JSON lines.

    Calling it again replaces the previous configuration instead of adding a
    second handler, so it is safe to call from tests and on reload.
    """
    number = _level_number(level)
    target = stream if stream is not None else sys.stderr
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(target)
    handler.setFormatter(_formatter())
    setattr(handler, _HANDLER_MARK, True)
    root = logging.getLogger()
    _remove_our_handlers(root)
    root.addHandler(handler)
    root.setLevel(number)


def unconfigure_logging() -> None:
    """Remove the handler ``configure_logging`` installed and reset structlog (for tests)."""
    _remove_our_handlers(logging.getLogger())
    structlog.reset_defaults()


def get_logger(name: str, **initial: Any) -> structlog.stdlib.BoundLogger:
    """A structlog logger named NAME (``gitopsd.<room>.<module>``), bound to INITIAL values."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name, **initial)
    return logger
