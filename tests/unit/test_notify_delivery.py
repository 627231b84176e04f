"""The notification dispatcher against loopback receivers: e-mail over SMTP, a slow receiver, a full queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email import message_from_bytes
from pathlib import Path

import pytest
from aiohttp import web

from gitopsd.edges.notifications import Dispatcher
from gitopsd.edges.telemetry.metrics import Metrics
from gitopsd.model.notifications import Notice, Notifications, NotificationService, ServiceType, Trigger

NOTICE = Notice(trigger=Trigger.SYNC_FAILED, fleet="acme", app="web", cluster="prod", project="default",
                revision="0123456789abcdef", message="boom", at=1_700_000_000.0)


def _count(metrics: Metrics, result: str, service: str) -> float:
    value = metrics.registry.get_sample_value("gitopsd_notifications_total",
                                              {"service": service, "type": "webhook" if service != "mail"
                                               else "email", "result": result})
    return value or 0.0


@asynccontextmanager
async def _smtp() -> AsyncIterator[tuple[int, list[bytes], list[str]]]:
    """A minimal SMTP server on loopback keeping each message's data and envelope recipients."""
    messages: list[bytes] = []
    rcpts: list[str] = []

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 test ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250 test\r\n")
            elif verb == b"RCPT":
                rcpts.append(line.decode().split(":", 1)[1].strip().strip("<>"))
                writer.write(b"250 ok\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go on\r\n")
                await writer.drain()
                data = await reader.readuntil(b"\r\n.\r\n")
                messages.append(data[:-5])
                writer.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, messages, rcpts
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.asyncio
async def test_email_goes_out_over_smtp() -> None:
    """An e-mail service sends the notice's words to its recipients through the SMTP server."""
    async with _smtp() as (port, messages, rcpts):
        dispatcher = Dispatcher()
        dispatcher.configure(Notifications(services=(NotificationService(
            "mail", ServiceType.EMAIL, smtp_host="127.0.0.1", smtp_port=port, sender="gitopsd@example.com",
            recipients=("sre@example.com",)),)))
        dispatcher.deliver("mail", (), NOTICE, "web on prod: sync failed: boom")
        await dispatcher.flush(10)
        await dispatcher.aclose()
    assert rcpts == ["sre@example.com"]
    msg = message_from_bytes(messages[0])
    assert msg["Subject"] == "[gitopsd] web on prod: sync failed: boom"
    assert msg["From"] == "gitopsd@example.com"
    assert "revision: 0123456789abcdef" in msg.get_payload()


@pytest.mark.asyncio
async def test_a_slow_receiver_never_blocks_deliver_and_a_full_queue_drops(tmp_path: Path) -> None:
    """deliver returns at once while the receiver hangs; past queueSize notices are dropped and counted."""
    release = asyncio.Event()
    got: list[bytes] = []

    async def slow(request: web.Request) -> web.Response:
        got.append(await request.read())
        await release.wait()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    (tmp_path / "url").write_text(f"http://127.0.0.1:{port}/slow\n")
    metrics = Metrics(process_metrics=False)
    dispatcher = Dispatcher(metrics=metrics)
    dispatcher.configure(Notifications(services=(NotificationService(
        "hook", ServiceType.WEBHOOK, url_file=str(tmp_path / "url"), queue_size=2, timeout=30),)))
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in range(5):
            dispatcher.deliver("hook", (), NOTICE, f"notice {n}")
            await asyncio.sleep(0.05 if n == 0 else 0)
        assert loop.time() - started < 1.0
        assert _count(metrics, "dropped", "hook") == 2  # one in flight, two queued, two past the bound
        release.set()
        await dispatcher.flush(10)
        assert _count(metrics, "sent", "hook") == 3
        assert [b'"text":"notice 0"' in got[0], len(got)] == [True, 3]
    finally:
        release.set()
        await dispatcher.aclose()
        await runner.cleanup()
