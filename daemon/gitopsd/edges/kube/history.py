"""Sync history kept in each target cluster too, bounded like Argo CD's ten entries.

The host's SQLite history (``edges.store``) goes with its state directory; a
copy of each instance's last ``KEEP`` syncs is kept in a ConfigMap in the
inventory namespace of the cluster synced, so a host that lost its state
directory, or another host that takes the instance over, starts from the same
history. The ConfigMap is named after the inventory's (``<inventory>.history``)
and carries no fleet label, so fleet-wide watches and the removal of departed
applications never take it for an inventory. ``record`` only queues; one
bounded queue and task per cluster write them (a slow cluster delays only its
own history), and a write that fails is dropped and logged: history never
holds up a sync. Entries hold what the local store holds (revision, times,
result, bounded message, trace id, change counts) and never a manifest or a
Secret value. This module does not decide what is recorded: the engine does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitopsd.edges.kube.lanes import ClusterLanes
from gitopsd.edges.kube.objects import Objects
from gitopsd.edges.telemetry.logging import get_logger
from gitopsd.errors import ApiError, GitopsdError

__all__ = ["FIELDS", "KEEP", "ClusterHistory", "merged", "parse"]

_log = get_logger("gitopsd.history")
KEEP = 10  # entries per instance, Argo CD's default revisionHistoryLimit
DATA_KEY = "entries"
MAX_MESSAGE = 300
FIELDS = ("revision", "started", "duration", "result", "message", "trace_id", "changes")
_ATTEMPTS = 3  # writes tried when another host changed the ConfigMap meanwhile


def parse(body: Mapping[str, Any] | None, cluster: str) -> list[dict[str, Any]]:
    """CLUSTER's entries in a history ConfigMap BODY, newest first; [] for none or an unreadable one."""
    data = (body or {}).get("data") or {}
    try:
        kept = json.loads(data.get(DATA_KEY) or "{}")
    except ValueError:
        return []
    entries = kept.get(cluster) if isinstance(kept, dict) else None
    if not isinstance(entries, list):
        return []
    return [{f: e.get(f) for f in FIELDS} for e in entries
            if isinstance(e, dict) and isinstance(e.get("revision"), str)
            and isinstance(e.get("started"), int | float)]


def merged(entries: Sequence[Mapping[str, Any]], new: Mapping[str, Any],
           keep: int = KEEP) -> list[dict[str, Any]]:
    """ENTRIES with NEW added, newest first, one entry per (started, revision), at most KEEP."""
    entry = {f: new.get(f) for f in FIELDS}
    entry["message"] = str(entry.get("message") or "")[:MAX_MESSAGE]
    seen = {(e.get("started"), e.get("revision")) for e in entries}
    out = [dict(e) for e in entries]
    if (entry["started"], entry["revision"]) not in seen:
        out.append(entry)
    out.sort(key=lambda e: float(e.get("started") or 0), reverse=True)
    return out[:keep]


@dataclass
class _Pending:
    app: str
    cluster: str
    entry: Mapping[str, Any]


class ClusterHistory(ClusterLanes["_Pending"]):
    """The history ConfigMaps of every cluster of the fleet, written in the background."""

    def __init__(self, clusters: Mapping[str, Objects], *, namespace: str, name: Callable[[str], str],
                 keep: int = KEEP) -> None:
        super().__init__("history")
        self.clusters = dict(clusters)
        self.namespace = namespace
        self.name = name  # an application's inventory ConfigMap name
        self.keep = keep

    def configmap(self, app: str) -> str:
        """The name of APP's history ConfigMap (one per application, an entry list per cluster)."""
        return f"{self.name(app)}.history"

    def record(self, app: str, cluster: str, entry: Mapping[str, Any]) -> None:
        """Queue ENTRY (the fields ``FIELDS``) for APP's history in CLUSTER."""
        if cluster not in self.clusters:
            return
        self.put(cluster, _Pending(app, cluster, entry))

    async def read(self, app: str, cluster: str) -> list[dict[str, Any]]:
        """APP's entries kept in CLUSTER, newest first; [] when none or the cluster cannot be read."""
        objects = self.clusters.get(cluster)
        if objects is None:
            return []
        try:
            return parse(await objects.get("v1", "ConfigMap", self.configmap(app), self.namespace), cluster)
        except GitopsdError as e:
            _log.info("history.cluster.unread", cluster=cluster, app=app, error=str(e)[:300])
            return []

    def _dropped(self, item: _Pending, error: Exception | None) -> None:
        _log.info("history.cluster.dropped", cluster=item.cluster, app=item.app,
                  error="queue full" if error is None else str(error)[:300])

    async def _write(self, item: _Pending) -> None:
        objects = self.clusters[item.cluster]
        name = self.configmap(item.app)
        for attempt in range(_ATTEMPTS):
            live = await objects.get("v1", "ConfigMap", name, self.namespace)
            data = (live or {}).get("data") or {}
            try:
                kept = json.loads(data.get(DATA_KEY) or "{}")
            except ValueError:
                kept = {}
            kept = kept if isinstance(kept, dict) else {}
            kept[item.cluster] = merged(parse(live, item.cluster), item.entry, self.keep)
            body: dict[str, Any] = {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": self.namespace,
                             "labels": {"app.kubernetes.io/managed-by": "gitopsd"},
                             "annotations": {"gitopsd.io/app": item.app}},
                "data": {DATA_KEY: json.dumps(kept, sort_keys=True, separators=(",", ":"))}}
            try:
                if live is None:
                    await objects.create(body)
                else:
                    body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                    await objects.replace(body)
                return
            except ApiError as e:
                if e.status != 409 or attempt == _ATTEMPTS - 1:
                    raise
