"""The benchmark's own client of a local control plane: requests, writes and watches.

Deliberately independent of gitopsd's kube edge, so that what the benchmark
observes (and the floors it measures) does not share code, connection pools or
event loops with the daemon under test. It speaks plain JSON over aiohttp with
the cluster's admin token and never prints that token.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
WRITE_VERBS = ("POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION")

# kind -> (API path prefix, plural); the only kinds the benchmarks create.
KINDS: dict[str, tuple[str, str]] = {
    "ConfigMap": ("/api/v1", "configmaps"),
    "Service": ("/api/v1", "services"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    "Namespace": ("/api/v1", "namespaces"),
}


def path(kind: str, namespace: str = "", name: str = "") -> str:
    prefix, plural = KINDS[kind]
    base = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
    if kind == "Namespace":
        base = f"{prefix}/namespaces"
    return f"{base}/{name}" if name else base


@dataclass(frozen=True)
class Endpoint:
    """How to reach one cluster as admin: server URL, CA file and bearer token."""

    name: str
    server: str
    ca_file: str
    token: str = field(repr=False)

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "server": self.server, "ca_file": self.ca_file, "token": self.token}


class ApiError(Exception):
    """A request the benchmark needed failed; carries the HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Kube:
    """Async requests against one cluster, with a connection pool of its own."""

    def __init__(self, endpoint: Endpoint, *, pool: int = 32) -> None:
        self.endpoint = endpoint
        self.name = endpoint.name
        ctx = ssl.create_default_context(cafile=endpoint.ca_file)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ctx, limit=pool),
            headers={"Authorization": f"Bearer {endpoint.token}", "Accept": "application/json"})

    async def close(self) -> None:
        await self._session.close()

    async def request(self, method: str, url_path: str, body: Any = None, *,
                      params: Mapping[str, str] | None = None, content_type: str = "application/json",
                      ok: tuple[int, ...] = (), timeout: float = 60.0) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if data is not None else {}
        async with self._session.request(method, self.endpoint.server + url_path, data=data,
                                         params=dict(params or {}), headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            raw = await resp.read()
            status = resp.status
        if status >= 300 and status not in ok:
            raise ApiError(f"{self.name}: {method} {url_path}: HTTP {status}: "
                           f"{raw[:300].decode(errors='replace')}", status)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    async def apply(self, body: Mapping[str, Any], *, manager: str, force: bool = True) -> dict[str, Any]:
        """Server-side apply of BODY as field manager MANAGER; the live object."""
        meta = body["metadata"]
        target = path(str(body["kind"]), meta.get("namespace", ""), meta["name"])
        _, live = await self.request("PATCH", target, body, content_type=APPLY,
                                     params={"fieldManager": manager, "force": str(force).lower()})
        return dict(live)

    async def patch(self, kind: str, namespace: str, name: str, patch: Mapping[str, Any], *,
                    manager: str) -> dict[str, Any]:
        """A JSON merge patch as another field manager, as ``kubectl edit`` would send."""
        _, live = await self.request("PATCH", path(kind, namespace, name), patch, content_type=MERGE,
                                     params={"fieldManager": manager})
        return dict(live)

    async def create(self, body: Mapping[str, Any], *, ok_exists: bool = True) -> int:
        meta = body["metadata"]
        status, _ = await self.request("POST", path(str(body["kind"]), meta.get("namespace", "")), body,
                                       ok=(409,) if ok_exists else ())
        return status

    async def ensure_namespace(self, name: str) -> None:
        await self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    async def list(self, kind: str, *, label_selector: str = "",
                   namespace: str = "") -> tuple[list[Any], str]:
        items: list[Any] = []
        token = ""
        while True:
            params = {"limit": "500"}
            if label_selector:
                params["labelSelector"] = label_selector
            if token:
                params["continue"] = token
            _, body = await self.request("GET", path(kind, namespace), params=params)
            items.extend(body.get("items", []))
            meta = body.get("metadata") or {}
            token = meta.get("continue") or ""
            if not token:
                return items, str(meta.get("resourceVersion", ""))

    async def metrics(self) -> str:
        _, text = await self.request("GET", "/metrics")
        return str(text)

    async def watch(self, kind: str, on_event: Callable[[str, dict[str, Any], float], None], *,
                    label_selector: str = "", ready: asyncio.Event | None = None) -> None:
        """List, then stream events of KIND to ON_EVENT(type, object, arrival time) until cancelled.

        ARRIVAL is ``time.monotonic()`` when the event's line was read. Re-lists on 410.
        """
        while True:
            items, rv = await self.list(kind, label_selector=label_selector)
            now = time.monotonic()
            for obj in items:
                on_event("LISTED", obj, now)
            params = {"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true",
                      "timeoutSeconds": "3600"}
            if label_selector:
                params["labelSelector"] = label_selector
            async with self._session.get(self.endpoint.server + path(kind), params=params,
                                         timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
                if resp.status == 410:
                    continue
                if resp.status != 200:
                    raise ApiError(f"{self.name}: watch {kind}: HTTP {resp.status}", resp.status)
                if ready is not None:
                    ready.set()
                gone = False
                async for line in resp.content:
                    arrival = time.monotonic()
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    etype, obj = event.get("type"), event.get("object") or {}
                    if etype == "ERROR":
                        gone = obj.get("code") == 410
                        break
                    if etype != "BOOKMARK":
                        on_event(str(etype), obj, arrival)
                if not gone:
                    continue


def endpoint_of(name: str, directory: Path, server: str, token: str) -> Endpoint:
    return Endpoint(name=name, server=server, ca_file=str(directory / "pki" / "ca.crt"), token=token)


def parse_request_counts(text: str) -> dict[tuple[str, str, str, str], float]:
    """``apiserver_request_total`` as {(verb, resource, subresource, dry_run): count}."""
    out: dict[tuple[str, str, str, str], float] = {}
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels_text, _, value = line.rpartition("} ")
        labels = _labels(labels_text[len("apiserver_request_total{"):])
        key = (labels.get("verb", ""), labels.get("resource", ""), labels.get("subresource", ""),
               labels.get("dry_run", ""))
        out[key] = out.get(key, 0.0) + float(value)
    return out


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    i = 0
    while i < len(text):
        eq = text.index("=", i)
        name = text[i:eq].strip().lstrip(",")
        j = eq + 2
        value = []
        while text[j] != '"':
            if text[j] == "\\":
                j += 1
            value.append(text[j])
            j += 1
        labels[name] = "".join(value)
        i = j + 1
        if i < len(text) and text[i] == ",":
            i += 1
    return labels


def count_delta(before: Mapping[tuple[str, str, str, str], float],
                after: Mapping[tuple[str, str, str, str], float]) -> dict[tuple[str, str, str, str], int]:
    keys = set(before) | set(after)
    delta = {k: round(after.get(k, 0.0) - before.get(k, 0.0)) for k in keys}
    return {k: v for k, v in delta.items() if v}
