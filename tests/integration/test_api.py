"""The HTTP server over real sockets: probes, bearer-token API, webhooks, limits.

A real ``ApiServer`` bound to 127.0.0.1 on a free port, spoken to with an
aiohttp client; only the daemon behind it is a small in-test fake backend.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
import pytest_asyncio
from structlog.testing import capture_logs

from gitopsd.edges.api import ApiServer
from gitopsd.errors import ConfigError, OwnedElsewhere

TOKEN = "tok-3f9a7c1e5b"
GITHUB_SECRET = "gh-secret-81b2"
GITLAB_SECRET = "gl-secret-77c0"
GENERIC_SECRET = "gen-secret-4d1e"
REPO_SECRET = "repo-secret-c2aa"
CLONE_URL = "https://github.com/acme/deploy.git"
SSH_URL = "git@github.com:acme/deploy.git"

ROWS = [
    {"app": "web", "cluster": "prod", "sync_status": "Synced", "health": "Healthy", "revision": "abc123",
     "last_sync": {"result": "succeeded", "started": 1700000000.0, "duration": 2.5, "trace_id": "t1",
                   "message": ""},
     "conditions": []},
    {"app": "web", "cluster": "staging", "sync_status": "OutOfSync", "health": "Progressing",
     "revision": "def456", "last_sync": None,
     "conditions": [{"type": "SyncError", "reason": "ApplyFailed", "message": "boom"}]},
    {"app": "db", "cluster": "prod", "sync_status": "Synced", "health": "Healthy", "revision": "abc123",
     "last_sync": None, "conditions": []},
]
MEMBERS = [{"identity": "host-a:/var/lib/gitopsd", "self": True, "instances": 2, "valid": True},
           {"identity": "host-b:/var/lib/gitopsd", "self": False, "instances": 1}]


@dataclass
class FakeBackend:
    """Records what the server asks; history and request_sync are async to cover both call styles."""

    is_ready: tuple[bool, str] = (True, "ok")
    repos: dict[str, list[str]] = field(default_factory=lambda: {SSH_URL: ["deploy"], "deploy": ["deploy"]})
    sync_calls: list[tuple[str, str | None]] = field(default_factory=list)
    push_calls: list[tuple[str, str | None]] = field(default_factory=list)
    history_calls: list[tuple[str, str, int]] = field(default_factory=list)
    fail_instances: bool = False

    def instances(self) -> list[dict[str, Any]]:
        if self.fail_instances:
            raise RuntimeError("backend exploded")
        return ROWS

    def members(self) -> list[dict[str, Any]]:
        return MEMBERS

    async def history(self, app: str, cluster: str, limit: int) -> list[dict[str, Any]]:
        self.history_calls.append((app, cluster, limit))
        return [{"revision": f"r{i}", "result": "succeeded"} for i in range(limit)]

    async def request_sync(self, app: str, cluster: str | None) -> list[str]:
        self.sync_calls.append((app, cluster))
        if app == "shared":
            raise OwnedElsewhere("shared/prod is owned by host-b:/var/lib/gitopsd")
        keys = [f"{r['app']}/{r['cluster']}" for r in ROWS
                if r["app"] == app and (cluster is None or r["cluster"] == cluster)]
        if not keys:
            raise KeyError(f"unknown application {app}")
        return keys

    def repo_push(self, repo_url_or_name: str, ref: str | None) -> Sequence[str]:
        self.push_calls.append((repo_url_or_name, ref))
        return self.repos.get(repo_url_or_name, [])

    def ready(self) -> tuple[bool, str]:
        return self.is_ready

    def metrics(self) -> tuple[bytes, str]:
        return b"gitopsd_up 1\n", "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Running:
    """A started server, its backend and a client session."""

    base: str
    backend: FakeBackend
    session: aiohttp.ClientSession

    def url(self, path: str) -> str:
        return self.base + path


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


ServerFactory = Callable[..., Any]


@pytest_asyncio.fixture
async def serve(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    """Start ApiServers on free ports with a token file and secrets; stop them all afterwards."""
    token_file = tmp_path / "api-token"
    token_file.write_text(TOKEN + "\n")
    servers: list[ApiServer] = []
    session = aiohttp.ClientSession()

    async def start(backend: FakeBackend | None = None, *, with_token: bool = True,
                    secrets: dict[str, str] | None = None) -> Running:
        backend = backend or FakeBackend()
        if secrets is None:
            secrets = {"github": GITHUB_SECRET, "gitlab": GITLAB_SECRET, "generic": GENERIC_SECRET}
        server = ApiServer(backend, host="127.0.0.1", port=0,
                           token_file=str(token_file) if with_token else None, webhook_secrets=secrets)
        host, port = await server.start()
        servers.append(server)
        return Running(f"http://{host}:{port}", backend, session)

    yield start
    await session.close()
    for server in servers:
        await server.stop()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.asyncio
async def test_healthz_answers_without_token(serve: ServerFactory) -> None:
    """/healthz answers 200 "ok" with no credentials."""
    srv = await serve()
    async with srv.session.get(srv.url("/healthz")) as resp:
        assert resp.status == 200
        assert await resp.text() == "ok"


@pytest.mark.asyncio
@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    ({"Authorization": "Bearer wrong-token"}, 401),
    ({"Authorization": f"Basic {TOKEN}"}, 401),
    ({"Authorization": f"Bearer {TOKEN}x"}, 401),
    ({"Authorization": f"Bearer {TOKEN}"}, 200),
    ({"Authorization": f"bearer {TOKEN}"}, 200),
])
async def test_api_requires_the_bearer_token(serve: ServerFactory, headers: dict[str, str],
                                             status: int) -> None:
    """/api/v1 answers 200 only with the exact token, else 401 with a JSON error."""
    srv = await serve()
    async with srv.session.get(srv.url("/api/v1/instances"), headers=headers) as resp:
        assert resp.status == status
        body = await resp.json()
        if status == 401:
            assert "error" in body
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert TOKEN not in json.dumps(body)
        else:
            assert body == {"instances": ROWS}


@pytest.mark.asyncio
async def test_api_without_token_file_answers_403(serve: ServerFactory) -> None:
    """With no token file configured, every /api/v1 call is refused with 403, even with a header."""
    srv = await serve(with_token=False)
    async with srv.session.post(srv.url("/api/v1/applications/web/sync"), headers=AUTH) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"] == "API token not configured"
    assert srv.backend.sync_calls == []


@pytest.mark.asyncio
async def test_unknown_api_path_needs_token_before_404(serve: ServerFactory) -> None:
    """An unknown path under /api/ is 401 without a token and a JSON 404 with one."""
    srv = await serve()
    async with srv.session.get(srv.url("/api/v1/nope")) as resp:
        assert resp.status == 401
    async with srv.session.get(srv.url("/api/v1/nope"), headers=AUTH) as resp:
        assert resp.status == 404
        assert "error" in await resp.json()


@pytest.mark.asyncio
async def test_sync_of_an_instance_owned_by_another_member_is_409_naming_it(serve: ServerFactory) -> None:
    """A manual sync of an instance another daemon of a shared fleet owns is refused with its owner."""
    srv = await serve()
    async with srv.session.post(srv.url("/api/v1/instances/shared/prod/sync"), headers=AUTH) as resp:
        assert resp.status == 409
        assert "owned by host-b:/var/lib/gitopsd" in (await resp.json())["error"]


@pytest.mark.asyncio
async def test_members_are_listed_behind_the_token(serve: ServerFactory) -> None:
    """/api/v1/members needs the token and returns the backend's member rows."""
    srv = await serve()
    async with srv.session.get(srv.url("/api/v1/members")) as resp:
        assert resp.status == 401
    async with srv.session.get(srv.url("/api/v1/members"), headers=AUTH) as resp:
        assert (await resp.json())["members"] == MEMBERS


@pytest.mark.asyncio
async def test_instances_filter_by_app(serve: ServerFactory) -> None:
    """?app= keeps only that application's rows."""
    srv = await serve()
    async with srv.session.get(srv.url("/api/v1/instances?app=web"), headers=AUTH) as resp:
        rows = (await resp.json())["instances"]
    assert [(r["app"], r["cluster"]) for r in rows] == [("web", "prod"), ("web", "staging")]


@pytest.mark.asyncio
async def test_instance_detail_includes_history(serve: ServerFactory) -> None:
    """One instance is its status row plus history fetched with the requested limit."""
    srv = await serve()
    async with srv.session.get(srv.url("/api/v1/instances/web/staging?limit=3"), headers=AUTH) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["sync_status"] == "OutOfSync"
    assert body["conditions"][0]["reason"] == "ApplyFailed"
    assert [h["revision"] for h in body["history"]] == ["r0", "r1", "r2"]
    assert srv.backend.history_calls == [("web", "staging", 3)]


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "status"), [
    ("/api/v1/instances/web/moon", 404),
    ("/api/v1/instances/web/prod?limit=x", 400),
    ("/api/v1/instances/web/prod?limit=-1", 400),
])
async def test_instance_detail_errors(serve: ServerFactory, path: str, status: int) -> None:
    """An unknown instance is 404 and a bad limit is 400, both as JSON errors."""
    srv = await serve()
    async with srv.session.get(srv.url(path), headers=AUTH) as resp:
        assert resp.status == status
        assert "error" in await resp.json()


@pytest.mark.asyncio
@pytest.mark.parametrize(("path", "call", "enqueued"), [
    ("/api/v1/instances/web/prod/sync", ("web", "prod"), ["web/prod"]),
    ("/api/v1/applications/web/sync", ("web", None), ["web/prod", "web/staging"]),
])
async def test_sync_request_reaches_backend(serve: ServerFactory, path: str,
                                            call: tuple[str, str | None], enqueued: list[str]) -> None:
    """A sync request is passed to the backend and answered 202 with the enqueued keys."""
    srv = await serve()
    async with srv.session.post(srv.url(path), headers=AUTH) as resp:
        assert resp.status == 202
        assert await resp.json() == {"enqueued": enqueued}
    assert srv.backend.sync_calls == [call]


@pytest.mark.asyncio
async def test_sync_unknown_app_is_404(serve: ServerFactory) -> None:
    """A KeyError from the backend becomes 404 with the backend's sentence."""
    srv = await serve()
    async with srv.session.post(srv.url("/api/v1/applications/ghost/sync"), headers=AUTH) as resp:
        assert resp.status == 404
        assert await resp.json() == {"error": "unknown application ghost"}


@pytest.mark.asyncio
async def test_sync_with_get_is_405(serve: ServerFactory) -> None:
    """A sync endpoint refuses GET with 405 and an Allow header."""
    srv = await serve()
    async with srv.session.get(srv.url("/api/v1/applications/web/sync"), headers=AUTH) as resp:
        assert resp.status == 405
        assert "POST" in resp.headers["Allow"]
        assert "error" in await resp.json()


@pytest.mark.asyncio
async def test_backend_failure_is_json_500_without_detail(serve: ServerFactory) -> None:
    """An unexpected backend exception answers a JSON 500 that does not echo the exception."""
    srv = await serve(FakeBackend(fail_instances=True))
    with capture_logs() as logs:
        async with srv.session.get(srv.url("/api/v1/instances"), headers=AUTH) as resp:
            assert resp.status == 500
            assert await resp.json() == {"error": "internal error"}
    assert any(e.get("error") == "RuntimeError" for e in logs)
    assert "exploded" not in repr(logs)


@pytest.mark.asyncio
async def test_metrics_keep_backend_content_type(serve: ServerFactory) -> None:
    """/metrics serves the backend's body with its exposition content type, without a token."""
    srv = await serve()
    async with srv.session.get(srv.url("/metrics")) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert await resp.read() == b"gitopsd_up 1\n"


@pytest.mark.asyncio
@pytest.mark.parametrize(("ready", "status", "text"), [
    ((True, "ok"), 200, "ok"),
    ((False, "cluster prod unreachable"), 503, "cluster prod unreachable"),
])
async def test_readyz_follows_backend(serve: ServerFactory, ready: tuple[bool, str], status: int,
                                      text: str) -> None:
    """/readyz answers 200 or 503 with the backend's reason."""
    srv = await serve(FakeBackend(is_ready=ready))
    async with srv.session.get(srv.url("/readyz")) as resp:
        assert resp.status == status
        assert await resp.text() == text


def github_push_body(clone_url: str = CLONE_URL) -> bytes:
    return json.dumps({"ref": "refs/heads/main", "after": "abc",
                       "repository": {"clone_url": clone_url, "ssh_url": SSH_URL,
                                      "html_url": "https://github.com/acme/deploy"}}).encode()


@pytest.mark.asyncio
async def test_github_push_with_valid_signature(serve: ServerFactory) -> None:
    """A signed GitHub push answers 202 and polls the repository its URLs name, with the ref."""
    srv = await serve()
    body = github_push_body()
    headers = {"X-Hub-Signature-256": sign(GITHUB_SECRET, body), "X-GitHub-Event": "push",
               "Content-Type": "application/json"}
    async with srv.session.post(srv.url("/webhooks/github"), data=body, headers=headers) as resp:
        assert resp.status == 202
        assert await resp.json() == {"triggered": ["deploy"]}
    assert srv.backend.push_calls == [(CLONE_URL, "refs/heads/main"), (SSH_URL, "refs/heads/main")]


@pytest.mark.asyncio
async def test_github_form_encoded_push(serve: ServerFactory) -> None:
    """A GitHub delivery sent as a form (payload=<json>) is verified on the raw form body."""
    srv = await serve()
    body = urlencode({"payload": github_push_body(SSH_URL).decode()}).encode()
    headers = {"X-Hub-Signature-256": sign(GITHUB_SECRET, body), "X-GitHub-Event": "push",
               "Content-Type": "application/x-www-form-urlencoded"}
    async with srv.session.post(srv.url("/webhooks/github"), data=body, headers=headers) as resp:
        assert resp.status == 202
        assert await resp.json() == {"triggered": ["deploy"]}


@pytest.mark.asyncio
async def test_github_ping_is_ignored(serve: ServerFactory) -> None:
    """A signed non-push event answers 202 naming the ignored event and polls nothing."""
    srv = await serve()
    body = b'{"zen": "Keep it logically awesome."}'
    headers = {"X-Hub-Signature-256": sign(GITHUB_SECRET, body), "X-GitHub-Event": "ping"}
    async with srv.session.post(srv.url("/webhooks/github"), data=body, headers=headers) as resp:
        assert resp.status == 202
        assert await resp.json() == {"triggered": [], "ignored": "ping"}
    assert srv.backend.push_calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize("signature", [
    None,
    "sha256=" + "0" * 64,
    sign("not-the-secret", b"x"),
    "sha1=deadbeef",
])
async def test_github_bad_signature_is_401_and_not_logged(
        serve: ServerFactory, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
        signature: str | None) -> None:
    """A missing or wrong signature answers 401 and logs neither the body, the signature nor the secret."""
    srv = await serve()
    body = github_push_body().replace(b"acme", b"marker-body-0xfeed")
    headers = {"X-GitHub-Event": "push"}
    if signature:
        headers["X-Hub-Signature-256"] = signature
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        async with srv.session.post(srv.url("/webhooks/github"), data=body, headers=headers) as resp:
            assert resp.status == 401
            assert "error" in await resp.json()
    assert srv.backend.push_calls == []
    assert any(e.get("event") == "webhook refused" for e in logs)
    captured = repr(logs) + caplog.text + "".join(capsys.readouterr())
    for secret in ("marker-body-0xfeed", GITHUB_SECRET, signature or GITHUB_SECRET):
        assert secret not in captured


@pytest.mark.asyncio
async def test_webhook_without_configured_secret_is_403(serve: ServerFactory) -> None:
    """A provider with no secret configured refuses every delivery with 403."""
    srv = await serve(secrets={"gitlab": GITLAB_SECRET})
    body = github_push_body()
    headers = {"X-Hub-Signature-256": sign(GITHUB_SECRET, body), "X-GitHub-Event": "push"}
    async with srv.session.post(srv.url("/webhooks/github"), data=body, headers=headers) as resp:
        assert resp.status == 403
    assert srv.backend.push_calls == []


def gitlab_body() -> bytes:
    return json.dumps({"object_kind": "push", "ref": "refs/heads/release",
                       "project": {"git_http_url": "https://gitlab.com/acme/deploy.git",
                                   "git_ssh_url": SSH_URL}}).encode()


@pytest.mark.asyncio
@pytest.mark.parametrize(("token", "status", "calls"), [
    (GITLAB_SECRET, 202, [("https://gitlab.com/acme/deploy.git", "refs/heads/release"),
                          (SSH_URL, "refs/heads/release")]),
    (GITLAB_SECRET + "x", 401, []),
    (GITHUB_SECRET, 401, []),
    (None, 401, []),
])
async def test_gitlab_token(serve: ServerFactory, token: str | None, status: int,
                            calls: list[tuple[str, str]]) -> None:
    """GitLab deliveries are accepted only with X-Gitlab-Token equal to the gitlab secret."""
    srv = await serve()
    headers = {"X-Gitlab-Event": "Push Hook"}
    if token:
        headers["X-Gitlab-Token"] = token
    async with srv.session.post(srv.url("/webhooks/gitlab"), data=gitlab_body(), headers=headers) as resp:
        assert resp.status == status
    assert srv.backend.push_calls == calls


@pytest.mark.asyncio
@pytest.mark.parametrize(("payload", "secret", "status", "triggered", "calls"), [
    ({"repo": "deploy", "ref": "main"}, GENERIC_SECRET, 202, ["deploy"], [("deploy", "main")]),
    ({"repo": "https://elsewhere/x.git"}, GENERIC_SECRET, 202, [], [("https://elsewhere/x.git", None)]),
    ({"repo": "deploy"}, "wrong", 401, None, []),
    ({"ref": "main"}, GENERIC_SECRET, 400, None, []),
])
async def test_generic_hmac(serve: ServerFactory, payload: dict[str, str], secret: str, status: int,
                            triggered: list[str] | None, calls: list[tuple[str, str | None]]) -> None:
    """Generic deliveries need an HMAC of the raw body; an unknown repo is 202 with nothing triggered."""
    srv = await serve()
    body = json.dumps(payload).encode()
    headers = {"X-Gitopsd-Signature": sign(secret, body)}
    async with srv.session.post(srv.url("/webhooks/generic"), data=body, headers=headers) as resp:
        assert resp.status == status
        if triggered is not None:
            assert (await resp.json())["triggered"] == triggered
    assert srv.backend.push_calls == calls


@pytest.mark.asyncio
async def test_repository_secret_triggers_only_that_repository(serve: ServerFactory) -> None:
    """A push signed with a repository's own secret polls that repository by name, not the payload's URL."""
    srv = await serve(secrets={"deploy": REPO_SECRET})
    body = json.dumps({"repo": "https://elsewhere/other.git", "ref": "main"}).encode()
    headers = {"X-Gitopsd-Signature": sign(REPO_SECRET, body)}
    async with srv.session.post(srv.url("/webhooks/generic"), data=body, headers=headers) as resp:
        assert resp.status == 202
        assert await resp.json() == {"triggered": ["deploy"]}
    assert srv.backend.push_calls == [("deploy", "main")]


@pytest.mark.asyncio
async def test_oversized_webhook_body_is_413(serve: ServerFactory) -> None:
    """A body above the 1 MiB limit answers 413 before any signature check or backend call."""
    srv = await serve()
    body = b"{" + b" " * (1024 * 1024) + b"}"
    headers = {"X-Gitopsd-Signature": sign(GENERIC_SECRET, body)}
    async with srv.session.post(srv.url("/webhooks/generic"), data=io.BytesIO(body), headers=headers) as resp:
        assert resp.status == 413
        assert "error" in await resp.json()
    assert srv.backend.push_calls == []


@pytest.mark.asyncio
async def test_stop_releases_the_port(serve: ServerFactory) -> None:
    """After stop() the port no longer accepts connections, and a second stop() is harmless."""
    server = ApiServer(FakeBackend(), host="127.0.0.1", port=0)
    host, port = await server.start()
    await server.stop()
    await server.stop()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"http://{host}:{port}/healthz")


@pytest.mark.asyncio
@pytest.mark.parametrize("content", [None, "  \n"])
async def test_unusable_token_file_fails_start(tmp_path: Path, content: str | None) -> None:
    """A missing or empty token file stops start() with a ConfigError naming the file."""
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    server = ApiServer(FakeBackend(), host="127.0.0.1", port=0, token_file=str(path))
    with pytest.raises(ConfigError, match="token"):
        await server.start()
    assert server.address is None
