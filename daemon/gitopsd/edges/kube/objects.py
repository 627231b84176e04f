"""Object operations on one cluster: get, server-side apply, create, delete, list.

Server-side apply uses the field manager ``gitopsd`` and forces conflicts only
when told to. These functions move objects; deciding which objects to touch is
the engine's job, and ownership checks happen before anything here is called.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitopsd.edges.kube.client import APPLY_PATCH, JSON_PATCH, KubeClient, query
from gitopsd.edges.kube.discovery import Discovery, ResourceInfo
from gitopsd.errors import ApiError
from gitopsd.model import objects

FIELD_MANAGER = objects.FIELD_MANAGER


class Objects:
    def __init__(self, client: KubeClient, discovery: Discovery | None = None) -> None:
        self.client = client
        self.discovery = discovery or Discovery(client)

    async def info(self, api_version: str, kind: str) -> ResourceInfo:
        return await self.discovery.resolve(api_version, kind)

    async def namespaced(self, api_version: str, kind: str) -> bool | None:
        info = await self.discovery.find(api_version, kind)
        return None if info is None else info.namespaced

    def invalidate(self, group: str | None = None) -> None:
        self.discovery.invalidate(group)

    async def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict[str, Any] | None:
        info = await self.info(api_version, kind)
        status, body = await self.client.request("GET", info.path(name, namespace), ok=(404,))
        return body if status == 200 and isinstance(body, dict) else None

    async def apply(self, body: Mapping[str, Any], *, dry_run: bool = False, force: bool = True,
                    field_manager: str = FIELD_MANAGER) -> dict[str, Any]:
        meta = objects.meta(body)
        info = await self.info(str(body.get("apiVersion")), str(body.get("kind")))
        params = query(fieldManager=field_manager, force=force, dryRun="All" if dry_run else None)
        _, live = await self.client.request(
            "PATCH", info.path(meta["name"], meta.get("namespace") or ""), query=params,
            body=dict(body), content_type=APPLY_PATCH)
        return live if isinstance(live, dict) else {}

    async def set_managed_fields(self, live: Mapping[str, Any],
                                 entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Replace LIVE's ``managedFields`` with ENTRIES, only if LIVE is still the stored version
        (a JSON patch whose first operation tests the resourceVersion)."""
        meta = objects.meta(live)
        info = await self.info(str(live.get("apiVersion")), str(live.get("kind")))
        patch = [{"op": "test", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")},
                 {"op": "replace", "path": "/metadata/managedFields", "value": list(entries)}]
        _, body = await self.client.request("PATCH", info.path(meta["name"], meta.get("namespace") or ""),
                                            body=patch, content_type=JSON_PATCH)
        return body if isinstance(body, dict) else {}

    async def create(self, body: Mapping[str, Any], *, dry_run: bool = False,
                     field_manager: str = FIELD_MANAGER) -> dict[str, Any]:
        meta = objects.meta(body)
        info = await self.info(str(body.get("apiVersion")), str(body.get("kind")))
        params = query(fieldManager=field_manager, dryRun="All" if dry_run else None)
        _, live = await self.client.request("POST", info.collection(meta.get("namespace") or ""),
                                            query=params, body=dict(body))
        return live if isinstance(live, dict) else {}

    async def replace(self, body: Mapping[str, Any], *, field_manager: str = FIELD_MANAGER) -> dict[str, Any]:
        meta = objects.meta(body)
        info = await self.info(str(body.get("apiVersion")), str(body.get("kind")))
        current = await self.get(str(body["apiVersion"]), str(body["kind"]), meta["name"],
                                 meta.get("namespace") or "")
        if current is None:
            return await self.create(body, field_manager=field_manager)
        doc = dict(body)
        doc["metadata"] = {**meta, "resourceVersion": objects.resource_version(current)}
        _, live = await self.client.request("PUT", info.path(meta["name"], meta.get("namespace") or ""),
                                            query=query(fieldManager=field_manager), body=doc)
        return live if isinstance(live, dict) else {}

    async def delete(self, api_version: str, kind: str, name: str, namespace: str = "", *,
                     propagation: str = "Foreground", uid: str | None = None,
                     resource_version: str | None = None) -> bool:
        """Delete an object; False when it was already gone, or when it is not the incarnation
        (UID) or version (RESOURCE_VERSION) the preconditions name."""
        info = await self.info(api_version, kind)
        options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions",
                                   "propagationPolicy": propagation}
        preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if preconditions:
            options["preconditions"] = preconditions
        try:
            status, _ = await self.client.request("DELETE", info.path(name, namespace), body=options,
                                                  ok=(404,))
        except ApiError as e:
            if e.status == 409:  # precondition failed: it is another object now
                return False
            raise
        return status != 404

    async def select(self, api_version: str, kind: str, *, namespace: str = "",
                     label_selector: str = "") -> list[dict[str, Any]]:
        """Every object of a kind (in NAMESPACE) matching LABEL_SELECTOR."""
        items, _ = await self.list(await self.info(api_version, kind), label_selector=label_selector,
                                   namespace=namespace)
        return items

    async def list(self, info: ResourceInfo, *, label_selector: str = "",
                   namespace: str = "") -> tuple[list[dict[str, Any]], str]:
        """All objects of a kind matching LABEL_SELECTOR and the list's resourceVersion."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page, rv, token = await self.list_page(info, label_selector=label_selector,
                                                   namespace=namespace, token=token)
            items.extend(page)
            if not token:
                return items, rv

    async def list_page(self, info: ResourceInfo, *, label_selector: str = "", namespace: str = "",
                        token: str | None = None,
                        limit: int = 250) -> tuple[Sequence[dict[str, Any]], str, str | None]:
        """One page of a list: its objects, the list's resourceVersion and the next page's token."""
        params = query(labelSelector=label_selector or None, limit=limit, **{"continue": token})
        _, body = await self.client.request("GET", info.collection(namespace), query=params,
                                            timeout=60)
        body = body or {}
        items = body.get("items", [])
        for item in items:
            item.setdefault("apiVersion", info.api_version)
            item.setdefault("kind", info.kind)
        meta = objects.meta(body)
        return items, str(meta.get("resourceVersion", "")), meta.get("continue") or None
