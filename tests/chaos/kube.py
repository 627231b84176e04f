"""The harness's own view of the cluster: plain requests, retried across injected outages,
and a watch that records every uid a hook object was ever created with.

The harness must see the cluster independently of the daemon under test, so
it speaks HTTP to the API server with ``LocalCluster.request`` and its own
streaming watch, never through gitopsd's code.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from gitopsd.localcluster import ADMIN_USER, LocalCluster

PLURAL = {"ConfigMap": "configmaps", "Service": "services", "Secret": "secrets"}


def path(kind: str, namespace: str, name: str | None = None) -> str:
    base = f"/api/v1/namespaces/{namespace}/{PLURAL[kind]}"
    return f"{base}/{name}" if name else base


def request(cluster: LocalCluster, method: str, url: str, body: Any = None, *,
            timeout: float = 60.0, content_type: str = "application/json") -> tuple[int, Any]:
    """``cluster.request``, retried while the API server is unreachable (at most TIMEOUT seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, data = cluster.request(method, url, body, timeout=10, content_type=content_type)
            if status < 500 or time.monotonic() >= deadline:
                return status, data
        except (OSError, ssl.SSLError):
            if time.monotonic() >= deadline:
                raise
        time.sleep(0.3)


def get(cluster: LocalCluster, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    status, body = request(cluster, "GET", path(kind, namespace, name))
    if status == 404:
        return None
    if status != 200:
        raise RuntimeError(f"GET {kind} {namespace}/{name}: {status} {str(body)[:200]}")
    return dict(body)


def create(cluster: LocalCluster, doc: dict[str, Any]) -> dict[str, Any]:
    meta = doc["metadata"]
    status, body = request(cluster, "POST", path(doc["kind"], meta["namespace"]), doc)
    if status != 201:
        raise RuntimeError(f"creating {doc['kind']} {meta['namespace']}/{meta['name']}: {status} {body}")
    return dict(body)


def ensure_namespace(cluster: LocalCluster, name: str) -> None:
    status, body = request(cluster, "POST", "/api/v1/namespaces",
                           {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    if status not in (201, 409):
        raise RuntimeError(f"creating namespace {name}: {status} {body}")


def delete_namespace(cluster: LocalCluster, name: str) -> None:
    request(cluster, "DELETE", f"/api/v1/namespaces/{name}")


class UidRecorder:
    """Watches ConfigMaps named NAME in NAMESPACE and keeps every uid it saw created.

    The watch resumes from its last resourceVersion after a cut (an API server
    restart, say) and relists when that version has expired, so a hook created
    and deleted while the watch was down is still seen if etcd kept it long
    enough, and at worst missed (never counted twice).
    """

    def __init__(self, cluster: LocalCluster, namespace: str, name: str) -> None:
        self.cluster = cluster
        self.url = f"{path('ConfigMap', namespace)}?fieldSelector=metadata.name%3D{name}"
        self.uids: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"uids-{namespace}", daemon=True)

    def start(self) -> UidRecorder:
        self._thread.start()
        return self

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(5)
        return list(self.uids)

    def _see(self, obj: dict[str, Any]) -> None:
        uid = obj.get("metadata", {}).get("uid")
        if uid and uid not in self.uids:
            self.uids.append(uid)

    def _list(self) -> str:
        status, body = self.cluster.request("GET", self.url, timeout=10)
        if status != 200:
            raise OSError(f"list: {status}")
        for item in body.get("items", []):
            self._see(item)
        return str(body["metadata"]["resourceVersion"])

    def _run(self) -> None:
        version = ""
        while not self._stop.is_set():
            try:
                if not version:
                    version = self._list()
                version = self._watch(version)
            except (OSError, ssl.SSLError, ValueError, KeyError):
                time.sleep(0.3)

    def _watch(self, version: str) -> str:
        ctx = ssl.create_default_context(cafile=str(self.cluster.ca_cert))
        url = (f"{self.cluster.server}{self.url}&watch=true&allowWatchBookmarks=true"
               f"&resourceVersion={version}&timeoutSeconds=2")
        req = urllib.request.Request(url)  # noqa: S310 (https to the local API server)
        req.add_header("Authorization", f"Bearer {self.cluster.tokens[ADMIN_USER]}")
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:  # noqa: S310
                for line in resp:
                    event = json.loads(line)
                    obj = event.get("object", {})
                    if event.get("type") == "ERROR":
                        return ""
                    if event.get("type") == "ADDED":
                        self._see(obj)
                    version = obj.get("metadata", {}).get("resourceVersion", version)
                    if self._stop.is_set():
                        break
        except urllib.error.HTTPError as e:
            if e.code == 410:
                return ""
            raise
        return version
