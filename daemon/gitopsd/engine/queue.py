"""The priority queue of application instances.

Priorities: manual request > drift > new revision > periodic resync. Requests
for the same instance coalesce into one entry (the most urgent priority wins);
at most one sync per instance is in flight, and a request that arrives while it
runs is kept and handed out once it is done. Each cluster has a concurrency
limit. A manual request or a new revision supersedes a backoff wait; drift and
resync respect it. The queue decides order and timing only; it never runs a
sync itself.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from gitopsd.engine.clock import Clock, MonotonicClock


class Priority(enum.IntEnum):
    MANUAL = 0
    DRIFT = 1
    REVISION = 2
    RESYNC = 3


SUPERSEDES_BACKOFF = (Priority.MANUAL, Priority.REVISION)


@dataclass
class Item:
    key: str
    cluster: str
    priority: Priority
    due: float
    enqueued: float
    seq: int
    reasons: set[str] = field(default_factory=set)
    backoff: bool = False  # due is a retry backoff, which only MANUAL/REVISION may cut short
    commit: str | None = None  # the head a poll saw (or the last pass synced) for the instance's ref

    def sort_key(self) -> tuple[int, float, int]:
        return (int(self.priority), self.due, self.seq)


class WorkQueue:
    def __init__(self, *, clock: Clock | None = None, per_cluster: int = 4) -> None:
        self.clock = clock or MonotonicClock()
        self.per_cluster = per_cluster
        self._pending: dict[str, Item] = {}
        self._running: dict[str, str] = {}  # key -> cluster
        self._dirty: dict[str, Item] = {}   # requests that arrived while running
        self._busy: defaultdict[str, int] = defaultdict(int)
        self._seq = itertools.count()
        self._changed = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._pending) + len(self._dirty)

    @property
    def running(self) -> frozenset[str]:
        return frozenset(self._running)

    def add(self, key: str, cluster: str, priority: Priority, *, delay: float = 0.0,
            reason: str = "", backoff: bool = False, commit: str | None = None) -> None:
        """Request a sync of KEY (at COMMIT, when a poll saw its ref move); coalesces with a
        pending request for it, and the newest COMMIT given wins."""
        now = self.clock.now()
        due = now + max(delay, 0.0)
        table = self._dirty if key in self._running else self._pending
        item = table.get(key)
        if item is None:
            table[key] = Item(key, cluster, priority, due, now, next(self._seq),
                              {reason} if reason else set(), backoff, commit)
        else:
            if commit:
                item.commit = commit
            if backoff:
                item.due, item.backoff = max(item.due, due), True
            elif (not item.backoff or priority in SUPERSEDES_BACKOFF) and due < item.due:
                item.due, item.backoff = due, False
            item.priority = min(item.priority, priority)
            if reason:
                item.reasons.add(reason)
        self._changed.set()

    def _eligible(self, now: float) -> Item | None:
        best: Item | None = None
        for item in self._pending.values():
            if item.due > now or self._busy[item.cluster] >= self.per_cluster:
                continue
            if best is None or item.sort_key() < best.sort_key():
                best = item
        return best

    def _next_due(self, now: float) -> float | None:
        dues = [i.due for i in self._pending.values()
                if i.due > now and self._busy[i.cluster] < self.per_cluster]
        return min(dues) - now if dues else None

    async def get(self) -> Item:
        """The most urgent due item whose cluster has capacity; waits for one."""
        while True:
            if self._closed:
                raise QueueClosed()
            now = self.clock.now()
            item = self._eligible(now)
            if item is not None:
                del self._pending[item.key]
                self._running[item.key] = item.cluster
                self._busy[item.cluster] += 1
                return item
            self._changed.clear()
            await self.clock.wait(self._changed, self._next_due(now))

    def done(self, item: Item, *, requeue_after: float | None = None,
             priority: Priority = Priority.RESYNC, reason: str = "", backoff: bool = False,
             commit: str | None = None) -> None:
        """Release ITEM; requeue it after REQUEUE_AFTER seconds when given, at COMMIT unless a
        request that arrived while it ran names a newer one.

        With BACKOFF the delay is a retry backoff: requests that arrived while
        the item ran wait for it too, unless they are manual or a new revision.
        """
        self._running.pop(item.key, None)
        self._busy[item.cluster] -= 1
        later = self._dirty.pop(item.key, None)
        if later is not None:
            self._pending[item.key] = later
        if requeue_after is not None:
            self.add(item.key, item.cluster, priority, delay=requeue_after, reason=reason,
                     backoff=backoff, commit=commit if later is None or later.commit is None else None)
            if later is not None and later.priority in SUPERSEDES_BACKOFF and backoff:
                later.due, later.backoff = self.clock.now(), False
        self._changed.set()

    def discard(self, key: str) -> None:
        """Forget pending requests for KEY (an instance that left the fleet)."""
        self._pending.pop(key, None)
        self._dirty.pop(key, None)
        self._changed.set()

    def close(self) -> None:
        self._closed = True
        self._changed.set()

    def wait_seconds(self, item: Item) -> float:
        return max(0.0, self.clock.now() - max(item.enqueued, min(item.due, self.clock.now())))


class QueueClosed(Exception):
    """The queue was closed; workers stop."""
