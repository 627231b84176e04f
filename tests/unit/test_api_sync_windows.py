"""A sync refused by a sync window is a 409 naming the window; `gitopsd status` shows windows compactly."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gitopsd.cli.daemon import _windows
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


@pytest.mark.parametrize(("row", "cell"), [
    (None, "-"),
    ({"automated": False, "manual": False, "active": [{"kind": "deny"}]}, "deny:closed"),
    ({"automated": False, "manual": True, "active": [{"kind": "deny"}, {"kind": "allow"}]},
     "allow+deny:manual-only"),
    ({"automated": False, "manual": False, "active": []}, "none:closed"),
    ({"automated": True, "manual": True, "active": [{"kind": "allow"}]}, "allow:open"),
])
def test_status_cell_names_active_kinds_and_whether_syncs_run(row: dict[str, object] | None,
                                                               cell: str) -> None:
    """The WINDOWS cell holds no spaces and says which kinds are active and whether syncs may run."""
    assert _windows(row) == cell
