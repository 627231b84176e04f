"""The AppProject matching rules: globs, negation, empty against unset lists, clusters by labels."""

from __future__ import annotations

import pytest

from gitopsd.core.policy.globs import negatable_match
from gitopsd.core.policy.projects import (
    check_instance,
    destination_permitted,
    kind_refusal,
    object_refusal,
    render_violations,
    source_permitted,
)
from gitopsd.model import Cluster, Manifest, ResourceKey
from gitopsd.model.fleet import Fleet
from gitopsd.model.globs import glob_match
from gitopsd.model.projects import BUILTIN_DEFAULT, GroupKind, Project, ProjectDestination

PROD = Cluster(name="prod-eu", kubeconfig="", server="https://10.0.0.1:6443",
               labels={"env": "prod", "region": "eu"})
DEV = Cluster(name="dev", kubeconfig="", server="https://10.0.0.2:6443", labels={"env": "dev"})


def dest(namespace: str, **kw: object) -> ProjectDestination:
    return ProjectDestination(namespace=namespace, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("pattern", "value", "sep", "expected"), [
    ("*", "a/b/c", "/", True),
    ("team-*", "team-a", "", True),
    ("team-*", "teamb", "", False),
    ("github.com/org/*", "github.com/org/repo", "/", True),
    ("github.com/org/*", "github.com/org/sub/repo", "/", False),
    ("github.com/org/**", "github.com/org/sub/repo", "/", True),
    ("team-?", "team-a", "", True),
    ("team-?", "team-ab", "", False),
    ("team-[ab]", "team-b", "", True),
    ("team-[!ab]", "team-b", "", False),
    ("{prod,stage}-*", "stage-1", "", True),
    ("{prod,stage}-*", "dev-1", "", False),
    ("", "", "", True),
    ("", "apps", "", False),
    ("Team-A", "team-a", "", False),
])
def test_glob_match(pattern: str, value: str, sep: str, expected: bool) -> None:
    """Globs follow the gobwas dialect Argo CD uses, with `*` bounded by the separator."""
    assert glob_match(pattern, value, sep) is expected


def test_negatable_match_inverts_a_bang_pattern() -> None:
    """A `!` pattern matches exactly what its glob does not."""
    assert negatable_match("!kube-*", "team-a")
    assert not negatable_match("!kube-*", "kube-system")


@pytest.mark.parametrize(("repos", "url", "expected"), [
    (("*",), "git@github.com:org/repo.git", True),
    (("https://github.com/org/*",), "git@github.com:org/repo.git", True),
    (("https://github.com/org/*",), "https://github.com/other/repo", False),
    (("https://github.com/org/*",), "https://github.com/org/nested/repo", False),
    (("https://github.com/org/*", "!https://github.com/org/secret"),
     "https://github.com/org/secret.git", False),
    (("https://github.com/org/*", "!https://github.com/org/secret"),
     "https://github.com/org/public", True),
    (("!https://github.com/org/secret",), "https://github.com/org/public", False),
    (("https://GitHub.com/Org/Repo.git",), "ssh://git@github.com/org/repo", True),
    (("file:///srv/git/team-*",), "/srv/git/team-a", True),
    (("/srv/git/team-*",), "/srv/git/other", False),
    ((), "https://github.com/org/repo", False),
])
def test_source_repos(repos: tuple[str, ...], url: str, expected: bool) -> None:
    """A repository is allowed when a positive pattern matches and no `!` pattern does."""
    assert source_permitted(Project("p", source_repos=repos), url) is expected


@pytest.mark.parametrize(("destinations", "cluster", "namespace", "expected"), [
    ((dest("team-a", name="prod-*"),), PROD, "team-a", True),
    ((dest("team-a", name="prod-*"),), PROD, "team-b", False),
    ((dest("team-a", name="prod-*"),), DEV, "team-a", False),
    ((dest("team-*", server="https://10.0.0.1:6443"),), PROD, "team-x", True),
    ((dest("*", server="https://10.0.0.*"),), DEV, "x", True),
    ((dest("*", cluster_labels={"env": "prod"}),), PROD, "x", True),
    ((dest("*", cluster_labels={"env": "prod"}),), DEV, "x", False),
    ((dest("*", cluster_labels={"env": "prod", "region": "us"}),), PROD, "x", False),
    ((dest("*", name="*", cluster_labels={"env": "prod"}),), DEV, "x", False),
    ((dest("!kube-*", name="*"),), PROD, "team-a", True),
    ((dest("!kube-*", name="*"),), PROD, "kube-system", False),
    ((dest("*", name="*"), dest("kube-system", name="*")), PROD, "kube-system", True),
    ((dest("*", name="*"), dest("!kube-system", name="*")), PROD, "kube-system", False),
    ((dest("*", name="*"), dest("*", name="!prod-*")), PROD, "a", False),
    ((dest("*", name="*"), dest("*", name="!prod-*")), DEV, "a", True),
    ((dest("*"),), PROD, "a", False),
    ((), PROD, "a", False),
])
def test_destinations(destinations: tuple[ProjectDestination, ...], cluster: Cluster, namespace: str,
                      expected: bool) -> None:
    """Destinations match by cluster name, server or labels and namespace, and `!` denies."""
    assert destination_permitted(Project("p", destinations=destinations), cluster, namespace) is expected


def test_cluster_only_destination_ignores_namespace_part() -> None:
    """Asked about the cluster alone, an entry's namespace glob does not matter."""
    project = Project("p", destinations=(dest("team-a", name="prod-*"),))
    assert destination_permitted(project, PROD, None)
    assert not destination_permitted(project, DEV, None)


def test_cluster_whitelist_unset_or_empty_permits_no_cluster_kind() -> None:
    """An unset (empty) cluster whitelist forbids every cluster-scoped kind, as in Argo CD."""
    refused = kind_refusal(Project("p"), "", "Namespace", namespaced=False)
    assert refused is not None
    assert refused[0] == "clusterResourceWhitelist"
    assert "empty or unset" in refused[1]


def test_cluster_whitelist_and_blacklist_globs() -> None:
    """Listed cluster kinds are allowed and the blacklist subtracts from them."""
    project = Project("p", cluster_resource_whitelist=(GroupKind("*", "*"),),
                      cluster_resource_blacklist=(GroupKind("rbac.authorization.k8s.io", "Cluster*"),))
    assert kind_refusal(project, "", "Namespace", namespaced=False) is None
    refused = kind_refusal(project, "rbac.authorization.k8s.io", "ClusterRole", namespaced=False)
    assert refused is not None
    assert refused[0] == "clusterResourceBlacklist"
    narrow = Project("p", cluster_resource_whitelist=(GroupKind("", "Namespace"),))
    assert kind_refusal(narrow, "", "Namespace", namespaced=False) is None
    assert kind_refusal(narrow, "storage.k8s.io", "StorageClass", namespaced=False) is not None


def test_namespace_whitelist_unset_means_all_and_empty_means_none() -> None:
    """An unset namespaced whitelist allows every kind; a present but empty one allows none."""
    assert kind_refusal(Project("p"), "apps", "Deployment", namespaced=True) is None
    refused = kind_refusal(Project("p", namespace_resource_whitelist=()), "apps", "Deployment",
                           namespaced=True)
    assert refused is not None
    assert refused[0] == "namespaceResourceWhitelist"
    assert "is empty" in refused[1]


def test_namespace_whitelist_lists_and_blacklist_subtracts() -> None:
    """The namespaced whitelist admits what it lists (globs), the blacklist removes kinds."""
    project = Project("p", namespace_resource_whitelist=(GroupKind("", "*"), GroupKind("apps", "Deployment")),
                      namespace_resource_blacklist=(GroupKind("", "ResourceQuota"),))
    assert kind_refusal(project, "", "ConfigMap", namespaced=True) is None
    assert kind_refusal(project, "apps", "Deployment", namespaced=True) is None
    assert kind_refusal(project, "apps", "StatefulSet", namespaced=True) is not None
    blocked = kind_refusal(project, "", "ResourceQuota", namespaced=True)
    assert blocked is not None
    assert blocked[0] == "namespaceResourceBlacklist"


def test_object_refusal_names_namespace_and_cluster() -> None:
    """A namespaced object outside the destinations is refused under the destinations rule."""
    project = Project("team", destinations=(dest("team-a", name="*"),))
    key = ResourceKey("", "ConfigMap", "team-b", "cfg")
    refused = object_refusal(project, PROD, key)
    assert refused is not None
    assert refused.rule == "destinations"
    assert "team-b" in str(refused)
    assert "ConfigMap team-b/cfg" in str(refused)
    assert object_refusal(project, PROD, ResourceKey("", "ConfigMap", "team-a", "cfg")) is None


def test_object_without_namespace_is_judged_cluster_scoped() -> None:
    """An object with no namespace is held to the cluster whitelist."""
    project = Project("team", destinations=(dest("*", name="*"),))
    refused = object_refusal(project, PROD, ResourceKey("", "Namespace", "", "team-a"))
    assert refused is not None
    assert refused.rule == "clusterResourceWhitelist"


def test_check_instance_reports_repo_destination_and_objects() -> None:
    """check_instance lists the repository, the destination and each forbidden object."""
    project = Project("team", source_repos=("https://git.example.com/team/*",),
                      destinations=(dest("team-a", name="prod-*"),))
    manifests = [Manifest(ResourceKey("", "ConfigMap", "team-a", "ok"), {}),
                 Manifest(ResourceKey("", "ConfigMap", "team-b", "no"), {})]
    found = check_instance(project, DEV, repo_url="https://git.example.com/other/x", namespace="team-a",
                           manifests=manifests)
    assert [v.rule for v in found] == ["sourceRepos", "destinations", "destinations", "destinations"]
    assert [v.key for v in found[2:]] == [m.key for m in manifests]
    assert check_instance(project, PROD, repo_url="https://git.example.com/team/x", namespace="team-a",
                          manifests=manifests[:1]) == ()
    text = render_violations("team", found, limit=2)
    assert text.startswith("project team forbids 4")
    assert "and 2 more" in text


def test_builtin_default_allows_everything() -> None:
    """The built-in default project allows any repository, destination and kind."""
    manifests = [Manifest(ResourceKey("rbac.authorization.k8s.io", "ClusterRole", "", "r"), {}),
                 Manifest(ResourceKey("apps", "Deployment", "anything", "d"), {})]
    assert check_instance(BUILTIN_DEFAULT, PROD, repo_url="git@example.com:a/b.git", namespace="",
                          manifests=manifests) == ()


def test_fleet_project_lookup() -> None:
    """A fleet answers the built-in default unless it declares one, and None for unknown names."""
    fleet = Fleet(name="f", clusters=(), repositories=(), applications=())
    assert fleet.project("default") is BUILTIN_DEFAULT
    assert fleet.project("nope") is None
    tight = Project("default", source_repos=("*",))
    assert Fleet(name="f", clusters=(), repositories=(), applications=(), projects=(tight,)
                 ).project("default") is tight
