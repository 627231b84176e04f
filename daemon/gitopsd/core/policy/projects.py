"""Argo CD AppProject rules: may this application deploy this object, from this repository, there?

Four rules, each as Argo CD applies it:

- ``sourceRepos``: a repository is allowed when a positive pattern matches its
  URL and no ``!`` pattern does. URLs are compared by identity (host and path,
  without ``.git``, case-folded), and ``*`` does not cross a ``/``.
- ``destinations``: a (cluster, namespace) is allowed when an entry's cluster
  part (name or server glob, and cluster labels) and namespace glob both
  match, and no entry denies it (a ``!`` part whose glob matches while the
  entry's other parts match).
- cluster-scoped kinds: allowed only when listed in
  ``clusterResourceWhitelist`` (unset or empty: none) and not in
  ``clusterResourceBlacklist``.
- namespaced kinds: allowed when ``namespaceResourceWhitelist`` is unset or
  lists the kind, and ``namespaceResourceBlacklist`` does not.

An object whose key has no namespace is judged as cluster-scoped: the
manifest parser strips the namespace of every kind it knows to be
cluster-scoped and gives the others the application's namespace, so a
namespaced object without one only appears when the application has none,
and it is then held to the stricter rule.

Pure functions over ``model`` values: no I/O, and no opinion on what happens
to a refused object (the engine refuses the sync; ``gitopsd validate`` reports).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gitopsd.core.policy.globs import is_denial, negatable_match
from gitopsd.model.fleet import AppInstance, Application, Cluster, Fleet
from gitopsd.model.giturls import repository_identity, safe_url
from gitopsd.model.globs import glob_match
from gitopsd.model.projects import GroupKind, Project, ProjectDestination
from gitopsd.model.resources import Manifest, ResourceKey, SourceLocation

__all__ = [
    "Scope",
    "Violation",
    "check_instance",
    "cluster_scope",
    "destination_permitted",
    "kind_refusal",
    "object_refusal",
    "render_violations",
    "scope_of",
    "source_permitted",
]


@dataclass(frozen=True)
class Violation:
    """One thing a project forbids: the object (None for the application itself), the rule, why."""

    key: ResourceKey | None
    rule: str
    message: str
    source: SourceLocation | None = None

    def __str__(self) -> str:
        subject = str(self.key) if self.key is not None else "the application"
        where = f" ({self.source})" if self.source is not None and str(self.source) else ""
        return f"{subject}{where}: {self.message} ({self.rule})"


# -- sourceRepos --------------------------------------------------------------------------------

def _normal_url(text: str) -> str:
    identity = repository_identity(text)
    if identity is not None:
        return identity
    return text.strip().rstrip("/").removesuffix(".git").lower()


def source_permitted(project: Project, url: str) -> bool:
    """Whether PROJECT's ``sourceRepos`` allow the repository at URL."""
    subject = _normal_url(url)
    allowed = False
    for pattern in project.source_repos:
        deny = is_denial(pattern)
        inner = pattern[1:] if deny else pattern
        matched = glob_match(inner if inner == "*" else _normal_url(inner), subject, "/")
        if deny and matched:
            return False
        allowed = allowed or (matched and not deny)
    return allowed


# -- destinations -------------------------------------------------------------------------------

def _cluster_part(entry: ProjectDestination, cluster: Cluster) -> tuple[bool, bool]:
    """(the entry's cluster part matches CLUSTER, a ``!`` cluster part of it names CLUSTER)."""
    labelled = all(cluster.labels.get(k) == v for k, v in entry.cluster_labels.items())
    tests = [(p, v) for p, v in ((entry.name, cluster.name), (entry.server, cluster.server)) if p]
    if not tests:
        return bool(entry.cluster_labels) and labelled, False
    matched = any(v and negatable_match(p, v) for p, v in tests)
    denied = any(v and is_denial(p) and not negatable_match(p, v) for p, v in tests)
    return matched and labelled, denied and labelled


def destination_permitted(project: Project, cluster: Cluster, namespace: str | None) -> bool:
    """Whether PROJECT allows deploying to NAMESPACE on CLUSTER.

    NAMESPACE None asks about the cluster alone (a cluster-scoped object, or an
    application without a namespace): any namespace part is then satisfied.
    """
    allowed = False
    for entry in project.destinations:
        cluster_ok, cluster_denied = _cluster_part(entry, cluster)
        space_ok = namespace is None or negatable_match(entry.namespace, namespace)
        space_denied = namespace is not None and not space_ok and is_denial(entry.namespace)
        if cluster_ok and space_ok:
            allowed = True
        elif (cluster_denied and space_ok) or (cluster_ok and space_denied):
            return False
    return allowed


# -- kinds ---------------------------------------------------------------------------------------

def _listed(entries: Iterable[GroupKind], group: str, kind: str) -> GroupKind | None:
    return next((e for e in entries if glob_match(e.group, group) and glob_match(e.kind, kind)), None)


def kind_refusal(project: Project, group: str, kind: str, *, namespaced: bool) -> tuple[str, str] | None:
    """(rule, reason) when PROJECT forbids the kind; None when it allows it."""
    shown = f"{group}/{kind}" if group else kind
    if namespaced:
        whitelist = project.namespace_resource_whitelist
        if whitelist is not None and _listed(whitelist, group, kind) is None:
            why = "is empty" if not whitelist else "does not list it"
            return ("namespaceResourceWhitelist",
                    f"namespaced kind {shown} is not permitted: the whitelist {why}")
        hit = _listed(project.namespace_resource_blacklist, group, kind)
        if hit is not None:
            return "namespaceResourceBlacklist", f"namespaced kind {shown} is blacklisted by {hit}"
        return None
    if _listed(project.cluster_resource_whitelist, group, kind) is None:
        why = "is empty or unset, which permits no cluster-scoped kind" \
            if not project.cluster_resource_whitelist else "does not list it"
        return ("clusterResourceWhitelist",
                f"cluster-scoped kind {shown} is not permitted: the whitelist {why}")
    hit = _listed(project.cluster_resource_blacklist, group, kind)
    if hit is not None:
        return "clusterResourceBlacklist", f"cluster-scoped kind {shown} is blacklisted by {hit}"
    return None


# -- objects and instances -----------------------------------------------------------------------

def object_refusal(project: Project, cluster: Cluster, key: ResourceKey,
                   source: SourceLocation | None = None) -> Violation | None:
    """Why PROJECT forbids the object KEY on CLUSTER, or None when it may be there."""
    namespaced = bool(key.namespace)
    refused = kind_refusal(project, key.group, key.kind, namespaced=namespaced)
    if refused is not None:
        return Violation(key, refused[0], refused[1], source)
    if namespaced and not destination_permitted(project, cluster, key.namespace):
        return Violation(key, "destinations", f"namespace {key.namespace} on cluster {cluster.name} "
                         f"is not a destination of project {project.name}", source)
    return None


def check_instance(project: Project, cluster: Cluster, *, repo_url: str, namespace: str,
                   manifests: Sequence[Manifest] = ()) -> tuple[Violation, ...]:
    """Everything PROJECT forbids about an instance: its repository, its destination (CLUSTER and
    NAMESPACE, "" for none) and each of its MANIFESTS."""
    found: list[Violation] = []
    if not source_permitted(project, repo_url):
        found.append(Violation(None, "sourceRepos", f"repository {safe_url(repo_url)} is not a "
                               f"source repository of project {project.name}"))
    if not destination_permitted(project, cluster, namespace or None):
        where = f"namespace {namespace} on cluster {cluster.name}" if namespace else f"cluster {cluster.name}"
        found.append(Violation(None, "destinations",
                               f"{where} is not a destination of project {project.name}"))
    for manifest in manifests:
        refused = object_refusal(project, cluster, manifest.key, manifest.source)
        if refused is not None:
            found.append(refused)
    return tuple(found)


def render_violations(project: str, violations: Sequence[Violation], *, limit: int = 10) -> str:
    """One message for VIOLATIONS of PROJECT, the first LIMIT spelled out."""
    shown = "; ".join(str(v) for v in violations[:limit])
    more = f"; and {len(violations) - limit} more" if len(violations) > limit else ""
    return f"project {project} forbids {len(violations)} object(s) or setting(s): {shown}{more}"


@dataclass(frozen=True)
class Scope:
    """One instance's project bounds: the project, the cluster, the repository and namespace."""

    project: Project
    cluster: Cluster
    repo_url: str
    namespace: str = ""

    def violations(self, manifests: Sequence[Manifest] = ()) -> tuple[Violation, ...]:
        """What the project forbids about the instance and MANIFESTS (``check_instance``)."""
        return check_instance(self.project, self.cluster, repo_url=self.repo_url,
                              namespace=self.namespace, manifests=manifests)

    def outside(self, key: ResourceKey) -> Violation | None:
        """Why the object KEY lies outside the project on this cluster, or None."""
        return object_refusal(self.project, self.cluster, key)


def scope_of(fleet: Fleet, instance: AppInstance, app: Application) -> Scope:
    """INSTANCE's scope in FLEET. A project the fleet does not know (the loader reports that)
    becomes an empty one that forbids everything: an unknown project never means unrestricted."""
    project = fleet.project(app.project) or Project(app.project)
    return Scope(project, fleet.cluster(instance.cluster), fleet.source_url(instance.source),
                 instance.namespace)


def cluster_scope(fleet: Fleet, cluster: str, project: str) -> Scope | None:
    """PROJECT's bounds on CLUSTER of FLEET (for an application no longer in it), or None when
    FLEET no longer has that project."""
    found = fleet.project(project)
    return None if found is None else Scope(found, fleet.cluster(cluster), "")
