"""The daemon's one sync history: the host's SQLite store, mirrored into the target clusters.

Every finished sync is written to the local store (``edges.store``) and queued
for the instance's bounded history ConfigMap in its cluster
(``edges.kube.history``). Reading asks the local store; an instance it knows
nothing of (a new host, a lost state directory, an instance taken over from
another host) is first filled from the cluster's copy, oldest entry first, so
its entries get local ids that ``gitopsd rollback`` can name. This module only
routes records between the two; it must not decide what is recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from gitopsd.edges.kube.history import ClusterHistory
from gitopsd.edges.store import DEFAULT_LIMIT, HistoryEntry, HistoryStore

__all__ = ["MirroredHistory"]


class MirroredHistory:
    """``HistoryPort`` for the engine and history reads for the API, over STORE and the clusters."""

    def __init__(self, store: HistoryStore, cluster: ClusterHistory | None = None) -> None:
        self.store = store
        self.cluster = cluster  # set once the fleet's clusters are connected
        self._filling = asyncio.Lock()

    async def record(self, app: str, cluster: str, *, revision: str, started: float, duration: float,
                     result: str, message: str = "", trace_id: str = "",
                     changes: Mapping[str, Any] | None = None) -> bool:
        """Write one sync locally and queue it for the cluster; False when the local write failed."""
        written = await self.store.record(app, cluster, revision=revision, started=started,
                                          duration=duration, result=result, message=message,
                                          trace_id=trace_id, changes=changes)
        if self.cluster is not None:
            self.cluster.record(app, cluster, {
                "revision": revision, "started": started, "duration": duration, "result": result,
                "message": message, "trace_id": trace_id, "changes": dict(changes or {})})
        return written

    async def history(self, app: str, cluster: str, limit: int = DEFAULT_LIMIT) -> list[HistoryEntry]:
        """The last LIMIT syncs of the instance, newest first, filled from the cluster when the
        local store has none."""
        entries = await self.store.history(app, cluster, limit)
        if entries or self.cluster is None:
            return entries
        async with self._filling:
            if await self.store.last(app, cluster) is None:
                for kept in reversed(await self.cluster.read(app, cluster)):
                    await self.store.record(
                        app, cluster, revision=str(kept["revision"]), started=float(kept["started"]),
                        duration=float(kept.get("duration") or 0), result=str(kept.get("result") or ""),
                        message=str(kept.get("message") or ""), trace_id=str(kept.get("trace_id") or ""),
                        changes=kept.get("changes") if isinstance(kept.get("changes"), dict) else None)
        return await self.store.history(app, cluster, limit)

    async def entry(self, app: str, cluster: str, entry_id: int) -> HistoryEntry | None:
        """The local entry ENTRY_ID of the instance (after the history was read, as the CLI does)."""
        return await self.store.entry(app, cluster, entry_id)
