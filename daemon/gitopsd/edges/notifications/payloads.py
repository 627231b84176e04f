"""What each notification service is sent: request bodies, built from a notice and its words.

Slack incoming webhooks take ``text`` and ``blocks``; PagerDuty Events v2
takes ``trigger`` / ``resolve`` with a ``dedup_key`` that is the same for a
problem's trigger and its resolution (fleet, application, cluster and
trigger, hashed); Alertmanager's ``/api/v2/alerts`` takes a list of alerts
whose labels identify them (an alert with ``endsAt`` resolves); the generic
webhook takes the notice as JSON, signed with HMAC-SHA256 over the exact body
bytes. Nothing here sends or reads a secret file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from gitopsd.model.notifications import Notice

__all__ = ["SIGNATURE_HEADER", "alertmanager", "dedup_key", "email", "pagerduty", "sign", "slack",
           "webhook"]

SIGNATURE_HEADER = "X-Gitopsd-Signature"


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _severity(notice: Notice) -> str:
    return "error" if notice.problem else "info"


def dedup_key(notice: Notice) -> str:
    """The key that ties a problem's trigger to its resolution (stable across restarts)."""
    raw = "\0".join((notice.fleet, notice.app, notice.cluster, notice.trigger.value))
    return "gitopsd-" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def slack(notice: Notice, text: str, channel: str = "") -> dict[str, Any]:
    fields = [f"*app* {notice.app}", f"*cluster* {notice.cluster}",
              f"*revision* {notice.revision[:12] or '-'}", f"*trigger* {notice.trigger.value}"]
    if notice.subject:
        fields.append(f"*object* {notice.subject}")
    body: dict[str, Any] = {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f} for f in fields]},
        ],
    }
    if channel:
        body["channel"] = channel
    return body


def pagerduty(notice: Notice, text: str, routing_key: str) -> dict[str, Any]:
    body: dict[str, Any] = {"routing_key": routing_key,
                            "event_action": "resolve" if notice.resolved else "trigger",
                            "dedup_key": dedup_key(notice)}
    if not notice.resolved:
        body["payload"] = {
            "summary": text[:1024], "source": f"{notice.fleet}/{notice.cluster}",
            "severity": "warning" if notice.trigger.value == "on-out-of-sync" else "error",
            "timestamp": _iso(notice.at), "component": notice.app, "group": notice.project,
            "class": notice.trigger.value,
            "custom_details": {"revision": notice.revision, "health": notice.health,
                               "sync_status": notice.sync_status, "trace_id": notice.trace_id},
        }
    return body


def alertmanager(notice: Notice, text: str) -> list[dict[str, Any]]:
    alert: dict[str, Any] = {
        "labels": {"alertname": "Gitopsd" + "".join(w.title() for w in notice.trigger.value[3:].split("-")),
                   "fleet": notice.fleet, "app": notice.app, "cluster": notice.cluster,
                   "project": notice.project, "severity": "warning" if not notice.problem else "critical",
                   "source": "gitopsd"},
        "annotations": {"summary": text, "revision": notice.revision, "trace_id": notice.trace_id},
        "startsAt": _iso(notice.at),
    }
    if notice.resolved or not notice.problem:
        alert["endsAt"] = _iso(notice.at)  # an event, not a condition: it is over when it is told
    return [alert]


def webhook(notice: Notice, text: str) -> bytes:
    """The generic webhook's body: the notice's fields and its words, as compact JSON."""
    doc = {"trigger": notice.trigger.value, "status": "resolved" if notice.resolved else "firing",
           "reminder": notice.reminder, "fleet": notice.fleet, "app": notice.app,
           "cluster": notice.cluster, "project": notice.project, "revision": notice.revision,
           "message": notice.message, "sync_status": notice.sync_status, "health": notice.health,
           "subject": notice.subject, "trace_id": notice.trace_id, "time": _iso(notice.at),
           "severity": _severity(notice), "text": text}
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def sign(key: bytes, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of BODY under KEY."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def email(notice: Notice, text: str, *, sender: str, to: tuple[str, ...]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"[gitopsd] {text.splitlines()[0][:200] if text else notice.trigger.value}"
    msg["From"] = sender or "gitopsd@localhost"
    msg["To"] = ", ".join(to)
    msg.set_content(f"{text}\n\nfleet: {notice.fleet}\napplication: {notice.app}\n"
                    f"cluster: {notice.cluster}\nrevision: {notice.revision}\n"
                    f"trigger: {notice.trigger.value}\ntrace: {notice.trace_id}\n")
    return msg
