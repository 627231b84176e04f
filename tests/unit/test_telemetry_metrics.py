"""Prometheus metrics: every gitopsd_* series is exposed, a new status replaces the old one."""

from __future__ import annotations

import enum

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gitopsd.edges.telemetry.metrics import METRIC_NAMES, Metrics
from gitopsd.model import SyncResult, SyncStatus


def samples(m: Metrics, name: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample named NAME in the exposition text."""
    out = []
    for family in text_string_to_metric_families(m.render().decode()):
        for s in family.samples:
            if s.name == name:
                out.append((dict(s.labels), s.value))
    return out


def exercise_every_metric(m: Metrics) -> None:
    m.set_instance("guestbook", "prod-eu", SyncStatus.SYNCED, "Healthy")
    m.sync_finished("guestbook", "prod-eu", SyncResult.SUCCEEDED)
    m.reconcile_finished("prod-eu", 1.5)
    m.drift_detected("guestbook", "prod-eu")
    m.selfheal_fight("guestbook", "prod-eu")
    m.set_queue_depth(4)
    m.queue_waited(0.2)
    m.git_request("platform", "fetch", ok=True)
    m.watch_reconnected("prod-eu")
    m.set_cluster_connected("prod-eu", True)
    m.task_restarted("poller:platform")
    m.signature_invalid("platform", "guestbook", "prod-eu")
    m.set_sync_window_active("guestbook", "deny", True)
    m.set_members(3, 8)
    m.handed_over("gained", 2)
    m.lease_renewed(0.02, ok=False)
    m.member_leases_collected(1)


EXPECTED_NAMES = [
    "gitopsd_app_info", "gitopsd_app_sync_total", "gitopsd_app_reconcile_duration_seconds",
    "gitopsd_drift_events_total", "gitopsd_selfheal_fights_total", "gitopsd_queue_depth",
    "gitopsd_queue_wait_seconds", "gitopsd_git_requests_total", "gitopsd_watch_reconnects_total",
    "gitopsd_cluster_connection_status", "gitopsd_task_restarts_total",
    "gitopsd_signature_invalid_total", "gitopsd_sync_window_active", "gitopsd_members",
    "gitopsd_member_instances_owned", "gitopsd_member_handovers_total",
    "gitopsd_member_lease_renew_failures_total", "gitopsd_member_lease_renew_duration_seconds",
    "gitopsd_member_leases_collected_total",
]


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_every_metric_is_exposed_after_one_call_each(name: str) -> None:
    """After one call of each method, the exposition declares NAME and has a sample of it."""
    m = Metrics()
    exercise_every_metric(m)
    text = m.render().decode()
    assert f"# TYPE {name} " in text
    assert any(line.startswith(name) for line in text.splitlines() if not line.startswith("#"))
    assert name in METRIC_NAMES


def test_process_metrics_are_included_by_default() -> None:
    """The daemon's own registry carries the process collector's series."""
    assert b"process_resident_memory_bytes" in Metrics().render()
    assert b"process_resident_memory_bytes" not in Metrics(process_metrics=False).render()


def test_content_type_is_prometheus_text() -> None:
    """The content type matches the text exposition format render() produces."""
    m = Metrics()
    assert m.content_type.startswith("text/plain")
    assert m.render().startswith(b"# HELP")


def test_values_and_labels() -> None:
    """Counters, gauges and histograms carry the given values under the documented labels."""
    m = Metrics(process_metrics=False)
    exercise_every_metric(m)
    m.sync_finished("guestbook", "prod-eu", SyncResult.SUCCEEDED)
    m.git_request("platform", "ls-remote", ok=False)
    m.drift_detected("guestbook", "prod-eu", count=3)
    assert sorted((s[0]["phase"], s[1]) for s in samples(m, "gitopsd_app_sync_total")) == [
        ("Error", 0.0), ("Failed", 0.0), ("Succeeded", 2.0)]
    assert samples(m, "gitopsd_drift_events_total") == [({"app": "guestbook", "cluster": "prod-eu"}, 4.0)]
    git = samples(m, "gitopsd_git_requests_total")
    assert sorted((s[0]["request_type"], s[0]["result"]) for s in git) == [
        ("fetch", "success"), ("ls-remote", "failure")]
    assert samples(m, "gitopsd_queue_depth") == [({}, 4.0)]
    assert samples(m, "gitopsd_app_reconcile_duration_seconds_sum") == [({"cluster": "prod-eu"}, 1.5)]
    assert samples(m, "gitopsd_queue_wait_seconds_count") == [({}, 1.0)]


def test_app_info_keeps_one_series_per_instance() -> None:
    """A status change replaces the instance's info series instead of adding a second one."""
    m = Metrics(process_metrics=False)
    m.set_instance("guestbook", "prod-eu", SyncStatus.OUT_OF_SYNC, "Progressing")
    m.set_instance("guestbook", "prod-us", SyncStatus.SYNCED, "Healthy")
    m.set_instance("guestbook", "prod-eu", SyncStatus.SYNCED, "Healthy")
    info = sorted((s[0]["cluster"], s[0]["sync_status"], s[0]["health_status"], s[1])
                  for s in samples(m, "gitopsd_app_info"))
    assert info == [("prod-eu", "Synced", "Healthy", 1.0), ("prod-us", "Synced", "Healthy", 1.0)]
    m.remove_instance("guestbook", "prod-us")
    assert [s[0]["cluster"] for s in samples(m, "gitopsd_app_info")] == ["prod-eu"]


def test_an_instance_and_a_cluster_start_their_counters_at_zero() -> None:
    """A new instance has zero series for each sync phase, drift and fights, and a new cluster for
    watch reconnects, so increase() sees their first event; removing them drops those series."""
    m = Metrics(process_metrics=False)
    m.set_instance("guestbook", "prod-eu", SyncStatus.SYNCED, "Healthy")
    m.set_cluster_connected("prod-eu", True)
    zero = {"gitopsd_app_sync_total": len(SyncResult), "gitopsd_drift_events_total": 1,
            "gitopsd_selfheal_fights_total": 1, "gitopsd_watch_reconnects_total": 1}
    for name, count in zero.items():
        got = samples(m, name)
        assert [v for _, v in got] == [0.0] * count, name
    m.remove_instance("guestbook", "prod-eu")
    m.remove_cluster("prod-eu")
    for name in zero:
        assert samples(m, name) == [], name


def test_enum_statuses_use_their_values() -> None:
    """Enum members (as the model uses) become their string values as labels."""

    class Sync(enum.Enum):
        SYNCED = "Synced"

    class Health(enum.Enum):
        DEGRADED = "Degraded"

    m = Metrics(process_metrics=False)
    m.set_instance("a", "c", Sync.SYNCED, Health.DEGRADED)
    m.sync_finished("a", "c", Sync.SYNCED)
    [(labels, _)] = samples(m, "gitopsd_app_info")
    assert (labels["sync_status"], labels["health_status"]) == ("Synced", "Degraded")


def test_cluster_connection_gauge_flips_and_is_removed() -> None:
    """The connection gauge is 1 or 0 per cluster and disappears when the cluster leaves."""
    m = Metrics(process_metrics=False)
    m.set_cluster_connected("a", True)
    m.set_cluster_connected("b", False)
    assert sorted((s[0]["cluster"], s[1]) for s in samples(m, "gitopsd_cluster_connection_status")) == [
        ("a", 1.0), ("b", 0.0)]
    m.remove_cluster("b")
    m.remove_cluster("never-seen")
    assert [s[0]["cluster"] for s in samples(m, "gitopsd_cluster_connection_status")] == ["a"]


def test_unknown_git_request_type_is_rejected() -> None:
    """Only ls-remote and fetch are valid request types, keeping the label's vocabulary closed."""
    with pytest.raises(ValueError, match="ls-remote"):
        Metrics(process_metrics=False).git_request("r", "clone", ok=True)


def test_registries_are_independent() -> None:
    """Two Metrics objects never share series, and the global registry stays untouched."""
    from prometheus_client import REGISTRY

    first, second = Metrics(process_metrics=False), Metrics(process_metrics=False)
    first.task_restarted("watch:prod-eu")
    assert samples(first, "gitopsd_task_restarts_total") == [({"task": "watch:prod-eu"}, 1.0)]
    assert samples(second, "gitopsd_task_restarts_total") == []
    assert REGISTRY.get_sample_value("gitopsd_task_restarts_total", {"task": "watch:prod-eu"}) is None


def test_sync_window_gauge_follows_each_kind() -> None:
    """The window gauge is 1 while a window of its kind is active and 0 once it closes."""
    m = Metrics(process_metrics=False)
    m.set_sync_window_active("web", "deny", True)
    m.set_sync_window_active("web", "allow", False)
    assert sorted(samples(m, "gitopsd_sync_window_active"), key=lambda s: s[0]["kind"]) == [
        ({"app": "web", "kind": "allow"}, 0.0), ({"app": "web", "kind": "deny"}, 1.0)]
    m.set_sync_window_active("web", "deny", False)
    assert ({"app": "web", "kind": "deny"}, 0.0) in samples(m, "gitopsd_sync_window_active")


def test_membership_metrics_count_handovers_and_failed_renewals() -> None:
    """Handovers are counted by direction, only failed renewals count as failures, every renewal is timed."""
    m = Metrics(process_metrics=False)
    m.handed_over("gained", 3)
    m.handed_over("lost", 1)
    m.handed_over("lost", 0)
    m.lease_renewed(0.01, ok=True)
    m.lease_renewed(0.3, ok=False)
    m.set_members(2, 5)
    m.set_members(1, 9)
    assert sorted(samples(m, "gitopsd_member_handovers_total"), key=lambda s: s[0]["direction"]) == [
        ({"direction": "gained"}, 3.0), ({"direction": "lost"}, 1.0)]
    assert samples(m, "gitopsd_member_lease_renew_failures_total") == [({}, 1.0)]
    assert samples(m, "gitopsd_member_lease_renew_duration_seconds_count") == [({}, 2.0)]
    assert samples(m, "gitopsd_members") == [({}, 1.0)]
    assert samples(m, "gitopsd_member_instances_owned") == [({}, 9.0)]
    with pytest.raises(ValueError, match="gained"):
        m.handed_over("stolen", 1)
