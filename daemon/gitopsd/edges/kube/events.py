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

import asyncio
import contextlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gitopsd.edges.kube.client import MERGE_PATCH
from gitopsd.edges.kube.objects import Objects
from gitopsd.edges.telemetry.logging import get_logger
from gitopsd.edges.telemetry.metrics import Metrics
from gitopsd.errors import GitopsdError
from gitopsd.model.notifications import ClusterEvent

__all__ = ["CONTROLLER", "SERIES_WINDOW", "EventRecorder"]

_log = get_logger("gitopsd.events")
CONTROLLER = "gitopsd.io/gitopsd"
SERIES_WINDOW = 600.0  # seconds during which an identical event is counted on, not repeated
_QUEUE = 1000


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


class EventRecorder:
    def __init__(self, clusters: Mapping[str, Objects], *, instance: str,
                 metrics: Metrics | None = None) -> None:
        self.clusters = dict(clusters)
        self.instance = instance[:128]
        self.metrics = metrics
        self._queues: dict[str, asyncio.Queue[_Pending]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._series: dict[tuple[str, str, str, str, str], _Series] = {}

    def record(self, event: ClusterEvent, *, namespace: str, inventory: str) -> None:
        queue = self._queues.setdefault(event.cluster, asyncio.Queue(maxsize=_QUEUE))
        try:
            queue.put_nowait(_Pending(event, namespace, inventory, time.time()))
        except asyncio.QueueFull:
            self._count(event.cluster, "dropped")
            return
        task = self._tasks.get(event.cluster)
        if task is None or task.done():
            self._tasks[event.cluster] = asyncio.get_running_loop().create_task(
                self._drain(queue), name=f"events/{event.cluster}")

    async def _drain(self, queue: asyncio.Queue[_Pending]) -> None:
        while True:
            item = await queue.get()
            try:
                await self._write(item)
            except asyncio.CancelledError:
                raise
            except (GitopsdError, KeyError, ValueError) as e:
                self._count(item.event.cluster, "dropped")
                _log.info("events.dropped", cluster=item.event.cluster, reason=item.event.reason,
                          error=str(e)[:300])
            finally:
                queue.task_done()

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

    async def flush(self, timeout: float) -> None:
        """Wait up to TIMEOUT seconds for queued Events to be written (at shutdown)."""
        live = [self._queues[c].join() for c, t in self._tasks.items() if not t.done()]
        if live:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*live), timeout)

    async def aclose(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
