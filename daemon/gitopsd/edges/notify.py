"""Tells systemd how the daemon is doing: the sd_notify protocol, written out.

The protocol is a datagram of ``KEY=VALUE`` lines sent to the AF_UNIX socket
named by ``$NOTIFY_SOCKET`` (a leading ``@`` means the abstract namespace).
Without ``$NOTIFY_SOCKET`` every call is a no-op, so the daemon runs the same
under systemd, in a terminal and in tests.

Notifications are best effort: a failed send is logged as a warning and never
stops the daemon. ``WATCHDOG=1`` must be sent from an event-loop task
(``keep_alive``) so that a blocked loop stops the pings and systemd restarts
the service. This module must not decide when the daemon is ready; the
composition root does.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Mapping, MutableMapping

from gitopsd.edges.telemetry.logging import get_logger

__all__ = ["Notifier"]

_log = get_logger("gitopsd.edges.notify")

_ENV_SOCKET = "NOTIFY_SOCKET"
_ENV_WATCHDOG_USEC = "WATCHDOG_USEC"
_ENV_WATCHDOG_PID = "WATCHDOG_PID"


def _socket_address(raw: str) -> str | bytes | None:
    """The connect() address for $NOTIFY_SOCKET, or None if it is not an AF_UNIX address."""
    if raw.startswith("@"):
        return b"\0" + raw[1:].encode()
    if raw.startswith("/"):
        return raw
    return None


def _watchdog_usec(env: Mapping[str, str], pid: int) -> int | None:
    raw = env.get(_ENV_WATCHDOG_USEC, "").strip()
    if not raw:
        return None
    try:
        usec = int(raw)
    except ValueError:
        _log.warning("ignoring malformed WATCHDOG_USEC", value=raw)
        return None
    if usec <= 0:
        return None
    watchdog_pid = env.get(_ENV_WATCHDOG_PID, "").strip()
    if watchdog_pid:
        try:
            if int(watchdog_pid) != pid:
                return None
        except ValueError:
            _log.warning("ignoring malformed WATCHDOG_PID", value=watchdog_pid)
            return None
    return usec


class Notifier:
    """Sends sd_notify messages to one socket address; a no-op without one."""

    def __init__(self, address: str | None, *, watchdog_usec: int | None = None) -> None:
        self._raw = address or ""
        self._address = _socket_address(self._raw) if address else None
        if address and self._address is None:
            _log.warning("NOTIFY_SOCKET is not an AF_UNIX path or abstract name; notifications are off",
                         notify_socket=address)
        self._watchdog_usec = watchdog_usec
        self._failing = False

    @classmethod
    def from_env(cls, environ: MutableMapping[str, str] | None = None, *,
                 unset_environment: bool = False) -> Notifier:
        """A notifier for the socket systemd named in ENVIRON (default ``os.environ``).

        With UNSET_ENVIRONMENT, ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and
        ``WATCHDOG_PID`` are removed from ENVIRON so child processes (git, helm)
        do not inherit them.
        """
        env = os.environ if environ is None else environ
        notifier = cls(env.get(_ENV_SOCKET) or None, watchdog_usec=_watchdog_usec(env, os.getpid()))
        if unset_environment:
            for key in (_ENV_SOCKET, _ENV_WATCHDOG_USEC, _ENV_WATCHDOG_PID):
                env.pop(key, None)
        return notifier

    @property
    def enabled(self) -> bool:
        """True when messages go somewhere."""
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ASSIGNMENTS (``KEY=VALUE`` strings) as one datagram; True if it was sent."""
        if self._address is None or not assignments:
            return False
        payload = "\n".join(assignments).encode()
        try:
            with socket.socket(socket.AF_UNIX,
                               socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK) as sock:
                sock.connect(self._address)
                sock.sendall(payload)
        except OSError as e:
            if not self._failing:
                _log.warning("sd_notify failed", notify_socket=self._raw, error=str(e))
            self._failing = True
            return False
        if self._failing:
            _log.info("sd_notify works again", notify_socket=self._raw)
        self._failing = False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Tell systemd start-up is complete (``READY=1``), optionally with a STATUS line."""
        return self.notify("READY=1", *self._status_lines(status))

    def status(self, text: str) -> bool:
        """Set the one-line status ``systemctl status`` shows."""
        return self.notify(self._status_line(text))

    def stopping(self, status: str | None = None) -> bool:
        """Tell systemd the daemon is shutting down (``STOPPING=1``)."""
        return self.notify("STOPPING=1", *self._status_lines(status))

    def reloading(self) -> bool:
        """Tell systemd the daemon is reloading its configuration (``RELOADING=1``)."""
        return self.notify("RELOADING=1")

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for SECONDS more before the start/stop timeout fires (``EXTEND_TIMEOUT_USEC``)."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={max(0, int(seconds * 1_000_000))}")

    def watchdog(self) -> bool:
        """Ping the service watchdog (``WATCHDOG=1``)."""
        return self.notify("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings (half of ``WatchdogSec=``), or None when it is off."""
        if self._address is None or self._watchdog_usec is None:
            return None
        return self._watchdog_usec / 2 / 1_000_000

    async def keep_alive(self) -> None:
        """Ping the watchdog forever from the event loop; returns at once when the watchdog is off."""
        interval = self.watchdog_interval()
        if interval is None:
            return
        while True:
            self.watchdog()
            await asyncio.sleep(interval)

    @staticmethod
    def _status_line(text: str) -> str:
        return "STATUS=" + " ".join(text.split())

    @classmethod
    def _status_lines(cls, text: str | None) -> tuple[str, ...]:
        return (cls._status_line(text),) if text else ()
