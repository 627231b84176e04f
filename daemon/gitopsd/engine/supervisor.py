"""Named, guarded long-running tasks.

Every watch, poller and worker runs under a name. An unexpected exit (an
exception, or a return where the task should run forever) is logged (a
warning when the failure is new, info when it repeats), counted and
restarted with exponential backoff; cancellation stops it quietly. The
supervisor never decides what a task does, only that it keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from gitopsd.engine.clock import Clock, MonotonicClock

log = structlog.get_logger("gitopsd.supervisor")

TaskFactory = Callable[[], Awaitable[None]]
OnRestart = Callable[[str, BaseException | None], None]


@dataclass
class TaskState:
    name: str
    restarts: int = 0
    last_error: str = ""
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self, *, clock: Clock | None = None, initial_backoff: float = 0.5,
                 max_backoff: float = 30.0, on_restart: OnRestart | None = None,
                 stable_after: float = 60.0) -> None:
        self.clock = clock or MonotonicClock()
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self.on_restart = on_restart
        self.tasks: dict[str, TaskState] = {}
        self._stopping = False

    def stopping(self) -> None:
        """From now on a task that returns has finished its work and is not restarted."""
        self._stopping = True

    def spawn(self, name: str, factory: TaskFactory) -> TaskState:
        """Run FACTORY() under NAME, restarting it whenever it ends unexpectedly."""
        existing = self.tasks.get(name)
        if existing is not None and existing.task is not None and not existing.task.done():
            return existing
        state = TaskState(name)
        # A fresh context: a long-running task must not carry the span or log bindings
        # of whatever happened to start it (a sync, for a watch).
        state.task = asyncio.create_task(self._guard(state, factory), name=name,
                                         context=contextvars.Context())
        self.tasks[name] = state
        return state

    async def _guard(self, state: TaskState, factory: TaskFactory) -> None:
        delay = self.initial_backoff
        while True:
            started = self.clock.now()
            error: BaseException | None = None
            before = state.last_error
            try:
                await factory()
                if self._stopping:
                    return
                state.last_error = "task returned"
            except asyncio.CancelledError:
                raise
            except Exception as e:
                error = e
                state.last_error = f"{type(e).__name__}: {e}"
            state.restarts += 1
            if self.clock.now() - started > self.stable_after:
                delay = self.initial_backoff
            # the same failure again (a CRD still missing, say) is not news: warn when it changes
            emit = log.info if state.last_error == before else log.warning
            emit("task.restart", task=state.name, error=state.last_error,
                 restarts=state.restarts, backoff_seconds=round(delay, 2))
            if self.on_restart is not None:
                self.on_restart(state.name, error)
            await self.clock.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, self.max_backoff)

    async def cancel(self, name: str) -> None:
        state = self.tasks.pop(name, None)
        if state and state.task:
            state.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await state.task

    async def stop(self) -> None:
        names = list(self.tasks)
        for name in names:
            state = self.tasks[name]
            if state.task:
                state.task.cancel()
        for name in names:
            state = self.tasks.pop(name)
            if state.task:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await state.task
