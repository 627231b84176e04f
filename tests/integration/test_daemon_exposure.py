"""What a running ``gitopsd run`` shows the world: metrics, a guarded API, and never a secret.

The daemon syncs an application from a repository served over SSH, with an
API token file, a webhook secret file and OTLP export to a local receiver.
The test changes a managed Secret out of band so self-heal runs, calls every
API route with and without the token, sends webhooks, then reads the log,
the metrics and the exported spans and looks for each secret there: the API
token, the webhook secret, the SSH private key and the Secret's values.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gitopsd.edges.telemetry.metrics import METRIC_NAMES
from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import (
    DaemonProcess,
    OtlpReceiver,
    attributes,
    running_daemon,
    wait_for,
    write_fleet,
)
from tests.integration.synckit import cm
from tests.testenv.git_fixtures import GitServerInfo, RepoFactory

# Series that must exist once one sync and one drift repair happened; the rest may be empty families.
MUST_HAVE_SAMPLES = ("gitopsd_app_info", "gitopsd_app_sync_total", "gitopsd_app_reconcile_duration_seconds",
                     "gitopsd_drift_events_total", "gitopsd_queue_depth", "gitopsd_queue_wait_seconds",
                     "gitopsd_git_requests_total", "gitopsd_cluster_connection_status")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _secret(name: str, value: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                           "type": "Opaque", "data": {"password": _b64(value)}})


def _key_material(key_file: Path) -> list[str]:
    """The private key's content as it could leak: whole, and each line of its base64 body."""
    text = key_file.read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("-----")]
    assert lines, "the key file has a body"
    return [text.strip(), *[ln for ln in lines if len(ln) >= 16]]


def _metrics(daemon: DaemonProcess) -> str:
    status, body = daemon.http("GET", "/metrics")
    assert status == 200
    return body.decode()


def _samples(text: str) -> dict[str, list[dict[str, str]]]:
    """Labels of every sample, by the metric family name as exposed (``# TYPE`` name)."""
    declared = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    out: dict[str, list[dict[str, str]]] = {name: [] for name in declared}
    for family in text_string_to_metric_families(text):
        name = next((d for d in declared if d in (family.name, f"{family.name}_total")), family.name)
        out.setdefault(name, []).extend(dict(s.labels) for s in family.samples)
    return out


def _signed(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("log_level", ["info", "debug"])
def test_metrics_api_token_and_no_secret_anywhere(
        cluster_a: LocalCluster, make_namespace: Callable[[LocalCluster], str], git_repos: RepoFactory,
        git_server: GitServerInfo, tmp_path: Path, log_level: str) -> None:
    """/metrics has every gitopsd metric, /api/v1 needs the token, no secret reaches logs, metrics, spans."""
    token = f"api-{secrets.token_hex(16)}"
    hook_secret = f"hook-{secrets.token_hex(16)}"
    secret_value, intruder_value = f"pw-{secrets.token_hex(12)}", f"oob-{secrets.token_hex(12)}"
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    head = repo.commit({"app/settings.yaml": cm("settings", {"mode": "on"}),
                        "app/creds.yaml": _secret("creds", secret_value)})
    app = f"expose-{ns.rpartition('-')[2]}"
    fleet = write_fleet(tmp_path / "fleet.yaml", cluster=cluster_a, repo_url=repo.ssh_url, app=app,
                        namespace=ns, ssh_key=git_server.client_key_file,
                        known_hosts=git_server.known_hosts_file, poll="2s")
    cluster = cluster_a.name
    with OtlpReceiver.running() as receiver, running_daemon(
            tmp_path / "run", fleet, token=token, webhook_secret=hook_secret, log_level=log_level,
            extra_args=["--api-reads-need-token"],
            env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base, "OTEL_BSP_SCHEDULE_DELAY": "200"}) as daemon:
        daemon.wait_synced(app, cluster, head)

        # Self-heal of a managed Secret changed by someone else (before anything else is queued).
        secret_path = f"/api/v1/namespaces/{ns}/secrets/creds"
        status, _ = cluster_a.request(
            "PATCH", f"{secret_path}?fieldManager=kubectl-edit",
            {"data": {"password": _b64(intruder_value)}}, content_type="application/merge-patch+json")
        assert status == 200
        wait_for(lambda: cluster_a.request("GET", secret_path)[1]["data"]["password"] == _b64(secret_value),
                 30, "the Secret to be restored")
        wait_for(lambda: _samples(_metrics(daemon)).get("gitopsd_drift_events_total"), 30, "a drift event")

        # The API: every route refuses a missing or wrong token, and a token in the query string.
        routes = [("GET", "/api/v1/instances"), ("GET", f"/api/v1/instances/{app}/{cluster}"),
                  ("POST", f"/api/v1/instances/{app}/{cluster}/sync"),
                  ("POST", f"/api/v1/applications/{app}/sync")]
        for method, path in routes:
            assert daemon.http(method, path)[0] == 401, path
            assert daemon.http(method, path, token=f"{token}x")[0] == 401, path
            assert daemon.http(method, f"{path}?access_token={token}")[0] == 401, path
            status, body = daemon.http(method, path, token=token)
            assert status == (200 if method == "GET" else 202), (path, body[:200])
        assert daemon.http("GET", "/api/v1/instances", token=token.upper())[0] == 401

        # Webhooks: a wrong signature is refused; the right one triggers a poll of the repository.
        push = json.dumps({"repo": "env", "ref": "refs/heads/main", "note": token}).encode()
        assert daemon.http("POST", "/webhooks/generic", body=push,
                           headers={"X-Gitopsd-Signature": _signed(hook_secret + "x", push)})[0] == 401
        status, body = daemon.http("POST", "/webhooks/generic", body=push,
                                   headers={"X-Gitopsd-Signature": _signed(hook_secret, push)})
        assert (status, json.loads(body)["triggered"]) == (202, ["env"])
        assert daemon.http("POST", "/webhooks/gitlab", body=b"{}",
                           headers={"X-Gitlab-Token": hook_secret[::-1], "X-Gitlab-Event": "Push Hook"}
                           )[0] == 401

        metrics = _metrics(daemon)
        assert daemon.terminate(30) == 0
    log = daemon.log_text()
    spans = receiver.spans()

    samples = _samples(metrics)
    missing = [name for name in METRIC_NAMES if name not in samples]
    assert not missing, f"/metrics lacks {missing}"
    empty = [name for name in MUST_HAVE_SAMPLES if not samples[name]]
    assert not empty, f"no series yet for {empty}"
    assert {"app": app, "cluster": cluster, "sync_status": "Synced", "health_status": "Healthy"} in \
        samples["gitopsd_app_info"]
    assert any(s.get("request_type") == "ls-remote" and s.get("result") == "success"
               for s in samples["gitopsd_git_requests_total"])

    repairs = [span for span in spans for event in span.span.events
               if {"object": f"Secret {ns}/creds", "action": "configured"}.items()
               <= attributes(event.attributes).items()]
    assert repairs, "the self-heal's spans reached the receiver"
    leaks = {"API token": [token], "webhook secret": [hook_secret],
             "SSH private key": _key_material(git_server.client_key_file),
             "Secret data": [secret_value, _b64(secret_value), intruder_value, _b64(intruder_value)]}
    label_values = [v for series in samples.values() for labels in series for v in labels.values()]
    span_strings = [text for span in spans for text in span.strings()]
    for what, values in leaks.items():
        for value in values:
            assert value not in log, f"the {what} appears in the log"
            assert value not in metrics, f"the {what} appears in /metrics"
            assert not [v for v in label_values if value in v], f"the {what} is a metric label"
            assert not [s for s in span_strings if value in s], f"the {what} is in a span"
    assert daemon.log_events(), "the log is JSON lines"
