"""Argo CD directory sources and the pre-write checks, against a real API server and real Git.

Jsonnet files are evaluated with top-level arguments, external variables and
a library path; ``directory.recurse``, ``include`` and ``exclude`` choose the
files, from the fleet file and from an Argo CD Application file; a sync whose
objects include a kind the cluster does not serve writes nothing, unless the
CustomResourceDefinition is part of the same sync.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gitopsd.config import applications_from_argocd, expand_instances
from gitopsd.engine.sync import SyncRequest
from gitopsd.localcluster import LocalCluster
from gitopsd.model import DirectoryParams, JsonnetParams, JsonnetVar, OutcomeKind, SyncPolicy
from tests.integration.synckit import cm, kit, make_fleet
from tests.integration.test_render_cli import documents, run_cli, write_kubeconfig

AUTO = SyncPolicy(automated=True, prune=True)

K_LIBSONNET = """\
{
  configmap(name, data):: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name }, data: data },
}
"""
MAIN_JSONNET = """\
local k = import 'k.libsonnet';
local extra = import 'extra.libsonnet';
function(tier, replicas) [
  k.configmap('settings-' + tier, {
    replicas: std.toString(replicas),
    region: std.extVar('region'),
    debug: std.toString(std.extVar('debug')),
    from: extra.from,
    owner: std.extVar('owner'),
  }),
]
"""
JSONNET_FILES: dict[str, str | None] = {
    "vendor/k.libsonnet": K_LIBSONNET,
    "apps/jsonnet/main.jsonnet": MAIN_JSONNET,
    "apps/jsonnet/extra.libsonnet": "{ from: 'beside the file' }\n",
    "apps/jsonnet/single.jsonnet": (
        "(import 'k.libsonnet').configmap('single', { region: std.extVar('region') })\n"),
    "apps/jsonnet/plain.yaml": cm("plain", {"k": "v"}),
    "apps/jsonnet/legacy.yaml.j2": "apiVersion: v1\nkind: ConfigMap\n{{ metadata }}\n",
}
JSONNET = DirectoryParams(jsonnet=JsonnetParams(
    tlas=(JsonnetVar("tier", "gold"), JsonnetVar("replicas", "1 + 2", code=True)),
    ext_vars=(JsonnetVar("region", "eu-west"), JsonnetVar("debug", "false", code=True),
              JsonnetVar("owner", "$ARGOCD_APP_NAME@${ARGOCD_APP_REVISION_SHORT}")),
    libs=("vendor",)))


def _get(cluster: LocalCluster, path: str) -> dict[str, Any]:
    status, body = cluster.request("GET", path)
    assert status == 200, f"GET {path}: {status} {body}"
    return body


def _names(cluster: LocalCluster, ns: str) -> set[str]:
    items = _get(cluster, f"/api/v1/namespaces/{ns}/configmaps")["items"]
    return {i["metadata"]["name"] for i in items if i["metadata"].get("labels", {}).get(
        "gitopsd.io/fleet")}


@pytest.mark.asyncio
async def test_jsonnet_with_tlas_ext_vars_and_a_library_path(cluster_a: LocalCluster, make_namespace,
                                                            git_repos, tmp_path: Path) -> None:
    """Jsonnet files sync with their variables (Argo CD's $ARGOCD_APP_* substituted) and imports;
    a templated YAML file is a warning."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit(JSONNET_FILES)
    async with kit(cluster_a, repo, tmp_path, app="jsonnet", path="apps/jsonnet", namespace=ns,
                   policy=AUTO, directory=JSONNET) as k:
        outcome = await k.sync()
        assert outcome.kind is OutcomeKind.SYNCED, outcome.message
        assert _names(cluster_a, ns) == {"settings-gold", "single", "plain"}
        assert _get(cluster_a, f"/api/v1/namespaces/{ns}/configmaps/settings-gold")["data"] == {
            "replicas": "3", "region": "eu-west", "debug": "false", "from": "beside the file",
            "owner": f"jsonnet@{repo.head()[:7]}"}
        assert [w for w in outcome.warnings if "apps/jsonnet/legacy.yaml.j2 is not read" in w]

        repo.commit({"apps/jsonnet/broken.jsonnet": "{\n  a: std.extVar('missing'),\n}\n"})
        failed = await k.sync()
        assert failed.kind is OutcomeKind.STALLED  # a source error: retrying cannot help
        assert f"env@{repo.head()[:12]}:apps/jsonnet" in failed.message
        assert "apps/jsonnet/broken.jsonnet:2:" in failed.message
        assert "missing" in failed.message


@pytest.mark.asyncio
async def test_jsonnet_render_cli_prints_objects_and_warnings(git_repos, tmp_path: Path) -> None:
    """``gitopsd render`` evaluates the Jsonnet files and prints the unread file as a warning."""
    repo = git_repos.new()
    repo.commit(JSONNET_FILES)
    write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:1")
    directory = {"jsonnet": {"tlas": [{"name": "tier", "value": "gold"},
                                      {"name": "replicas", "value": "1 + 2", "code": True}],
                             "extVars": [{"name": "region", "value": "eu-west"},
                                         {"name": "debug", "value": "false", "code": True},
                                         {"name": "owner", "value": "$ARGOCD_APP_NAME"}],
                             "libs": ["vendor"]}}
    fleet = {"fleet": "render", "clusters": [{"name": "c", "kubeconfig": "kubeconfig"}],
             "repositories": [{"name": "env", "url": repo.file_url}],
             "applications": [{"name": "jsonnet", "source": {
                 "repo": "env", "targetRevision": "main", "path": "apps/jsonnet",
                 "directory": directory},
                 "destination": {"clusters": {"names": ["c"]}, "namespace": "demo"}}]}
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(fleet))
    done = run_cli("render", "jsonnet", "--config", tmp_path / "fleet.yaml",
                   "--state-dir", tmp_path / "state")
    assert done.returncode == 0, done.stderr
    names = sorted(d["metadata"]["name"] for d in documents(done.stdout))
    assert names == ["plain", "settings-gold", "single"]
    settings = next(d for d in documents(done.stdout) if d["metadata"]["name"] == "settings-gold")
    assert settings["data"]["owner"] == "jsonnet"
    assert "\n# warning: env@" in done.stdout
    assert "apps/jsonnet/legacy.yaml.j2 is not read" in done.stdout
    assert ": warning: env@" in done.stderr
    assert "legacy.yaml.j2 is not read" in done.stderr


NESTED: dict[str, str | None] = {
    "app/top.yaml": cm("top", {"k": "v"}),
    "app/skip-me.yaml": cm("skip-me", {"k": "v"}),
    "app/sub/inner.yaml": cm("inner", {"k": "v"}),
    "app/sub/deep/deeper.yaml": cm("deeper", {"k": "v"}),
    "app/other/other.json": '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}}',
}


@pytest.mark.asyncio
async def test_fleet_file_directory_reads_top_only_unless_recurse(cluster_a: LocalCluster,
                                                                 make_namespace, git_repos,
                                                                 tmp_path: Path) -> None:
    """By default only the top directory syncs; recurse, include and exclude choose the rest."""
    top_ns, chosen_ns = make_namespace(cluster_a), make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit(NESTED)
    async with kit(cluster_a, repo, tmp_path / "top", app="top", path="app", namespace=top_ns,
                   policy=AUTO) as k:
        outcome = await k.sync()
        assert outcome.kind is OutcomeKind.SYNCED, outcome.message
        assert _names(cluster_a, top_ns) == {"top", "skip-me"}
        assert [w for w in outcome.warnings if "app/sub/ holds 2 manifest files" in w]
        assert [w for w in outcome.warnings if "app/other/ holds 1 manifest file" in w]
    options = DirectoryParams(recurse=True, include="{*.yaml,other/*}", exclude="{skip-*,sub/deep/*}")
    async with kit(cluster_a, repo, tmp_path / "chosen", app="chosen", path="app",
                   namespace=chosen_ns, policy=AUTO, directory=options) as k:
        outcome = await k.sync()
        assert outcome.kind is OutcomeKind.SYNCED, outcome.message
        assert _names(cluster_a, chosen_ns) == {"top", "inner", "other"}
        assert outcome.warnings == ()


@pytest.mark.asyncio
async def test_argocd_application_directory_options(cluster_a: LocalCluster, make_namespace,
                                                    git_repos, tmp_path: Path) -> None:
    """An Argo CD Application's spec.source.directory chooses the files its sync applies."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit(NESTED)
    fleet, _ = make_fleet(cluster_a, repo, app="unused", path=".", namespace=ns, policy=AUTO)
    application = yaml.safe_dump({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "argo-dir"},
        "spec": {"source": {"repoURL": str(repo.path), "targetRevision": "main", "path": "app",
                            "directory": {"recurse": True, "exclude": "{sub/deep/*,*.json}"}},
                 "destination": {"server": cluster_a.server, "namespace": ns},
                 "syncPolicy": {"automated": {"prune": True}}}})
    (app,) = applications_from_argocd({"argo-dir.yaml": application}, fleet, "")
    (instance,) = expand_instances(fleet, [app])
    async with kit(cluster_a, repo, tmp_path, app="unused", path=".", namespace=ns,
                   policy=AUTO) as k:
        done = await k.conn.reconciler.reconcile(instance, app, SyncRequest())
        assert done.kind is OutcomeKind.SYNCED, done.outcome.message
        assert _names(cluster_a, ns) == {"top", "skip-me", "inner"}


def _crd(group: str) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"gadgets.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": {
                                       "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def _gadget(group: str, name: str, options: str = "") -> str:
    annotations = {"argocd.argoproj.io/sync-wave": "1"}
    if options:
        annotations["argocd.argoproj.io/sync-options"] = options
    return yaml.safe_dump({"apiVersion": f"{group}/v1", "kind": "Gadget",
                           "metadata": {"name": name, "annotations": annotations},
                           "spec": {"size": 1}})


HOOK = yaml.safe_dump({
    "apiVersion": "batch/v1", "kind": "Job",
    "metadata": {"name": "migrate", "annotations": {"argocd.argoproj.io/hook": "PreSync"}},
    "spec": {"template": {"spec": {"restartPolicy": "Never",
                                   "containers": [{"name": "c", "image": "busybox:1"}]}}}})


@pytest.mark.asyncio
async def test_unserved_kind_fails_the_sync_before_any_write(cluster_a: LocalCluster,
                                                            make_namespace, git_repos,
                                                            tmp_path: Path) -> None:
    """Custom resources of a CRD that is not installed fail the sync with nothing written."""
    ns = make_namespace(cluster_a)
    group = f"g{ns.replace('-', '')}.example.com"
    repo = git_repos.new()
    repo.commit({"app/early.yaml": cm("early", {"k": "v"}, {"argocd.argoproj.io/sync-wave": "-1"}),
                 "app/hook.yaml": HOOK,
                 "app/gadgets.yaml": _gadget(group, "g1") + "---\n" + _gadget(group, "g2"),
                 "app/elsewhere.yaml": yaml.safe_dump({
                     "apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "lost", "namespace": f"{ns}-absent"}})})
    async with kit(cluster_a, repo, tmp_path, app="unserved", path="app", namespace=ns,
                   policy=AUTO) as k:
        outcome = await k.sync()
        assert outcome.kind is OutcomeKind.FAILED
        message = outcome.message
        assert message.startswith("sync refused before any write: 3 objects cannot be applied")
        where = f"env@{repo.head()[:12]}:app/gadgets.yaml"
        assert f"Gadget.{group} {ns}/g1: the cluster serves no Gadget in {group}/v1 ({where}:1)" \
            in message
        assert f"Gadget.{group} {ns}/g2: the cluster serves no Gadget" in message
        assert f"ConfigMap {ns}-absent/lost: namespace '{ns}-absent' does not exist" in message
        assert k.writes == []
    assert cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/early")[0] == 404
    assert cluster_a.request("GET", f"/apis/batch/v1/namespaces/{ns}/jobs")[1]["items"] == []
    assert cluster_a.request(
        "GET", "/api/v1/namespaces/gitopsd-system/configmaps/gitopsd-inv-unserved")[0] == 404


@pytest.mark.asyncio
async def test_skip_dry_run_with_the_crd_in_the_same_sync_succeeds(cluster_a: LocalCluster,
                                                                  make_namespace, git_repos,
                                                                  tmp_path: Path) -> None:
    """SkipDryRunOnMissingResource with the CRD in the same sync applies the CRD, then its objects."""
    ns = make_namespace(cluster_a)
    group = f"g{ns.replace('-', '')}.example.com"
    repo = git_repos.new()
    repo.commit({"app/crd.yaml": yaml.safe_dump(_crd(group)),
                 "app/gadget.yaml": _gadget(group, "g1", "SkipDryRunOnMissingResource=true")})
    policy = SyncPolicy(automated=True, sync_options=("SkipDryRunOnMissingResource=true",))
    async with kit(cluster_a, repo, tmp_path, app="skipdry", path="app", namespace=ns,
                   policy=policy) as k:
        outcome = await k.sync()
        assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert _get(cluster_a, f"/apis/{group}/v1/namespaces/{ns}/gadgets/g1")["spec"] == {"size": 1}
