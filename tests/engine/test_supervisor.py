"""The supervisor restarts crashed tasks with backoff and stops them on request."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from gitopsd.engine.supervisor import Supervisor


@pytest.mark.asyncio
async def test_crashing_task_is_restarted_and_reported() -> None:
    """A task that raises is restarted, and each restart is reported with its error."""
    runs: list[int] = []
    reported: list[tuple[str, str]] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError("boom")
        await asyncio.Event().wait()

    sup = Supervisor(initial_backoff=0.01, on_restart=lambda n, e: reported.append((n, repr(e))))
    sup.spawn("watch/a", flaky)
    for _ in range(200):
        if len(runs) >= 3:
            break
        await asyncio.sleep(0.01)
    assert len(runs) == 3
    assert reported == [("watch/a", "RuntimeError('boom')")] * 2
    assert sup.tasks["watch/a"].restarts == 2
    await sup.stop()
    assert sup.tasks == {}


@pytest.mark.asyncio
async def test_task_that_returns_is_restarted() -> None:
    """A task meant to run forever that returns is treated as an unexpected exit."""
    runs: list[int] = []

    async def returns() -> None:
        runs.append(1)

    sup = Supervisor(initial_backoff=0.01, max_backoff=0.02)
    sup.spawn("poller/env", returns)
    for _ in range(200):
        if len(runs) >= 2:
            break
        await asyncio.sleep(0.01)
    await sup.stop()
    assert len(runs) >= 2
    assert all(s.task is None or s.task.done() for s in sup.tasks.values())


@pytest.mark.asyncio
async def test_task_does_not_inherit_the_spawners_context() -> None:
    """A task spawned inside a sync's span and log bindings runs without them."""
    bound: contextvars.ContextVar[str] = contextvars.ContextVar("bound", default="")
    seen: list[tuple[str, bool]] = []
    done = asyncio.Event()

    async def watch() -> None:
        seen.append((bound.get(), trace.get_current_span().get_span_context().is_valid))
        done.set()
        await asyncio.Event().wait()

    sup = Supervisor()
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("sync"):
        token = bound.set("sync-1")
        assert trace.get_current_span().get_span_context().is_valid
        sup.spawn("watch/a", watch)
        bound.reset(token)
    await asyncio.wait_for(done.wait(), 5)
    await sup.stop()
    assert seen == [("", False)]
