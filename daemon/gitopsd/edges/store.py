"""Sync history in SQLite under the state directory, for status and the API.

The file is ``<state_dir>/history.sqlite3`` (WAL mode), one row per finished
sync of an application instance, the last ``keep`` (default 20) kept per
instance, pruned on insert. Nothing here is needed for correctness: a missing
file means empty history, and a file that is not a database is moved aside
(``history.sqlite3.corrupt-<epoch>``) and started afresh. A write that fails
(a full or read-only disk) never fails the sync that produced it: the record
is logged and kept in memory (up to ``BACKLOG`` records), shown by reads, and
written with the next record or read the disk takes.

Blocking sqlite calls run in a worker thread (``asyncio.to_thread``) under one
lock over one connection. The store keeps only what it is given, with the
message bounded to 2000 characters; callers must not hand it secret values.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

import structlog

FILENAME = "history.sqlite3"
DEFAULT_KEEP = 20
DEFAULT_LIMIT = 10
MAX_MESSAGE = 2000
BACKLOG = 1000  # records kept in memory while the disk refuses writes

T = TypeVar("T")

log = structlog.get_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sync_history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    app       TEXT NOT NULL,
    cluster   TEXT NOT NULL,
    revision  TEXT NOT NULL,
    started   REAL NOT NULL,
    duration  REAL NOT NULL,
    result    TEXT NOT NULL,
    message   TEXT NOT NULL,
    trace_id  TEXT NOT NULL,
    changes   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sync_history_instance ON sync_history (app, cluster, id);
"""

_COLUMNS = "app, cluster, revision, started, duration, result, message, trace_id, changes"


@dataclass(frozen=True)
class HistoryEntry:
    """One finished sync of one instance; ``started`` is epoch seconds, ``changes`` a summary,
    ``id`` the store's number for it (0 until stored), unique across instances."""

    app: str
    cluster: str
    revision: str
    started: float
    duration: float
    result: str
    message: str
    trace_id: str
    changes: Mapping[str, Any]
    id: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        out = asdict(self)
        out["changes"] = dict(self.changes)
        return out


def _entry(row: tuple[Any, ...]) -> HistoryEntry:
    try:
        changes = json.loads(row[8])
    except (TypeError, ValueError):
        changes = {}
    return HistoryEntry(app=row[0], cluster=row[1], revision=row[2], started=float(row[3]),
                        duration=float(row[4]), result=row[5], message=row[6], trace_id=row[7],
                        changes=changes if isinstance(changes, dict) else {}, id=int(row[9]))


class HistoryStore:
    """Sync history of every instance; async methods, one connection opened on first use."""

    def __init__(self, state_dir: str | os.PathLike[str], *, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.path = Path(state_dir) / FILENAME
        self.keep = keep
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        # records whose write failed (a full or read-only disk), written before the next one
        self._backlog: deque[tuple[Any, ...]] = deque(maxlen=BACKLOG)

    async def record(
        self,
        app: str,
        cluster: str,
        *,
        revision: str,
        started: float,
        duration: float,
        result: str,
        message: str = "",
        trace_id: str = "",
        changes: Mapping[str, Any] | None = None,
    ) -> bool:
        """Append one sync and prune the instance to the last ``keep``; False when the write failed.

        A record that cannot be written now (a full or read-only disk) is kept in
        memory, up to ``BACKLOG`` of them, and written before the next record.
        """
        values = (app, cluster, revision, float(started), float(duration), result, message[:MAX_MESSAGE],
                  trace_id, json.dumps(dict(changes or {}), sort_keys=True, default=str))
        try:
            await self._write([*self._backlog, values])
        except (sqlite3.Error, OSError) as exc:
            if len(self._backlog) == self._backlog.maxlen:
                log.warning("history record dropped", app=self._backlog[0][0], cluster=self._backlog[0][1])
            self._backlog.append(values)
            log.warning("history write failed", app=app, cluster=cluster, path=str(self.path), error=str(exc),
                        waiting=len(self._backlog))
            return False
        self._backlog.clear()
        return True

    async def _write(self, batch: list[tuple[Any, ...]]) -> None:
        def write(conn: sqlite3.Connection) -> None:
            with conn:
                for row in batch:
                    conn.execute(f"INSERT INTO sync_history ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",  # noqa: S608
                                 row)
                for instance in dict.fromkeys((row[0], row[1]) for row in batch):
                    conn.execute(
                        "DELETE FROM sync_history WHERE app = ? AND cluster = ? AND id NOT IN "
                        "(SELECT id FROM sync_history WHERE app = ? AND cluster = ? ORDER BY id DESC "
                        "LIMIT ?)", (*instance, *instance, self.keep))

        await self._run(write)

    async def _flush(self) -> None:
        """Write the records the disk refused before, if it takes them now."""
        if not self._backlog:
            return
        batch = list(self._backlog)
        try:
            await self._write(batch)
        except (sqlite3.Error, OSError):
            return
        for _ in batch:
            self._backlog.popleft()

    async def history(self, app: str, cluster: str, limit: int = DEFAULT_LIMIT) -> list[HistoryEntry]:
        """The last LIMIT syncs of one instance, newest first (in the order they were recorded),
        those the disk refused so far included (with ``id`` 0)."""
        if limit <= 0:
            return []

        def read(conn: sqlite3.Connection) -> list[HistoryEntry]:
            rows = conn.execute(
                f"SELECT {_COLUMNS}, id FROM sync_history WHERE app = ? AND cluster = ? "  # noqa: S608
                "ORDER BY id DESC LIMIT ?", (app, cluster, limit)).fetchall()
            return [_entry(r) for r in rows]

        await self._flush()
        waiting = [_entry((*row, 0)) for row in reversed(self._backlog) if (row[0], row[1]) == (app, cluster)]
        try:
            stored = await self._run(read)
        except (sqlite3.Error, OSError) as exc:
            log.warning("history read failed", app=app, cluster=cluster, path=str(self.path), error=str(exc))
            stored = []
        return (waiting + stored)[:limit]

    async def entry(self, app: str, cluster: str, entry_id: int) -> HistoryEntry | None:
        """The sync numbered ENTRY_ID of one instance, or None when it is not (or no longer) kept."""

        def read(conn: sqlite3.Connection) -> HistoryEntry | None:
            row = conn.execute(
                f"SELECT {_COLUMNS}, id FROM sync_history WHERE app = ? AND cluster = ? "  # noqa: S608
                "AND id = ?", (app, cluster, entry_id)).fetchone()
            return _entry(row) if row else None

        try:
            return await self._run(read)
        except (sqlite3.Error, OSError) as exc:
            log.warning("history read failed", app=app, cluster=cluster, path=str(self.path), error=str(exc))
            return None

    async def last(self, app: str, cluster: str) -> HistoryEntry | None:
        """The most recent sync of one instance, or None."""
        entries = await self.history(app, cluster, 1)
        return entries[0] if entries else None

    async def close(self) -> None:
        """Close the connection; a later call opens it again."""
        await asyncio.to_thread(self._close)

    async def __aenter__(self) -> HistoryStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            with self._lock:
                return fn(self._connection())

        return await asyncio.to_thread(call)

    def _close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self._conn = self._open()
            except sqlite3.DatabaseError as exc:
                if not self.path.exists():
                    raise
                aside = self.path.with_name(f"{FILENAME}.corrupt-{int(time.time())}")
                log.warning("history file unreadable, starting afresh", path=str(self.path),
                            moved_to=str(aside), error=str(exc))
                self.path.replace(aside)
                for suffix in ("-wal", "-shm"):
                    with contextlib.suppress(FileNotFoundError):
                        self.path.with_name(FILENAME + suffix).unlink()
                self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        conn = sqlite3.connect(self.path, check_same_thread=False, timeout=5.0)
        try:
            # One process owns the file. Exclusive locking keeps WAL's index in the heap instead
            # of a memory-mapped -shm file, whose pages fault with SIGBUS when the state
            # directory turns read-only or the disk fills.
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
        except sqlite3.Error:
            conn.close()
            raise
        return conn
