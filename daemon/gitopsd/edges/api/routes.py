"""The ``/api/v1`` endpoints: instance status, history and sync requests, as JSON.

Handlers here assume the caller is already authenticated (the server's
middleware checks the bearer token before any of them runs). They translate
HTTP to backend calls and back; they must not hold state of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from aiohttp import web

from gitopsd.errors import OwnedElsewhere, RollbackRefused, SyncWindowClosed

from .backend import ApiBackend, Row, resolve

DEFAULT_HISTORY = 10
MAX_HISTORY = 100

log = structlog.get_logger(__name__)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "")
    if not raw:
        return DEFAULT_HISTORY
    try:
        value = int(raw)
    except ValueError:
        raise web.HTTPBadRequest(reason="limit must be an integer") from None
    if value < 0:
        raise web.HTTPBadRequest(reason="limit must not be negative")
    return min(value, MAX_HISTORY)


def _unknown(exc: KeyError) -> str:
    detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
    return detail or "unknown application or cluster"


def _matches(row: Row, filters: Mapping[str, str]) -> bool:
    return all(str(row.get(field)) == value for field, value in filters.items())


class ApiRoutes:
    """The status and sync endpoints, bound to a backend."""

    def __init__(self, backend: ApiBackend) -> None:
        self._backend = backend

    def routes(self) -> list[web.RouteDef]:
        """Route definitions; every name starts with ``api.`` (the auth middleware's mark)."""
        return [
            web.get("/api/v1/instances", self.list_instances, name="api.instances"),
            web.get("/api/v1/instances/{app}/{cluster}", self.get_instance, name="api.instance"),
            web.get("/api/v1/members", self.list_members, name="api.members"),
            web.post("/api/v1/instances/{app}/{cluster}/sync", self.sync_instance, name="api.sync_instance"),
            web.post("/api/v1/applications/{app}/sync", self.sync_application, name="api.sync_application"),
            web.post("/api/v1/instances/{app}/{cluster}/rollback", self.rollback_instance,
                     name="api.rollback_instance"),
        ]

    async def _rows(self) -> Sequence[Row]:
        return await resolve(self._backend.instances())

    async def list_instances(self, request: web.Request) -> web.Response:
        """Every instance's status row; ``?app=`` and ``?cluster=`` filter."""
        filters = {k: v for k, v in request.query.items() if k in ("app", "cluster")}
        rows = [dict(r) for r in await self._rows() if _matches(r, filters)]
        return web.json_response({"instances": rows})

    async def list_members(self, request: web.Request) -> web.Response:
        """The daemons sharing this fleet and the number of instances each owns."""
        rows = [dict(r) for r in await resolve(self._backend.members())]
        return web.json_response({"members": rows})

    async def get_instance(self, request: web.Request) -> web.Response:
        """One instance's status row plus its recent ``history`` (``?limit=``, default 10)."""
        app, cluster = request.match_info["app"], request.match_info["cluster"]
        limit = _limit(request)
        for row in await self._rows():
            if _matches(row, {"app": app, "cluster": cluster}):
                history = await resolve(self._backend.history(app, cluster, limit))
                body: dict[str, Any] = dict(row)
                body["history"] = [dict(h) for h in history]
                return web.json_response(body)
        return _error(404, f"no instance {app} on cluster {cluster}")

    async def sync_instance(self, request: web.Request) -> web.Response:
        """Enqueue a sync of one instance; 202 with the enqueued keys, 404 when unknown, 409 when a
        sync window refuses manual syncs now."""
        return await self._sync(request.match_info["app"], request.match_info["cluster"])

    async def sync_application(self, request: web.Request) -> web.Response:
        """Enqueue a sync of an application on every cluster it targets."""
        return await self._sync(request.match_info["app"], None)

    async def rollback_instance(self, request: web.Request) -> web.Response:
        """Sync one instance to the revision of its history entry ``{"id": N}``; 202 with the keys
        and revision, 404 for an unknown instance or entry, 409 while automated sync is on or a
        sync window refuses it."""
        app, cluster = request.match_info["app"], request.match_info["cluster"]
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "the body must be JSON: {\"id\": <history entry id>}")
        entry_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(entry_id, int) or isinstance(entry_id, bool):
            return _error(400, "the body must be JSON: {\"id\": <history entry id>}")
        try:
            result = await resolve(self._backend.rollback(app, cluster, entry_id))
        except KeyError as exc:
            return _error(404, _unknown(exc))
        except RollbackRefused as exc:
            return _error(409, f"rollback refused: {exc}")
        except SyncWindowClosed as exc:
            return _error(409, f"rollback refused by a sync window: {exc}")
        log.info("rollback requested", app=app, cluster=cluster, entry=entry_id,
                 revision=result.get("revision"))
        return web.json_response(dict(result), status=202)

    async def _sync(self, app: str, cluster: str | None) -> web.Response:
        try:
            keys = await resolve(self._backend.request_sync(app, cluster))
        except KeyError as exc:
            return _error(404, _unknown(exc))
        except SyncWindowClosed as exc:
            return _error(409, f"sync refused by a sync window: {exc}")
        except OwnedElsewhere as exc:
            return _error(409, f"owned by another daemon sharing the fleet: {exc}")
        log.info("sync requested", app=app, cluster=cluster, enqueued=list(keys))
        return web.json_response({"enqueued": list(keys)}, status=202)
