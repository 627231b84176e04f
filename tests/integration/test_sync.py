"""Syncs against a real API server: apply, no-op, drift, prune, ownership, CRDs, guards.

Prunes use Argo CD's default foreground propagation, which needs the garbage
collector, so those tests run on the cluster with a controller-manager.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from gitopsd.localcluster import LocalCluster
from gitopsd.model import ChangeAction, IgnoreDifference, OutcomeKind, SyncPolicy
from tests.integration.synckit import cm, kit

AUTO = SyncPolicy(automated=True, prune=True, self_heal=True)


def _gone(cluster: LocalCluster, path: str, within: float = 20.0) -> bool:
    """True once PATH answers 404 (foreground deletion finishes through the garbage collector)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if cluster.request("GET", path)[0] == 404:
            return True
        time.sleep(0.2)
    return False


def _get(cluster: LocalCluster, path: str) -> dict:
    status, body = cluster.request("GET", path)
    assert status == 200, f"GET {path}: {status} {body}"
    return body


@pytest.mark.asyncio
async def test_first_sync_applies_then_noop_writes_nothing(cluster_a: LocalCluster, make_namespace,
                                                         git_repos, tmp_path: Path) -> None:
    """A first sync creates the objects with ownership marks; a second one writes nothing."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"app/one.yaml": cm("one", {"k": "v"}), "app/two.yaml": cm("two", {"k": "v"}),
                 "app/README.md": "not a manifest"})
    async with kit(cluster_a, repo, tmp_path, app="noop", path="app", namespace=ns, policy=AUTO) as k:
        first = await k.sync()
        assert first.kind is OutcomeKind.SYNCED, first.message
        assert {c.action for c in first.changes} == {ChangeAction.CREATED}
        live = _get(cluster_a, f"/api/v1/namespaces/{ns}/configmaps/one")
        assert live["metadata"]["labels"]["gitopsd.io/fleet"] == "testfleet"
        assert live["metadata"]["annotations"]["gitopsd.io/tracking-id"] == f"noop:/ConfigMap:{ns}/one"
        assert any(m["manager"] == "gitopsd" for m in live["metadata"]["managedFields"])
        k.writes.clear()
        second = await k.sync()
        assert second.kind is OutcomeKind.SYNCED
        assert k.writes == []


@pytest.mark.asyncio
async def test_out_of_band_change_is_out_of_sync_then_restored(cluster_a: LocalCluster, make_namespace,
                                                               git_repos, tmp_path: Path) -> None:
    """A change by another field manager shows as OutOfSync without automation and is restored by sync."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({"app/c.yaml": cm("c", {"color": "blue"})})
    async with kit(cluster_a, repo, tmp_path, app="drift", path="app", namespace=ns,
                   policy=SyncPolicy(automated=False)) as k:
        assert (await k.sync(manual=True)).kind is OutcomeKind.SYNCED
        patch = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns},
                 "data": {"color": "red"}}
        status, _ = cluster_a.request(
            "PATCH", f"/api/v1/namespaces/{ns}/configmaps/c?fieldManager=kubectl-edit", patch,
            content_type="application/merge-patch+json")
        assert status == 200
        drifted = await k.sync()
        assert drifted.kind is OutcomeKind.OUT_OF_SYNC
        assert _get(cluster_a, f"/api/v1/namespaces/{ns}/configmaps/c")["data"]["color"] == "red"
        restored = await k.sync(manual=True)
        assert restored.kind is OutcomeKind.SYNCED
        assert [c.action for c in restored.changes] == [ChangeAction.CONFIGURED]
        assert _get(cluster_a, f"/api/v1/namespaces/{ns}/configmaps/c")["data"]["color"] == "blue"


@pytest.mark.asyncio
async def test_replace_keeps_the_object_and_force_recreates_it(cluster_a: LocalCluster, make_namespace,
                                                               git_repos, tmp_path: Path) -> None:
    """Replace=true updates an object in place (same uid); with Force=true it is deleted and created anew."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    options = "argocd.argoproj.io/sync-options"
    repo.commit({"app/r.yaml": cm("r", {"v": "1"}, {options: "Replace=true"}),
                 "app/f.yaml": cm("f", {"v": "1"}, {options: "Replace=true,Force=true"})})

    def uid(name: str) -> str:
        return str(_get(cluster_a, f"/api/v1/namespaces/{ns}/configmaps/{name}")["metadata"]["uid"])

    async with kit(cluster_a, repo, tmp_path, app="replace", path="app", namespace=ns, policy=AUTO) as k:
        assert (await k.sync()).kind is OutcomeKind.SYNCED
        before = {n: uid(n) for n in ("r", "f")}
        repo.commit({"app/r.yaml": cm("r", {"v": "2"}, {options: "Replace=true"}),
                     "app/f.yaml": cm("f", {"v": "2"}, {options: "Replace=true,Force=true"})})
        second = await k.sync()
        assert second.kind is OutcomeKind.SYNCED, second.message
        assert {c.key.name: c.action for c in second.changes} == {
            "r": ChangeAction.CONFIGURED, "f": ChangeAction.CONFIGURED}
        for name in ("r", "f"):
            assert _get(cluster_a, f"/api/v1/namespaces/{ns}/configmaps/{name}")["data"] == {"v": "2"}
        assert uid("r") == before["r"]
        assert uid("f") != before["f"]


@pytest.mark.asyncio
async def test_jq_path_ignored_field_changed_elsewhere_stays_in_sync(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """A field a jqPathExpressions rule names may change in the cluster; any other change is drift,
    and a sync restores it, keeping the ignored field's live value only with RespectIgnoreDifferences."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    ports = [{"name": "http", "port": 80, "targetPort": 80},
             {"name": "metrics", "port": 9090, "targetPort": 9090}]
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"selector": {"app": "web"}, "ports": ports}}
    repo.commit({"app/svc.yaml": yaml.safe_dump(service)})
    rule = IgnoreDifference(kind="Service", jq_path_expressions=(
        '.spec.ports[] | select(.name == "metrics") | .targetPort',))
    path = f"/api/v1/namespaces/{ns}/services/web?fieldManager=kubectl-edit"

    def set_ports(http: int, metrics: int) -> None:
        body = {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": http},
                                   {"name": "metrics", "port": 9090, "targetPort": metrics}]}}
        status, answer = cluster_a.request("PATCH", path, body, content_type="application/merge-patch+json")
        assert status == 200, answer

    async with kit(cluster_a, repo, tmp_path, app="jq", path="app", namespace=ns,
                   policy=SyncPolicy(automated=False), ignore=(rule,)) as k:
        assert (await k.sync(manual=True)).kind is OutcomeKind.SYNCED
        set_ports(80, 9191)
        k.writes.clear()
        kept = await k.sync()
        assert kept.kind is OutcomeKind.SYNCED, kept.message
        assert k.writes == []
        set_ports(8080, 9191)
        drifted = await k.sync()
        assert drifted.kind is OutcomeKind.OUT_OF_SYNC
        live = _get(cluster_a, f"/api/v1/namespaces/{ns}/services/web")["spec"]["ports"]
        assert [p["targetPort"] for p in live] == [8080, 9191]
        restored = await k.sync(manual=True)
        assert restored.kind is OutcomeKind.SYNCED
        live = _get(cluster_a, f"/api/v1/namespaces/{ns}/services/web")["spec"]["ports"]
        assert [p["targetPort"] for p in live] == [80, 9090], "without RespectIgnoreDifferences, Git wins"
    set_ports(8080, 9191)
    async with kit(cluster_a, repo, tmp_path / "respect", app="jq", path="app", namespace=ns,
                   policy=SyncPolicy(automated=False, sync_options=("RespectIgnoreDifferences=true",)),
                   ignore=(rule,)) as k:
        restored = await k.sync(manual=True)
        assert restored.kind is OutcomeKind.SYNCED, restored.message
        live = _get(cluster_a, f"/api/v1/namespaces/{ns}/services/web")["spec"]["ports"]
        assert [p["targetPort"] for p in live] == [80, 9191], "with it, the ignored port keeps its live value"


@pytest.mark.workloads
@pytest.mark.asyncio
async def test_removed_object_is_pruned_but_prune_false_is_kept(cluster_w: LocalCluster, make_namespace,
                                                                git_repos, tmp_path: Path) -> None:
    """Objects that left Git are pruned, except those annotated Prune=false."""
    ns = make_namespace(cluster_w)
    repo = git_repos.new()
    keep = {"argocd.argoproj.io/sync-options": "Prune=false"}
    repo.commit({"app/a.yaml": cm("a", {"x": "1"}), "app/b.yaml": cm("b", {"x": "1"}),
                 "app/c.yaml": cm("c", {"x": "1"}), "app/k.yaml": cm("k", {"x": "1"}, keep)})
    policy = SyncPolicy(automated=True, prune=True, max_prune_share=0.9)
    async with kit(cluster_w, repo, tmp_path, app="prune", path="app", namespace=ns, policy=policy) as k:
        assert (await k.sync()).kind is OutcomeKind.SYNCED
        repo.commit({"app/b.yaml": None, "app/k.yaml": None})
        outcome = await k.sync()
        assert outcome.kind is OutcomeKind.SYNCED, outcome.message
        assert [(c.key.name, c.action) for c in outcome.changes.by_action(ChangeAction.PRUNED)] == \
            [("b", ChangeAction.PRUNED)]
        assert _gone(cluster_w, f"/api/v1/namespaces/{ns}/configmaps/b")
        assert cluster_w.request("GET", f"/api/v1/namespaces/{ns}/configmaps/k")[0] == 200
        inventory = _get(cluster_w, "/api/v1/namespaces/gitopsd-system/configmaps/gitopsd-inv-prune")
        assert "ConfigMap" in inventory["data"]["entries"]
        assert f"{ns}/b" not in inventory["data"]["entries"].replace(" ", "/")


@pytest.mark.asyncio
async def test_object_owned_by_someone_else_is_never_touched(cluster_a: LocalCluster, make_namespace,
                                                             git_repos, tmp_path: Path) -> None:
    """An existing object with another application's tracking id fails that object only."""
    ns = make_namespace(cluster_a)
    foreign = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "shared", "namespace": ns,
                            "labels": {"gitopsd.io/fleet": "testfleet"},
                            "annotations": {"gitopsd.io/tracking-id": f"other:/ConfigMap:{ns}/shared"}},
               "data": {"owner": "other"}}
    assert cluster_a.request("POST", f"/api/v1/namespaces/{ns}/configmaps", foreign)[0] == 201
    repo = git_repos.new()
    repo.commit({"app/shared.yaml": cm("shared", {"owner": "me"}), "app/mine.yaml": cm("mine", {"a": "b"})})
    async with kit(cluster_a, repo, tmp_path, app="mine", path="app", namespace=ns, policy=AUTO) as k:
        outcome = await k.sync()
        assert outcome.kind is OutcomeKind.FAILED
        failed = outcome.changes.failed
        assert [c.key.name for c in failed] == ["shared"]
        assert "belongs to application other" in failed[0].message
        assert "shared" in outcome.message
        assert _get(cluster_a, f"/api/v1/namespaces/{ns}/configmaps/shared")["data"] == {"owner": "other"}
        assert cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/mine")[0] == 200


@pytest.mark.asyncio
async def test_crd_and_its_custom_resources_sync_in_one_go(cluster_a: LocalCluster, make_namespace,
                                                           git_repos, tmp_path: Path) -> None:
    """A CRD and custom resources of it in one commit succeed in a single sync."""
    ns = make_namespace(cluster_a)
    group = f"g{ns.replace('-', '')}.example.com"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"widgets.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {
                                      "type": "object", "properties": {"spec": {
                                          "type": "object",
                                          "properties": {"size": {"type": "integer"}}}}}}}]}}
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"},
              "spec": {"size": 3}}
    repo = git_repos.new()
    repo.commit({"app/crd.yaml": yaml.safe_dump(crd), "app/widget.yaml": yaml.safe_dump(widget)})
    async with kit(cluster_a, repo, tmp_path, app="crd", path="app", namespace=ns, policy=AUTO) as k:
        outcome = await k.sync()
        assert outcome.kind is OutcomeKind.SYNCED, outcome.message
        live = _get(cluster_a, f"/apis/{group}/v1/namespaces/{ns}/widgets/w1")
        assert live["spec"]["size"] == 3


@pytest.mark.asyncio
async def test_mass_prune_is_refused(cluster_a: LocalCluster, make_namespace, git_repos,
                                     tmp_path: Path) -> None:
    """A commit that removes most objects is refused instead of wiping them."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    repo.commit({f"app/c{i}.yaml": cm(f"c{i}", {"i": str(i)}) for i in range(4)})
    async with kit(cluster_a, repo, tmp_path, app="guard", path="app", namespace=ns, policy=AUTO) as k:
        assert (await k.sync()).kind is OutcomeKind.SYNCED
        repo.commit({f"app/c{i}.yaml": None for i in range(1, 4)})
        outcome = await k.sync()
        assert outcome.kind is OutcomeKind.STALLED
        assert "prune" in outcome.message.lower()
        for i in range(4):
            assert cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/c{i}")[0] == 200


@pytest.mark.asyncio
async def test_forbidden_objects_reported_per_object(cluster_a: LocalCluster, make_namespace,
                                                     git_repos, tmp_path: Path) -> None:
    """A restricted user's 403 fails only the forbidden object; the others report their results."""
    ns, other = make_namespace(cluster_a), make_namespace(cluster_a)
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "gitopsd", "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch",
                                                                                  "create", "patch",
                                                                                  "update", "delete"]}]}
    bind = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "gitopsd", "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "gitopsd"},
            "subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}]}
    inv = {**role, "metadata": {"name": "gitopsd", "namespace": "gitopsd-system"}}
    inv_bind = {**bind, "metadata": {"name": "gitopsd-bob", "namespace": "gitopsd-system"}}
    cluster_a.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": "gitopsd-system"}})
    for path, body in ((f"{rbac}/namespaces/{ns}/roles", role),
                       (f"{rbac}/namespaces/{ns}/rolebindings", bind),
                       (f"{rbac}/namespaces/gitopsd-system/roles", inv),
                       (f"{rbac}/namespaces/gitopsd-system/rolebindings", inv_bind)):
        status, _ = cluster_a.request("POST", path, body)
        assert status in (201, 409)
    allowed = cm("allowed", {"a": "1"})
    denied = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "denied", "namespace": other}, "data": {"a": "1"}})
    repo = git_repos.new()
    repo.commit({"app/allowed.yaml": allowed, "app/denied.yaml": denied})
    async with kit(cluster_a, repo, tmp_path, app="rbac", path="app", namespace=ns, policy=AUTO,
                   kubeconfig=cluster_a.user_kubeconfig("bob")) as k:
        outcome = await k.sync()
    assert outcome.kind is OutcomeKind.FAILED, outcome.message
    by_name = {c.key.name: c for c in outcome.changes}
    assert "allowed" in by_name, outcome.message
    assert by_name["allowed"].action is ChangeAction.CREATED
    assert by_name["denied"].action is ChangeAction.FAILED
    assert "forbidden" in by_name["denied"].message
    assert cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/allowed")[0] == 200


@pytest.mark.workloads
@pytest.mark.asyncio
async def test_wiping_state_dir_neither_duplicates_nor_orphans(cluster_w: LocalCluster, make_namespace,
                                                               git_repos, tmp_path: Path) -> None:
    """With a fresh state directory the in-cluster inventory still prunes exactly what left Git."""
    ns = make_namespace(cluster_w)
    repo = git_repos.new()
    repo.commit({"app/a.yaml": cm("a", {"x": "1"}), "app/b.yaml": cm("b", {"x": "1"}),
                 "app/c.yaml": cm("c", {"x": "1"})})
    async with kit(cluster_w, repo, tmp_path / "first", app="wipe", path="app", namespace=ns,
                   policy=AUTO) as k:
        assert (await k.sync()).kind is OutcomeKind.SYNCED
    repo.commit({"app/c.yaml": None})
    async with kit(cluster_w, repo, tmp_path / "second", app="wipe", path="app", namespace=ns,
                   policy=AUTO) as k:
        outcome = await k.sync()
    assert outcome.kind is OutcomeKind.SYNCED, outcome.message
    assert [c.key.name for c in outcome.changes.by_action(ChangeAction.PRUNED)] == ["c"]
    assert not outcome.changes.by_action(ChangeAction.CREATED)
    assert _gone(cluster_w, f"/api/v1/namespaces/{ns}/configmaps/c")
    names = sorted(i["metadata"]["name"] for i in
                   _get(cluster_w, f"/api/v1/namespaces/{ns}/configmaps")["items"]
                   if i["metadata"]["name"] != "kube-root-ca.crt")
    assert names == ["a", "b"]


def _job(name: str, hook: str, policy: str | None = None) -> str:
    annotations = {"argocd.argoproj.io/hook": hook}
    if policy:
        annotations["argocd.argoproj.io/hook-delete-policy"] = policy
    return yaml.safe_dump({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "annotations": annotations},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "registry.example/job:1"}]}}}})


@pytest.mark.asyncio
async def test_first_sync_follows_wave_order_and_second_changes_nothing(
        cluster_a: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """Objects are written wave by wave in kind order; a second sync leaves every resourceVersion alone."""
    ns = make_namespace(cluster_a)
    repo = git_repos.new()
    wave = "argocd.argoproj.io/sync-wave"
    repo.commit({"app/late.yaml": cm("late", {"w": "2"}, {wave: "2"}),
                 "app/early.yaml": cm("early", {"w": "-1"}, {wave: "-1"}),
                 "app/middle.yaml": cm("middle", {"w": "0"}),
                 "app/svc.yaml": yaml.safe_dump({"apiVersion": "v1", "kind": "Service",
                                                 "metadata": {"name": "middle"},
                                                 "spec": {"ports": [{"port": 80}]}})})
    async with kit(cluster_a, repo, tmp_path, app="waves", path="app", namespace=ns, policy=AUTO) as k:
        outcome = await k.sync()
        assert outcome.kind is OutcomeKind.SYNCED, outcome.message
        order = [path.rsplit("/", 1)[1] for method, path in k.writes
                 if method == "PATCH" and f"/namespaces/{ns}/" in path]
        assert order == ["early", "middle", "middle", "late"]
        kinds = [path.split("/")[-2] for method, path in k.writes
                 if method == "PATCH" and path.endswith("/middle")]
        assert kinds == ["configmaps", "services"]
        before = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in
                  _get(cluster_a, f"/api/v1/namespaces/{ns}/configmaps")["items"]}
        k.writes.clear()
        assert (await k.sync()).kind is OutcomeKind.SYNCED
        after = {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in
                 _get(cluster_a, f"/api/v1/namespaces/{ns}/configmaps")["items"]}
        assert after == before
        assert k.writes == []


@pytest.mark.workloads
@pytest.mark.asyncio
async def test_hook_jobs_run_in_phase_order_with_delete_policies(
        cluster_w: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """PreSync, Sync and PostSync hook Jobs run in order and their delete policies hold."""
    ns = make_namespace(cluster_w)
    repo = git_repos.new()
    repo.commit({"app/pre.yaml": _job("pre", "PreSync", "HookSucceeded"),
                 "app/during.yaml": _job("during", "Sync"),
                 "app/post.yaml": _job("post", "PostSync", "HookSucceeded"),
                 "app/cm.yaml": cm("settings", {"a": "b"})})
    async with kit(cluster_w, repo, tmp_path, app="hooks", path="app", namespace=ns, policy=AUTO) as k:
        outcome = await k.sync()
        assert outcome.kind is OutcomeKind.SYNCED, outcome.message
        writes = [(m, p.rsplit("/", 1)[1] if m != "POST" else "job") for m, p in k.writes
                  if f"/namespaces/{ns}/" in p]
        created = [c.key.name for c in outcome.changes if c.message == "hook succeeded"]
        assert created == ["pre", "during", "post"]
        posts = [i for i, w in enumerate(writes) if w == ("POST", "job")]
        assert posts[0] < writes.index(("PATCH", "settings")) < posts[-1]
        k.writes.clear()
        again = await k.sync()
        assert again.kind is OutcomeKind.SYNCED, again.message
        assert k.writes == [], "hooks run only when a sync happens, not on every pass"
    jobs = f"/apis/batch/v1/namespaces/{ns}/jobs"
    assert _gone(cluster_w, f"{jobs}/pre")
    assert _gone(cluster_w, f"{jobs}/post")
    assert cluster_w.request("GET", f"{jobs}/during")[0] == 200


@pytest.mark.workloads
@pytest.mark.asyncio
async def test_deployment_that_never_becomes_available_fails_at_deadline(
        cluster_w: LocalCluster, make_namespace, git_repos, tmp_path: Path) -> None:
    """A wave whose Deployment cannot become Available fails at the sync deadline, naming it."""
    ns = make_namespace(cluster_w)
    repo = git_repos.new()
    stuck = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "stuck"},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "stuck"}},
                      "template": {"metadata": {"labels": {"app": "stuck"}},
                                   "spec": {"nodeSelector": {"no-such-node": "true"},
                                            "containers": [{"name": "c", "image": "x/y:1"}]}}}}
    after = cm("after", {"a": "b"}, {"argocd.argoproj.io/sync-wave": "5"})
    repo.commit({"app/stuck.yaml": yaml.safe_dump(stuck), "app/after.yaml": after})
    policy = SyncPolicy(automated=True, sync_timeout=6.0)
    async with kit(cluster_w, repo, tmp_path, app="deadline", path="app", namespace=ns, policy=policy) as k:
        t0 = time.monotonic()
        outcome = await k.sync()
        elapsed = time.monotonic() - t0
    assert outcome.kind is OutcomeKind.FAILED
    assert "deadline" in outcome.message
    assert f"Deployment.apps {ns}/stuck is Progressing" in outcome.message
    assert 5 <= elapsed < 30
    assert cluster_w.request("GET", f"/api/v1/namespaces/{ns}/configmaps/after")[0] == 404
    assert [c.key.name for c in outcome.changes] == ["stuck"]
