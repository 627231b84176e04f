"""The sync endpoints answer a sync refused by a sync window with 409 and the window's reason."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gitopsd.edges.api.routes import ApiRoutes
from gitopsd.errors import SyncWindowClosed

REASON = "web/alpha: manual syncs are stopped by the active deny window '0 22 * * *' (2h, UTC)"


class Refusing:
    """A backend whose every instance is inside a deny window without manualSync."""

    def request_sync(self, app: str, cluster: str | None) -> Sequence[str]:
        raise SyncWindowClosed(REASON)


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/api/v1/instances/web/alpha/sync", "/api/v1/applications/web/sync"])
async def test_refused_sync_is_a_conflict_naming_the_window(path: str) -> None:
    """Both sync endpoints answer 409 with the refusal's reason as the error."""
    app = web.Application()
    app.add_routes(ApiRoutes(Refusing()).routes())  # type: ignore[arg-type]
    async with TestClient(TestServer(app)) as client:
        resp = await client.post(path)
        assert resp.status == 409
        assert (await resp.json())["error"] == f"sync refused by a sync window: {REASON}"
