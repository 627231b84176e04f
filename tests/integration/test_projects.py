"""Projects on a real API server: a team's application, under RBAC for its namespace only, syncs
fully; an object for another team's namespace is refused before any request reaches the server."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitopsd.app import Sources, connect_cluster
from gitopsd.cli import main
from gitopsd.edges import binaries
from gitopsd.engine.sync import SyncRequest
from gitopsd.localcluster import LocalCluster
from gitopsd.model import ErrorKind, OutcomeKind, SyncPolicy
from gitopsd.model.projects import Project, ProjectDestination
from tests.integration.synckit import cm, make_fleet

RBAC_CHART = Path(__file__).resolve().parents[2] / "charts" / "gitopsd-rbac"
WRITE_VERBS = ('verb="POST"', 'verb="PUT"', 'verb="PATCH"', 'verb="DELETE"', 'verb="APPLY"')
USER = "carol"


def _configmap_writes(cluster: LocalCluster) -> float:
    """The API server's own count of write requests for ConfigMaps, whatever their answer."""
    status, text = cluster.request("GET", "/metrics")
    assert status == 200
    total = 0.0
    for line in str(text).splitlines():
        if line.startswith("apiserver_request_total{") and 'resource="configmaps"' in line \
                and any(verb in line for verb in WRITE_VERBS):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _data(cluster: LocalCluster, namespace: str, name: str) -> object:
    status, body = cluster.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/{name}")
    assert status == 200, body
    return body["data"]


@pytest.fixture
def team_rbac(cluster_a: LocalCluster, tmp_path: Path) -> Iterator[Callable[[str, str], None]]:
    """Installs the gitopsd-rbac chart for USER, writable in one namespace and the inventory's."""
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    for var in ("HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"):
        env[var] = str(tmp_path / var.lower())
    helm = binaries.find("helm")
    releases: list[str] = []

    def install(namespace: str, inventory: str) -> None:
        release = f"proj-{uuid.uuid4().hex[:6]}"
        values = {"subject": {"kind": "User", "name": USER}, "namespaces": [namespace],
                  "inventory": {"namespace": inventory, "createNamespace": True}}
        args = [a for key, value in values.items() for a in ("--set-json", f"{key}={json.dumps(value)}")]
        done = subprocess.run([helm, "upgrade", "--install", release, str(RBAC_CHART), "--namespace",
                               "default", "--kubeconfig", str(cluster_a.kubeconfig), *args],
                              capture_output=True, text=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        releases.append(release)

    yield install
    for release in releases:
        subprocess.run([helm, "uninstall", release, "--namespace", "default", "--kubeconfig",
                        str(cluster_a.kubeconfig)], capture_output=True, env=env, timeout=120, check=False)


@pytest.mark.asyncio
async def test_project_refuses_another_teams_namespace_before_any_write(
        cluster_a: LocalCluster, make_namespace: Callable[..., str], git_repos: Any, tmp_path: Path,
        team_rbac: Callable[[str, str], None]) -> None:
    """Within its project the application syncs; an object for team B stops the sync with no write."""
    team_a, team_b = make_namespace(cluster_a, "team-a"), make_namespace(cluster_a, "team-b")
    inventory = f"gitopsd-inv-{uuid.uuid4().hex[:6]}"
    team_rbac(team_a, inventory)
    repo = git_repos.new()
    repo.commit({"app/one.yaml": cm("one", {"v": "1"})})
    fleet, app = make_fleet(cluster_a, repo, app="team-a-web", path="app", namespace=team_a,
                            policy=SyncPolicy(automated=True, prune=True),
                            kubeconfig=cluster_a.user_kubeconfig(USER))
    project = Project("team-a", source_repos=(str(repo.path),),
                      destinations=(ProjectDestination(namespace=team_a, name=cluster_a.name),))
    app = replace(app, project="team-a")
    fleet = replace(fleet, applications=(app,), projects=(project,))
    instance = fleet.instances[0]
    sources = Sources.build(fleet, tmp_path / "state")
    conn = await connect_cluster(fleet, cluster_a.name, sources, inventory_namespace=inventory,
                                 health_poll=0.2)
    try:
        before = _configmap_writes(cluster_a)
        first = (await conn.reconciler.reconcile(instance, app, SyncRequest())).outcome
        assert first.kind is OutcomeKind.SYNCED, first.message
        assert _data(cluster_a, team_a, "one") == {"v": "1"}
        assert _configmap_writes(cluster_a) > before  # the counter sees this application's writes

        repo.commit({"app/one.yaml": cm("one", {"v": "2"}),
                     "app/intruder.yaml": yaml.safe_dump({
                         "apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "intruder", "namespace": team_b}, "data": {"v": "1"}})})
        before = _configmap_writes(cluster_a)
        second = (await conn.reconciler.reconcile(instance, app, SyncRequest())).outcome
        after = _configmap_writes(cluster_a)
    finally:
        await conn.close()
        await sources.close()
    assert second.kind is OutcomeKind.STALLED, second.message
    assert second.error == ErrorKind.PROJECT_VIOLATION
    assert f"ConfigMap {team_b}/intruder" in second.message
    assert "destinations" in second.message
    assert after == before
    assert cluster_a.request("GET", f"/api/v1/namespaces/{team_b}/configmaps/intruder")[0] == 404
    assert _data(cluster_a, team_a, "one") == {"v": "1"}


FLEET_FILE = """\
fleet: acme
clusters:
  - {name: prod, kubeconfig: /nonexistent/kubeconfig}
repositories:
  - {name: env, url: "https://git.example.com/team-a/env.git"}
projects:
  - name: team-a
    sourceRepos: ["https://git.example.com/team-a/*"]
    destinations: [{name: prod, namespace: team-a}]
applications:
  - name: web
    project: team-a
    source: {repo: env, path: app}
    destination: {clusters: {names: [prod]}, namespace: team-a}
"""


def test_validate_config_shows_the_violation_before_merge(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """validate --config reports an object outside the project at its file and line, and exits 1."""
    root = tmp_path / "repo"
    (root / "app").mkdir(parents=True)
    (root / "app" / "ok.yaml").write_text(cm("ok", {"v": "1"}))
    (root / "app" / "intruder.yaml").write_text(
        "# another team's namespace\n" + yaml.safe_dump({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "intruder", "namespace": "team-b"}, "data": {"v": "1"}}))
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET_FILE)
    code = main(["validate", "--format", "json", "--root", str(root), "--config", str(fleet)])
    report = json.loads(capsys.readouterr().out)
    found = [(f["rule"], f["file"], f["line"]) for f in report["findings"]
             if f["rule"] == "project-violation"]
    assert found == [("project-violation", "app/intruder.yaml", 2)]
    assert code == 1
