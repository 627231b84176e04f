"""Writes to target clusters beside the syncs: one bounded queue and one worker task per cluster.

Kubernetes Events and the history ConfigMaps are written in the background so
that they never hold up a sync, and a slow or unreachable cluster delays only
its own writes. This module owns the queues, the workers, the drain at
shutdown and the cancellation; it must not decide what is written or what a
dropped item means: a subclass writes one item (``_write``) and reports one
that could not be queued or written (``_dropped``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Generic, TypeVar

from gitopsd.errors import GitopsdError

T = TypeVar("T")

QUEUE_SIZE = 1000


class ClusterLanes(Generic[T]):
    """A queue and a worker per cluster; ``put`` never waits."""

    def __init__(self, task_name: str, *, size: int = QUEUE_SIZE) -> None:
        self._task_name = task_name
        self._size = size
        self._queues: dict[str, asyncio.Queue[T]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def put(self, cluster: str, item: T) -> None:
        """Queue ITEM for CLUSTER (a full queue drops it: ``_dropped``) and start its worker."""
        queue = self._queues.setdefault(cluster, asyncio.Queue(maxsize=self._size))
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            self._dropped(item, None)
            return
        task = self._tasks.get(cluster)
        if task is None or task.done():
            self._tasks[cluster] = asyncio.get_running_loop().create_task(
                self._drain(queue), name=f"{self._task_name}/{cluster}")

    async def _drain(self, queue: asyncio.Queue[T]) -> None:
        while True:
            item = await queue.get()
            try:
                await self._write(item)
            except asyncio.CancelledError:
                raise
            except (GitopsdError, KeyError, ValueError) as e:
                self._dropped(item, e)
            finally:
                queue.task_done()

    async def _write(self, item: T) -> None:
        raise NotImplementedError

    def _dropped(self, item: T, error: Exception | None) -> None:
        """ITEM was not written: ERROR says why, None when its queue was full."""
        raise NotImplementedError

    async def flush(self, timeout: float) -> None:
        """Wait up to TIMEOUT seconds for the queued items to be written (at shutdown)."""
        live = [self._queues[c].join() for c, t in self._tasks.items() if not t.done()]
        if live:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*live), timeout)

    async def aclose(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
