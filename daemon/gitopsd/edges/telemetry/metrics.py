"""Prometheus metrics of gitopsd, named after Argo CD's so dashboards carry over.

``Metrics`` owns its own ``CollectorRegistry`` (never the process-global one),
so several daemons or tests in one process never share counters. Callers pass
plain values; this module turns them into series.

Labels stay low-cardinality: application, cluster, repository and task names
from the fleet file, and small fixed vocabularies (status, result, request
type). Revisions, object names and error messages must never become labels;
they belong in traces and logs.

An instance's counters (syncs by phase, drift, self-heal fights) and a
cluster's watch reconnects start at 0 as soon as the instance or cluster is
known, so ``increase()`` counts their first event and dashboards show a
series before anything happened.
"""

from __future__ import annotations

import enum
import threading

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from gitopsd.model.status import SyncResult

__all__ = ["GIT_REQUEST_TYPES", "HANDOVER_DIRECTIONS", "METRIC_NAMES", "Metrics"]

GIT_REQUEST_TYPES = ("ls-remote", "fetch")

METRIC_NAMES = (
    "gitopsd_app_info",
    "gitopsd_app_sync_total",
    "gitopsd_app_reconcile_duration_seconds",
    "gitopsd_drift_events_total",
    "gitopsd_selfheal_fights_total",
    "gitopsd_queue_depth",
    "gitopsd_queue_wait_seconds",
    "gitopsd_git_requests_total",
    "gitopsd_watch_reconnects_total",
    "gitopsd_cluster_connection_status",
    "gitopsd_task_restarts_total",
    "gitopsd_signature_invalid_total",
    "gitopsd_sync_window_active",
    "gitopsd_notifications_total",
    "gitopsd_kube_events_total",
    "gitopsd_members",
    "gitopsd_member_instances_owned",
    "gitopsd_member_handovers_total",
    "gitopsd_member_lease_renew_failures_total",
    "gitopsd_member_lease_renew_duration_seconds",
    "gitopsd_member_leases_collected_total",
)

_RECONCILE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_QUEUE_WAIT_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)
_RENEW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HANDOVER_DIRECTIONS = ("gained", "lost")


def _label(value: str | enum.Enum) -> str:
    return str(value.value) if isinstance(value, enum.Enum) else value


class Metrics:
    """gitopsd's metrics in a registry of their own; methods are safe from any thread."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, *, process_metrics: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if process_metrics:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        r = self.registry
        self._app_info = Gauge(
            "gitopsd_app_info", "Information about an application instance; always 1.",
            ["app", "cluster", "sync_status", "health_status"], registry=r)
        self._app_sync = Counter(
            "gitopsd_app_sync_total", "Syncs of an application instance, by result phase.",
            ["app", "cluster", "phase"], registry=r)
        self._reconcile = Histogram(
            "gitopsd_app_reconcile_duration_seconds", "Duration of one reconcile pass.",
            ["cluster"], buckets=_RECONCILE_BUCKETS, registry=r)
        self._drift = Counter(
            "gitopsd_drift_events_total", "Live objects found to differ from Git.",
            ["app", "cluster"], registry=r)
        self._fights = Counter(
            "gitopsd_selfheal_fights_total",
            "Self-heals undone again by another writer within the fight window.",
            ["app", "cluster"], registry=r)
        self._queue_depth = Gauge(
            "gitopsd_queue_depth", "Application instances waiting in the work queue.", registry=r)
        self._queue_wait = Histogram(
            "gitopsd_queue_wait_seconds", "Time an item waited in the queue before work began.",
            buckets=_QUEUE_WAIT_BUCKETS, registry=r)
        self._git = Counter(
            "gitopsd_git_requests_total", "Git requests to remote repositories.",
            ["repo", "request_type", "result"], registry=r)
        self._watch_reconnects = Counter(
            "gitopsd_watch_reconnects_total", "Watch streams reopened after they ended or failed.",
            ["cluster"], registry=r)
        self._cluster_up = Gauge(
            "gitopsd_cluster_connection_status", "1 when the cluster's API server is reachable.",
            ["cluster"], registry=r)
        self._restarts = Counter(
            "gitopsd_task_restarts_total", "Restarts of supervised long-running tasks.",
            ["task"], registry=r)
        self._signature_invalid = Counter(
            "gitopsd_signature_invalid_total",
            "Reconcile passes refused because the revision was not signed by an allowed key.",
            ["repo", "app", "cluster"], registry=r)
        self._window_active = Gauge(
            "gitopsd_sync_window_active",
            "1 while a sync window of this kind applying to the application is active.",
            ["app", "kind"], registry=r)
        self._notifications = Counter(
            "gitopsd_notifications_total",
            "Notifications by service and result: sent, failed (an attempt that did not reach the "
            "receiver, retried), dropped (given up after the retries, or the queue was full).",
            ["service", "type", "result"], registry=r)
        self._events = Counter(
            "gitopsd_kube_events_total",
            "Kubernetes Events recorded in target clusters by result: created, updated (a series "
            "counted on), dropped.",
            ["cluster", "result"], registry=r)
        self._members = Gauge(
            "gitopsd_members", "Live members of the shared fleet as this member last saw them "
            "(itself included).", registry=r)
        self._owned = Gauge(
            "gitopsd_member_instances_owned", "Application instances this member owns in the shared fleet.",
            registry=r)
        self._handovers = Counter(
            "gitopsd_member_handovers_total", "Application instances this member gained from or lost to "
            "other members of the shared fleet.", ["direction"], registry=r)
        for direction in HANDOVER_DIRECTIONS:
            self._handovers.labels(direction)
        self._renew_failures = Counter(
            "gitopsd_member_lease_renew_failures_total",
            "Renewals of this member's Lease that failed (the coordination cluster did not answer, or "
            "the Lease was written meanwhile).", registry=r)
        self._renew_seconds = Histogram(
            "gitopsd_member_lease_renew_duration_seconds",
            "Time one renewal of this member's Lease took, failed or not.", buckets=_RENEW_BUCKETS,
            registry=r)
        self._collected = Counter(
            "gitopsd_member_leases_collected_total",
            "Leases of dead members this member deleted from the coordination cluster.", registry=r)
        self._lock = threading.Lock()
        self._info_labels: dict[tuple[str, str], tuple[str, str, str, str]] = {}

    # -- application instances ------------------------------------------------

    def set_instance(self, app: str, cluster: str, sync_status: str | enum.Enum,
                     health_status: str | enum.Enum) -> None:
        """Record the ``SyncStatus`` and health status of APP on CLUSTER (one series per instance)."""
        labels = (app, cluster, _label(sync_status), _label(health_status))
        with self._lock:
            old = self._info_labels.get((app, cluster))
            if old == labels:
                return
            if old is not None:
                self._app_info.remove(*old)
            else:
                for phase in SyncResult:
                    self._app_sync.labels(app, cluster, phase.value)
                self._drift.labels(app, cluster)
                self._fights.labels(app, cluster)
            self._app_info.labels(*labels).set(1)
            self._info_labels[(app, cluster)] = labels

    def remove_instance(self, app: str, cluster: str) -> None:
        """Forget APP on CLUSTER (it left the fleet): its info series disappears."""
        with self._lock:
            old = self._info_labels.pop((app, cluster), None)
            if old is not None:
                self._app_info.remove(*old)
                for phase in SyncResult:
                    self._app_sync.remove(app, cluster, phase.value)
                self._drift.remove(app, cluster)
                self._fights.remove(app, cluster)

    def sync_finished(self, app: str, cluster: str, result: str | enum.Enum) -> None:
        """Count one finished sync of APP on CLUSTER; RESULT is its phase (a ``SyncResult``)."""
        self._app_sync.labels(app, cluster, _label(result)).inc()

    def reconcile_finished(self, cluster: str, seconds: float) -> None:
        """Observe the duration of one reconcile pass against CLUSTER."""
        self._reconcile.labels(cluster).observe(max(0.0, seconds))

    def drift_detected(self, app: str, cluster: str, count: int = 1) -> None:
        """Count COUNT live objects of APP on CLUSTER found to differ from Git."""
        if count > 0:
            self._drift.labels(app, cluster).inc(count)

    def selfheal_fight(self, app: str, cluster: str) -> None:
        """Count a self-heal of APP on CLUSTER that another writer undid again."""
        self._fights.labels(app, cluster).inc()

    def set_sync_window_active(self, app: str, kind: str | enum.Enum, active: bool) -> None:
        """Set whether a sync window of KIND (``allow`` or ``deny``) applying to APP is active."""
        self._window_active.labels(app, _label(kind)).set(1 if active else 0)

    # -- queue ----------------------------------------------------------------

    def set_queue_depth(self, depth: int) -> None:
        """Set the number of application instances waiting in the queue."""
        self._queue_depth.set(depth)

    def queue_waited(self, seconds: float) -> None:
        """Observe how long an item waited in the queue before work on it began."""
        self._queue_wait.observe(max(0.0, seconds))

    # -- sources and clusters -------------------------------------------------

    def git_request(self, repo: str, request_type: str, ok: bool) -> None:
        """Count a Git request (``ls-remote`` or ``fetch``) to REPO (its fleet name, not its URL)."""
        if request_type not in GIT_REQUEST_TYPES:
            raise ValueError(f"git request type must be one of {GIT_REQUEST_TYPES}, got {request_type!r}")
        self._git.labels(repo, request_type, "success" if ok else "failure").inc()

    def signature_invalid(self, repo: str, app: str, cluster: str) -> None:
        """Count a pass of APP on CLUSTER refused because REPO's revision failed signature verification."""
        self._signature_invalid.labels(repo, app, cluster).inc()

    def watch_reconnected(self, cluster: str) -> None:
        """Count a watch stream on CLUSTER that had to be reopened."""
        self._watch_reconnects.labels(cluster).inc()

    def set_cluster_connected(self, cluster: str, connected: bool) -> None:
        """Set whether CLUSTER's API server is reachable (1) or not (0)."""
        self._cluster_up.labels(cluster).set(1 if connected else 0)
        self._watch_reconnects.labels(cluster)

    def remove_cluster(self, cluster: str) -> None:
        """Forget CLUSTER's connection status and reconnect count (it left the fleet)."""
        self._cluster_up.remove(cluster)
        self._watch_reconnects.remove(cluster)

    def task_restarted(self, task: str) -> None:
        """Count a restart of the supervised task named TASK."""
        self._restarts.labels(task).inc()

    def notification(self, service: str, type_: str, result: str) -> None:
        """Count one notification to SERVICE (of TYPE_) that was sent, failed or dropped."""
        self._notifications.labels(service, type_, result).inc()

    def kube_event(self, cluster: str, result: str) -> None:
        """Count one Kubernetes Event on CLUSTER that was created, updated or dropped."""
        self._events.labels(cluster, result).inc()

    # -- a shared fleet ---------------------------------------------------------

    def set_members(self, members: int, owned: int) -> None:
        """Set how many live members this member sees and how many instances it owns."""
        self._members.set(members)
        self._owned.set(owned)

    def handed_over(self, direction: str, count: int) -> None:
        """Count COUNT instances this member ``gained`` or ``lost``."""
        if direction not in HANDOVER_DIRECTIONS:
            raise ValueError(f"handover direction must be one of {HANDOVER_DIRECTIONS}, got {direction!r}")
        if count > 0:
            self._handovers.labels(direction).inc(count)

    def lease_renewed(self, seconds: float, ok: bool) -> None:
        """Observe one renewal of this member's Lease that took SECONDS; count it when it failed."""
        self._renew_seconds.observe(max(0.0, seconds))
        if not ok:
            self._renew_failures.inc()

    def member_leases_collected(self, count: int) -> None:
        """Count COUNT Leases of dead members deleted."""
        if count > 0:
            self._collected.inc(count)

    # -- exposition -----------------------------------------------------------

    def render(self) -> bytes:
        """Every metric in the Prometheus text exposition format (``content_type``)."""
        return generate_latest(self.registry)
