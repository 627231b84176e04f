"""Kubernetes Events (``events.k8s.io/v1``) in target clusters, written in the background.

Each event is recorded on the instance's inventory ConfigMap in the inventory
namespace, so ``kubectl get events -n gitopsd-system`` shows what gitopsd did
there. An event identical (cluster, ConfigMap, reason, note) to one written
within ``SERIES_WINDOW`` is folded into it: its ``series.count`` and
``series.lastObservedTime`` are patched, as client-go's recorder does, instead
of a new object each time. ``record`` only queues; one bounded queue and
task per cluster drain them (a slow cluster delays only its own Events), and
an Event that cannot be written (cluster unreachable, RBAC) is dropped and
counted: Events never hold up a sync. This module does
not decide which events happen: the engine does.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gitopsd.edges.kube.client import MERGE_PATCH
from gitopsd.edges.kube.lanes import ClusterLanes
from gitopsd.edges.kube.objects import Objects
from gitopsd.edges.telemetry.logging import get_logger
from gitopsd.edges.telemetry.metrics import Metrics
from gitopsd.model.notifications import ClusterEvent

__all__ = ["CONTROLLER", "SERIES_WINDOW", "EventRecorder"]

_log = get_logger("gitopsd.events")
CONTROLLER = "gitopsd.io/gitopsd"
SERIES_WINDOW = 600.0  # seconds during which an identical event is counted on, not repeated


def _micro(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Series:
    name: str
    count: int
    last: float  # monotonic


@dataclass
class _Pending:
    event: ClusterEvent
    namespace: str
    inventory: str
    at: float


class EventRecorder(ClusterLanes[_Pending]):
    def __init__(self, clusters: Mapping[str, Objects], *, instance: str,
                 metrics: Metrics | None = None) -> None:
        super().__init__("events")
        self.clusters = dict(clusters)
        self.instance = instance[:128]
        self.metrics = metrics
        self._series: dict[tuple[str, str, str, str, str], _Series] = {}

    def record(self, event: ClusterEvent, *, namespace: str, inventory: str) -> None:
        self.put(event.cluster, _Pending(event, namespace, inventory, time.time()))

    def _dropped(self, item: _Pending, error: Exception | None) -> None:
        self._count(item.event.cluster, "dropped")
        if error is not None:
            _log.info("events.dropped", cluster=item.event.cluster, reason=item.event.reason,
                      error=str(error)[:300])

    async def _write(self, item: _Pending) -> None:
        e = item.event
        objects = self.clusters[e.cluster]
        key = (e.cluster, item.namespace, item.inventory, e.reason, e.note)
        now = time.monotonic()
        series = self._series.get(key)
        if series is not None and now - series.last < SERIES_WINDOW:
            series.count += 1
            series.last = now
            patch = {"series": {"count": series.count, "lastObservedTime": _micro(item.at)}}
            info = await objects.info("events.k8s.io/v1", "Event")
            status, _ = await objects.client.request("PATCH", info.path(series.name, item.namespace),
                                                     body=patch, content_type=MERGE_PATCH, ok=(404,))
            if status != 404:
                self._count(e.cluster, "updated")
                return
        name = f"{item.inventory}.{secrets.token_hex(8)}"
        await objects.create(self._body(item, name))
        self._series[key] = _Series(name, 1, now)
        self._prune(now)
        self._count(e.cluster, "created")

    def _body(self, item: _Pending, name: str) -> dict[str, Any]:
        e = item.event
        return {
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": name, "namespace": item.namespace,
                         "labels": {"app.kubernetes.io/managed-by": "gitopsd"},
                         "annotations": {"gitopsd.io/app": e.app, "gitopsd.io/revision": e.revision}},
            "eventTime": _micro(item.at), "reportingController": CONTROLLER,
            "reportingInstance": self.instance, "action": e.action, "reason": e.reason,
            "type": e.type, "note": e.note[:1000],
            "regarding": {"apiVersion": "v1", "kind": "ConfigMap", "namespace": item.namespace,
                          "name": item.inventory},
        }

    def _prune(self, now: float) -> None:
        for key in [k for k, s in self._series.items() if now - s.last >= SERIES_WINDOW]:
            del self._series[key]

    def _count(self, cluster: str, result: str) -> None:
        if self.metrics is not None:
            self.metrics.kube_event(cluster, result)
