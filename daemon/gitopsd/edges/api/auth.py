"""Credentials checks for the HTTP server: the API bearer token and webhook signatures.

Every comparison of a secret is constant-time (``hmac.compare_digest`` on
bytes). Nothing here logs, and no error raised here carries a token, a
signature or a request body; callers must keep it that way.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from gitopsd.errors import ConfigError, ConfigIssue

_SHA256_PREFIX = "sha256="


def load_token(path: str) -> str:
    """The API token stored in the file at PATH, stripped of surrounding whitespace.

    Raises ``ConfigError`` naming the file (never its content) when it cannot be
    read or holds no token.
    """
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError([ConfigIssue(path, 0, "", f"API token file cannot be read: {reason}")]) from None
    if not token:
        raise ConfigError([ConfigIssue(path, 0, "", "API token file is empty")])
    return token


def bearer_token(header: str | None) -> str | None:
    """The credentials of an ``Authorization: Bearer <token>`` header, else None."""
    if not header:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    credentials = credentials.strip()
    return credentials or None


def secret_equals(given: str, expected: str) -> bool:
    """Constant-time equality of two secrets; an empty EXPECTED never matches."""
    if not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def hmac_sha256(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: the HMAC-SHA256 of BODY keyed with SECRET, as webhooks send it."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return _SHA256_PREFIX + digest


def signature_matches(header: str | None, secret: str, body: bytes) -> bool:
    """True when HEADER is ``sha256=<hex>`` of BODY under SECRET (hex case-insensitive)."""
    if not header or not secret:
        return False
    header = header.strip()
    if not header.lower().startswith(_SHA256_PREFIX):
        return False
    given = _SHA256_PREFIX + header[len(_SHA256_PREFIX):].lower()
    return hmac.compare_digest(given.encode("ascii", errors="replace"), hmac_sha256(secret, body).encode())
