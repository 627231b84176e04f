"""Argo CD ``Application`` manifests → gitopsd applications (pure; the engine reads Git).

A fleet's ``argocd`` entries name repository paths of ``argoproj.io/v1alpha1``
Applications. After reading those files at a revision, the engine hands their
text to ``applications_from_argocd``, which maps ``spec.source.repoURL`` to a
fleet repository, ``spec.destination.server`` or ``.name`` to a fleet
cluster, and reads ``syncPolicy``, ``helm``, ``directory`` and
``ignoreDifferences`` in their Argo CD shape, and ``spec.project`` names the
application's project: one of the fleet file's, one defined by an
``AppProject`` among the same files (``projects_from_argocd`` reads those), or
``default``; any other name is an error at its line. Fields gitopsd cannot
honour are reported, not dropped. Other documents (ConfigMaps, ...) are
skipped.
"""

from __future__ import annotations

from collections.abc import Mapping

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gitopsd.config.appspec import (
    Positions,
    read_directory,
    read_helm,
    read_ignore_differences,
    read_sync_policy,
)
from gitopsd.config.projects import project_names, read_appproject
from gitopsd.config.reader import Reader
from gitopsd.config.rules import check_name, check_namespace, check_repo_path
from gitopsd.config.templating import instantiate
from gitopsd.config.yamlpos import IssueLog, compose_documents, line_of, suggest
from gitopsd.model.fleet import (
    Application,
    Cluster,
    ClusterSelector,
    Destination,
    DirectoryParams,
    Fleet,
    HelmParams,
    Repository,
    Source,
)
from gitopsd.model.giturls import parse_git_url, repository_identity, safe_url
from gitopsd.model.projects import DEFAULT_PROJECT, Project

__all__ = [
    "ARGO_API_VERSION",
    "ARGO_DESTINATION_FIELDS",
    "ARGO_SOURCE_FIELDS",
    "ARGO_SPEC_FIELDS",
    "applications_from_argocd",
    "projects_from_argocd",
]

ARGO_API_VERSION = "argoproj.io/v1alpha1"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
ARGO_SPEC_FIELDS = ("project", "source", "destination", "syncPolicy", "ignoreDifferences")
ARGO_SOURCE_FIELDS = ("repoURL", "targetRevision", "path", "helm", "directory")
ARGO_DESTINATION_FIELDS = ("server", "name", "namespace")

_SPEC_IGNORED = ("info", "revisionHistoryLimit")
_SPEC_UNSUPPORTED = ("sources", "sourceHydrator")
_SOURCE_UNSUPPORTED = ("chart", "kustomize", "plugin", "ref", "name")
_EXTENSIONS = (".yaml", ".yml", ".json")


def applications_from_argocd(files: Mapping[str, str], fleet: Fleet, origin: str
                             ) -> tuple[Application, ...]:
    """Applications defined by the Argo CD ``Application`` manifests in ``files``.

    ``files`` maps a path (relative to the repository path that was read) to
    its text; only ``.yaml``, ``.yml`` and ``.json`` files are read. ``origin``
    names where they came from (for example ``env@main:clusters/prod/apps``);
    each issue's file is ``<origin>/<path>``. Raises ``ConfigError`` listing
    every problem; returns the applications sorted by name.
    """
    log = IssueLog()
    found: list[tuple[Application, Reader, Node]] = []
    beside = [p.name for p in _projects(files, origin, IssueLog())]
    known = project_names(fleet.projects) + tuple(beside)
    for r, doc in _documents(files, origin, log, "Application"):
        converted = _convert(r, doc, fleet, known)
        if converted is not None:
            found.append(converted)
    taken = {a.name: "the fleet file" for a in fleet.applications}
    taken.update({s.name: "the fleet file" for s in fleet.argocd_sources})
    first: dict[str, str] = {}
    for app, r, name_node in found:
        where = f"{r.file}:{line_of(name_node)}"
        if app.name in taken:
            r.issue(name_node, "metadata.name",
                    f"application '{app.name}' is already defined in {taken[app.name]}")
        elif app.name in first:
            r.issue(name_node, "metadata.name",
                    f"duplicate application name '{app.name}' (first at {first[app.name]})")
        else:
            first[app.name] = where
    log.raise_if_any()
    return tuple(sorted((app for app, _, _ in found), key=lambda a: a.name))


def projects_from_argocd(files: Mapping[str, str], origin: str) -> tuple[Project, ...]:
    """Projects defined by the Argo CD ``AppProject`` manifests in ``files`` (as for
    ``applications_from_argocd``). Raises ``ConfigError`` listing every problem, a
    name defined twice among them included; returns them sorted by name."""
    log = IssueLog()
    found = _projects(files, origin, log)
    log.raise_if_any()
    return found


def _projects(files: Mapping[str, str], origin: str, log: IssueLog) -> tuple[Project, ...]:
    found: dict[str, Project] = {}
    for r, doc in _documents(files, origin, log, "AppProject"):
        meta = _child(doc, "metadata")
        name_node = _child(meta, "name") if meta is not None else None
        project = read_appproject(r, doc, name_node)
        if project is None:
            continue
        if project.name in found:
            r.issue(name_node, "metadata.name", f"duplicate project name '{project.name}' "
                                                f"(first at {found[project.name].origin})")
            continue
        found[project.name] = project
    return tuple(found[name] for name in sorted(found))


def _documents(files: Mapping[str, str], origin: str, log: IssueLog, kind: str
               ) -> list[tuple[Reader, Node]]:
    """Every ``argoproj.io/v1alpha1`` document of KIND in FILES, with a Reader for its file;
    another version of Argo CD's API is reported."""
    out: list[tuple[Reader, Node]] = []
    for path in sorted(files):
        if not path.endswith(_EXTENSIONS):
            continue
        file = f"{origin.rstrip('/')}/{path.lstrip('/')}" if origin else path
        r = Reader(file, log)
        for doc in compose_documents(files[path], file, log):
            if _scalar(doc, "kind") != kind:
                continue
            api = _scalar(doc, "apiVersion")
            if not api.startswith("argoproj.io/"):
                continue
            if api != ARGO_API_VERSION:
                r.issue(_child(doc, "apiVersion"), "apiVersion",
                        f"unsupported {kind} version '{api}'; expected {ARGO_API_VERSION}")
                continue
            out.append((r, doc))
    return out


def _child(node: Node, name: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, ScalarNode) and k.value == name), None)


def _scalar(node: Node, name: str) -> str:
    child = _child(node, name)
    return str(child.value) if isinstance(child, ScalarNode) else ""


def _convert(r: Reader, doc: Node, fleet: Fleet, projects: tuple[str, ...]
             ) -> tuple[Application, Reader, Node] | None:
    meta = _child(doc, "metadata")
    name_node = _child(meta, "name") if meta is not None else None
    name = r.string(name_node, "metadata.name") if name_node is not None else None
    if name_node is None:
        r.issue(meta or doc, "metadata", "missing required field 'name'")
    elif name and (reason := check_name(name, "application")):
        r.issue(name_node, "metadata.name", reason)
    spec_node = _child(doc, "spec")
    if spec_node is None:
        r.issue(doc, "", "missing required field 'spec'")
        return None
    spec = r.mapping(spec_node, "spec", ARGO_SPEC_FIELDS, required=("source", "destination"),
                     ignored=_SPEC_IGNORED, unsupported=_SPEC_UNSUPPORTED)
    if spec is None:
        return None
    positions: Positions = {}
    source = _source(r, spec["source"], fleet, positions) if "source" in spec else None
    target = _destination(r, spec["destination"], fleet) if "destination" in spec else None
    policy = read_sync_policy(r, spec.get("syncPolicy"), "spec.syncPolicy",
                              default_timeout=fleet.settings.sync_timeout)
    ignore = read_ignore_differences(r, spec.get("ignoreDifferences"), "spec.ignoreDifferences")
    project = DEFAULT_PROJECT
    if "project" in spec:
        project = r.string(spec["project"], "spec.project", empty=True) or DEFAULT_PROJECT
        if project not in projects:
            r.issue(spec["project"], "spec.project",
                    f"unknown project '{project}'{suggest(project, projects)}; define it in the "
                    "fleet file's 'projects' or in an AppProject beside this Application")
    if source is None or target is None or name_node is None or not name:
        return None
    cluster, namespace = target
    app = Application(name=name, source=source,
                      destination=Destination(ClusterSelector(names=(cluster.name,)), namespace),
                      sync_policy=policy, ignore_differences=ignore,
                      cascade_delete=_cascades(meta), project=project)
    _, problems = instantiate(app, cluster, fleet.name)
    for problem in problems:
        field, line = positions.get(problem.field, ("spec.source", line_of(spec["source"])))
        r.issue_at(field, line, problem.message)
    return app, r, name_node


def _cascades(meta: Node | None) -> bool:
    """Argo CD's resources finalizer (any variant) asks for a cascading delete."""
    finalizers = _child(meta, "finalizers") if meta is not None else None
    if not isinstance(finalizers, SequenceNode):
        return False
    return any(isinstance(item, ScalarNode) and str(item.value).startswith(RESOURCES_FINALIZER)
               for item in finalizers.value)


def _source(r: Reader, node: Node, fleet: Fleet, positions: Positions) -> Source | None:
    p = "spec.source"
    f = r.mapping(node, p, ARGO_SOURCE_FIELDS, required=("repoURL",),
                  unsupported=_SOURCE_UNSUPPORTED)
    if f is None or "repoURL" not in f:
        return None
    repo = _repository(r, f["repoURL"], fleet)
    revision = "HEAD"
    if "targetRevision" in f:
        revision = r.string(f["targetRevision"], f"{p}.targetRevision") or revision
        positions["source.targetRevision"] = r.where(f["targetRevision"], f"{p}.targetRevision")
    path = "."
    if "path" in f:
        path = r.string(f["path"], f"{p}.path") or path
        positions["source.path"] = r.where(f["path"], f"{p}.path")
        if reason := check_repo_path(path):
            r.issue(f["path"], f"{p}.path", reason)
    helm = HelmParams()
    if "helm" in f:
        helm = read_helm(r, f["helm"], f"{p}.helm", "source.helm", positions, argocd=True)
    directory = DirectoryParams()
    if "directory" in f:
        directory = read_directory(r, f["directory"], f"{p}.directory")
    if repo is None:
        return None
    return Source(repo=repo.name, target_revision=revision, path=path, helm=helm,
                  directory=directory)


def _repository(r: Reader, node: Node, fleet: Fleet) -> Repository | None:
    field = "spec.source.repoURL"
    url = r.string(node, field)
    if url is None:
        return None
    shown = safe_url(url)
    exact = [repo for repo in fleet.repositories if repo.url.strip() == url.strip()]
    if len(exact) == 1:
        return exact[0]
    try:
        identity = parse_git_url(url).identity
    except ValueError as exc:
        r.issue(node, field, f"invalid repoURL: {exc}")
        return None
    matches = [repo for repo in fleet.repositories if repository_identity(repo.url) == identity]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(repo.name for repo in matches)
        r.issue(node, field, f"repoURL '{shown}' matches several fleet repositories ({names})")
    else:
        r.issue(node, field, f"repoURL '{shown}' is not a repository of the fleet; add it under "
                             "'repositories' in the fleet file")
    return None


def _normal_server(url: str) -> str:
    return url.strip().rstrip("/").lower()


def _destination(r: Reader, node: Node, fleet: Fleet) -> tuple[Cluster, str] | None:
    p = "spec.destination"
    f = r.mapping(node, p, ARGO_DESTINATION_FIELDS)
    if f is None:
        return None
    namespace = ""
    if "namespace" in f:
        namespace = r.string(f["namespace"], f"{p}.namespace") or ""
        if namespace and (reason := check_namespace(namespace)):
            r.issue(f["namespace"], f"{p}.namespace", reason)
    if "server" in f and "name" in f:
        r.issue(node, p, "set either destination.server or destination.name, not both")
        return None
    if "name" in f:
        name = r.string(f["name"], f"{p}.name")
        known = [c.name for c in fleet.clusters]
        cluster = next((c for c in fleet.clusters if c.name == name), None)
        if name is not None and cluster is None:
            r.issue(f["name"], f"{p}.name", f"unknown cluster '{name}'{suggest(name, known)}")
        return (cluster, namespace) if cluster is not None else None
    if "server" in f:
        server = r.string(f["server"], f"{p}.server")
        if server is None:
            return None
        matches = [c for c in fleet.clusters
                   if c.server and _normal_server(c.server) == _normal_server(server)]
        if len(matches) == 1:
            return matches[0], namespace
        if matches:
            names = ", ".join(c.name for c in matches)
            r.issue(f["server"], f"{p}.server", f"server '{server}' is the API server of several "
                    f"fleet clusters ({names}); use destination.name")
        else:
            r.issue(f["server"], f"{p}.server", f"no fleet cluster has API server '{server}' "
                    "(servers come from each cluster's kubeconfig); use destination.name")
        return None
    r.issue(node, p, "missing required field 'server' or 'name'")
    return None
