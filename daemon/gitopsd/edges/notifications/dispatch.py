"""Delivery that never hurts a sync: one bounded queue and one worker task per service.

``deliver`` (the engine's ``NotifyPort``) only puts a notice on its service's
queue; a full queue drops it (counted, logged once per outage). Each worker
sends in order, retries a failure with doubling delays and then gives up
(``dropped``), so a slow or dead receiver holds up only its own queue. A
worker that ends for any reason is started again by the next ``deliver``.
Every attempt is counted in ``gitopsd_notifications_total``. Reconfiguring
(a reload) keeps the queues of services whose settings did not change.
This module does not decide what to send: the engine does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp

from gitopsd.edges.notifications.senders import Sender, sender_for
from gitopsd.edges.telemetry.logging import get_logger
from gitopsd.edges.telemetry.metrics import Metrics
from gitopsd.errors import NotificationError
from gitopsd.model.notifications import Notice, Notifications, NotificationService

__all__ = ["Dispatcher"]

_log = get_logger("gitopsd.notify")
_MAX_BACKOFF = 60.0


@dataclass
class _Item:
    notice: Notice
    text: str
    recipients: tuple[str, ...]


class _Lane:
    """One service: its sender, its queue and the task draining it."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.service = sender.service
        self.queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=self.service.queue_size)
        self.task: asyncio.Task[None] | None = None
        self.full = False


class Dispatcher:
    def __init__(self, *, metrics: Metrics | None = None) -> None:
        self.metrics = metrics
        self._lanes: dict[str, _Lane] = {}
        self._session: aiohttp.ClientSession | None = None

    def configure(self, config: Notifications) -> None:
        """Take CONFIG's services; a service whose secrets cannot be read is logged and left out."""
        lanes: dict[str, _Lane] = {}
        for service in config.services:
            old = self._lanes.pop(service.name, None)
            if old is not None and old.service == service:
                lanes[service.name] = old
                continue
            if old is not None and old.task is not None:
                old.task.cancel()
            try:
                lanes[service.name] = _Lane(sender_for(service))
            except NotificationError as e:
                _log.error("notify.service.unusable", service=service.name, error=str(e))
        for gone in self._lanes.values():
            if gone.task is not None:
                gone.task.cancel()
        self._lanes = lanes

    def deliver(self, service: str, recipients: tuple[str, ...], notice: Notice, text: str) -> None:
        lane = self._lanes.get(service)
        if lane is None:
            return
        try:
            lane.queue.put_nowait(_Item(notice, text, recipients))
        except asyncio.QueueFull:
            self._count(lane.service, "dropped")
            if not lane.full:
                _log.warning("notify.queue_full", service=service, size=lane.service.queue_size)
            lane.full = True
            return
        lane.full = False
        if lane.task is None or lane.task.done():
            lane.task = asyncio.get_running_loop().create_task(self._drain(lane),
                                                               name=f"notify/{service}")

    async def _drain(self, lane: _Lane) -> None:
        while True:
            item = await lane.queue.get()
            try:
                await self._attempts(lane, item)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a bug in one notice must not stop the ones behind it
                self._count(lane.service, "dropped")
                _log.error("notify.crashed", service=lane.service.name,
                           error=f"{type(e).__name__}: {e}")
            finally:
                lane.queue.task_done()

    async def _attempts(self, lane: _Lane, item: _Item) -> None:
        service = lane.service
        delay = service.retry_backoff
        for attempt in range(service.retries + 1):
            try:
                await lane.sender.send(self._client(), item.notice, item.text, item.recipients)
            except NotificationError as e:
                self._count(service, "failed")
                last = attempt == service.retries
                _log.warning("notify.failed", service=service.name, trigger=item.notice.trigger.value,
                             app=item.notice.app, cluster=item.notice.cluster, attempt=attempt + 1,
                             error=str(e), giving_up=last)
                if last:
                    self._count(service, "dropped")
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF)
                continue
            self._count(service, "sent")
            _log.info("notify.sent", service=service.name, trigger=item.notice.trigger.value,
                      app=item.notice.app, cluster=item.notice.cluster,
                      status="resolved" if item.notice.resolved else "firing")
            return

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def _count(self, service: NotificationService, result: str) -> None:
        if self.metrics is not None:
            self.metrics.notification(service.name, service.type.value, result)

    async def flush(self, timeout: float) -> None:
        """Wait up to TIMEOUT seconds for the queues to empty (at shutdown)."""
        pending = [asyncio.ensure_future(lane.queue.join()) for lane in self._lanes.values()
                   if lane.task is not None and not lane.task.done()]
        if pending:
            _done, rest = await asyncio.wait(pending, timeout=timeout)
            for task in rest:
                task.cancel()

    async def aclose(self) -> None:
        for lane in self._lanes.values():
            if lane.task is not None:
                lane.task.cancel()
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
