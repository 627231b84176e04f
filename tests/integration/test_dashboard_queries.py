"""The Grafana dashboard's queries, run by a real Prometheus against a real daemon's metrics.

A ``gitopsd run`` syncs two applications (one of them refused for an unsigned
head), repairs a drift, sends notifications to a loopback receiver and keeps
a sync window open; a Prometheus from Debian's package scrapes its /metrics
every second on loopback, with gitopsd's rule file loaded. Every template
variable query and every panel query of the dashboard then goes through
Prometheus' HTTP API with the variables filled in: each must parse, name only
metrics the daemon declares, and return series unless it charts an event that
this run never causes (a task restart).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import DaemonProc, edit, fleet_doc, poll_until, value
from tests.integration.promserver import Prometheus, running_prometheus
from tests.integration.receivers import Receiver
from tests.testenv.git_fixtures import RepoFactory
from tests.testenv.signing import SshKey

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "charts" / "gitopsd-observability" / "dashboards" / "gitopsd.json"
RULES = ROOT / "charts" / "gitopsd-observability" / "rules" / "gitopsd.rules.yaml"
RATE_INTERVAL = "1m"
# metrics whose series appear only after an event this run does not cause
NO_EVENT_HERE = {"gitopsd_task_restarts_total": "no supervised task is restarted"}


def _cm(name: str, v: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                           "data": {"value": v}})


def metric_names(expr: str) -> set[str]:
    """The gitopsd_* metric names EXPR reads, histogram suffixes folded into the family name."""
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in re.findall(r"\bgitopsd_[a-z_]+", expr)}


def panel_queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expression) of every target of every panel, rows included."""
    panels = [*dashboard["panels"], *(p for row in dashboard["panels"] for p in row.get("panels", []))]
    return [(p["title"], t["expr"]) for p in panels for t in p.get("targets", []) if t.get("expr")]


def variable_values(prom: Prometheus, dashboard: dict[str, Any]) -> dict[str, list[str]]:
    """Each query variable's values, as Grafana gets them: label_values(SELECTOR, LABEL) through the
    label values API, earlier variables substituted into later selectors."""
    values: dict[str, list[str]] = {}
    for var in dashboard["templating"]["list"]:
        if var["type"] != "query":
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
        assert match, f"variable {var['name']}: {query} is not label_values(selector, label)"
        selector = substitute(match[1], values)
        reply = prom.api(f"label/{match[2]}/values", **{"match[]": selector})
        assert reply["status"] == "success", (var["name"], reply)
        values[var["name"]] = reply["data"]
    return values


def substitute(expr: str, values: dict[str, list[str]]) -> str:
    """EXPR with $__rate_interval and each variable replaced as Grafana formats a multi-value regex."""
    expr = expr.replace("$__rate_interval", RATE_INTERVAL)
    for name, chosen in values.items():
        quoted = [re.sub(r"([\\.^$*+?()\[\]{}|])", r"\\\\\1", v) for v in chosen]  # regex, in a PromQL string
        expr = expr.replace(f"${name}", "(" + "|".join(quoted) + ")")
    return expr


def problems(prom: Prometheus, dashboard: dict[str, Any], *, app: str, cluster: str) -> list[str]:
    """What is wrong with the dashboard against PROM now; empty when every query passes."""
    found = []
    values = variable_values(prom, dashboard)
    if app not in values.get("app", []) or cluster not in values.get("cluster", []):
        found.append(f"variables lack {app} on {cluster}: {values}")
    for title, expr in panel_queries(dashboard):
        names = metric_names(expr)
        undeclared = [n for n in names if not prom.metadata(n) and not prom.metadata(f"{n}_total")]
        if undeclared:
            found.append(f"{title}: {expr} reads {undeclared}, which gitopsd does not export")
            continue
        reply = prom.query(substitute(expr, values))
        if reply["status"] != "success":
            found.append(f"{title}: {expr}: {reply.get('error')}")
        elif not reply["data"]["result"] and not names & NO_EVENT_HERE.keys():
            found.append(f"{title}: {expr} returned no series")
    return found


def test_every_dashboard_query_returns_series_from_a_real_daemon(
        cluster_a: LocalCluster, make_namespace: Callable[[LocalCluster], str], git_repos: RepoFactory,
        tmp_path: Path) -> None:
    """Each variable and panel query of the Grafana dashboard parses in Prometheus, reads only metrics
    gitopsd exports and returns series; the alert rules load and evaluate against the same data."""
    dashboard = json.loads(DASHBOARD.read_text())
    ns = make_namespace(cluster_a)
    app, refused = f"dash-{ns.rpartition('-')[2]}", f"dash-signed-{ns.rpartition('-')[2]}"
    repo, signed = git_repos.new(), git_repos.new()
    head = repo.commit({"app/web.yaml": _cm("web", "v1")})
    signed.commit({"app/other.yaml": _cm("other", "v1")})  # not signed: refused
    key = SshKey(tmp_path / "signer")
    (tmp_path / "allowed_signers").write_text(key.allowed_line("release@example.test") + "\n")
    root = tmp_path / "daemon"
    root.mkdir()

    def application(name: str, repo_name: str, project: str) -> dict[str, Any]:
        return {"name": name, "project": project,
                "source": {"repo": repo_name, "targetRevision": "main", "path": "app"},
                "destination": {"clusters": {"names": ["a"]}, "namespace": ns},
                "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}

    with Receiver.running() as rx:
        apps = [application(app, "env", "windowed"), application(refused, "signed", "default")]
        fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s", apps=apps)
        fleet["repositories"].append({"name": "signed", "url": str(signed.path), "pollInterval": "1s",
                                      "verify": {"mode": "head",
                                                 "sshAllowedSigners": str(tmp_path / "allowed_signers")}})
        fleet["projects"] = [{"name": "windowed", "sourceRepos": ["*"],
                              "destinations": [{"namespace": "*", "name": "*"}],
                              "syncWindows": [{"kind": "allow", "schedule": "* * * * *", "duration": "1h",
                                               "applications": [app]}]}]
        fleet["notifications"] = {
            "events": True,
            "services": [{"name": "hook", "type": "webhook", "url": rx.url + "/hook"}],
            "subscriptions": [{"triggers": ["on-sync-succeeded", "on-drift-reverted"], "services": ["hook"]}]}
        d = DaemonProc(fleet, root).start()
        try:
            synced = poll_until(lambda: (r := d.instance(app, "a")) and r["revision"] == head, 60)
            assert synced, d.logs()[-3000:]
            edit(cluster_a, ns, "web", "tampered")
            assert poll_until(lambda: value(cluster_a, ns, "web") == "v1", 30), d.logs()[-3000:]
            assert poll_until(lambda: 'result="sent"' in str(d.get("/metrics", auth=False)), 30)
            with running_prometheus(tmp_path / "prometheus", [f"127.0.0.1:{d.port}"],
                                    rule_files=[RULES]) as prom:
                assert poll_until(lambda: not problems(prom, dashboard, app=app, cluster="a"), 60), \
                    problems(prom, dashboard, app=app, cluster="a")
                # the check above bites: a metric gitopsd does not export is refused
                bogus = problems(prom, {"templating": {"list": []}, "panels": [
                    {"title": "bogus", "targets": [{"expr": "sum(gitopsd_no_such_thing_total)"}]}]},
                    app=app, cluster="a")
                assert any("does not export" in p for p in bogus), bogus
                groups = prom.api("rules")["data"]["groups"]
                assert {g["name"] for g in groups} == {"gitopsd.applications", "gitopsd.daemon"}
                assert [r["name"] for g in groups for r in g["rules"] if r["health"] != "ok"] == []
                firing = {a["labels"]["alertname"] for a in prom.api("alerts")["data"]["alerts"]}
                assert "GitopsdDown" not in firing
        finally:
            assert d.stop() == 0
