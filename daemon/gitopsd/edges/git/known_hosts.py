"""Strict SSH host keys for libgit2, whose only source is ``<homedir>/.ssh/known_hosts``.

libgit2 checks an SSH server's key against the known_hosts file of its home
directory, and that home directory (``pygit2.settings.homedir``) is one value
for the whole process. Each repository may name its own known_hosts file, so:

- every distinct known_hosts content gets a private home directory under
  ``<state_dir>/git/home/<hash>/.ssh/known_hosts`` (a copy, refreshed when the
  configured file changes);
- ``HomeGate`` lets any number of SSH operations that use the *same* home run at
  once and makes operations for a different home wait until those finish, so a
  connection is always checked against exactly its repository's file. Waiters
  are served in arrival order, so no home starves.

The choice over merging all files into one: a key trusted for one repository is
never trusted for another. The gate is a thread primitive, taken inside the
worker thread, so it holds across event loops and ``GitSource`` instances.

This module never decides to accept a key; that is libgit2's match, returned
as-is by the certificate callback (see ``credentials``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pygit2


def private_home(root: Path, known_hosts_file: Path) -> Path:
    """Home directory under ROOT whose .ssh/known_hosts is a copy of KNOWN_HOSTS_FILE.

    Raises OSError when the file cannot be read.
    """
    data = known_hosts_file.read_bytes()
    home = root / hashlib.sha256(data).hexdigest()[:16]
    target = home / ".ssh" / "known_hosts"
    if not target.is_file() or target.read_bytes() != data:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
        tmp.write_bytes(data)
        tmp.replace(target)
    return home


def _glob(pattern: str, name: str) -> bool:
    """OpenSSH host pattern match: only ``*`` and ``?`` are special (``[`` is literal)."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, name, re.IGNORECASE) is not None


def _host_matches(pattern_field: str, names: tuple[str, ...]) -> bool:
    if pattern_field.startswith("|1|"):
        try:
            _, _, salt, digest = pattern_field.split("|", 3)
            key = base64.b64decode(salt)
            want = base64.b64decode(digest)
        except ValueError:
            return False
        return any(hmac.compare_digest(hmac.new(key, n.encode(), "sha1").digest(), want)
                   for n in names)
    matched = False
    for pattern in pattern_field.split(","):
        if pattern.startswith("!"):
            if any(_glob(pattern[1:], n) for n in names):
                return False
        elif any(_glob(pattern, n) for n in names):
            matched = True
    return matched


def lists_host(text: str, host: str, port: int) -> bool:
    """True when known_hosts TEXT has any (non-revoked) entry for HOST:PORT."""
    names = (host,) if port in (0, 22) else (f"[{host}]:{port}",)
    for raw in text.splitlines():
        fields = raw.split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0].startswith("@"):
            if fields[0] == "@revoked" or len(fields) < 2:
                continue
            fields = fields[1:]
        if _host_matches(fields[0], names):
            return True
    return False


class HomeGate:
    """Process-wide: who may set ``pygit2.settings.homedir``, and to what."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._home: str | None = None
        self._holders = 0
        self._queue: list[tuple[int, str]] = []
        self._tickets = 0

    def _may_enter(self, ticket: int, home: str) -> bool:
        if self._holders and self._home != home:
            return False
        for other, other_home in self._queue:
            if other == ticket:
                return True
            if other_home != home:
                return False
        return True

    def settle(self, home: Path) -> None:
        """Point libgit2 at HOME now if no operation holds the gate.

        Called once at start so that libgit2's notion of home is gitopsd's state
        directory from the beginning, whatever ``$HOME`` is (or is not, under
        systemd's DynamicUser).
        """
        with self._cond:
            if not self._holders and not self._queue:
                home.mkdir(parents=True, exist_ok=True, mode=0o700)
                pygit2.settings.homedir = str(home)
                self._home = str(home)

    @contextlib.contextmanager
    def use(self, home: Path) -> Iterator[None]:
        """Hold libgit2's home at HOME for the duration (blocking; call from a worker thread)."""
        key = str(home)
        with self._cond:
            self._tickets += 1
            ticket = self._tickets
            self._queue.append((ticket, key))
            try:
                self._cond.wait_for(lambda: self._may_enter(ticket, key))
            finally:
                self._queue.remove((ticket, key))
            if self._home != key:
                pygit2.settings.homedir = key
                self._home = key
            self._holders += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._holders -= 1
                self._cond.notify_all()


GATE = HomeGate()
