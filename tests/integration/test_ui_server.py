"""The HTTP server's status pages and rollback endpoint over real sockets, with an in-test backend.

A real ``ApiServer`` on 127.0.0.1: the pages are off unless asked for, reads
without a session follow the API's loopback rule, and the rollback endpoint
turns the backend's refusals into the right HTTP answers; the overview of a
large fleet is sent compressed within its page-weight budget.
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from gitopsd.edges.api import ApiServer
from gitopsd.errors import RollbackRefused
from tests.bench.bench_ui import Backend as BenchBackend
from tests.bench.bench_ui import rows as bench_rows

TOKEN = "tok-ui-5d0c8e2b"
ROW = {"app": "web", "cluster": "prod", "sync_status": "Synced", "health": "Healthy", "revision": "r1",
       "last_sync": {"result": "Synced", "started": 1.7e9, "message": "", "trace_id": ""}, "conditions": []}


@dataclass
class Backend:
    """Answers the server's questions from ROW; rollback refuses app ``auto``."""

    rollbacks: list[tuple[str, str, int]] = field(default_factory=list)

    def instances(self) -> list[dict[str, Any]]:
        return [ROW, {**ROW, "app": "auto"}]

    def history(self, app: str, cluster: str, limit: int) -> list[dict[str, Any]]:
        return [{"id": 7, "revision": "r0", "started": 1.7e9, "duration": 1.0, "result": "Synced"}]

    def request_sync(self, app: str, cluster: str | None) -> list[str]:
        return [f"{app}/{cluster}"]

    def commit(self, app: str, cluster: str, revision: str) -> dict[str, str]:
        return {"subject": "Raise <replicas>", "author": "Ann"} if revision == "r1" else {}

    def clusters(self) -> list[dict[str, Any]]:
        return [{"cluster": "prod", "server": "https://10.0.0.1:6443", "labels": {"env": "prod"},
                 "bastion": "ops@jump.example:2222", "instances": 2, "watched": 3, "failing": 1,
                 "reachable": False, "message": "connection refused <retrying>"},
                {"cluster": "new", "server": "", "labels": {}, "bastion": "", "instances": 0,
                 "watched": 0, "failing": 0, "reachable": None, "message": ""}]

    def rollback(self, app: str, cluster: str, entry_id: int) -> dict[str, Any]:
        if app == "auto":
            raise RollbackRefused("auto syncs automatically")
        if entry_id != 7:
            raise KeyError(f"no history entry {entry_id}")
        self.rollbacks.append((app, cluster, entry_id))
        return {"enqueued": [f"{app}/{cluster}"], "revision": "r0"}

    def inspect(self, app: str, cluster: str) -> dict[str, Any]:
        return {"revision": "r1", "summary": "1 InSync", "objects": []}

    def repo_push(self, repo: str, ref: str | None) -> list[str]:
        return []

    def ready(self) -> tuple[bool, str]:
        return True, "ok"

    def metrics(self) -> tuple[bytes, str]:
        return b"", "text/plain"


Start = Callable[..., Any]


@pytest_asyncio.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Start]:
    """Start servers with a token file on free ports; stop them afterwards."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    servers: list[ApiServer] = []

    async def start(**options: Any) -> str:
        server = ApiServer(Backend(), host="127.0.0.1", port=0, token_file=str(token_file), **options)
        host, port = await server.start()
        servers.append(server)
        return f"http://{host}:{port}"

    yield start
    for server in servers:
        await server.stop()


@pytest.mark.asyncio
async def test_pages_are_off_unless_enabled(serve: Start) -> None:
    """Without ``ui`` (settings.ui: false) there is no /ui at all."""
    base = await serve(loopback_reads=True)
    async with aiohttp.ClientSession() as s, s.get(base + "/ui/") as resp:
        assert resp.status == 404


@pytest.mark.asyncio
async def test_reads_follow_the_api_rule_or_a_session(serve: Start) -> None:
    """With loopback reads refused a page sends to sign-in; after signing in it is shown."""
    base = await serve(ui=True, loopback_reads=False)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:  # cookies for an IP
        async with s.get(base + "/ui/", allow_redirects=False) as resp:
            assert (resp.status, resp.headers["Location"]) == (303, "/ui/login")
        async with s.post(base + "/ui/login", data={"token": TOKEN}, allow_redirects=False) as resp:
            assert resp.status == 303
        async with s.get(base + "/ui/") as resp:
            assert resp.status == 200
            assert 'id="row:web/prod"' in await resp.text()


@pytest.mark.asyncio
async def test_an_unknown_instance_is_a_404_page(serve: Start) -> None:
    """A page of an instance the daemon does not know is a 404 HTML page naming it, escaped."""
    base = await serve(ui=True, loopback_reads=True)
    async with aiohttp.ClientSession() as s, s.get(base + "/ui/instances/%3Cb%3E/prod") as resp:
        assert resp.status == 404
        assert resp.content_type == "text/html"
        assert "No instance &lt;b&gt; on cluster prod" in await resp.text()


@pytest.mark.asyncio
@pytest.mark.parametrize(("app", "body", "status"), [
    ("web", {"id": 7}, 202), ("web", {"id": 8}, 404), ("auto", {"id": 7}, 409),
    ("web", {"id": "7"}, 400), ("web", [], 400),
])
async def test_rollback_endpoint(serve: Start, app: str, body: Any, status: int) -> None:
    """POST .../rollback answers 202, 404 for an unknown entry, 409 when refused, 400 for a bad body."""
    base = await serve(ui=True)
    async with aiohttp.ClientSession() as s, s.post(
            f"{base}/api/v1/instances/{app}/prod/rollback", json=body,
            headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == status, await resp.text()
        if status == 202:
            assert (await resp.json())["revision"] == "r0"


@pytest.mark.asyncio
async def test_open_event_stream_does_not_hold_up_stopping(tmp_path: Path) -> None:
    """A browser's open /ui/events stream ends when the server stops, well within its drain time."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    server = ApiServer(Backend(), host="127.0.0.1", port=0, token_file=str(token_file), ui=True,
                       loopback_reads=True, shutdown_timeout=30)
    host, port = await server.start()
    async with aiohttp.ClientSession() as s, s.get(f"http://{host}:{port}/ui/events") as resp:
        first = await resp.content.readline()
        assert json.loads(first.decode()[len("data: "):])["id"] == "row:web/prod"
        started = time.monotonic()
        await asyncio.wait_for(server.stop(), 10)
        assert time.monotonic() - started < 5


PAGE_WEIGHT_LIMIT = 150_000  # bytes on the wire of the overview at 1,000 instances (issue 19)


@pytest.mark.asyncio
async def test_overview_of_a_thousand_instances_weighs_under_150_kb_on_the_wire() -> None:
    """Asked for as a browser asks, the overview of 1,000 instances comes compressed in under
    150 KB and still holds every row; a client that accepts no encoding gets plain HTML."""
    data = bench_rows(1000)
    server = ApiServer(BenchBackend(data), host="127.0.0.1", port=0, ui=True,  # type: ignore[arg-type]
                       loopback_reads=True)
    host, port = await server.start()
    try:
        async with aiohttp.ClientSession(auto_decompress=False) as s:
            async with s.get(f"http://{host}:{port}/ui/",
                             headers={"Accept-Encoding": "gzip, deflate, br"}) as resp:
                wire = await resp.read()
                encoding = resp.headers.get("Content-Encoding")
            async with s.get(f"http://{host}:{port}/ui/", headers={"Accept-Encoding": "identity"}) as resp:
                plain = await resp.read()
                assert "Content-Encoding" not in resp.headers
    finally:
        await server.stop()
    assert encoding in ("gzip", "deflate")
    assert len(wire) < PAGE_WEIGHT_LIMIT, len(wire)
    html = (zlib.decompress(wire, wbits=47) if encoding == "gzip" else zlib.decompress(wire)).decode()
    assert html.encode() == plain
    assert html.count('<tr id="row:') == len(data)


@pytest.mark.asyncio
async def test_rollback_button_needs_a_session_and_is_refused_while_automated(tmp_path: Path) -> None:
    """The history page's Roll back button posts with the session's CSRF token: without it nothing
    rolls back, an automated application's refusal is shown with its reason, and a manual one is
    rolled back to the entry."""
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    backend = Backend()
    server = ApiServer(backend, host="127.0.0.1", port=0, token_file=str(token_file), ui=True,  # type: ignore[arg-type]
                       loopback_reads=True)
    host, port = await server.start()
    base = f"http://{host}:{port}"
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            async with s.get(base + "/ui/instances/web/prod/history") as resp:
                assert "Roll back</button>" not in await resp.text()  # read-only without a session
            async with s.post(base + "/ui/instances/web/prod/rollback", data={"csrf": "x", "id": "7"},
                              allow_redirects=False) as resp:
                assert resp.status == 403
            async with s.post(base + "/ui/login", data={"token": TOKEN}, allow_redirects=False) as resp:
                assert resp.status == 303
            async with s.get(base + "/ui/instances/web/prod/history") as resp:
                page = await resp.text()
            assert 'name="id" value="7">Roll back</button>' in page
            csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            async with s.post(base + "/ui/instances/web/prod/rollback", data={"csrf": "0" * 64, "id": "7"},
                              allow_redirects=False) as resp:
                assert resp.status == 403
            assert backend.rollbacks == []

            async with s.post(base + "/ui/instances/auto/prod/rollback", data={"csrf": csrf, "id": "7"},
                              allow_redirects=False) as resp:
                assert resp.status == 409
                assert "Rollback refused: auto syncs automatically" in await resp.text()
            async with s.post(base + "/ui/instances/web/prod/rollback", data={"csrf": csrf, "id": "8"},
                              allow_redirects=False) as resp:
                assert resp.status == 404
                assert "No history entry 8." in await resp.text()
            async with s.post(base + "/ui/instances/web/prod/rollback", data={"csrf": csrf, "id": "7"},
                              allow_redirects=False) as resp:
                assert resp.status == 303
                assert resp.headers["Location"] == "/ui/instances/web/prod/history?rolledback=1"
            assert backend.rollbacks == [("web", "prod", 7)]
    finally:
        await server.stop()


@pytest.mark.asyncio
async def test_clusters_page_shows_reachability_watches_and_bastion(serve: Start) -> None:
    """The clusters page shows each cluster's reachability, failing watches (escaped), bastion and
    labels, linked to the overview filtered to that cluster; every page's header links to it."""
    base = await serve(ui=True, loopback_reads=True)
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/ui/clusters") as resp:
            assert resp.status == 200
            page = await resp.text()
        async with s.get(base + "/ui/") as resp:
            assert 'href="/ui/clusters"' in await resp.text()
    prod = page[page.index('id="cluster:prod"'):page.index('id="cluster:new"')]
    assert 'href="/ui/?cluster=prod"' in prod
    assert ">Unreachable<" in prod
    assert "3 kinds watched, 1 failing: connection refused &lt;retrying&gt;" in prod
    assert "ops@jump.example:2222" in prod
    assert "env=prod" in prod
    new = page[page.index('id="cluster:new"'):]
    assert ">Unknown<" in new
    assert ">direct<" in new


@pytest.mark.asyncio
async def test_instance_page_shows_the_applied_commit_escaped(serve: Start) -> None:
    """The instance page names the applied revision's commit subject and author, escaped."""
    base = await serve(ui=True, loopback_reads=True)
    async with aiohttp.ClientSession() as s, s.get(base + "/ui/instances/web/prod") as resp:
        assert resp.status == 200
        page = await resp.text()
    assert 'r1</code> Raise &lt;replicas&gt; <span class="msg">by Ann</span>' in page
    assert "<replicas>" not in page
