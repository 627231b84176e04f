"""The local control planes are real Kubernetes API servers and independent."""

from __future__ import annotations

import asyncio
import time

import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.rest import ApiException

from gitopsd.localcluster import LocalCluster
from tests.testenv.kube_fixtures import api_client

APPLY = "application/apply-patch+yaml"


def _cm(name: str, ns: str, value: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns}, "data": {"key": value}}


@pytest.mark.asyncio
async def test_version_reports_pinned_release(cluster_a: LocalCluster) -> None:
    """/version reports the pinned Kubernetes release, not v0.0.0-master."""
    status, body = cluster_a.request("GET", "/version")
    assert status == 200
    assert body["gitVersion"] == "v1.34.4"


@pytest.mark.asyncio
async def test_server_side_apply_conflict_needs_force(kube_a: client.ApiClient, cluster_a: LocalCluster,
                                                      make_namespace) -> None:
    """A conflicting apply by a second field manager gets 409 unless forced."""
    ns = make_namespace(cluster_a)
    core = client.CoreV1Api(kube_a)
    await core.patch_namespaced_config_map("c", ns, _cm("c", ns, "one"), field_manager="first",
                                           _content_type=APPLY)
    with pytest.raises(ApiException) as info:
        await core.patch_namespaced_config_map("c", ns, _cm("c", ns, "two"), field_manager="second",
                                               _content_type=APPLY)
    assert info.value.status == 409
    forced = await core.patch_namespaced_config_map("c", ns, _cm("c", ns, "two"), field_manager="second",
                                                    force=True, _content_type=APPLY)
    assert forced.data == {"key": "two"}
    managers = {m.manager for m in forced.metadata.managed_fields}
    assert "second" in managers


@pytest.mark.asyncio
async def test_watch_from_resource_version_sees_change_and_bookmarks(
        kube_a: client.ApiClient, cluster_a: LocalCluster, make_namespace) -> None:
    """A watch from a list's resourceVersion receives a later change and bookmark events."""
    ns = make_namespace(cluster_a)
    core = client.CoreV1Api(kube_a)
    await core.create_namespaced_config_map(ns, _cm("w", ns, "before"))
    listed = await core.list_namespaced_config_map(ns)
    rv = listed.metadata.resource_version

    async def change_later() -> None:
        await asyncio.sleep(0.5)
        await core.patch_namespaced_config_map("w", ns, {"data": {"key": "after"}})

    seen: list[tuple[str, str]] = []
    task = asyncio.create_task(change_later())
    async with watch.Watch() as w:
        stream = w.stream(core.list_namespaced_config_map, ns, resource_version=rv,
                          allow_watch_bookmarks=True, timeout_seconds=70,
                          _request_timeout=80)
        deadline = time.monotonic() + 75
        async for event in stream:
            obj = event["object"]
            name = obj.metadata.name if event["type"] != "BOOKMARK" else ""
            seen.append((event["type"], name))
            types = {t for t, _ in seen}
            if "MODIFIED" in types and "BOOKMARK" in types:
                break
            if time.monotonic() > deadline:
                break
    await task
    assert ("MODIFIED", "w") in seen
    assert any(t == "BOOKMARK" for t, _ in seen), seen
    assert ("ADDED", "w") not in seen, "a watch from the list RV must not replay the create"


@pytest.mark.asyncio
async def test_restricted_user_is_forbidden_outside_its_namespace(
        cluster_a: LocalCluster, make_namespace) -> None:
    """A restricted token bound to one namespace gets 403 in another."""
    own, other = make_namespace(cluster_a), make_namespace(cluster_a)
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "cm-editor", "namespace": own},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "alice-cm", "namespace": own},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-editor"},
               "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]}
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{own}"
    assert cluster_a.request("POST", f"{rbac}/roles", role)[0] == 201
    assert cluster_a.request("POST", f"{rbac}/rolebindings", binding)[0] == 201
    api = await api_client(cluster_a.user_kubeconfig("alice"))
    async with api:
        core = client.CoreV1Api(api)
        statuses = []
        for _ in range(50):  # the RBAC authorizer's cache catches up within moments
            try:
                await core.create_namespaced_config_map(own, _cm("mine", own, "ok"))
                statuses.append(201)
                break
            except ApiException as e:
                statuses.append(e.status)
                await asyncio.sleep(0.1)
        assert statuses[-1] == 201, statuses
        assert set(statuses[:-1]) <= {403}, statuses
        with pytest.raises(ApiException) as info:
            await core.create_namespaced_config_map(other, _cm("theirs", other, "no"))
        assert info.value.status == 403


@pytest.mark.asyncio
async def test_clusters_are_independent(kube_a: client.ApiClient, kube_b: client.ApiClient,
                                        cluster_a: LocalCluster, cluster_b: LocalCluster,
                                        make_namespace) -> None:
    """An object created in cluster A does not exist in cluster B."""
    assert cluster_a.server != cluster_b.server
    ns = make_namespace(cluster_a)
    make_namespace_b = make_namespace(cluster_b)
    await client.CoreV1Api(kube_a).create_namespaced_config_map(ns, _cm("only-a", ns, "x"))
    with pytest.raises(ApiException) as info:
        await client.CoreV1Api(kube_b).read_namespaced_config_map("only-a", ns)
    assert info.value.status == 404
    status, _ = cluster_b.request("GET", f"/api/v1/namespaces/{make_namespace_b}/configmaps/only-a")
    assert status == 404


@pytest.mark.workloads
@pytest.mark.asyncio
async def test_deployment_becomes_available_and_job_completes(cluster_w: LocalCluster,
                                                              make_namespace) -> None:
    """On the workloads cluster a Deployment reports Available and a Job reports Complete."""
    ns = make_namespace(cluster_w)
    api = await api_client(cluster_w.kubeconfig)
    labels = {"app": "web"}
    pod_spec = {"containers": [{"name": "c", "image": "registry.example/web:1.0"}]}
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                       "template": {"metadata": {"labels": labels}, "spec": pod_spec}}}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once"},
           "spec": {"backoffLimit": 0, "template": {"spec": {**pod_spec, "restartPolicy": "Never"}}}}
    async with api:
        apps, batch = client.AppsV1Api(api), client.BatchV1Api(api)
        await apps.create_namespaced_deployment(ns, deploy)
        await batch.create_namespaced_job(ns, job)
        available = complete = False
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (available and complete):
            d = await apps.read_namespaced_deployment_status("web", ns)
            j = await batch.read_namespaced_job_status("once", ns)
            available = any(c.type == "Available" and c.status == "True"
                            for c in (d.status.conditions or []))
            complete = any(c.type == "Complete" and c.status == "True"
                           for c in (j.status.conditions or []))
            await asyncio.sleep(0.5)
    assert available, "Deployment never became Available"
    assert complete, "Job never completed"


@pytest.mark.asyncio
async def test_foreground_deletion_and_namespace_deletion_finish_on_the_api_only_cluster(
        cluster_a: LocalCluster, make_namespace) -> None:
    """The API-only cluster runs the garbage collector and namespace controller, so a foreground
    delete (Argo CD's prune default) and a namespace delete both finish."""
    ns = make_namespace(cluster_a)
    status, _ = cluster_a.request("POST", f"/api/v1/namespaces/{ns}/configmaps", _cm("gone", ns, "x"))
    assert status == 201
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"}
    assert cluster_a.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/gone", body)[0] == 200
    scratch = f"gc-{ns}"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": scratch}}
    assert cluster_a.request("POST", "/api/v1/namespaces", namespace)[0] == 201
    assert cluster_a.request("DELETE", f"/api/v1/namespaces/{scratch}")[0] == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
            cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/gone")[0] != 404
            or cluster_a.request("GET", f"/api/v1/namespaces/{scratch}")[0] != 404):
        await asyncio.sleep(0.2)
    assert cluster_a.request("GET", f"/api/v1/namespaces/{ns}/configmaps/gone")[0] == 404
    assert cluster_a.request("GET", f"/api/v1/namespaces/{scratch}")[0] == 404


@pytest.mark.workloads
@pytest.mark.asyncio
async def test_fake_nodes_carry_the_well_known_labels(cluster_w: LocalCluster) -> None:
    """Fake nodes are labelled with os, arch, zone and region like real nodes, so node selectors match."""
    status, nodes = cluster_w.request("GET", "/api/v1/nodes")
    assert status == 200
    labels = [n["metadata"]["labels"] for n in nodes["items"]]
    assert labels
    for node in labels:
        assert (node["kubernetes.io/os"], node["kubernetes.io/arch"]) == ("linux", "amd64")
        assert node["topology.kubernetes.io/zone"].startswith("zone-")
        assert node["topology.kubernetes.io/region"] == "local"
