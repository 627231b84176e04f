"""List-then-watch of one kind on one cluster, label-selected to owned objects.

The stream starts from the list's resourceVersion with bookmarks, re-lists on
410 Gone and returns on a dropped connection so that the supervisor can restart
it with backoff. Events are handed to a callback as plain dicts; this module
does not interpret them.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from gitopsd.edges.kube.client import KubeClient, query
from gitopsd.edges.kube.discovery import ResourceInfo
from gitopsd.edges.kube.objects import Objects
from gitopsd.errors import ApiError
from gitopsd.model.objects import resource_version

# (event type, object): every (re)list starts with "LISTING" (no object), hands
# each item as "LISTED", then "SYNCED" (no object) once the list is complete; then
# the stream's ADDED, MODIFIED and DELETED events follow.
OnEvent = Callable[[str, Any], Awaitable[None] | None]


class Gone(Exception):
    """The watch's resourceVersion is too old (HTTP 410)."""


async def _emit(cb: OnEvent, kind: str, obj: Any) -> None:
    result = cb(kind, obj)
    if result is not None:
        await result


async def watch_kind(objects: Objects, info: ResourceInfo, on_event: OnEvent, *,
                     label_selector: str, timeout_seconds: int = 290,
                     stats: dict[str, int] | None = None) -> None:
    """Run until the connection drops (returns) or the cluster fails (ClusterError)."""
    stats = stats if stats is not None else {}
    while True:
        await _emit(on_event, "LISTING", None)
        rv = await _list(objects, info, on_event, label_selector)
        stats["lists"] = stats.get("lists", 0) + 1
        await _emit(on_event, "SYNCED", None)
        try:
            while True:
                rv = await _stream_once(objects.client, info, on_event, rv, label_selector,
                                        timeout_seconds, stats)
        except Gone:
            stats["relists"] = stats.get("relists", 0) + 1
            continue


async def _list(objects: Objects, info: ResourceInfo, on_event: OnEvent, label_selector: str) -> str:
    """Hand every listed object to ON_EVENT page by page; return the list's resourceVersion."""
    token: str | None = None
    while True:
        page, rv, token = await objects.list_page(info, label_selector=label_selector, token=token)
        for item in page:
            await _emit(on_event, "LISTED", item)
        if not token:
            return rv


async def _stream_once(client: KubeClient, info: ResourceInfo, on_event: OnEvent, rv: str,
                       label_selector: str, timeout_seconds: int, stats: dict[str, int]) -> str:
    params = query(watch=True, resourceVersion=rv, allowWatchBookmarks=True,
                   labelSelector=label_selector or None, timeoutSeconds=timeout_seconds)
    timeout = aiohttp.ClientTimeout(total=None, connect=15, sock_connect=15,
                                    sock_read=timeout_seconds + 30)
    async with client.raw("GET", info.collection(), query=params, timeout=timeout) as resp:
        if resp.status == 410:
            raise Gone()
        if resp.status != 200:
            body = await resp.read()
            raise ApiError(f"cluster {client.name}: watch {info.kind}: {resp.status} "
                           f"{body[:200].decode(errors='replace')}", status=resp.status)
        stats["watches"] = stats.get("watches", 0) + 1
        try:
            async for line in resp.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                etype = event.get("type")
                obj = event.get("object") or {}
                if etype == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone()
                    raise ApiError(f"cluster {client.name}: watch {info.kind}: {obj.get('message')}",
                                   status=int(obj.get("code") or 0))
                new_rv = resource_version(obj)
                if new_rv:
                    rv = new_rv
                if etype == "BOOKMARK":
                    stats["bookmarks"] = stats.get("bookmarks", 0) + 1
                    continue
                obj.setdefault("apiVersion", info.api_version)
                obj.setdefault("kind", info.kind)
                stats["events"] = stats.get("events", 0) + 1
                await _emit(on_event, etype, obj)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise client.unreachable(f"watch {info.kind}", e) from None
    return rv
