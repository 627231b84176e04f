"""Reads from this host without a token: a real ApiServer on 127.0.0.1 with loopback_reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from gitopsd.edges.api import ApiServer
from tests.integration.test_api import ROWS, TOKEN, FakeBackend


@pytest_asyncio.fixture
async def loopback(tmp_path: Path) -> AsyncIterator[tuple[str, FakeBackend]]:
    token_file = tmp_path / "api-token"
    token_file.write_text(TOKEN + "\n")
    backend = FakeBackend()
    server = ApiServer(backend, host="127.0.0.1", port=0, token_file=str(token_file),
                       loopback_reads=True)
    host, port = await server.start()
    try:
        yield f"http://{host}:{port}", backend
    finally:
        await server.stop()


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "path", "headers", "status"), [
    ("GET", "/api/v1/instances", {}, 200),
    ("GET", "/api/v1/instances", {"Authorization": "Bearer wrong"}, 401),
    ("GET", "/api/v1/instances", {"X-Forwarded-For": "203.0.113.9"}, 401),
    ("GET", "/api/v1/instances", {"Forwarded": "for=203.0.113.9"}, 401),
    ("POST", "/api/v1/applications/web/sync", {}, 401),
    ("POST", "/api/v1/applications/web/sync", {"Authorization": f"Bearer {TOKEN}"}, 202),
])
async def test_only_plain_local_reads_skip_the_token(
        loopback: tuple[str, FakeBackend], method: str, path: str, headers: dict[str, str],
        status: int) -> None:
    """A GET from loopback reads without a token; a relayed, wrongly signed or writing call does not."""
    base, backend = loopback
    async with aiohttp.ClientSession() as session, \
            session.request(method, base + path, headers=headers) as resp:
        assert resp.status == status
        body = await resp.json()
    if (method, status) == ("GET", 200):
        assert body == {"instances": ROWS}
    if method == "POST":
        assert backend.sync_calls == ([("web", None)] if status == 202 else [])
