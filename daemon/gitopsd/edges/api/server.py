"""The daemon's one HTTP server: probes, metrics, the JSON API and webhooks.

``/healthz`` answers while the event loop runs; ``/readyz`` and ``/metrics``
ask the backend; ``/api/v1/...`` needs ``Authorization: Bearer <token>`` with
the token read from a file at start (no token file configured: every API call
answers 403), except that with ``loopback_reads`` a GET that carries no
credentials and comes straight from a loopback address (no proxy header) may
read; ``/webhooks/...`` are verified by signature (see ``webhooks``); with
``ui``, the status pages under ``/ui`` (see ``gitopsd.edges.ui``).
Errors are JSON ``{"error": ...}``. Logs name the method, path and status,
never a header, a query string or a body. The server holds no daemon state and
must not import the engine: everything it knows comes through ``ApiBackend``.
"""

from __future__ import annotations

import ipaddress
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping

import structlog
from aiohttp import web

from gitopsd.errors import GitopsdError

from .auth import bearer_token, load_token, secret_equals
from .backend import ApiBackend, resolve
from .routes import ApiRoutes
from .webhooks import WebhookHandlers

DEFAULT_MAX_BODY = 1024 * 1024
SHUTDOWN_TIMEOUT = 5.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = structlog.get_logger(__name__)


def _is_api(request: web.Request) -> bool:
    name = request.match_info.route.name or ""
    return name.startswith("api.") or request.path.startswith("/api/")


_PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")
_READS = ("GET", "HEAD")


def _local_read(request: web.Request) -> bool:
    """A read without credentials straight from this host (not relayed by a local proxy)."""
    if request.method not in _READS or "Authorization" in request.headers:
        return False
    if any(h in request.headers for h in _PROXY_HEADERS):
        return False
    try:
        return ipaddress.ip_address((request.remote or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def _origin(exc: BaseException) -> str:
    """``file:line in function`` where EXC was raised: enough to find it, without locals or message."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f"{last.filename}:{last.lineno} in {last.name}"


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


class ApiServer:
    """The HTTP server; ``start()`` binds it inside the running loop, ``stop()`` drains it."""

    def __init__(
        self,
        backend: ApiBackend,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        token_file: str | None = None,
        webhook_secrets: Mapping[str, str] | None = None,
        client_max_size: int = DEFAULT_MAX_BODY,
        shutdown_timeout: float = SHUTDOWN_TIMEOUT,
        loopback_reads: bool = False,
        ui: bool = False,
        traces_url: str = "",
    ) -> None:
        self._backend = backend
        self._host = host
        self._port = port
        self._token_file = token_file
        self._token: str | None = None
        self._secrets = dict(webhook_secrets or {})
        self._client_max_size = client_max_size
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._address: tuple[str, int] | None = None
        self._loopback_reads = loopback_reads
        self._ui = ui
        self._traces_url = traces_url

    @property
    def address(self) -> tuple[str, int] | None:
        """The bound (host, port) while running, else None."""
        return self._address

    def build_app(self) -> web.Application:
        """The aiohttp application with every route and middleware, not yet bound."""
        app = web.Application(client_max_size=self._client_max_size,
                              middlewares=[self._errors, self._authenticate])
        app.router.add_get("/healthz", self._healthz, name="healthz")
        app.router.add_get("/readyz", self._readyz, name="readyz")
        app.router.add_get("/metrics", self._metrics, name="metrics")
        app.router.add_routes(ApiRoutes(self._backend).routes())
        app.router.add_routes(WebhookHandlers(self._backend, self._secrets).routes())
        if self._ui:
            from gitopsd.edges.ui import UiRoutes

            pages = UiRoutes(self._backend, token=lambda: self._token, traces_url=self._traces_url,
                             may_read=lambda r: self._loopback_reads and _local_read(r))
            app.router.add_routes(pages.routes())
            app.on_shutdown.append(pages.shutdown)
        return app

    async def start(self) -> tuple[str, int]:
        """Read the token file, bind and serve; returns the bound (host, port) (port 0 picks one).

        Raises ``ConfigError`` when the token file cannot be read and ``GitopsdError``
        when the address cannot be bound.
        """
        if self._runner is not None:
            raise RuntimeError("ApiServer already started")
        self._token = load_token(self._token_file) if self._token_file else None
        runner = web.AppRunner(self.build_app(), handle_signals=False,
                               shutdown_timeout=self._shutdown_timeout, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError as exc:
            await runner.cleanup()
            raise GitopsdError(f"cannot listen on {self._host}:{self._port}: {exc.strerror or exc}") from None
        self._runner = runner
        bound = runner.addresses[0]
        self._address = (str(bound[0]), int(bound[1]))
        log.info("http server listening", host=self._address[0], port=self._address[1],
                 api_enabled=self._token is not None, webhooks=sorted(self._secrets))
        return self._address

    async def stop(self) -> None:
        """Stop accepting, let running handlers finish (up to the shutdown timeout), release the port."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        await runner.cleanup()
        self._address = None
        log.info("http server stopped")

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.monotonic()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            if exc.status < 400 or exc.content_type == "text/html":
                raise  # a redirect, or a page the status pages made for the error
            headers = {k: v for k, v in exc.headers.items() if k in ("Allow", "WWW-Authenticate")}
            return _error(exc.status, exc.reason, headers)
        except Exception as exc:
            detail = str(exc) if isinstance(exc, GitopsdError) else ""
            log.error("http handler failed", method=request.method, path=request.path,
                      error=type(exc).__name__, detail=detail, where=_origin(exc))
            return _error(500, "internal error")
        finally:
            log.debug("http request", method=request.method, path=request.path, status=status,
                      duration_ms=round((time.monotonic() - started) * 1000, 1))

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _is_api(request):
            return await handler(request)
        if self._loopback_reads and _local_read(request):
            return await handler(request)
        if self._token is None:
            return _error(403, "API token not configured")
        given = bearer_token(request.headers.get("Authorization"))
        if given is None or not secret_equals(given, self._token):
            log.warning("api request refused", method=request.method, path=request.path,
                        peer=request.remote, reason="missing token" if given is None else "wrong token")
            return _error(401, "missing or invalid bearer token",
                          {"WWW-Authenticate": 'Bearer realm="gitopsd"'})
        return await handler(request)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, request: web.Request) -> web.Response:
        ok, reason = await resolve(self._backend.ready())
        return web.Response(text=reason or ("ok" if ok else "not ready"), status=200 if ok else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        body, content_type = await resolve(self._backend.metrics())
        return web.Response(body=body, headers={"Content-Type": content_type})
