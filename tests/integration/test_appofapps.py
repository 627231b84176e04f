"""Argo CD habits against the real daemon: app of apps from a Helm chart, multi-source, status.

A chart renders Applications that name the repository and the cluster the
way Argo CD does (GitHub URLs, ``https://kubernetes.default.svc``); the fleet
file maps them with ``aliases`` and ``servers``, and one Application gitopsd
cannot honour is shown with its reason while the others deploy. A
multi-source Application takes a Helm value file from another repository
(``$values/...``) and follows it when it moves. ``gitopsd status`` finds a
daemon on any port through its state directory and reads without a token;
writes still need it.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from gitopsd.localcluster import LocalCluster
from tests.integration.daemonproc import (
    ROOT,
    DaemonProc,
    _child_env,
    fleet_doc,
    free_port,
    poll_until,
    value,
)

IN_CLUSTER = "https://kubernetes.default.svc"

CHART = """\
apiVersion: v2
name: root
version: 0.1.0
"""

APPS_TEMPLATE = """\
{{- range .Values.apps }}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {{ .name }}
  namespace: argocd
spec:
  project: default
  source:
    repoURL: https://github.com/acme/env.git
    targetRevision: main
    path: {{ .path }}
    {{- if .plugin }}
    plugin:
      name: {{ .plugin }}
    {{- end }}
  destination:
    server: {{ $.Values.server }}
    namespace: {{ $.Values.namespace }}
  syncPolicy:
    automated: {prune: true, selfHeal: true}
{{- end }}
"""


def cm(name: str, data: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                           "data": {"value": data}})


def test_app_of_apps_from_a_helm_chart_with_one_bad_application(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """The chart's Applications deploy through aliased URLs; the plugin one shows its reason."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    apps = [{"name": "one", "path": "apps/one"}, {"name": "two", "path": "apps/two"},
            {"name": "tool", "path": "apps/two", "plugin": "cmp"}]
    repo.commit({"root/Chart.yaml": CHART, "root/templates/apps.yaml": APPS_TEMPLATE,
                 "root/values.yaml": yaml.safe_dump({"apps": apps, "server": IN_CLUSTER,
                                                     "namespace": "unset"}),
                 "apps/one/c.yaml": cm("one", "1"), "apps/two/c.yaml": cm("two", "2")})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s", apps=[])
    fleet["clusters"][0]["servers"] = [IN_CLUSTER]
    fleet["repositories"][0]["aliases"] = ["git@github.com:acme/env.git"]
    fleet["applications"] = [{"name": "root", "argocd": {
        "repo": "env", "targetRevision": "main", "path": "root",
        "helm": {"values": {"namespace": ns}}}}]
    d = DaemonProc(fleet, tmp_path / "daemon").start()
    try:
        assert poll_until(lambda: value(cluster_a, ns, "one") == "1"
                          and value(cluster_a, ns, "two") == "2", 60), d.logs()
        row = d.instance("tool", "a")
        assert row is not None, d.logs()
        assert row["sync_status"] == "Unknown"
        (condition,) = row["conditions"]
        assert condition["type"] == "InvalidSpecError"
        assert "env@main:root (helm template output):" in condition["message"]
        assert "spec.source.plugin: field 'plugin' is not supported by gitopsd" \
            in condition["message"]
        assert row["last_sync"]["message"].startswith("spec.source.plugin: field 'plugin'")
        assert (d.instance("one", "a") or {}).get("sync_status") == "Synced"
        table = gitopsd("status", "--server", f"http://127.0.0.1:{d.port}", cwd=tmp_path)
        assert table.returncode == 0, table.stderr
        line = next(ln for ln in table.stdout.splitlines() if ln.startswith("tool "))
        assert line.split()[:4] == ["tool", "a", "Unknown", "Unknown"]
        assert "InvalidSpecError" in line.split()
        assert "spec.source.plugin: field 'plugin'" in line
    finally:
        assert d.stop() == 0
    assert '"argocd.application.rejected"' in d.logs()


CONFIG_CHART = {
    "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "charts/web/values.yaml": "greeting: chart-default\ncolor: none\n",
    "charts/web/templates/cm.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n  color: {{ .Values.color | quote }}\n"),
}


def settings(cluster: LocalCluster, ns: str, name: str) -> dict[str, str] | None:
    status, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/{name}")
    return dict(body["data"]) if status == 200 else None


def test_multi_source_values_from_another_repository(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """A $values file of a ref source feeds the chart, parameters win, and a new values commit lands."""
    ns = make_namespace(cluster_a)
    charts, values = git_repos.new("charts"), git_repos.new("values")
    values.commit({"prod/web.yaml": "greeting: from-values-repo\ncolor: red\n"})
    application = {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "web"},
        "spec": {"project": "default",
                 "sources": [
                     {"repoURL": "https://github.com/acme/charts.git", "targetRevision": "main",
                      "path": "charts/web",
                      "helm": {"releaseName": "prod", "valueFiles": ["$values/prod/web.yaml"],
                               "parameters": [{"name": "color", "value": "blue"}]}},
                     {"repoURL": "https://github.com/acme/values.git", "targetRevision": "main",
                      "ref": "values"}],
                 "destination": {"name": "a", "namespace": ns},
                 "syncPolicy": {"automated": {"prune": True}}}}
    charts.commit({**CONFIG_CHART, "argo/web.yaml": yaml.safe_dump(application)})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(charts.path), poll="1s", apps=[])
    fleet["repositories"][0]["aliases"] = ["https://github.com/acme/charts"]
    fleet["repositories"].append({"name": "values", "url": str(values.path), "pollInterval": "1s",
                                  "aliases": ["https://github.com/acme/values"]})
    fleet["applications"] = [{"name": "argo", "argocd": {"repo": "env", "targetRevision": "main",
                                                         "path": "argo"}}]
    d = DaemonProc(fleet, tmp_path / "daemon").start()
    try:
        want = {"greeting": "from-values-repo", "color": "blue"}
        assert poll_until(lambda: settings(cluster_a, ns, "prod-settings") == want, 60), d.logs()
        values.commit({"prod/web.yaml": "greeting: moved\ncolor: red\n"})
        want = {"greeting": "moved", "color": "blue"}
        assert poll_until(lambda: settings(cluster_a, ns, "prod-settings") == want, 30), d.logs()
    finally:
        assert d.stop() == 0


def post(url: str) -> int:
    """The status of a POST with no credentials."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"),  # noqa: S310
                                    timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def gitopsd(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitopsd", *args], capture_output=True, text=True,
                          timeout=60, check=False, cwd=cwd, env=_child_env())


def test_status_finds_a_daemon_on_another_port_and_reads_without_a_token(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """A daemon on a free port with no token file is found through settings.stateDir; status reads
    without a token; a write without it is refused; sync with the published token file works."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"app/c.yaml": cm("c", "1")})
    app = {"name": "found", "source": {"repo": "env", "targetRevision": "main", "path": "app"},
           "destination": {"clusters": {"names": ["a"]}, "namespace": ns},
           "syncPolicy": {"automated": {"prune": True}}}
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="30s", apps=[app])
    fleet["settings"] = {"stateDir": "state"}
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump(fleet))
    port = free_port()
    log = (tmp_path / "daemon.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "gitopsd", "run", "--config", str(fleet_file),
                             "--listen", f"127.0.0.1:{port}"], cwd=ROOT, env=_child_env(),
                            stdout=log, stderr=subprocess.STDOUT)
    state = tmp_path / "state"
    try:
        published = poll_until(lambda: (state / "api.json").is_file()
                               and json.loads((state / "api.json").read_text()), 60)
        assert published, (tmp_path / "daemon.log").read_text()
        assert published["url"] == f"http://127.0.0.1:{port}"
        token_file = Path(published["token_file"])
        assert token_file == state / "api-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert len(token) >= 32
        assert token not in (state / "api.json").read_text()
        assert poll_until(lambda: value(cluster_a, ns, "c") == "1", 60)

        shown = gitopsd("status", "--config", str(fleet_file), cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.splitlines()[0].split()[:2] == ["APP", "CLUSTER"]
        assert any(line.split()[:2] == ["found", "a"] for line in shown.stdout.splitlines())
        by_dir = gitopsd("status", "--state-dir", str(state), "--api-token-file", "/nonexistent",
                         cwd=tmp_path)
        assert by_dir.returncode == 0, by_dir.stderr  # an unreadable token is not needed to read

        assert post(f"http://127.0.0.1:{port}/api/v1/applications/found/sync") == 401
        refused = gitopsd("sync", "found", "--server", f"http://127.0.0.1:{port}", cwd=tmp_path)
        assert refused.returncode == 2
        assert "HTTP 401" in refused.stderr
        assert "no API token was found for the daemon (--server)" in refused.stderr
        synced = gitopsd("sync", "found", "--config", str(fleet_file), cwd=tmp_path)
        assert synced.returncode == 0, synced.stderr
        assert synced.stdout.strip() == "sync requested: found/a"
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
        log.close()
    assert not (state / "api.json").exists()
