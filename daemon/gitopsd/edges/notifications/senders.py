"""One sender per service: reads its secret files once, then sends one notice per call.

Secrets (Slack and webhook URLs, PagerDuty routing keys, Alertmanager
tokens, HMAC keys, SMTP credentials) are read here from the files the fleet
file names and registered with the log scrubber at once; every failure is a
``NotificationError`` naming the service and what went wrong (an HTTP status,
an error class), never an address or a token. E-mail goes through the
standard library's ``smtplib`` in a worker thread. This module does not
queue, retry or decide what to send.
"""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from gitopsd.edges.notifications import payloads
from gitopsd.edges.telemetry.logging import register_secret
from gitopsd.errors import NotificationError
from gitopsd.model.notifications import Notice, NotificationService, ServiceType

__all__ = ["PAGERDUTY_URL", "Sender", "sender_for"]

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"


class Sender(Protocol):
    service: NotificationService

    async def send(self, session: aiohttp.ClientSession, notice: Notice, text: str,
                   recipients: tuple[str, ...]) -> None: ...


def _secret(service: NotificationService, path: str, what: str) -> str:
    if not path:
        return ""
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise NotificationError(f"notification service {service.name}: cannot read its {what} "
                                f"file {path}: {e.strerror or type(e).__name__}") from None
    register_secret(value)
    return value


class _Http:
    """Posts JSON (or signed bytes) to one address; a reply outside 2xx is a failure."""

    def __init__(self, service: NotificationService) -> None:
        self.service = service
        self.url = _secret(service, service.url_file, "URL") or service.url
        if "@" in self.url.partition("://")[2].partition("/")[0]:
            register_secret(self.url)  # credentials written into the address
        if service.type is ServiceType.PAGERDUTY and not self.url:
            self.url = PAGERDUTY_URL
        self.token = _secret(service, service.token_file, "token")

    async def post(self, session: aiohttp.ClientSession, *, json: Any = None, data: bytes | None = None,
                   headers: dict[str, str] | None = None, path: str = "") -> None:
        url = self.url.rstrip("/") + path if path else self.url
        timeout = aiohttp.ClientTimeout(total=self.service.timeout)
        try:
            async with session.post(url, json=json, data=data, headers=headers or {},
                                    timeout=timeout) as resp:
                await resp.read()
                if resp.status >= 300:
                    raise NotificationError(f"notification service {self.service.name}: the receiver "
                                            f"answered HTTP {resp.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            raise NotificationError(f"notification service {self.service.name}: "
                                    f"{type(e).__name__} while sending") from None


class _Slack(_Http):
    async def send(self, session: aiohttp.ClientSession, notice: Notice, text: str,
                   recipients: tuple[str, ...]) -> None:
        for channel in recipients or ("",):
            await self.post(session, json=payloads.slack(notice, text, channel))


class _PagerDuty(_Http):
    async def send(self, session: aiohttp.ClientSession, notice: Notice, text: str,
                   recipients: tuple[str, ...]) -> None:
        await self.post(session, json=payloads.pagerduty(notice, text, self.token))


class _Alertmanager(_Http):
    async def send(self, session: aiohttp.ClientSession, notice: Notice, text: str,
                   recipients: tuple[str, ...]) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        await self.post(session, json=payloads.alertmanager(notice, text), headers=headers,
                        path="/api/v2/alerts")


class _Webhook(_Http):
    def __init__(self, service: NotificationService) -> None:
        super().__init__(service)
        self.key = _secret(service, service.secret_file, "HMAC key").encode()

    async def send(self, session: aiohttp.ClientSession, notice: Notice, text: str,
                   recipients: tuple[str, ...]) -> None:
        body = payloads.webhook(notice, text)
        headers = {"Content-Type": "application/json", "X-Gitopsd-Event": notice.trigger.value}
        if self.key:
            headers[payloads.SIGNATURE_HEADER] = payloads.sign(self.key, body)
        await self.post(session, data=body, headers=headers)


class _Email:
    def __init__(self, service: NotificationService) -> None:
        self.service = service
        self.username = _secret(service, service.username_file, "SMTP user")
        self.password = _secret(service, service.password_file, "SMTP password")

    async def send(self, session: aiohttp.ClientSession, notice: Notice, text: str,
                   recipients: tuple[str, ...]) -> None:
        to = recipients or self.service.recipients
        msg = payloads.email(notice, text, sender=self.service.sender, to=to)
        try:
            await asyncio.to_thread(self._send, msg)
        except (smtplib.SMTPException, OSError) as e:
            raise NotificationError(f"notification service {self.service.name}: "
                                    f"{type(e).__name__} while sending mail") from None

    def _send(self, msg: Any) -> None:
        s = self.service
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout) as smtp:
            if s.starttls:
                smtp.starttls()
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(msg)


def sender_for(service: NotificationService) -> Sender:
    """The sender of SERVICE, its secrets read; raises ``NotificationError`` when one cannot be."""
    kinds: dict[ServiceType, type[Any]] = {
        ServiceType.SLACK: _Slack, ServiceType.PAGERDUTY: _PagerDuty,
        ServiceType.ALERTMANAGER: _Alertmanager, ServiceType.WEBHOOK: _Webhook,
        ServiceType.EMAIL: _Email}
    sender: Sender = kinds[service.type](service)
    return sender
