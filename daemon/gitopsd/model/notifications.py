"""Notifications as values: triggers, services, subscriptions and the notices the engine emits.

``gitopsd.config.notifications`` builds the ``Notifications`` of a fleet file;
the engine turns outcomes into ``Notice`` values and hands them, routed, to
the notification edge. Nothing here reads a file, renders a message or sends
anything; secrets are held only as the names of the files that contain them.
"""

from __future__ import annotations

import enum
import string
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "CONTEXT",
    "PROBLEMS",
    "Notice",
    "NotificationService",
    "Notifications",
    "ServiceType",
    "Subscription",
    "Trigger",
    "template_problem",
]


class Trigger(enum.StrEnum):
    """What happened to an application instance; names follow Argo CD's ``on-*`` catalogue."""

    SYNC_FAILED = "on-sync-failed"
    SYNC_SUCCEEDED = "on-sync-succeeded"
    DEPLOYED = "on-deployed"  # Healthy after a new revision was applied
    HEALTH_DEGRADED = "on-health-degraded"
    DRIFT_REVERTED = "on-drift-reverted"  # a self-heal repair
    OUT_OF_SYNC = "on-out-of-sync"  # out of sync for longer than ``out_of_sync_after``
    PRUNE_REFUSED = "on-prune-refused"
    SIGNATURE_INVALID = "on-signature-invalid"
    CLUSTER_UNREACHABLE = "on-cluster-unreachable"


# triggers that open a problem: it stays open (reminders, a PagerDuty incident, a firing alert)
# until the instance is Synced and not Degraded again, when it is resolved
PROBLEMS = frozenset({Trigger.SYNC_FAILED, Trigger.HEALTH_DEGRADED, Trigger.OUT_OF_SYNC,
                      Trigger.PRUNE_REFUSED, Trigger.SIGNATURE_INVALID,
                      Trigger.CLUSTER_UNREACHABLE})


class ServiceType(enum.StrEnum):
    SLACK = "slack"
    PAGERDUTY = "pagerduty"
    ALERTMANAGER = "alertmanager"
    WEBHOOK = "webhook"
    EMAIL = "email"


@dataclass(frozen=True)
class NotificationService:
    """One destination. File names are absolute; their content is read only by the edge."""

    name: str
    type: ServiceType
    url: str = ""  # a receiver's address when it is no secret (Alertmanager, PagerDuty's API)
    url_file: str = ""  # a file holding the address (Slack and webhook URLs are secrets)
    token_file: str = ""  # PagerDuty routing key, Alertmanager bearer token
    secret_file: str = ""  # the webhook's HMAC-SHA256 key
    smtp_host: str = ""
    smtp_port: int = 25
    username_file: str = ""
    password_file: str = ""
    sender: str = ""
    starttls: bool = False
    recipients: tuple[str, ...] = ()  # default recipients (channels, addresses)
    send_resolved: bool = True  # also tell it when a problem ends
    queue_size: int = 100
    timeout: float = 10.0
    retries: int = 3  # further attempts after a failed one
    retry_backoff: float = 2.0  # seconds before the first retry; doubled each time, at most 60


@dataclass(frozen=True)
class Subscription:
    """Which triggers go to which services, for which applications and projects (globs; empty: all)."""

    triggers: tuple[Trigger, ...]
    services: tuple[str, ...]
    recipients: tuple[str, ...] = ()
    applications: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    origin: str = ""  # file:line where it was written, for messages


@dataclass(frozen=True)
class Notifications:
    """The fleet file's ``notifications`` section."""

    services: tuple[NotificationService, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    templates: Mapping[Trigger, str] = field(default_factory=dict)
    rate_limit: float = 300.0  # identical notices are sent at most once in this many seconds
    reminder: float = 0.0  # re-send an open problem this often; 0: never
    out_of_sync_after: float = 600.0  # when on-out-of-sync fires
    events: bool = True  # Kubernetes Events in the target clusters

    def service(self, name: str) -> NotificationService | None:
        return next((s for s in self.services if s.name == name), None)


@dataclass(frozen=True)
class Notice:
    """One thing that happened to one instance, as the template context sees it.

    ``resolved`` says a problem ended; ``subject`` names the object concerned
    (a drift revert), when there is one; ``at`` is wall-clock seconds.
    """

    trigger: Trigger
    fleet: str
    app: str
    cluster: str
    project: str
    revision: str
    message: str
    at: float
    sync_status: str = ""
    health: str = ""
    subject: str = ""
    trace_id: str = ""
    resolved: bool = False
    reminder: bool = False

    @property
    def problem(self) -> bool:
        return self.trigger in PROBLEMS

    @property
    def identity(self) -> tuple[str, str, str, str, str, bool]:
        """What makes two notices the same event, for rate limiting (no time, no message)."""
        return (self.app, self.cluster, self.trigger.value, self.revision, self.subject, self.resolved)


# the names a message template may use, and nothing else
CONTEXT = ("trigger", "status", "fleet", "app", "cluster", "project", "revision", "short_revision",
           "message", "sync_status", "health", "subject", "trace_id", "time")


def template_problem(text: str) -> str | None:
    """Why TEXT is not a usable template (a malformed placeholder or a name outside ``CONTEXT``)."""
    tmpl = string.Template(text)
    if not tmpl.is_valid():
        return "has a malformed placeholder (write $$ for a dollar sign)"
    unknown = sorted(set(tmpl.get_identifiers()) - set(CONTEXT))
    if unknown:
        return f"uses unknown name(s) {', '.join(unknown)}; known: {', '.join(CONTEXT)}"
    return None


@dataclass(frozen=True)
class ClusterEvent:
    """A Kubernetes Event to record in a target cluster, on an instance's inventory ConfigMap.

    ``type`` is ``Normal`` or ``Warning``; ``reason`` is UpperCamelCase (``SyncSucceeded``);
    ``action`` is what gitopsd did (``Sync``, ``SelfHeal``, ``Prune``).
    """

    app: str
    cluster: str
    type: str
    reason: str
    action: str
    note: str
    revision: str = ""
