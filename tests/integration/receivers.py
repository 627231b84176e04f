"""A notification receiver for the tests: an aiohttp server on loopback, in a thread of its own.

``Receiver.running()`` serves every POST path on 127.0.0.1, keeps each request
(path, headers, raw body, arrival time) and answers with the status the test
chose; ``status`` may be changed while it runs (503 for a receiver that is
down). Nothing here imports the code under test.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.integration.daemonproc import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # time.time() when it arrived

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An aiohttp server on loopback that keeps every request and answers STATUS."""

    port: int
    status: int = 200
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    transports: set[asyncio.BaseTransport] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.transport is not None:
            self.transports.add(request.transport)
        with self.lock:
            self.requests.append(Received(request.path, dict(request.headers), body, time.time()))
        return web.Response(status=self.status, text="{}")

    @classmethod
    @contextmanager
    def running(cls, port: int | None = None) -> Iterator[Receiver]:
        """A receiver on PORT (a free one when None) until the block ends; then the port refuses."""
        receiver = cls(port or free_port())
        loop = asyncio.new_event_loop()
        started = threading.Event()
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", receiver._handle)
        runner = web.AppRunner(app)

        async def stop() -> None:
            """Close the server and every connection a client left open, sockets included."""
            await runner.cleanup()
            for transport in receiver.transports:
                if not transport.is_closing():
                    transport.abort()
            await asyncio.sleep(0.05)  # connection_lost closes each socket on a later turn of the loop

        async def start() -> None:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
            started.set()

        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(start(), loop).result(10)
        assert started.is_set()
        try:
            yield receiver
        finally:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
