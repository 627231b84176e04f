"""The ``applications`` of a fleet file: defaults, sources, destinations, instances.

Each entry is either an application (``source``, ``destination``,
``syncPolicy``, ``ignoreDifferences``) with the fleet's ``defaults``
deep-merged under it, or an ``argocd`` entry naming a repository path of Argo
CD Application manifests (kept as ``ArgoCDAppSource``; this module reads no
Git). Cross-references (repositories, clusters) are checked here, and every
application is expanded into its per-cluster instances with templates
resolved, each template problem reported at the line that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from yaml.nodes import MappingNode, Node, ScalarNode

from gitopsd.config.appspec import (
    Positions,
    read_directory,
    read_helm,
    read_ignore_differences,
    read_sync_policy,
)
from gitopsd.config.reader import Reader
from gitopsd.config.rules import check_name, check_namespace, check_repo_path
from gitopsd.config.templating import instantiate
from gitopsd.config.yamlpos import line_of, merge_nodes, suggest
from gitopsd.model.fleet import (
    AppInstance,
    Application,
    ArgoCDAppSource,
    Cluster,
    ClusterSelector,
    Destination,
    HelmParams,
    Source,
)
from gitopsd.model.projects import DEFAULT_PROJECT

__all__ = [
    "APPLICATION_FIELDS",
    "ARGOCD_ENTRY_FIELDS",
    "ARGOCD_SOURCE_FIELDS",
    "DEFAULTS_FIELDS",
    "DESTINATION_FIELDS",
    "SELECTOR_FIELDS",
    "SOURCE_FIELDS",
    "AppContext",
    "read_applications",
]

APPLICATION_FIELDS = ("name", "project", "source", "destination", "syncPolicy",
                      "ignoreDifferences", "cascadeDelete")
DEFAULTS_FIELDS = APPLICATION_FIELDS[1:]
SOURCE_FIELDS = ("repo", "targetRevision", "path", "helm", "directory", "helmRepo", "chart",
                 "version")
CHART_ONLY_FIELDS = ("helmRepo", "chart", "version")
DESTINATION_FIELDS = ("clusters", "namespace")
SELECTOR_FIELDS = ("names", "matchLabels")
ARGOCD_ENTRY_FIELDS = ("name", "argocd")
ARGOCD_SOURCE_FIELDS = ("repo", "targetRevision", "path", "helm")


@dataclass(frozen=True)
class AppContext:
    """What application entries are checked against."""

    fleet: str
    clusters: tuple[Cluster, ...]
    repositories: tuple[str, ...]
    sync_timeout: float
    projects: tuple[str, ...] = (DEFAULT_PROJECT,)  # the names an application may give as project
    helm_repositories: tuple[str, ...] = ()


@dataclass
class _Read:
    app: Application
    positions: Positions
    where: tuple[str, int]  # reported field and line of the whole entry


def read_applications(r: Reader, node: Node | None, defaults: Node | None, ctx: AppContext
                      ) -> tuple[tuple[Application, ...], tuple[ArgoCDAppSource, ...],
                                 tuple[AppInstance, ...]]:
    """Applications, Argo CD sources and instances; problems go to ``r``."""
    if defaults is not None:
        _read_app(r, defaults, "defaults", ctx, partial=True)
    if node is None:
        return (), (), ()
    apps: list[_Read] = []
    sources: list[ArgoCDAppSource] = []
    names: list[tuple[Node, str, str]] = []
    for i, item in enumerate(r.sequence(node, "applications") or []):
        p = f"applications[{i}]"
        if isinstance(item, MappingNode) and any(
                isinstance(k, ScalarNode) and k.value == "argocd" for k, _ in item.value):
            source = _read_argocd_entry(r, item, p, ctx)
            name_node = _field_node(item, "name")
            if source is not None:
                sources.append(source)
                if name_node is not None:
                    names.append((name_node, f"{p}.name", source.name))
            continue
        merged = merge_nodes(defaults, item) if defaults is not None else item
        got = _read_app(r, merged, p, ctx, partial=False)
        if got is not None:
            apps.append(got)
            name_node = _field_node(merged, "name")
            if name_node is not None:
                names.append((name_node, f"{p}.name", got.app.name))
    first: dict[str, Node] = {}
    for name_node, path, name in names:
        if name in first:
            r.issue(name_node, path, f"duplicate application name '{name}' (first on line "
                                     f"{line_of(first[name])})")
        else:
            first.setdefault(name, name_node)
    instances = [inst for got in apps for inst in _instances(r, got, ctx)]
    return (tuple(got.app for got in apps), tuple(sources), tuple(sorted(instances)))


def _field_node(node: Node, name: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, ScalarNode) and k.value == name), None)


def _read_argocd_entry(r: Reader, node: Node, p: str, ctx: AppContext) -> ArgoCDAppSource | None:
    f = r.mapping(node, p, ARGOCD_ENTRY_FIELDS, required=("name", "argocd"))
    if f is None or "name" not in f or "argocd" not in f:
        return None
    name = r.string(f["name"], f"{p}.name") or ""
    if name and (reason := check_name(name, "application")):
        r.issue(f["name"], f"{p}.name", reason)
    a = r.mapping(f["argocd"], f"{p}.argocd", ARGOCD_SOURCE_FIELDS, required=("repo",))
    if a is None or "repo" not in a:
        return None
    repo = _repo_ref(r, a["repo"], f"{p}.argocd.repo", ctx)
    revision = r.string(a["targetRevision"], f"{p}.argocd.targetRevision") or "HEAD" \
        if "targetRevision" in a else "HEAD"
    path = "."
    if "path" in a:
        path = r.string(a["path"], f"{p}.argocd.path") or "."
        if reason := check_repo_path(path):
            r.issue(a["path"], f"{p}.argocd.path", reason)
    helm = read_helm(r, a["helm"], f"{p}.argocd.helm", "argocd.helm", {}) if "helm" in a \
        else HelmParams()
    return ArgoCDAppSource(name=name, repo=repo, target_revision=revision, path=path, helm=helm)


def _repo_ref(r: Reader, node: Node, path: str, ctx: AppContext) -> str:
    repo = r.string(node, path) or ""
    if repo and repo not in ctx.repositories:
        r.issue(node, path, f"unknown repository '{repo}'{suggest(repo, ctx.repositories)}")
    return repo


def _project_ref(r: Reader, node: Node, path: str, ctx: AppContext) -> str:
    """The project an application names; an unknown one is an error, never "unrestricted"."""
    project = r.string(node, path) or DEFAULT_PROJECT
    if project not in ctx.projects:
        r.issue(node, path, f"unknown project '{project}'{suggest(project, ctx.projects)}; "
                            "declare it under 'projects'")
    return project


def _templated(r: Reader, node: Node, path: str, rel: str, positions: Positions) -> None:
    """Remember where a templatable string was written (template problems are found per
    instance, see ``_instances``)."""
    positions[rel] = r.where(node, path)


def _read_app(r: Reader, node: Node, p: str, ctx: AppContext, *, partial: bool) -> _Read | None:
    fields = DEFAULTS_FIELDS if partial else APPLICATION_FIELDS
    required = () if partial else ("name", "source", "destination")
    f = r.mapping(node, p, fields, required=required)
    if f is None:
        return None
    positions: Positions = {}
    name = ""
    if "name" in f:
        name = r.string(f["name"], f"{p}.name") or ""
        if name and (reason := check_name(name, "application")):
            r.issue(f["name"], f"{p}.name", reason)
    source = _read_source(r, f.get("source"), f"{p}.source", ctx, positions, partial)
    destination = _read_destination(r, f.get("destination"), f"{p}.destination", ctx,
                                    positions, partial)
    policy = read_sync_policy(r, f.get("syncPolicy"), f"{p}.syncPolicy",
                              default_timeout=ctx.sync_timeout)
    ignore = read_ignore_differences(r, f.get("ignoreDifferences"), f"{p}.ignoreDifferences")
    cascade = bool(r.boolean(f["cascadeDelete"], f"{p}.cascadeDelete")) if "cascadeDelete" in f else False
    project = _project_ref(r, f["project"], f"{p}.project", ctx) if "project" in f else DEFAULT_PROJECT
    if source is None or destination is None:
        return None
    app = Application(name=name, source=source, destination=destination, sync_policy=policy,
                      ignore_differences=ignore, cascade_delete=cascade, project=project)
    return _Read(app, positions, r.where(node, p))


def _read_source(r: Reader, node: Node | None, p: str, ctx: AppContext, positions: Positions,
                 partial: bool) -> Source | None:
    if node is None:
        return None
    is_chart = isinstance(node, MappingNode) and any(
        isinstance(k, ScalarNode) and k.value in CHART_ONLY_FIELDS for k, _ in node.value)
    if is_chart:
        return _read_chart_source(r, node, p, ctx, positions, partial)
    f = r.mapping(node, p, SOURCE_FIELDS, required=() if partial else ("repo",))
    if f is None:
        return None
    repo = _repo_ref(r, f["repo"], f"{p}.repo", ctx) if "repo" in f else ""
    revision = "HEAD"
    if "targetRevision" in f:
        revision = r.string(f["targetRevision"], f"{p}.targetRevision") or revision
        _templated(r, f["targetRevision"], f"{p}.targetRevision", "source.targetRevision",
                   positions)
    path = "."
    if "path" in f:
        path = r.string(f["path"], f"{p}.path") or path
        _templated(r, f["path"], f"{p}.path", "source.path", positions)
        if "{{" not in path and (reason := check_repo_path(path)):
            r.issue(f["path"], f"{p}.path", reason)
    source = Source(repo=repo, target_revision=revision, path=path)
    if "helm" in f:
        helm = read_helm(r, f["helm"], f"{p}.helm", "source.helm", positions)
        source = replace(source, helm=helm)
    if "directory" in f:
        source = replace(source, directory=read_directory(r, f["directory"], f"{p}.directory"))
    return source


def _read_chart_source(r: Reader, node: Node, p: str, ctx: AppContext, positions: Positions,
                       partial: bool) -> Source | None:
    """A chart source: ``helmRepo`` (a helmRepositories name), ``chart``, ``version``
    (exact or a range; the newest when absent) and ``helm``."""
    f = r.mapping(node, p, SOURCE_FIELDS, required=() if partial else ("helmRepo", "chart"))
    if f is None:
        return None
    for key in ("repo", "path", "targetRevision", "directory"):
        if key in f:
            r.issue(f[key], f"{p}.{key}", f"a chart source (helmRepo, chart) has no {key}"
                    + ("; give the chart version in version" if key == "targetRevision" else ""))
    repo = ""
    if "helmRepo" in f:
        repo = r.string(f["helmRepo"], f"{p}.helmRepo") or ""
        if repo and repo not in ctx.helm_repositories:
            r.issue(f["helmRepo"], f"{p}.helmRepo", f"unknown Helm repository '{repo}'"
                    f"{suggest(repo, ctx.helm_repositories)}; declare it under helmRepositories")
    chart = (r.string(f["chart"], f"{p}.chart") or "") if "chart" in f else ""
    if chart and ("/" in chart or chart.startswith(".")):
        r.issue(f["chart"], f"{p}.chart", "a chart name, not a path")
    version = ""
    if "version" in f:
        version = r.string(f["version"], f"{p}.version") or ""
        _templated(r, f["version"], f"{p}.version", "source.targetRevision", positions)
    source = Source(repo=repo, target_revision=version, path=".", chart=chart)
    if "helm" in f:
        source = replace(source, helm=read_helm(r, f["helm"], f"{p}.helm", "source.helm",
                                                positions))
    return source


def _read_destination(r: Reader, node: Node | None, p: str, ctx: AppContext,
                      positions: Positions, partial: bool) -> Destination | None:
    if node is None:
        return None
    f = r.mapping(node, p, DESTINATION_FIELDS, required=() if partial else ("clusters",))
    if f is None:
        return None
    namespace = ""
    if "namespace" in f:
        namespace = r.string(f["namespace"], f"{p}.namespace") or ""
        _templated(r, f["namespace"], f"{p}.namespace", "destination.namespace", positions)
        if namespace and "{{" not in namespace and (reason := check_namespace(namespace)):
            r.issue(f["namespace"], f"{p}.namespace", reason)
    if "clusters" not in f:
        return None if not partial else Destination(ClusterSelector(), namespace)
    selector_node = f["clusters"]
    s = r.mapping(selector_node, f"{p}.clusters", SELECTOR_FIELDS)
    if s is None:
        return None
    known = [c.name for c in ctx.clusters]
    names: list[str] = []
    ok = True
    if "names" in s:
        for i, item in enumerate(r.sequence(s["names"], f"{p}.clusters.names") or []):
            name = r.string(item, f"{p}.clusters.names[{i}]")
            if name is None:
                ok = False
            else:
                names.append(name)
                if name not in known:
                    ok = False
                    r.issue(item, f"{p}.clusters.names[{i}]",
                            f"unknown cluster '{name}'{suggest(name, known)}")
    labels: dict[str, str] = {}
    if "matchLabels" in s:
        got = r.string_map(s["matchLabels"], f"{p}.clusters.matchLabels")
        ok = ok and got is not None
        labels = got or {}
    selector = ClusterSelector(names=tuple(names), match_labels=labels)
    if ok and not partial and not any(selector.matches(c) for c in ctx.clusters):
        r.issue(selector_node, f"{p}.clusters", "the cluster selector matches no cluster")
    return Destination(selector, namespace)


def _instances(r: Reader, got: _Read, ctx: AppContext) -> list[AppInstance]:
    """Instances on the selected clusters; template problems reported where written.

    With no cluster selected (already reported), templates are still checked
    for variables that could never resolve.
    """
    out = []
    selected = [c for c in ctx.clusters if got.app.destination.clusters.matches(c)]
    for cluster in selected or [Cluster(name="", kubeconfig="")]:
        instance, problems = instantiate(got.app, cluster, ctx.fleet)
        if selected:
            out.append(instance)
        for problem in problems:
            if selected or not problem.per_cluster:
                field, line = got.positions.get(problem.field, got.where)
                r.issue_at(field, line, f"application '{got.app.name}': {problem.message}")
    return out
