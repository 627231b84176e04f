"""`gitopsd sync` without a daemon: a dry run writes nothing, a sync prints its ChangeSet,
and an application defined only by an Argo CD Application file in Git syncs like one of the
fleet file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from gitopsd.core.inventory import TRACKING_ANNOTATION
from gitopsd.localcluster import LocalCluster


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gitopsd", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_dry_run_then_sync_print_changes(cluster_a: LocalCluster, make_namespace, git_repos,
                                         tmp_path: Path) -> None:
    """A dry run lists what would change and writes nothing; the sync applies it and prints the table."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"app/c.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                                               "metadata": {"name": "c"}, "data": {"k": "v"}})})
    fleet = {"fleet": "cli", "clusters": [{"name": "a", "kubeconfig": str(cluster_a.kubeconfig)}],
             "repositories": [{"name": "env", "url": str(repo.path)}],
             "applications": [{"name": "one", "source": {"repo": "env", "targetRevision": "main",
                                                         "path": "app"},
                               "destination": {"clusters": {"names": ["a"]}, "namespace": ns}}]}
    config = tmp_path / "fleet.yaml"
    config.write_text(yaml.safe_dump(fleet))
    common = ["--config", str(config), "--state-dir", str(tmp_path / "state"),
              "--server", "http://127.0.0.1:9"]
    dry = _cli("sync", "one", "--dry-run", *common)
    assert dry.returncode == 1, dry.stderr
    assert "would create" in dry.stdout
    assert cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/c")[0] == 404
    done = _cli("sync", "one", *common)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "one/a: Synced" in done.stdout
    assert "created" in done.stdout
    assert cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/c")[0] == 200
    again = _cli("sync", "one", "--dry-run", *common)
    assert again.returncode == 0, again.stdout + again.stderr


def test_sync_of_an_application_from_an_argocd_file(cluster_a: LocalCluster, make_namespace,
                                                    git_repos, tmp_path: Path) -> None:
    """An application that only an Argo CD Application file in the env repo defines is found,
    dry-run and synced by the local fallback, and what it applies is tracked as that application's."""
    ns = make_namespace(cluster_a)
    apps = git_repos.new("apps")
    apps.commit({"web/c.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                                               "metadata": {"name": "c"}, "data": {"k": "v"}})})
    env = git_repos.new("env")
    env.commit({"apps/web.yaml": yaml.safe_dump({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "web", "namespace": "argocd"},
        "spec": {"project": "default",
                 "source": {"repoURL": str(apps.path), "targetRevision": "main", "path": "web"},
                 "destination": {"name": "a", "namespace": ns}}})})
    fleet = {"fleet": "cli", "clusters": [{"name": "a", "kubeconfig": str(cluster_a.kubeconfig)}],
             "repositories": [{"name": "apps", "url": str(apps.path)},
                              {"name": "env", "url": str(env.path)}],
             "applications": [{"name": "env-apps",
                               "argocd": {"repo": "env", "targetRevision": "main",
                                          "path": "apps"}}]}
    config = tmp_path / "fleet.yaml"
    config.write_text(yaml.safe_dump(fleet))
    common = ["--config", str(config), "--state-dir", str(tmp_path / "state"),
              "--server", "http://127.0.0.1:9"]
    dry = _cli("sync", "web", "--dry-run", *common)
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert "web/a: dry run" in dry.stdout
    assert "would create" in dry.stdout
    assert cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/c")[0] == 404
    done = _cli("sync", "web", "--cluster", "a", *common)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "web/a: Synced" in done.stdout
    status, body = cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/c")
    assert status == 200
    assert body["metadata"]["annotations"][TRACKING_ANNOTATION].startswith("web:")
    typo = _cli("sync", "wbe", *common)
    assert typo.returncode == 2
    assert "unknown application 'wbe'; did you mean 'web'?" in typo.stderr
