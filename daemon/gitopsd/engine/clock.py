"""The engine's notion of time, injectable so timing logic is tested without sleeping."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        """Wait for EVENT at most TIMEOUT seconds; True if it was set."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        if timeout is None:
            await event.wait()
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(timeout, 0)):
                await event.wait()
        return event.is_set()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0))


class VirtualClock:
    """A clock that only moves when ``advance`` is called (for engine tests)."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, asyncio.Event]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def wait(self, event: asyncio.Event, timeout: float | None) -> bool:
        if timeout is None:
            await event.wait()
            return True
        timer = asyncio.Event()
        heapq.heappush(self._timers, (self._now + max(timeout, 0), next(self._seq), timer))
        waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(timer.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        return event.is_set()

    async def sleep(self, seconds: float) -> None:
        await self.wait(asyncio.Event(), seconds)

    async def advance(self, seconds: float) -> None:
        """Move time forward, firing due timers in order and letting tasks run in between."""
        target = self._now + seconds
        await self._settle()
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, when)
            timer.set()
            await self._settle()
        self._now = target
        await self._settle()

    @staticmethod
    async def _settle(rounds: int = 50) -> None:
        for _ in range(rounds):
            await asyncio.sleep(0)
