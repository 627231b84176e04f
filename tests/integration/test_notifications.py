"""Notifications and Kubernetes Events, end to end: a real daemon, a real cluster, loopback receivers.

Each receiver is an aiohttp server on 127.0.0.1 run by the test in a thread of
its own; it records every request (path, headers, raw body) and answers with
the status the test chose. The daemon is spoken to only over its interfaces:
its fleet file, its API and its metrics.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import yaml

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, edit, fleet_doc, poll_until, value
from tests.integration.receivers import Receiver

HMAC_KEY = "hook-signing-key-for-tests-3b9e"
ROUTING_KEY = "pd-routing-key-for-tests-77aa1c"
SLACK_PATH = "/services/T000/B000/slack-secret-path-5d2f"


def _cm(name: str, v: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                           "data": {"value": v}})


def _app(ns: str) -> dict[str, Any]:
    return {"name": "notes", "source": {"repo": "env", "targetRevision": "main", "path": "app"},
            "destination": {"clusters": {"matchLabels": {}}, "namespace": ns},
            "syncPolicy": {"automated": {"prune": True, "selfHeal": True},
                           "retry": {"limit": 1, "backoff": {"duration": "1s"}}}}


def _events(cluster: LocalCluster, reason: str) -> list[dict[str, Any]]:
    status, body = cluster.request("GET", "/apis/events.k8s.io/v1/namespaces/gitopsd-system/events")
    assert status == 200, body
    return [e for e in body["items"] if e.get("reason") == reason
            and e["regarding"]["name"] == "gitopsd-inv-notes"]


def _metric(d: DaemonProc, name: str, **labels: str) -> float:
    text = d.get("/metrics") or ""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in str(text).splitlines():
        if line.startswith(name + "{"):
            got = ",".join(sorted(line[len(name) + 1:line.index("}")].split(",")))
            if got == want:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_slack_pagerduty_webhook_and_events_follow_syncs_and_repairs(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """A sync is a signed webhook and an Event; a drift revert reaches Slack; a failure opens and its fix
    resolves one PagerDuty incident and one Alertmanager alert; no secret reaches the log."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    first = repo.commit({"app/web.yaml": _cm("web", "v1")})
    root = tmp_path / "daemon"
    root.mkdir()
    with Receiver.running() as rx:
        (root / "slack-url").write_text(rx.url + SLACK_PATH + "\n")
        (root / "pd-key").write_text(ROUTING_KEY + "\n")
        (root / "hook-key").write_text(HMAC_KEY + "\n")
        fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s", apps=[_app(ns)])
        fleet["notifications"] = {
            "services": [
                {"name": "ops", "type": "slack", "urlFile": "slack-url", "recipients": ["#ops"]},
                {"name": "pager", "type": "pagerduty", "tokenFile": "pd-key", "url": rx.url + "/pd"},
                {"name": "hook", "type": "webhook", "url": rx.url + "/hook", "secretFile": "hook-key"},
                {"name": "am", "type": "alertmanager", "url": rx.url + "/am"}],
            "subscriptions": [
                {"triggers": ["on-drift-reverted"], "services": ["ops"]},
                {"triggers": ["on-sync-succeeded", "on-sync-failed"], "services": ["hook"]},
                {"triggers": ["on-sync-failed"], "services": ["pager", "am"], "applications": ["not*"]}]}
        d = DaemonProc(fleet, root).start()
        try:
            d_rows = poll_until(lambda: (r := d.instance("notes", "a")) and r["revision"] == first, 60)
            assert d_rows, d.logs()[-3000:]
            hooks = poll_until(lambda: rx.at("/hook"), 20)
            assert hooks, d.logs()[-3000:]
            sent = hooks[0]
            expected = "sha256=" + hmac.new(HMAC_KEY.encode(), sent.body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(sent.headers["X-Gitopsd-Signature"], expected)
            assert (sent.json()["trigger"], sent.json()["revision"]) == ("on-sync-succeeded", first)
            synced = poll_until(lambda: _events(cluster_a, "SyncSucceeded"), 20)
            assert synced, d.logs()[-3000:]
            assert synced[0]["type"] == "Normal"
            assert first[:12] in synced[0]["note"]

            edit(cluster_a, ns, "web", "tampered")
            assert poll_until(lambda: value(cluster_a, ns, "web") == "v1", 30), d.logs()[-3000:]
            slack = poll_until(lambda: rx.at(SLACK_PATH), 20)
            assert slack, d.logs()[-3000:]
            msg = slack[0].json()
            assert msg["channel"] == "#ops"
            assert "drift of" in msg["text"]
            assert "ConfigMap" in msg["text"]
            assert [b["type"] for b in msg["blocks"]] == ["section", "context"]
            assert poll_until(lambda: _events(cluster_a, "DriftReverted"), 20), d.logs()[-3000:]

            repo.commit({"app/web.yaml": _cm("Bad_Name", "v2")})
            pd = poll_until(lambda: rx.at("/pd"), 60)
            assert pd, (d.instance("notes", "a"), d.logs()[-3000:])
            fired = pd[0].json()
            assert (fired["event_action"], fired["routing_key"]) == ("trigger", ROUTING_KEY)
            assert fired["payload"]["class"] == "on-sync-failed"
            assert poll_until(lambda: _events(cluster_a, "SyncFailed"), 20), d.logs()[-3000:]

            fixed = repo.commit({"app/web.yaml": _cm("web", "v3")})
            ends = poll_until(lambda: [r for r in rx.at("/pd") if r.json()["event_action"] == "resolve"], 60)
            assert ends, (d.instance("notes", "a"), d.logs()[-3000:])
            assert ends[0].json()["dedup_key"] == fired["dedup_key"]
            assert d.instance("notes", "a")["revision"] == fixed  # type: ignore[index]
            assert len([r for r in rx.at("/pd") if r.json()["event_action"] == "trigger"]) == 1
            alerts = poll_until(lambda: (got := [a for r in rx.at("/am/api/v2/alerts") for a in r.json()])
                                and len(got) >= 2 and got, 20)
            assert alerts, rx.at("/am/api/v2/alerts")
            assert [("endsAt" in a, a["labels"]["alertname"]) for a in alerts] == [
                (False, "GitopsdSyncFailed"), (True, "GitopsdSyncFailed")]
            assert alerts[0]["labels"] == alerts[1]["labels"]
        finally:
            assert d.stop() == 0
        logs = d.logs()
        for secret in (HMAC_KEY, ROUTING_KEY, SLACK_PATH):
            assert secret not in logs


def test_a_dead_receiver_is_retried_then_dropped_while_syncs_go_on(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """Every attempt to a receiver that answers 503 counts as failed, the notice is then dropped, and
    the next revision still syncs."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    first = repo.commit({"app/web.yaml": _cm("web", "v1")})
    root = tmp_path / "daemon"
    root.mkdir()
    with Receiver.running() as rx:
        rx.status = 503
        fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s", apps=[_app(ns)])
        fleet["notifications"] = {
            "services": [{"name": "hook", "type": "webhook", "url": rx.url + "/down", "retries": 2,
                          "retryBackoff": "2s", "timeout": "2s"}],
            "subscriptions": [{"triggers": ["on-sync-succeeded"], "services": ["hook"]}]}
        d = DaemonProc(fleet, root).start()
        try:
            assert poll_until(lambda: (r := d.instance("notes", "a")) and r["revision"] == first, 60), \
                d.logs()[-3000:]
            second = repo.commit({"app/web.yaml": _cm("web", "v2")})
            # the second revision syncs while the first notice still waits out its retries
            assert poll_until(lambda: value(cluster_a, ns, "web") == "v2", 30), d.logs()[-3000:]
            labels = {"service": "hook", "type": "webhook"}
            assert _metric(d, "gitopsd_notifications_total", result="dropped", **labels) < 2
            assert d.instance("notes", "a")["revision"] == second  # type: ignore[index]
            assert poll_until(lambda: _metric(d, "gitopsd_notifications_total", result="dropped",
                                              **labels) >= 2, 40), d.get("/metrics")
            assert _metric(d, "gitopsd_notifications_total", result="failed", **labels) == 6
            assert _metric(d, "gitopsd_notifications_total", result="sent", **labels) == 0
            assert len(rx.at("/down")) == 6
        finally:
            assert d.stop() == 0


def test_an_incident_opened_before_a_restart_is_resolved_after_it(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """A PagerDuty incident triggered before a daemon restart is not triggered again by the restarted
    daemon and is resolved with the same dedup key once the fix syncs; the state directory keeps no
    secret."""
    ns = make_namespace(cluster_a)
    app = f"incident-{ns.rpartition('-')[2]}"
    repo = git_repos.new()
    first = repo.commit({"app/web.yaml": _cm("web", "v1")})
    root = tmp_path / "daemon"
    root.mkdir()
    with Receiver.running() as rx:
        (root / "pd-key").write_text(ROUTING_KEY + "\n")
        fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s",
                          apps=[{**_app(ns), "name": app}])
        fleet["notifications"] = {
            "services": [{"name": "pager", "type": "pagerduty", "tokenFile": "pd-key",
                          "url": rx.url + "/pd"}],
            "subscriptions": [{"triggers": ["on-sync-failed"], "services": ["pager"]}]}
        d = DaemonProc(fleet, root).start()
        try:
            assert poll_until(lambda: (r := d.instance(app, "a")) and r["revision"] == first, 60), \
                d.logs()[-3000:]
            bad = repo.commit({"app/web.yaml": _cm("Bad_Name", "v2")})
            assert poll_until(lambda: rx.at("/pd"), 60), d.logs()[-3000:]
        finally:
            assert d.stop() == 0
        [fired] = [r.json() for r in rx.at("/pd")]
        assert fired["event_action"] == "trigger"

        d.start()
        try:
            failed_again = poll_until(lambda: (r := d.instance(app, "a")) and r["failed_revision"] == bad, 60)
            assert failed_again, (d.instance(app, "a"), d.logs()[-3000:])
            fixed = repo.commit({"app/web.yaml": _cm("web", "v3")})
            ends = poll_until(lambda: [r.json() for r in rx.at("/pd")
                                       if r.json()["event_action"] == "resolve"], 60)
            assert ends, (d.instance(app, "a"), d.logs()[-3000:])
            assert [e["dedup_key"] for e in ends] == [fired["dedup_key"]]
            assert d.instance(app, "a")["revision"] == fixed  # type: ignore[index]
            assert [r.json()["event_action"] for r in rx.at("/pd")] == ["trigger", "resolve"]
        finally:
            assert d.stop() == 0
    kept = [p for p in (root / "state").rglob("*") if p.is_file()]
    assert any(p.name == "open-incidents.json" for p in kept)
    for path in kept:
        assert ROUTING_KEY.encode() not in path.read_bytes(), path
