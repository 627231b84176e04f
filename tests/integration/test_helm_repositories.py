"""Helm repositories against a real API server: chart dependencies pulled from a served chart
repository and from a local OCI registry, charts as sources (fleet and Argo CD forms), a chart
version missing from the registry failing only its application, and refused credentials
reported without the password."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitopsd.app import Sources, connect_cluster
from gitopsd.engine.sync import SyncRequest
from gitopsd.localcluster import LocalCluster
from gitopsd.model import (
    AppInstance,
    Application,
    Cluster,
    ClusterSelector,
    Destination,
    Fleet,
    Outcome,
    OutcomeKind,
    Repository,
    Source,
    SyncPolicy,
)
from gitopsd.model.helmrepos import HelmRepository
from tests.integration.daemonproc import DaemonProc, fleet_doc, poll_until
from tests.testenv.helmrepo import ChartRepo, serve_charts, write_chart
from tests.testenv.ociregistry import OciRegistry, serve_registry

PASSWORD = "s3cret-chart-pass"
CM = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  chart: "{{{{ .Chart.Name }}}}-{{{{ .Chart.Version }}}}"
  greeting: "{{{{ .Values.greeting }}}}"
"""


@pytest.fixture
def charts(tmp_path: Path) -> Iterator[ChartRepo]:
    """A chart repository with basic auth holding lib 1.0.0 and 1.1.0 and web 0.1.0."""
    src = tmp_path / "charts-src"
    made = [write_chart(src / f"lib-{v}", "lib", v, {
        "templates/cm.yaml": CM.format(name="lib"), "values.yaml": "greeting: from-lib\n"})
        for v in ("1.0.0", "1.1.0")]
    made.append(write_chart(src / "web-0.1.0", "web", "0.1.0", {
        "templates/cm.yaml": CM.format(name="web"), "values.yaml": "greeting: default\n"}))
    with serve_charts(tmp_path / "served", made, username="deployer", password=PASSWORD) as repo:
        yield repo


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[OciRegistry]:
    """A plain-HTTP OCI registry on loopback holding lib 1.0.0 and 1.1.0 and web 0.1.0 under
    ``charts``, pushed with the real helm."""
    with serve_registry(tmp_path / "registry") as running:
        src = tmp_path / "oci-src"
        for v in ("1.0.0", "1.1.0"):
            running.push(write_chart(src / f"lib-{v}", "lib", v, {
                "templates/cm.yaml": CM.format(name="lib"), "values.yaml": "greeting: lib\n"}))
        running.push(write_chart(src / "web-0.1.0", "web", "0.1.0", {
            "templates/cm.yaml": CM.format(name="web"), "values.yaml": "greeting: default\n"}))
        yield running


@pytest.fixture
def secure_registry(tmp_path: Path) -> Iterator[OciRegistry]:
    """An HTTPS OCI registry with basic auth on loopback holding web 0.1.0 under ``charts``."""
    with serve_registry(tmp_path / "secure-registry", secure=True) as running:
        running.push(write_chart(tmp_path / "secure-src", "web", "0.1.0", {
            "templates/cm.yaml": CM.format(name="web"), "values.yaml": "greeting: default\n"}))
        yield running


def _helm_repo(tmp_path: Path, repo: ChartRepo, password: str = PASSWORD) -> HelmRepository:
    (tmp_path / "user").write_text("deployer\n")
    (tmp_path / "password").write_text(password + "\n")
    return HelmRepository(name="charts", url=repo.url, username_file=str(tmp_path / "user"),
                          password_file=str(tmp_path / "password"), ca_file=str(repo.ca_file))


def _fleet(cluster: LocalCluster, source: Source, ns: str, helm_repo: HelmRepository,
           git_url: str = "") -> tuple[Fleet, Application]:
    app = Application(name=f"app-{ns}", source=source,
                      destination=Destination(ClusterSelector(names=(cluster.name,)), ns),
                      sync_policy=SyncPolicy(automated=True, prune=True))
    repos = (Repository(name="env", url=git_url),) if git_url else ()
    fleet = Fleet(name="testfleet", clusters=(Cluster(name=cluster.name,
                                                      kubeconfig=str(cluster.kubeconfig),
                                                      server=cluster.server),),
                  repositories=repos, applications=(app,),
                  instances=(AppInstance(app.name, cluster.name, source, ns),),
                  helm_repositories=(helm_repo,))
    return fleet, app


async def _sync(cluster: LocalCluster, fleet: Fleet, app: Application, state: Path) -> Outcome:
    sources = Sources.build(fleet, state)
    conn = await connect_cluster(fleet, cluster.name, sources, health_poll=0.2)
    try:
        done = await conn.reconciler.reconcile(fleet.instances[0], app, SyncRequest())
        return done.outcome
    finally:
        await conn.close()
        await sources.close()


def _data(cluster: LocalCluster, ns: str, name: str) -> dict[str, Any]:
    status, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/{name}")
    assert status == 200, f"{name}: {status} {body}"
    data: dict[str, Any] = body["data"]
    return data


@pytest.mark.asyncio
async def test_a_dependency_from_the_chart_repository_renders_and_syncs(
        cluster_a: LocalCluster, make_namespace, git_repos, charts: ChartRepo,
        tmp_path: Path) -> None:
    """A chart in Git whose dependency is only in the chart repository syncs both charts'
    objects, at the version Chart.lock pins rather than the newest the range allows."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    chart_yaml = ("apiVersion: v2\nname: app\nversion: 0.3.0\ndependencies:\n"
                  f"  - {{name: lib, version: '^1.0.0', repository: '{charts.url}/'}}\n")
    lock = (f"dependencies:\n- {{name: lib, version: 1.0.0, repository: '{charts.url}/'}}\n"
            "digest: sha256:0\ngenerated: '2026-01-01T00:00:00Z'\n")
    repo.commit({"app/Chart.yaml": chart_yaml, "app/Chart.lock": lock,
                 "app/values.yaml": "greeting: hi\nlib: {greeting: from-parent}\n",
                 "app/templates/cm.yaml": CM.format(name="app")})
    source = Source(repo="env", target_revision="main", path="app")
    fleet, app = _fleet(cluster_a, source, ns, _helm_repo(tmp_path, charts), repo.file_url)
    outcome = await _sync(cluster_a, fleet, app, tmp_path / "state")
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert _data(cluster_a, ns, "app") == {"chart": "app-0.3.0", "greeting": "hi"}
    assert _data(cluster_a, ns, "lib") == {"chart": "lib-1.0.0", "greeting": "from-parent"}
    cached = sorted(p.name for p in (tmp_path / "state" / "helm" / "charts").rglob("*.tgz"))
    assert cached == ["lib-1.0.0.tgz"]
    for path in (tmp_path / "state").rglob("*"):
        assert PASSWORD not in str(path)
        assert not path.is_file() or PASSWORD.encode() not in path.read_bytes()


@pytest.mark.asyncio
async def test_a_chart_source_syncs_and_follows_its_range(
        cluster_a: LocalCluster, make_namespace, charts: ChartRepo, tmp_path: Path) -> None:
    """A chart source syncs the newest version its range allows, and a version published
    later that the range allows is picked up by the next sync."""
    ns = make_namespace(cluster_a)
    source = Source(repo="charts", target_revision="~0.1.0", chart="web")
    source = replace(source, helm=replace(source.helm, values={"greeting": "inline"}))
    fleet, app = _fleet(cluster_a, source, ns, _helm_repo(tmp_path, charts))
    first = await _sync(cluster_a, fleet, app, tmp_path / "state")
    assert first.kind is OutcomeKind.SYNCED, first.message
    assert first.revision.startswith("0.1.0@sha256:")
    assert _data(cluster_a, ns, "web") == {"chart": "web-0.1.0", "greeting": "inline"}
    charts.publish(write_chart(tmp_path / "later", "web", "0.1.1", {
        "templates/cm.yaml": CM.format(name="web"), "values.yaml": "greeting: default\n"}))
    second = await _sync(cluster_a, fleet, app, tmp_path / "state")
    assert second.kind is OutcomeKind.SYNCED, second.message
    assert second.revision.startswith("0.1.1@sha256:")
    assert _data(cluster_a, ns, "web") == {"chart": "web-0.1.1", "greeting": "inline"}


@pytest.mark.asyncio
async def test_refused_credentials_name_the_repository_not_the_password(
        cluster_a: LocalCluster, make_namespace, charts: ChartRepo, tmp_path: Path) -> None:
    """A wrong password fails the sync with a message naming the repository and the HTTP
    refusal, and the password appears nowhere in it."""
    ns = make_namespace(cluster_a)
    wrong = "not-the-" + PASSWORD
    source = Source(repo="charts", target_revision="0.1.0", chart="web")
    fleet, app = _fleet(cluster_a, source, ns, _helm_repo(tmp_path, charts, wrong))
    outcome = await _sync(cluster_a, fleet, app, tmp_path / "state")
    assert outcome.kind is not OutcomeKind.SYNCED
    assert f"Helm repository 'charts' ({charts.url})" in outcome.message
    assert "HTTP 401" in outcome.message
    assert wrong not in outcome.message
    assert "/index.yaml" in charts.requests



@pytest.mark.asyncio
async def test_a_dependency_from_the_oci_registry_renders_and_syncs(
        cluster_a: LocalCluster, make_namespace, git_repos, registry: OciRegistry,
        tmp_path: Path) -> None:
    """A chart in Git whose dependency's repository is an oci:// registry path syncs both
    charts' objects, the dependency at the newest version its range allows."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    chart_yaml = ("apiVersion: v2\nname: app\nversion: 0.4.0\ndependencies:\n"
                  f"  - {{name: lib, version: '~1.0.0 || ~1.1.0', "
                  f"repository: '{registry.charts_url}'}}\n")
    repo.commit({"app/Chart.yaml": chart_yaml,
                 "app/values.yaml": "greeting: hi\nlib: {greeting: from-parent}\n",
                 "app/templates/cm.yaml": CM.format(name="app")})
    source = Source(repo="env", target_revision="main", path="app")
    lab = HelmRepository(name="lab", url=registry.charts_url, plain_http=True)
    fleet, app = _fleet(cluster_a, source, ns, lab, repo.file_url)
    outcome = await _sync(cluster_a, fleet, app, tmp_path / "state")
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert _data(cluster_a, ns, "app") == {"chart": "app-0.4.0", "greeting": "hi"}
    assert _data(cluster_a, ns, "lib") == {"chart": "lib-1.1.0", "greeting": "from-parent"}
    cached = sorted(p.name for p in (tmp_path / "state" / "helm" / "charts").rglob("*.tgz"))
    assert cached == ["lib-1.1.0.tgz"]
    assert registry.tls_attempts == 0


@pytest.mark.asyncio
async def test_a_registry_without_tls_needs_plain_http(
        cluster_a: LocalCluster, make_namespace, registry: OciRegistry, tmp_path: Path) -> None:
    """The same registry entry without plainHTTP is tried over TLS only, and the failure names
    the repository and the chart version asked for."""
    ns = make_namespace(cluster_a)
    source = Source(repo="lab", target_revision="0.1.0", chart="web")
    lab = HelmRepository(name="lab", url=registry.charts_url)
    fleet, app = _fleet(cluster_a, source, ns, lab)
    outcome = await _sync(cluster_a, fleet, app, tmp_path / "state")
    assert outcome.kind is not OutcomeKind.SYNCED
    assert f"Helm repository 'lab' ({registry.charts_url})" in outcome.message
    assert "chart web version 0.1.0" in outcome.message
    assert registry.tls_attempts > 0
    status, _ = cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/web")
    assert status == 404


def _argo_chart_app(name: str, registry: OciRegistry, chart: str, version: str, ns: str, *,
                    native: bool = False) -> str:
    """An Argo CD Application whose source is CHART at VERSION from REGISTRY's ``charts``:
    ``repoURL`` without a scheme beside ``chart`` (Argo CD's Helm OCI source), or when NATIVE
    ``oci://.../CHART`` with ``path: .`` (Argo CD's OCI source)."""
    source: dict[str, Any] = {"repoURL": f"{registry.host}/charts", "chart": chart}
    if native:
        source = {"repoURL": f"{registry.charts_url}/{chart}", "path": "."}
    return yaml.safe_dump({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"project": "default",
                 "source": {**source, "targetRevision": version,
                            "helm": {"valuesObject": {"greeting": name}}},
                 "destination": {"name": "a", "namespace": ns},
                 "syncPolicy": {"automated": {"prune": True}}}})


def test_chart_sources_from_the_oci_registry_sync_and_a_missing_version_fails_alone(
        cluster_a: LocalCluster, make_namespace, git_repos, registry: OciRegistry,
        tmp_path: Path) -> None:
    """An Argo CD chart source and a fleet chart source from the registry deploy their charts,
    while an Application (in Argo CD's native OCI form) asking for a version the registry
    lacks fails with a message naming the repository, the chart and the version."""
    ns = make_namespace(cluster_a)
    web, gone, lib = f"{ns}-web", f"{ns}-gone", f"{ns}-lib"
    repo = git_repos.new()
    repo.commit({"argo/web.yaml": _argo_chart_app(web, registry, "web", "0.1.0", ns),
                 "argo/gone.yaml": _argo_chart_app(gone, registry, "web", "9.9.9", ns,
                                                   native=True)})
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(repo.path), poll="1s", apps=[
        {"name": "argo", "argocd": {"repo": "env", "targetRevision": "main", "path": "argo"}},
        {"name": lib, "source": {"helmRepo": "lab", "chart": "lib", "version": "^1.0.0"},
         "destination": {"clusters": {"names": ["a"]}, "namespace": ns},
         "syncPolicy": {"automated": {"prune": True}}}])
    fleet["helmRepositories"] = [{"name": "lab", "url": registry.charts_url, "plainHTTP": True}]
    d = DaemonProc(fleet, tmp_path / "daemon").start()
    try:
        def deployed() -> bool:
            return (_maybe(cluster_a, ns, "web") == {"chart": "web-0.1.0", "greeting": web}
                    and _maybe(cluster_a, ns, "lib") == {"chart": "lib-1.1.0", "greeting": "lib"})
        assert poll_until(deployed, 90), d.logs()

        def failed() -> dict[str, Any] | None:
            row = d.instance(gone, "a")
            return row if row and (row.get("last_sync") or {}).get("message") else None
        row = poll_until(failed, 60)
        assert row is not None, d.logs()
        message = row["last_sync"]["message"]
        assert row["last_sync"]["result"] != "Synced"
        assert f"Helm repository 'lab' ({registry.charts_url})" in message
        assert "chart web version 9.9.9" in message
        assert "not found" in message
        assert (d.instance(web, "a") or {}).get("sync_status") == "Synced"
        assert (d.instance(lib, "a") or {}).get("revision", "").startswith("1.1.0@sha256:")
        assert registry.tls_attempts == 0
    finally:
        assert d.stop() == 0


def _maybe(cluster: LocalCluster, ns: str, name: str) -> dict[str, Any] | None:
    status, body = cluster.request("GET", f"/api/v1/namespaces/{ns}/configmaps/{name}")
    return dict(body["data"]) if status == 200 else None


def test_registry_credentials_reach_the_registry_and_nowhere_else(
        cluster_a: LocalCluster, make_namespace, secure_registry: OciRegistry,
        tmp_path: Path) -> None:
    """A chart source from an HTTPS registry with basic auth syncs with the entry's credentials,
    one with a wrong password fails naming its repository, and neither password is in the
    daemon's log, its state directory or a status message."""
    ns = make_namespace(cluster_a)
    wrong = "not-" + secure_registry.password
    files = tmp_path / "creds"
    files.mkdir()
    (files / "user").write_text(secure_registry.username + "\n")
    (files / "good").write_text(secure_registry.password + "\n")
    (files / "bad").write_text(wrong + "\n")
    entry = {"url": secure_registry.charts_url, "usernameFile": str(files / "user"),
             "caFile": str(secure_registry.ca_file)}
    good, bad = f"{ns}-good", f"{ns}-bad"
    fleet = fleet_doc([("a", cluster_a.kubeconfig, {})], str(tmp_path), apps=[
        {"name": name, "source": {"helmRepo": repo, "chart": "web", "version": "0.1.0"},
         "destination": {"clusters": {"names": ["a"]}, "namespace": ns},
         "syncPolicy": {"automated": {"prune": True}}}
        for name, repo in ((good, "private"), (bad, "refused"))])
    fleet["repositories"] = []
    fleet["helmRepositories"] = [{"name": "private", **entry, "passwordFile": str(files / "good")},
                                 {"name": "refused", **entry, "passwordFile": str(files / "bad")}]
    d = DaemonProc(fleet, tmp_path / "daemon").start()
    try:
        assert poll_until(lambda: _maybe(cluster_a, ns, "web"), 60), d.logs()

        def failed() -> str:
            row = d.instance(bad, "a") or {}
            return str((row.get("last_sync") or {}).get("message") or "")
        message = poll_until(failed, 60)
        assert message, d.logs()
        assert f"Helm repository 'refused' ({secure_registry.charts_url})" in message
        assert "chart web version 0.1.0" in message
        assert "401" in message
        assert (d.instance(good, "a") or {}).get("sync_status") == "Synced"
        rows = json.dumps(d.get("/api/v1/instances"))
    finally:
        assert d.stop() == 0
    for secret in (secure_registry.password, wrong):
        assert secret not in rows
        assert secret not in d.logs()
        for path in (tmp_path / "daemon" / "state").rglob("*"):
            assert secret not in str(path)
            assert not path.is_file() or secret.encode() not in path.read_bytes()
