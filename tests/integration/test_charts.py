"""Helm charts: least-privilege RBAC (proven on a real API server), and dashboards/alerts on real metrics."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitopsd.edges import binaries
from gitopsd.edges.telemetry import semconv
from gitopsd.edges.telemetry.metrics import METRIC_NAMES
from gitopsd.localcluster import LocalCluster

REPO = Path(__file__).resolve().parents[2]
RBAC_CHART = REPO / "charts" / "gitopsd-rbac"
OBS_CHART = REPO / "charts" / "gitopsd-observability"
KUBE_VERSION = binaries.K8S_VERSION.lstrip("v")

ALLOWED_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}
WRITE_VERBS = {"create", "update", "patch", "delete"}
DISCOVERY_PREFIXES = ("/api", "/apis", "/openapi", "/version")

Doc = dict[str, Any]


@dataclass(frozen=True)
class Helm:
    """The helm binary, run with its config, cache and data kept out of the home directory."""

    binary: str
    env: dict[str, str] = field(repr=False)

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.binary, *args], capture_output=True, text=True, env=self.env,
                              timeout=120, check=False)

    def template(self, chart: Path, values: dict[str, Any] | None = None,
                 release: str = "fleet") -> subprocess.CompletedProcess[str]:
        return self.run("template", release, str(chart), "--kube-version", KUBE_VERSION,
                        *values_args(values or {}))


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """helm from the test environment, with a private home."""
    home = tmp_path_factory.mktemp("helm-home")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    for var in ("HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"):
        env[var] = str(home / var.lower())
    return Helm(binaries.find("helm"), env)


def values_args(values: dict[str, Any]) -> list[str]:
    """--set-json arguments for VALUES, whose keys are dotted value paths."""
    args: list[str] = []
    for key, value in values.items():
        args += ["--set-json", f"{key}={json.dumps(value)}"]
    return args


def render(helm: Helm, chart: Path, values: dict[str, Any] | None = None,
           release: str = "fleet") -> list[Doc]:
    """The objects `helm template` renders for CHART with VALUES."""
    result = helm.template(chart, values, release)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def render_fails(helm: Helm, chart: Path, values: dict[str, Any]) -> str:
    """The error output of a `helm template` that must fail."""
    result = helm.template(chart, values)
    assert result.returncode != 0, result.stdout
    return result.stderr


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def rules_of(docs: list[Doc]) -> list[tuple[Doc, Doc]]:
    """(role, rule) for every rule of every Role and ClusterRole."""
    return [(d, r) for d in docs if d["kind"] in ("Role", "ClusterRole") for r in d.get("rules", [])]


def grants(role: Doc) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) triples a role grants."""
    return {(g, res, v) for r in role.get("rules", []) for g in r.get("apiGroups", [])
            for res in r.get("resources", []) for v in r["verbs"]}


@pytest.mark.parametrize("chart", [RBAC_CHART, OBS_CHART], ids=lambda c: c.name)
def test_charts_pass_helm_lint_strict(helm: Helm, chart: Path) -> None:
    """helm lint --strict finds no warning in either chart."""
    result = helm.run("lint", "--strict", "--kube-version", KUBE_VERSION, str(chart))
    assert result.returncode == 0, result.stdout + result.stderr


RBAC_VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespaces-and-cluster-kinds": {
        "namespaces": ["a", "b"],
        "clusterScoped.kinds": ["namespaces", "customresourcedefinitions.apiextensions.k8s.io"],
        "kinds": ["configmaps", "deployments.apps", "widgets.example.com"],
    },
    "user-subject": {"subject": {"kind": "User", "name": "gitopsd@example.com"}, "namespaces": ["shop"],
                     "createNamespaces": True},
    "coordination": {"coordination": {"enabled": True, "namespace": "gitopsd-ha"}},
    "group-without-secrets": {"subject": {"kind": "Group", "name": "gitopsd"}, "namespaces": ["x"],
                              "secrets": False, "discovery": False},
}


@pytest.mark.parametrize("values", RBAC_VALUE_SETS.values(), ids=RBAC_VALUE_SETS.keys())
def test_rbac_has_no_wildcards_and_only_plain_verbs(helm: Helm,
                                                    values: dict[str, Any]) -> None:
    """No rule grants a wildcard verb, resource or API group, nor escalate/bind/impersonate."""
    docs = render(helm, RBAC_CHART, values)
    rules = rules_of(docs)
    assert rules
    for role, rule in rules:
        where = f"{role['kind']} {role['metadata']['name']}"
        assert set(rule["verbs"]) <= ALLOWED_VERBS, where
        for key in ("apiGroups", "resources", "resourceNames"):
            assert not any("*" in item for item in rule.get(key, [])), (where, key)
        for url in rule.get("nonResourceURLs", []):
            assert url.startswith(DISCOVERY_PREFIXES), (where, url)
            assert rule["verbs"] == ["get"], where


@pytest.mark.parametrize("values", RBAC_VALUE_SETS.values(), ids=RBAC_VALUE_SETS.keys())
def test_cluster_roles_never_grant_secrets(helm: Helm, values: dict[str, Any]) -> None:
    """Secrets are never readable or writable cluster-wide."""
    docs = render(helm, RBAC_CHART, values)
    for role in of_kind(docs, "ClusterRole"):
        assert not any(res == "secrets" for _, res, _ in grants(role)), role["metadata"]["name"]


def test_defaults_render_read_access_and_inventory_only(helm: Helm) -> None:
    """With default values gitopsd can read cluster-wide and write only inventory ConfigMaps."""
    docs = render(helm, RBAC_CHART)
    assert {d["kind"] for d in docs} == {"Namespace", "ServiceAccount", "Secret", "ClusterRole",
                                         "ClusterRoleBinding", "Role", "RoleBinding"}
    [ns] = of_kind(docs, "Namespace")
    assert ns["metadata"]["name"] == "gitopsd-system"
    assert ns["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    [cluster_role] = of_kind(docs, "ClusterRole")
    assert {v for _, _, v in grants(cluster_role)} == {"get", "list", "watch"}
    assert ("apps", "deployments", "watch") in grants(cluster_role)
    [inventory] = of_kind(docs, "Role")
    assert inventory["metadata"]["namespace"] == "gitopsd-system"
    assert {(g, r) for g, r, _ in grants(inventory)} == {("", "configmaps"),
                                                       ("coordination.k8s.io", "leases"),
                                                       ("events.k8s.io", "events")}
    assert {v for g, _, v in grants(inventory) if g == "events.k8s.io"} == {"create", "patch"}
    [token] = of_kind(docs, "Secret")
    assert token["type"] == "kubernetes.io/service-account-token"
    [sa] = of_kind(docs, "ServiceAccount")
    assert sa["automountServiceAccountToken"] is False


def test_coordination_grants_member_leases_in_its_namespace_only(helm: Helm) -> None:
    """coordination.enabled adds a Role on Leases (list and delete too) bound in its namespace, created."""
    docs = render(helm, RBAC_CHART, {"coordination": {"enabled": True, "namespace": "gitopsd-ha"}})
    [role] = [d for d in of_kind(docs, "Role") if d["metadata"]["name"].endswith("-coordination")]
    assert role["metadata"]["namespace"] == "gitopsd-ha"
    assert grants(role) == {("coordination.k8s.io", "leases", v)
                            for v in ("get", "list", "create", "update", "patch", "delete")}
    [binding] = [d for d in of_kind(docs, "RoleBinding") if d["metadata"]["name"].endswith("-coordination")]
    assert binding["metadata"]["namespace"] == "gitopsd-ha"
    assert "gitopsd-ha" in {d["metadata"]["name"] for d in of_kind(docs, "Namespace")}
    default = render(helm, RBAC_CHART, {"coordination": {"enabled": True}})
    [role] = [d for d in of_kind(default, "Role") if d["metadata"]["name"].endswith("-coordination")]
    assert role["metadata"]["namespace"] == "gitopsd-system"
    assert not [d for d in render(helm, RBAC_CHART) if d["metadata"]["name"].endswith("-coordination")]


def test_role_bindings_exactly_in_listed_namespaces(helm: Helm) -> None:
    """With namespaces [a, b], the write Roles and RoleBindings exist in a and b and nowhere else."""
    docs = render(helm, RBAC_CHART, {"namespaces": ["a", "b"]})
    write_bindings = [d for d in of_kind(docs, "RoleBinding") if d["roleRef"]["name"].endswith("-write")]
    assert sorted(d["metadata"]["namespace"] for d in write_bindings) == ["a", "b"]
    all_bindings = {d["metadata"]["namespace"] for d in of_kind(docs, "RoleBinding")}
    assert all_bindings == {"a", "b", "gitopsd-system"}
    write_roles = [d for d in of_kind(docs, "Role") if d["metadata"]["name"].endswith("-write")]
    assert sorted(d["metadata"]["namespace"] for d in write_roles) == ["a", "b"]
    for role in write_roles:
        assert ("", "secrets", "create") in grants(role)
        assert ("apps", "deployments", "patch") in grants(role)
    assert len(of_kind(docs, "ClusterRoleBinding")) == 1, "only the read binding is cluster-wide"


def test_cluster_scoped_writes_only_for_listed_kinds(helm: Helm) -> None:
    """clusterScoped.kinds yields a ClusterRole granting writes on exactly those kinds."""
    kinds = ["namespaces", "customresourcedefinitions.apiextensions.k8s.io"]
    docs = render(helm, RBAC_CHART, {"clusterScoped.kinds": kinds})
    writers = [d for d in of_kind(docs, "ClusterRole") if any(v in WRITE_VERBS for _, _, v in grants(d))]
    [writer] = writers
    assert {(g, r) for g, r, _ in grants(writer)} == {("", "namespaces"),
                                                      ("apiextensions.k8s.io", "customresourcedefinitions")}
    bound = {d["roleRef"]["name"] for d in of_kind(docs, "ClusterRoleBinding")}
    assert writer["metadata"]["name"] in bound


def test_user_subject_creates_no_service_account(helm: Helm) -> None:
    """A User subject is bound by name, and no ServiceAccount or token Secret is created."""
    docs = render(helm, RBAC_CHART, {"subject": {"kind": "User", "name": "bob"}, "namespaces": ["a"]})
    assert not of_kind(docs, "ServiceAccount")
    assert not of_kind(docs, "Secret")
    bob = {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "bob"}
    for binding in of_kind(docs, "RoleBinding") + of_kind(docs, "ClusterRoleBinding"):
        assert binding["subjects"] == [bob]


def test_release_name_prefixes_cluster_objects(helm: Helm) -> None:
    """Two releases (two fleets) in one cluster get distinct cluster-scoped names."""
    first = {d["metadata"]["name"] for d in of_kind(render(helm, RBAC_CHART, release="one"),
                                                    "ClusterRole")}
    second = {d["metadata"]["name"] for d in of_kind(render(helm, RBAC_CHART, release="two"),
                                                     "ClusterRole")}
    assert first.isdisjoint(second)


@pytest.mark.parametrize(("values", "message"), [
    ({"subject": {"kind": "Robot", "name": "x"}}, "/subject/kind"),
    ({"kinds": ["*"]}, "/kinds/0"),
    ({"clusterScoped.kinds": ["*.apps"]}, "/clusterScoped/kinds/0"),
    ({"readOnlyKinds": ["secrets"]}, "cluster-wide read of every Secret"),
    ({"namespaces": ["Shop"]}, "/namespaces/0"),
    ({"subject": {"kind": "User", "name": "bob", "namespace": "x"}}, "ServiceAccount subject only"),
])
def test_unsafe_values_are_refused(helm: Helm, values: dict[str, Any],
                                   message: str) -> None:
    """Values that would widen access or make no sense stop the render with a reason."""
    assert message in render_fails(helm, RBAC_CHART, values)


# -- observability chart ------------------------------------------------------------------------


def _metric_names(text: str) -> set[str]:
    """gitopsd_* metric names in PromQL TEXT, histogram suffixes folded into the base name."""
    return {re.sub(r"_(bucket|sum|count)$", "", n) for n in re.findall(r"gitopsd_[a-z_]+", text)}


def _dashboard(docs: list[Doc]) -> Doc:
    [cm] = of_kind(docs, "ConfigMap")
    dashboard: Doc = json.loads(cm["data"]["gitopsd.json"])
    return dashboard


def _exprs(dashboard: Doc) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_configmap_is_labelled_for_the_grafana_sidecar(helm: Helm) -> None:
    """The dashboard ConfigMap carries grafana_dashboard=1 and valid dashboard JSON."""
    docs = render(helm, OBS_CHART)
    [cm] = of_kind(docs, "ConfigMap")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = _dashboard(docs)
    assert dashboard["uid"] == "gitopsd-overview"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_uses_every_metric_and_only_real_ones(helm: Helm) -> None:
    """Every gitopsd_* metric is charted, and every charted name is one gitopsd exposes."""
    used = _metric_names("\n".join(_exprs(_dashboard(render(helm, OBS_CHART)))))
    assert used == set(METRIC_NAMES)


REQUIRED_ALERTS = {"GitopsdSyncFailing", "GitopsdDriftFight", "GitopsdClusterDisconnected",
                   "GitopsdQueueBacklog"}


def test_alerts_cover_the_failure_modes_with_real_metrics(helm: Helm) -> None:
    """Alerts cover failing syncs, drift fights, lost clusters and backlog, using exposed metrics only."""
    [rule] = of_kind(render(helm, OBS_CHART), "PrometheusRule")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) >= REQUIRED_ALERTS
    assert _metric_names("\n".join(r["expr"] for r in alerts.values())) <= set(METRIC_NAMES)
    for name, alert in alerts.items():
        assert alert["labels"]["severity"], name
        assert "{{" not in alert["expr"], name
        assert alert["annotations"]["summary"], name


def test_chart_renders_the_plain_rule_file_unchanged_by_default(helm: Helm) -> None:
    """With default values the PrometheusRule's groups are exactly those of rules/gitopsd.rules.yaml."""
    [rule] = of_kind(render(helm, OBS_CHART), "PrometheusRule")
    plain = yaml.safe_load((OBS_CHART / "rules" / "gitopsd.rules.yaml").read_text())
    assert rule["spec"]["groups"] == plain["groups"]


def test_observability_values_are_applied(helm: Helm) -> None:
    """Per-alert overrides, severities, rule labels and the scrape job come from values; the dashboard
    can be turned off; an override of an alert that does not exist stops the render."""
    plain = {r["alert"]: r for g in yaml.safe_load((OBS_CHART / "rules" / "gitopsd.rules.yaml")
                                                   .read_text())["groups"] for r in g["rules"]}
    docs = render(helm, OBS_CHART, {
        "dashboard.enabled": False,
        "prometheusRule.labels": {"release": "kube-prometheus-stack"},
        "prometheusRule.job": "gitopsd-mgmt",
        "prometheusRule.severity.critical": "page",
        "prometheusRule.rules": {"GitopsdQueueBacklog": {"expr": "gitopsd_queue_depth > 7"},
                                 "GitopsdClusterDisconnected": {"for": "2m", "labels": {"team": "infra"}}},
    })
    assert not of_kind(docs, "ConfigMap")
    [rule] = of_kind(docs, "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert alerts["GitopsdQueueBacklog"]["expr"] == "gitopsd_queue_depth > 7"
    assert alerts["GitopsdQueueBacklog"]["for"] == plain["GitopsdQueueBacklog"]["for"]
    disconnected = alerts["GitopsdClusterDisconnected"]
    assert (disconnected["for"], disconnected["labels"]) == ("2m", {"severity": "page", "team": "infra"})
    assert disconnected["expr"] == plain["GitopsdClusterDisconnected"]["expr"]
    assert 'job="gitopsd-mgmt"' in alerts["GitopsdDown"]["expr"]
    assert 'job="gitopsd"' not in alerts["GitopsdDown"]["expr"]
    assert alerts["GitopsdSyncFailing"] == plain["GitopsdSyncFailing"]
    unknown = {"prometheusRule.rules": {"GitopsdNope": {"for": "1m"}}}
    assert "no such alert" in render_fails(helm, OBS_CHART, unknown)


def test_readme_documents_every_span_and_attribute() -> None:
    """The Jaeger section names every span and attribute gitopsd defines, so docs and code agree."""
    readme = (OBS_CHART / "README.md").read_text()
    for name in (*semconv.SPAN_NAMES, *semconv.ATTRIBUTE_NAMES, *METRIC_NAMES):
        assert f"`{name}`" in readme, name


# -- the RBAC chart on a real API server --------------------------------------------------------


def _configmap(name: str) -> Doc:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def _eventually_status(call: Callable[[], tuple[int, Any]], expected: int, timeout: float = 15.0) -> int:
    """Status of CALL once it equals EXPECTED (RBAC caches settle quickly), or the last one seen."""
    deadline = time.monotonic() + timeout
    while True:
        status, _ = call()
        if status == expected or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


@pytest.fixture
def install(helm: Helm, cluster_a: LocalCluster) -> Iterator[Callable[..., str]]:
    """Install the RBAC chart into cluster A with given values; uninstall and remove kept namespaces after."""
    releases: list[tuple[str, str]] = []

    def run(values: dict[str, Any], release: str | None = None) -> str:
        name = release or f"rbac-{uuid.uuid4().hex[:6]}"
        inventory = values.get("inventory", {}).get("namespace", "")
        result = helm.run("upgrade", "--install", name, str(RBAC_CHART), "--namespace", "default",
                          "--kubeconfig", str(cluster_a.kubeconfig), *values_args(values))
        if (name, inventory) not in releases:
            releases.append((name, inventory))
        assert result.returncode == 0, result.stderr
        return name

    yield run
    for name, inventory in releases:
        helm.run("uninstall", name, "--namespace", "default", "--kubeconfig", str(cluster_a.kubeconfig))
        if inventory:
            cluster_a.request("DELETE", f"/api/v1/namespaces/{inventory}")


def test_user_can_write_only_where_the_chart_allows(cluster_a: LocalCluster,
                                                    make_namespace: Callable[[LocalCluster], str],
                                                    install: Callable[..., str]) -> None:
    """Bound by the chart, bob writes ConfigMaps in a, b and the inventory namespace, and gets 403 in c."""
    a, b, c = make_namespace(cluster_a), make_namespace(cluster_a), make_namespace(cluster_a)
    inventory = f"gitopsd-inv-{uuid.uuid4().hex[:6]}"
    values = {"subject": {"kind": "User", "name": "bob"}, "namespaces": [a, b],
              "inventory": {"namespace": inventory, "createNamespace": True}}
    release = install(values)

    def create(ns: str) -> Callable[[], tuple[int, Any]]:
        return lambda: cluster_a.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                                         _configmap(f"cm-{uuid.uuid4().hex[:6]}"), user="bob")

    assert _eventually_status(create(a), 201) == 201
    assert create(b)()[0] == 201
    assert create(inventory)()[0] == 201
    assert create(c)()[0] == 403
    assert cluster_a.request("GET", "/apis/apps/v1/deployments", user="bob")[0] == 200
    assert cluster_a.request("GET", f"/api/v1/namespaces/{a}/secrets", user="bob")[0] == 200
    assert cluster_a.request("GET", "/api/v1/secrets", user="bob")[0] == 403
    assert cluster_a.request("GET", f"/api/v1/namespaces/{inventory}/secrets", user="bob")[0] == 403
    new_ns = f"t-bob-{uuid.uuid4().hex[:6]}"
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": new_ns}}
    assert cluster_a.request("POST", "/api/v1/namespaces", namespace, user="bob")[0] == 403
    # alice is not bound to anything.
    assert cluster_a.request("POST", f"/api/v1/namespaces/{a}/configmaps", _configmap("alice"),
                             user="alice")[0] == 403

    install({**values, "clusterScoped": {"kinds": ["namespaces"]}}, release=release)
    try:
        assert _eventually_status(
            lambda: cluster_a.request("POST", "/api/v1/namespaces", namespace, user="bob"), 201) == 201
    finally:
        cluster_a.request("DELETE", f"/api/v1/namespaces/{new_ns}")


def test_service_account_subject_is_authorised(cluster_a: LocalCluster,
                                               make_namespace: Callable[[LocalCluster], str],
                                               install: Callable[..., str]) -> None:
    """For the default ServiceAccount subject, SubjectAccessReviews allow writes in a and deny them in c."""
    a, c = make_namespace(cluster_a), make_namespace(cluster_a)
    inventory = f"gitopsd-inv-{uuid.uuid4().hex[:6]}"
    install({"namespaces": [a], "inventory": {"namespace": inventory, "createNamespace": True}})
    status, sa = cluster_a.request("GET", f"/api/v1/namespaces/{inventory}/serviceaccounts/gitopsd")
    assert status == 200, sa
    user = f"system:serviceaccount:{inventory}:gitopsd"

    def allowed(namespace: str, verb: str, resource: str, group: str = "") -> bool:
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{inventory}", "system:authenticated"]
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": user, "groups": groups,
                           "resourceAttributes": {"namespace": namespace, "verb": verb,
                                                  "resource": resource, "group": group}}}
        status, body = cluster_a.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
        assert status == 201, body
        return bool(body["status"].get("allowed"))

    deadline = time.monotonic() + 15
    while not allowed(a, "create", "configmaps") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert allowed(a, "create", "configmaps")
    assert allowed(a, "patch", "deployments", "apps")
    assert allowed(inventory, "update", "configmaps")
    assert allowed(inventory, "patch", "leases", "coordination.k8s.io")
    assert not allowed(a, "patch", "leases", "coordination.k8s.io")
    assert allowed(inventory, "create", "events", "events.k8s.io")
    assert allowed(inventory, "patch", "events", "events.k8s.io")
    assert not allowed(a, "create", "events", "events.k8s.io")
    assert allowed("", "watch", "deployments", "apps")
    assert not allowed(c, "create", "configmaps")
    assert not allowed("", "list", "secrets")
    assert not allowed(a, "deletecollection", "configmaps")
    assert not allowed(a, "impersonate", "users")
