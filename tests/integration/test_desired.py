"""Desired state from Git: Argo CD Application files as applications, and ``gitopsd diff``.

``expand_argocd_sources`` runs in-process against real Git over SSH;
``gitopsd diff`` runs as a subprocess against a real API server after a real
sync, before and after changes made behind gitopsd's back.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
import yaml

from gitopsd.app import Sources, connect_cluster
from gitopsd.config import parse_fleet
from gitopsd.edges.git import GitSource
from gitopsd.engine.argocd import expand_argocd_sources
from gitopsd.engine.sync import SyncRequest
from gitopsd.errors import GitError
from gitopsd.localcluster import LocalCluster
from gitopsd.model import Fleet, OutcomeKind
from tests.integration.test_render_cli import fixture_tree, run_cli, write_kubeconfig
from tests.testenv.git_fixtures import BareRepo, GitServerInfo, RepoFactory

ENV_FLEET = """\
fleet: argo
clusters:
  - {{name: prod, kubeconfig: prod.kubeconfig, labels: {{env: prod}}}}
  - {{name: staging, kubeconfig: staging.kubeconfig, labels: {{env: staging}}}}
repositories:
  - {{name: apps, url: "{apps}", sshKeyFile: "{key}", knownHostsFile: "{kh}"}}
  - {{name: env, url: "{env}", sshKeyFile: "{key}", knownHostsFile: "{kh}"}}
applications:
  - name: own
    source: {{repo: apps, path: apps/plain}}
    destination: {{clusters: {{matchLabels: {{env: staging}}}}, namespace: own}}
{entries}
"""


def env_fleet(tmp_path: Path, apps: BareRepo, env: BareRepo, server: GitServerInfo,
              entries: str) -> Fleet:
    write_kubeconfig(tmp_path / "prod.kubeconfig", "https://prod.example.invalid:6443")
    write_kubeconfig(tmp_path / "staging.kubeconfig", "https://staging.example.invalid:6443")
    text = ENV_FLEET.format(apps=apps.ssh_url, env=env.ssh_url, key=server.client_key_file,
                            kh=server.known_hosts_file, entries=entries)
    return parse_fleet(text, str(tmp_path / "fleet.yaml"))


def env_repos(git_repos: RepoFactory) -> tuple[BareRepo, BareRepo]:
    apps = git_repos.new("apps")
    apps.commit(fixture_tree("manifests"))
    env = git_repos.new("env")
    env.commit({p: t.replace("APPS_REPO_URL", apps.ssh_url)
                for p, t in fixture_tree("argocd").items()})
    return apps, env


def test_argocd_applications_join_the_fleet(tmp_path: Path, git_repos: RepoFactory,
                                            git_server: GitServerInfo) -> None:
    """Application files under the entry's path become applications with instances on the
    clusters their destinations name; other kinds and other directories are ignored."""
    apps, env = env_repos(git_repos)
    fleet = env_fleet(tmp_path, apps, env, git_server, "  - name: prod-apps\n"
                      "    argocd: {repo: env, targetRevision: main, path: clusters/prod/apps}")
    git = GitSource(tmp_path / "state", timeout=10)
    expanded = asyncio.run(expand_argocd_sources(fleet, git))
    assert sorted(a.name for a in expanded.applications) == ["frontend", "own", "reports"]
    assert [(i.app, i.cluster, i.source.path, i.namespace) for i in expanded.instances] == [
        ("frontend", "prod", "apps/web/overlays/prod", "frontend"),
        ("own", "staging", "apps/plain", "own"),
        ("reports", "prod", "charts/demo", "reports"),
    ]
    frontend = expanded.application("frontend")
    assert frontend.sync_policy.automated
    assert frontend.sync_policy.prune
    assert frontend.sync_policy.sync_options == ("CreateNamespace=true",)
    reports = expanded.application("reports")
    assert reports.source.helm.value_files == ("values-prod.yaml",)
    assert reports.source.helm.values == {"image": {"tag": "2.2.0"}}
    assert expanded.argocd_sources == fleet.argocd_sources


def test_argocd_problems_name_the_application_file_and_line(
        tmp_path: Path, git_repos: RepoFactory, git_server: GitServerInfo) -> None:
    """An Application with an unknown cluster is refused with its file and line in the env repo."""
    apps, env = env_repos(git_repos)
    bad = fixture_tree("argocd")["clusters/prod/apps/frontend.yaml"].replace(
        "APPS_REPO_URL", apps.ssh_url).replace(
        "server: https://prod.example.invalid:6443", "name: prd")
    env.commit({"clusters/prod/apps/frontend.yaml": bad})
    line = next(i for i, text in enumerate(bad.splitlines(), 1) if "name: prd" in text)
    fleet = env_fleet(tmp_path, apps, env, git_server, "  - name: prod-apps\n"
                      "    argocd: {repo: env, path: clusters/prod/apps, targetRevision: main}")
    expanded = asyncio.run(expand_argocd_sources(fleet, GitSource(tmp_path / "state", timeout=10)))
    (refused,) = [r for r in expanded.rejected_applications if r.name == "frontend"]
    assert refused.reasons == (
        f"env@main:clusters/prod/apps/frontend.yaml:{line}: spec.destination.name: "
        "unknown cluster 'prd'; did you mean 'prod'?",)
    assert "frontend" not in {a.name for a in expanded.applications}


def test_argocd_entries_fail_with_their_name(tmp_path: Path, git_repos: RepoFactory,
                                             git_server: GitServerInfo) -> None:
    """A missing path names the entry; an application defined by two entries is refused the second time."""
    apps, env = env_repos(git_repos)
    git = GitSource(tmp_path / "state", timeout=10)
    missing = env_fleet(tmp_path, apps, env, git_server, "  - name: lost\n"
                        "    argocd: {repo: env, targetRevision: main, path: clusters/qa}")
    with pytest.raises(GitError, match=r"argocd entry 'lost' \(env@main:clusters/qa\): "
                                       r"path clusters/qa does not exist"):
        asyncio.run(expand_argocd_sources(missing, git))
    twice = env_fleet(tmp_path, apps, env, git_server,
                      "  - {name: all, argocd: {repo: env, path: clusters}}\n"
                      "  - {name: prod, argocd: {repo: env, path: clusters/prod}}")
    expanded = asyncio.run(expand_argocd_sources(twice, git))
    refused = [r for r in expanded.rejected_applications if r.name == "frontend"]
    assert [r.origin for r in refused] == ["prod"]
    assert "application 'frontend' is also defined by argocd entry 'all'" in refused[0].reasons[0]
    assert [a.name for a in expanded.applications].count("frontend") == 1


# -- gitopsd diff against a real cluster --------------------------------------------

GIT_SECRET = "s3cret-from-git"
CHANGED_SECRET = "changed-out-of-band"


def diff_manifests() -> dict[str, str]:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
          "data": {"color": "blue", "size": "m"}}
    extra = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra"},
             "data": {"k": "v"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
              "type": "Opaque", "data": {"password": base64.b64encode(GIT_SECRET.encode()).decode()}}
    return {f"site/{n}.yaml": yaml.safe_dump(o) for n, o in
            (("settings", cm), ("extra", extra), ("creds", secret))}


async def sync_once(fleet_file: Path, state: Path, cluster: str) -> None:
    from gitopsd.config import load_fleet

    fleet = load_fleet(fleet_file)
    sources = Sources.build(fleet, state)
    conn = await connect_cluster(fleet, cluster, sources)
    try:
        instance = fleet.instances[0]
        outcome = (await conn.reconciler.reconcile(instance, fleet.application(instance.app),
                                                   SyncRequest(manual=True))).outcome
        assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    finally:
        await conn.close()
        await sources.close()


def test_diff_shows_nothing_after_sync_then_drift_with_secrets_masked(
        cluster_a: LocalCluster, make_namespace, git_repos: RepoFactory,
        git_server: GitServerInfo, tmp_path: Path) -> None:
    """After a sync ``gitopsd diff`` exits 0; after out-of-band edits and a file removed
    from Git it exits 1, showing the change, the prune, and Secret values only as masks."""
    ns = make_namespace(cluster_a)
    app = f"diff-{ns}"
    repo = git_repos.new("site")
    repo.commit(diff_manifests())
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump({
        "fleet": "difffleet",
        "clusters": [{"name": cluster_a.name, "kubeconfig": str(cluster_a.kubeconfig)}],
        "repositories": [{"name": "site", "url": repo.ssh_url,
                          "sshKeyFile": str(git_server.client_key_file),
                          "knownHostsFile": str(git_server.known_hosts_file)}],
        "applications": [{"name": app, "source": {"repo": "site", "path": "site"},
                          "destination": {"clusters": {"names": [cluster_a.name]},
                                          "namespace": ns}}]}))
    asyncio.run(sync_once(fleet_file, tmp_path / "sync-state", cluster_a.name))

    clean = run_cli("diff", app, "--config", fleet_file, "--state-dir", tmp_path / "s1")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "in sync: 3 objects" in clean.stdout

    for kind, name, body in (
            ("configmaps", "settings", {"data": {"color": "red"}}),
            ("secrets", "creds",
             {"data": {"password": base64.b64encode(CHANGED_SECRET.encode()).decode()}})):
        status, _ = cluster_a.request(
            "PATCH", f"/api/v1/namespaces/{ns}/{kind}/{name}?fieldManager=kubectl-edit", body,
            content_type="application/merge-patch+json")
        assert status == 200
    repo.commit({"site/extra.yaml": None})

    drift = run_cli("diff", app, "--config", fleet_file, "--state-dir", tmp_path / "s2")
    assert drift.returncode == 1, drift.stdout + drift.stderr
    out = drift.stdout
    assert f"# gitopsd diff: app={app} cluster={cluster_a.name} repo=site revision={repo.head()}" \
        in out
    assert f"OutOfSync: ConfigMap {ns}/settings" in out
    assert "-  color: red" in out
    assert "+  color: blue" in out
    assert f"OutOfSync: Secret {ns}/creds" in out
    assert "password: ++++++++" in out
    assert f"would prune: ConfigMap {ns}/extra" in out
    for value in (GIT_SECRET, CHANGED_SECRET):
        for shown in (value, base64.b64encode(value.encode()).decode()):
            assert shown not in out
            assert shown not in drift.stderr


def test_diff_of_an_unreachable_cluster_exits_2(tmp_path: Path, git_repos: RepoFactory,
                                               git_server: GitServerInfo) -> None:
    """A cluster that cannot be reached is an error for that instance, with exit code 2."""
    repo = git_repos.new("site")
    repo.commit(diff_manifests())
    kubeconfig = write_kubeconfig(tmp_path / "gone.kubeconfig", "https://127.0.0.1:1")
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(yaml.safe_dump({
        "fleet": "difffleet",
        "clusters": [{"name": "gone", "kubeconfig": str(kubeconfig)}],
        "repositories": [{"name": "site", "url": repo.ssh_url,
                          "sshKeyFile": str(git_server.client_key_file),
                          "knownHostsFile": str(git_server.known_hosts_file)}],
        "applications": [{"name": "site", "source": {"repo": "site", "path": "site"},
                          "destination": {"clusters": {"names": ["gone"]}, "namespace": "x"}}]}))
    done = run_cli("diff", "site", "--config", fleet_file, "--state-dir", tmp_path / "s",
                   timeout=90)
    assert done.returncode == 2
    assert done.stderr.startswith("gitopsd: diff app=site cluster=gone repo=site"), done.stderr
