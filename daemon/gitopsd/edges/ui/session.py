"""Signed-in sessions of the status pages, and the CSRF token tied to each.

Signing in exchanges the API token for a random session id kept in memory
(a restart signs everybody out) and sent back as an HttpOnly, SameSite=Strict
cookie; every form that changes something carries the session's CSRF token,
an HMAC of the session id under a key made at start, compared in constant
time. Nothing here logs, and no session id, token or key leaves this module
except as the cookie and the form field it is meant for.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

COOKIE = "gitopsd_session"
LIFETIME = 12 * 3600.0  # seconds a session lasts after signing in
MAX_SESSIONS = 1000

__all__ = ["COOKIE", "LIFETIME", "Sessions"]


class Sessions:
    """The signed-in sessions of one server process."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._key = secrets.token_bytes(32)
        self._expires: dict[str, float] = {}
        self._clock = clock

    def open(self) -> str:
        """A new session id, valid for ``LIFETIME``; the oldest go when there are too many."""
        now = self._clock()
        self._expires = {s: t for s, t in self._expires.items() if t > now}
        while len(self._expires) >= MAX_SESSIONS:
            self._expires.pop(min(self._expires, key=self._expires.__getitem__))
        sid = secrets.token_urlsafe(32)
        self._expires[sid] = now + LIFETIME
        return sid

    def valid(self, sid: str | None) -> bool:
        """Whether SID names a session that has not expired nor been closed."""
        if not sid:
            return False
        expires = self._expires.get(sid)
        return expires is not None and expires > self._clock()

    def close(self, sid: str | None) -> None:
        """End SID's session (signing out)."""
        if sid:
            self._expires.pop(sid, None)

    def csrf(self, sid: str) -> str:
        """The CSRF token of session SID."""
        return hmac.new(self._key, sid.encode("utf-8"), hashlib.sha256).hexdigest()

    def csrf_ok(self, sid: str | None, given: str | None) -> bool:
        """Whether GIVEN is the CSRF token of the valid session SID."""
        if not self.valid(sid) or not given or sid is None:
            return False
        return hmac.compare_digest(self.csrf(sid).encode(), given.encode("utf-8", errors="replace"))
