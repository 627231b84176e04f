"""Notification rules: triggers, once per revision, rate limit, resolution, routes, templates, payloads."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

from gitopsd.core.notices import NoticeGate, PassFacts, raised, render, routes
from gitopsd.edges.notifications import payloads
from gitopsd.model.notifications import (
    Notice,
    Notifications,
    NotificationService,
    ServiceType,
    Subscription,
    Trigger,
    template_problem,
)

NOTICE = Notice(trigger=Trigger.SYNC_FAILED, fleet="acme", app="web", cluster="prod", project="default",
                revision="0123456789abcdef", message="boom", at=1_700_000_000.0, sync_status="OutOfSync",
                health="Healthy")


def _facts(**kw: object) -> PassFacts:
    base = {"full": True, "finished": True, "result": "Synced", "error": "", "wrote": False,
            "revision": "r1", "previous_revision": "r1", "health": "Healthy", "previous_health": "Healthy",
            "sync_status": "Synced"}
    return PassFacts(**{**base, **kw})  # type: ignore[arg-type]


def test_failed_pass_raises_sync_failed_and_its_specific_trigger() -> None:
    """A refused prune is both on-sync-failed and on-prune-refused; a plain failure only the first."""
    assert raised(_facts(result="Failed", error="PruneRefused")) == [Trigger.SYNC_FAILED,
                                                                     Trigger.PRUNE_REFUSED]
    assert raised(_facts(result="Stalled", error="ClusterUnreachable")) == [
        Trigger.SYNC_FAILED, Trigger.CLUSTER_UNREACHABLE]
    assert raised(_facts(result="Failed", error="SyncDeadline")) == [Trigger.SYNC_FAILED]


def test_success_repair_and_degraded() -> None:
    """A writing sync succeeded, a writing repair reverted drift, and health turning Degraded is told once."""
    assert raised(_facts(wrote=True)) == [Trigger.SYNC_SUCCEEDED]
    assert raised(_facts(wrote=False)) == []
    assert raised(_facts(full=False, wrote=True)) == [Trigger.DRIFT_REVERTED]
    assert raised(_facts(finished=False, result="", health="Degraded")) == [Trigger.HEALTH_DEGRADED]
    assert raised(_facts(finished=False, result="", health="Degraded", previous_health="Degraded")) == []


def test_gate_sends_once_per_revision_and_again_after_resolution() -> None:
    """The same trigger at the same revision goes out once, until the problem is resolved."""
    gate = NoticeGate(rate_limit=0)
    assert gate.admit(NOTICE, 0.0)
    assert not gate.admit(replace(NOTICE, message="other words"), 1000.0)
    assert gate.admit(replace(NOTICE, revision="fedcba"), 1000.0)
    resolved = gate.resolve("web", "prod", revision="fedcba", health="Healthy", at=5.0, now=2000.0)
    assert [(n.trigger, n.resolved, n.revision) for n in resolved] == [(Trigger.SYNC_FAILED, True, "fedcba")]
    assert gate.resolve("web", "prod", revision="fedcba", health="Healthy", at=5.0, now=2001.0) == []
    assert gate.admit(NOTICE, 3000.0)


def test_gate_rate_limits_identical_notices() -> None:
    """Identical drift reverts inside the rate limit are held back; another object's is not."""
    gate = NoticeGate(rate_limit=300)
    drift = replace(NOTICE, trigger=Trigger.DRIFT_REVERTED, subject="apps/Deployment:web/api")
    assert gate.admit(drift, 0.0)
    assert not gate.admit(drift, 299.0)
    assert gate.admit(replace(drift, subject="v1/ConfigMap:web/cfg"), 299.0)
    assert gate.admit(drift, 300.0)


def test_reminders_repeat_open_problems() -> None:
    """An open problem is reminded once per reminder period, and no more after it is resolved."""
    gate = NoticeGate(rate_limit=0, reminder=60)
    gate.admit(NOTICE, 0.0)
    assert gate.reminders(59.0, 1.0) == []
    again = gate.reminders(60.0, 2.0)
    assert [(n.trigger, n.reminder) for n in again] == [(Trigger.SYNC_FAILED, True)]
    assert gate.reminders(100.0, 3.0) == []
    gate.resolve("web", "prod", revision="x", health="Healthy", at=4.0, now=110.0)
    assert gate.reminders(1000.0, 5.0) == []


def test_an_instance_that_left_is_forgotten() -> None:
    """Forgetting an instance closes its open problems without resolving them, ends their reminders
    and lets the same problem be told again should it return; another instance keeps its own."""
    gate = NoticeGate(rate_limit=300, reminder=60)
    other = replace(NOTICE, cluster="stage", revision="0ther")
    assert gate.admit(NOTICE, 0.0)
    assert gate.admit(other, 0.0)
    version = gate.version
    gate.forget("web", "prod")
    assert [(n.app, n.cluster) for n in gate.open_notices()] == [("web", "stage")]
    assert gate.version == version + 1
    assert [n.cluster for n in gate.reminders(60.0, 1.0)] == ["stage"]
    assert gate.admit(NOTICE, 61.0)  # within the rate limit, but the instance left in between
    assert not gate.admit(other, 61.0)


def test_deployed_waits_for_healthy() -> None:
    """A newly applied revision is deployed only once the instance is Healthy."""
    gate = NoticeGate()
    gate.revision_applied("web", "prod", "r2")
    assert gate.deployed("web", "prod", "Progressing") is None
    assert gate.deployed("web", "prod", "Healthy") == "r2"
    assert gate.deployed("web", "prod", "Healthy") is None


def test_routes_match_triggers_globs_and_resolution() -> None:
    """Subscriptions select by trigger, application and project globs; resolutions skip Slack by default."""
    config = Notifications(
        services=(NotificationService("ops", ServiceType.SLACK, send_resolved=False, recipients=("#ops",)),
                  NotificationService("pager", ServiceType.PAGERDUTY)),
        subscriptions=(Subscription((Trigger.SYNC_FAILED,), ("ops", "pager"), applications=("w*",)),
                       Subscription((Trigger.SYNC_FAILED,), ("ops",), recipients=("#web",),
                                    projects=("default",))))
    assert routes(config, NOTICE) == {"ops": ("#ops", "#web"), "pager": ()}
    assert routes(config, replace(NOTICE, app="api", project="prod")) == {}
    assert routes(config, replace(NOTICE, resolved=True)) == {"pager": ()}
    own = Subscription((Trigger.DEPLOYED,), ("ops",), recipients=("#mine",))
    assert routes(config, replace(NOTICE, trigger=Trigger.DEPLOYED), [own]) == {"ops": ("#mine",)}


def test_render_uses_the_fixed_context() -> None:
    """Templates see the notice's fields; a reminder and a resolution are worded as such."""
    config = Notifications(templates={Trigger.SYNC_FAILED: "$app@$cluster $short_revision $status: $message"})
    assert render(config, NOTICE) == "web@prod 0123456789ab firing: boom"
    assert render(config, replace(NOTICE, reminder=True)).startswith("[reminder] web@prod")
    assert "resolved" in render(config, replace(NOTICE, resolved=True))
    assert render(Notifications(), replace(NOTICE, trigger=Trigger.DRIFT_REVERTED, subject="cm/x")) == \
        "web on prod: drift of cm/x reverted"
    assert template_problem("$app and ${cluster}") is None
    assert "unknown" in (template_problem("${__class__}") or "")


def test_pagerduty_trigger_and_resolve_share_the_dedup_key() -> None:
    """A problem's trigger and resolution carry the same dedup key; another trigger has another."""
    fired = payloads.pagerduty(NOTICE, "text", "key")
    ended = payloads.pagerduty(replace(NOTICE, resolved=True, revision="other"), "", "key")
    assert (fired["event_action"], ended["event_action"]) == ("trigger", "resolve")
    assert fired["dedup_key"] == ended["dedup_key"]
    assert payloads.pagerduty(replace(NOTICE, trigger=Trigger.HEALTH_DEGRADED), "", "k")["dedup_key"] != \
        fired["dedup_key"]
    assert fired["payload"]["severity"] == "error"
    assert "payload" not in ended


def test_webhook_signature_verifies_over_the_exact_body() -> None:
    """The signature is HMAC-SHA256 of the sent bytes under the key."""
    body = payloads.webhook(NOTICE, "words")
    expected = "sha256=" + hmac.new(b"k" * 32, body, hashlib.sha256).hexdigest()
    assert payloads.sign(b"k" * 32, body) == expected
    assert json.loads(body)["trigger"] == "on-sync-failed"


def test_alertmanager_alert_ends_when_resolved() -> None:
    """A firing problem has no end; its resolution and plain events carry endsAt."""
    assert "endsAt" not in payloads.alertmanager(NOTICE, "t")[0]
    assert "endsAt" in payloads.alertmanager(replace(NOTICE, resolved=True), "t")[0]
    assert payloads.alertmanager(NOTICE, "t")[0]["labels"]["alertname"] == "GitopsdSyncFailed"
