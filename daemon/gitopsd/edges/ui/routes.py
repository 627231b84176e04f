"""The status pages' HTTP handlers under ``/ui``: pages, sign-in, sync buttons and live updates.

Reading follows the API's rule (``may_read``: a request straight from this host
when the daemon allows loopback reads), or a signed-in session; anything else
is sent to the sign-in form. A sync needs a session and its CSRF token, and a
cross-site ``Origin`` is refused outright. ``/ui/events`` is a Server-Sent
Events stream of overview cells that changed. Every page works without
script. Handlers only translate between HTTP and the backend; the HTML is
built by ``overview`` and ``instance``, and nothing secret is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from gitopsd.edges.api.auth import secret_equals
from gitopsd.edges.api.backend import ApiBackend, Row, resolve
from gitopsd.errors import GitopsdError, RollbackRefused, SyncWindowClosed

from .clusters import clusters_page
from .instance import diff_page, history_page, instance_page, login_page
from .layout import esc, page
from .overview import FILTERS, SCRIPT_SOURCE, cells, overview, row_id
from .session import COOKIE, LIFETIME, Sessions

__all__ = ["UiRoutes"]

HISTORY_SHOWN = 20
COMPARE_TIMEOUT = 30.0  # seconds an instance page waits for the cluster comparison
LIVE_INTERVAL = 1.0  # seconds between looks at the status rows for /ui/events
KEEPALIVE = 15.0
FAILED_LOGIN_DELAY = 0.5

_HEADERS = {
    "Content-Security-Policy": f"default-src 'none'; style-src 'unsafe-inline'; script-src {SCRIPT_SOURCE}; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
    # same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" with its own
    # form posts, which the same-origin check must refuse (a sign-in from the page then fails)
    "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
}

log = structlog.get_logger(__name__)


def _html(text: str, status: int = 200) -> web.Response:
    """A page, compressed when the client accepts it (the overview of 1,000 instances is about
    half a megabyte of HTML and a tenth of that gzipped). A page that holds a CSRF token is
    only ever sent to a same-site request, the session cookie being SameSite=Strict, so a
    cross-site page cannot measure its compressed size against what it reflects."""
    response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                            headers=_HEADERS)
    response.enable_compression()
    return response


def _see(location: str) -> web.HTTPSeeOther:
    """A redirect to raise (from helpers that otherwise return a value)."""
    return web.HTTPSeeOther(location=location, headers=_HEADERS)


def _redirect(location: str) -> web.Response:
    """A redirect to return, so that cookies can be set on it."""
    return web.Response(status=303, headers={**_HEADERS, "Location": location})


def _missing(app: str, cluster: str) -> web.HTTPNotFound:
    """A 404 page (HTML, which the server's error middleware passes through) for an unknown instance."""
    body = page("Not found", f'<h1>No instance {esc(app)} on cluster {esc(cluster)}</h1>'
                '<p><a href="/ui/">Back to the fleet</a></p>', signed_in=False)
    return web.HTTPNotFound(text=body, content_type="text/html", headers=_HEADERS)


def _same_origin(request: web.Request) -> bool:
    """No ``Origin`` (not a browser's cross-site form), or this very server's."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.host


class UiRoutes:
    """The status pages, bound to a backend, the API token and the server's read rule."""

    def __init__(self, backend: ApiBackend, *, token: Callable[[], str | None],
                 may_read: Callable[[web.Request], bool], traces_url: str = "",
                 live_interval: float = LIVE_INTERVAL) -> None:
        self._backend = backend
        self._token = token
        self._may_read = may_read
        self._traces_url = traces_url
        self._interval = live_interval
        self._closing = asyncio.Event()
        self.sessions = Sessions()

    async def shutdown(self, app: web.Application) -> None:
        """End every open event stream, so that stopping the server does not wait for them."""
        self._closing.set()

    def routes(self) -> list[web.RouteDef]:
        """Route definitions; every name starts with ``ui.``."""
        return [
            web.get("/ui", self.root, name="ui.root"),
            web.get("/ui/", self.fleet, name="ui.fleet"),
            web.get("/ui/events", self.events, name="ui.events"),
            web.get("/ui/clusters", self.clusters, name="ui.clusters"),
            web.get("/ui/login", self.login_form, name="ui.login_form"),
            web.post("/ui/login", self.login, name="ui.login"),
            web.post("/ui/logout", self.logout, name="ui.logout"),
            web.get("/ui/instances/{app}/{cluster}", self.instance, name="ui.instance"),
            web.get("/ui/instances/{app}/{cluster}/diff", self.diff, name="ui.diff"),
            web.get("/ui/instances/{app}/{cluster}/history", self.history, name="ui.history"),
            web.post("/ui/instances/{app}/{cluster}/sync", self.sync, name="ui.sync"),
            web.post("/ui/instances/{app}/{cluster}/rollback", self.rollback, name="ui.rollback"),
        ]

    # -- who is asking ----------------------------------------------------------------

    def _session(self, request: web.Request) -> str | None:
        sid = request.cookies.get(COOKIE)
        return sid if self.sessions.valid(sid) else None

    def _viewer(self, request: web.Request) -> tuple[bool, str]:
        """(signed in, CSRF token); raises a redirect to sign-in when REQUEST may not read."""
        sid = self._session(request)
        if sid is not None:
            return True, self.sessions.csrf(sid)
        if self._may_read(request):
            return False, ""
        raise _see("/ui/login")

    async def _row(self, app: str, cluster: str) -> Row:
        for row in await resolve(self._backend.instances()):
            if row.get("app") == app and row.get("cluster") == cluster:
                return row
        raise _missing(app, cluster)

    async def _inspect(self, app: str, cluster: str) -> tuple[Row | None, str]:
        try:
            return await asyncio.wait_for(resolve(self._backend.inspect(app, cluster)), COMPARE_TIMEOUT), ""
        except KeyError:
            return None, "this daemon does not run it (see its conditions)"
        except TimeoutError:
            return None, f"no answer within {COMPARE_TIMEOUT:.0f}s"
        except GitopsdError as exc:
            return None, str(exc)

    # -- pages ------------------------------------------------------------------------

    async def root(self, request: web.Request) -> web.StreamResponse:
        raise _see("/ui/")

    async def fleet(self, request: web.Request) -> web.Response:
        signed_in, csrf = self._viewer(request)
        filters = {k: v for k, v in request.query.items() if k in FILTERS and v}
        rows = await resolve(self._backend.instances())
        flash = "Sync requested." if request.query.get("synced") else ""
        return _html(overview(rows, filters, signed_in=signed_in, csrf=csrf, flash=flash))

    async def clusters(self, request: web.Request) -> web.Response:
        signed_in, csrf = self._viewer(request)
        rows = await resolve(self._backend.clusters())
        return _html(clusters_page(rows, signed_in=signed_in, csrf=csrf))

    async def instance(self, request: web.Request) -> web.Response:
        signed_in, csrf = self._viewer(request)
        app, cluster = request.match_info["app"], request.match_info["cluster"]
        row = await self._row(app, cluster)
        inspected, error = await self._inspect(app, cluster)
        history = await resolve(self._backend.history(app, cluster, 1))
        commit = await resolve(self._backend.commit(app, cluster, str(row.get("revision") or "")))
        flash = "Sync requested." if request.query.get("synced") else ""
        return _html(instance_page(row, inspected, history, commit=commit, error=error,
                                   traces_url=self._traces_url,
                                   signed_in=signed_in, csrf=csrf, flash=flash))

    async def diff(self, request: web.Request) -> web.Response:
        signed_in, csrf = self._viewer(request)
        app, cluster = request.match_info["app"], request.match_info["cluster"]
        await self._row(app, cluster)
        inspected, error = await self._inspect(app, cluster)
        return _html(diff_page(app, cluster, inspected, error=error, signed_in=signed_in, csrf=csrf))

    async def history(self, request: web.Request, *, flash: str = "", status: int = 200) -> web.Response:
        signed_in, csrf = self._viewer(request)
        app, cluster = request.match_info["app"], request.match_info["cluster"]
        await self._row(app, cluster)
        entries = await resolve(self._backend.history(app, cluster, HISTORY_SHOWN))
        if not flash and request.query.get("rolledback"):
            flash = "Rollback requested."
        return _html(history_page(app, cluster, entries, traces_url=self._traces_url,
                                  signed_in=signed_in, csrf=csrf, flash=flash), status=status)

    # -- signing in and syncing -------------------------------------------------------

    async def login_form(self, request: web.Request) -> web.Response:
        return _html(login_page())

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        given = form.get("token")
        expected = self._token()
        if not _same_origin(request) or not isinstance(given, str) or expected is None \
                or not secret_equals(given.strip(), expected):
            log.warning("ui sign-in refused", peer=request.remote)
            await asyncio.sleep(FAILED_LOGIN_DELAY)
            return _html(login_page(failed=True), status=401)
        sid = self.sessions.open()
        response = _redirect("/ui/")
        response.set_cookie(COOKIE, sid, path="/ui", httponly=True, samesite="Strict",
                            secure=request.secure, max_age=int(LIFETIME))
        log.info("ui signed in", peer=request.remote)
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        sid = request.cookies.get(COOKIE)
        form = await request.post()
        csrf = form.get("csrf")
        if self.sessions.csrf_ok(sid, csrf if isinstance(csrf, str) else None):
            self.sessions.close(sid)
        response = _redirect("/ui/")
        response.del_cookie(COOKIE, path="/ui")
        return response

    async def _signed_form(self, request: web.Request, action: str) -> Mapping[str, Any] | None:
        """The posted form when it comes from this server's page in a session with its CSRF token;
        None (logged, without the token) otherwise."""
        form = await request.post()
        csrf = form.get("csrf")
        sid = request.cookies.get(COOKIE)
        if _same_origin(request) and self.sessions.csrf_ok(sid, csrf if isinstance(csrf, str) else None):
            return form
        log.warning(f"ui {action} refused", app=request.match_info["app"],
                    cluster=request.match_info["cluster"], peer=request.remote,
                    reason="no session" if not self.sessions.valid(sid) else "bad csrf or origin")
        return None

    async def rollback(self, request: web.Request) -> web.StreamResponse:
        """Roll one instance back to the revision of the history entry posted as ``id``."""
        app, cluster = request.match_info["app"], request.match_info["cluster"]
        form = await self._signed_form(request, "rollback")
        if form is None:
            return _html(login_page(), status=403)
        given = str(form.get("id", ""))
        if not given.isdigit():
            return await self.history(request, flash="Choose a history entry to roll back to.", status=400)
        try:
            result = await resolve(self._backend.rollback(app, cluster, int(given)))
        except KeyError:  # an unknown instance is answered by the history page itself
            return await self.history(request, flash=f"No history entry {given}.", status=404)
        except RollbackRefused as exc:
            return await self.history(request, flash=f"Rollback refused: {exc}", status=409)
        except SyncWindowClosed as exc:
            return await self.history(request, flash=f"Rollback refused by a sync window: {exc}", status=409)
        log.info("rollback requested", app=app, cluster=cluster, entry=int(given),
                 revision=result.get("revision"), via="ui")
        raise _see(request.rel_url.raw_path.removesuffix("/rollback") + "/history?rolledback=1")

    async def sync(self, request: web.Request) -> web.StreamResponse:
        app, cluster = request.match_info["app"], request.match_info["cluster"]
        if await self._signed_form(request, "sync") is None:
            return _html(login_page(), status=403)
        sid = request.cookies.get(COOKIE)
        try:
            keys = await resolve(self._backend.request_sync(app, cluster))
        except KeyError:
            raise _missing(app, cluster) from None
        except SyncWindowClosed as exc:
            return _html(overview(await resolve(self._backend.instances()), {}, signed_in=True,
                                  csrf=self.sessions.csrf(str(sid)),
                                  flash=f"Sync refused by a sync window: {exc}"), status=409)
        log.info("sync requested", app=app, cluster=cluster, enqueued=list(keys), via="ui")
        back = request.headers.get("Referer", "")
        target = urlsplit(back).path if urlsplit(back).netloc == request.host else ""
        raise _see((target if target.startswith("/ui/") else "/ui/") + "?synced=1")

    # -- live updates -----------------------------------------------------------------

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: ``{"id", "cells"}`` for each overview row whose cells changed
        (every row once on connecting), a comment now and then to keep the line open."""
        self._viewer(request)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        await response.prepare(request)
        seen: dict[str, Mapping[str, str]] = {}
        quiet = 0.0
        try:
            while True:
                sent = False
                for row in await resolve(self._backend.instances()):
                    rid, now = row_id(row), cells(row)
                    if seen.get(rid) != now:
                        seen[rid] = now
                        await response.write(_event({"id": rid, "cells": now}))
                        sent = True
                quiet = 0.0 if sent else quiet + self._interval
                if quiet >= KEEPALIVE:
                    await response.write(b": keep-alive\n\n")
                    quiet = 0.0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), self._interval)
                if self._closing.is_set():
                    break
        except ConnectionResetError:
            pass  # the page went away
        return response


def _event(data: Any) -> bytes:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
