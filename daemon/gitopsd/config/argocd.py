"""Argo CD ``Application`` manifests → gitopsd applications (pure; the engine reads Git).

A fleet's ``argocd`` entries name repository paths of ``argoproj.io/v1alpha1``
Applications. After reading (or rendering) that path at a revision, the engine
hands the text to ``read_argocd_applications``, which maps each ``repoURL``
to a fleet repository and ``spec.destination`` to a fleet cluster
(``config.argomatch``), and reads ``source``/``sources``
(``config.argosources``), ``syncPolicy``, ``helm``, ``directory`` and
``ignoreDifferences`` in their Argo CD shape. ``spec.project`` names the
application's project: one of the fleet file's, one defined by an
``AppProject`` among the same files (``projects_from_argocd`` reads those), or
``default``; any other name is an error at its line. Each Application stands
alone: one gitopsd cannot honour is returned as rejected with its reasons
(file, line, field) while the others load. Fields gitopsd cannot honour are
reported, never dropped; fields that change nothing here are listed as
warnings. Other documents (ConfigMaps, ...) are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gitopsd.config.appspec import Positions, read_ignore_differences, read_sync_policy
from gitopsd.config.argomatch import NoMatch, match_cluster_name, match_server
from gitopsd.config.argosources import (
    ARGO_SOURCE_FIELDS,
    ignored_fields,
    read_source,
    read_sources,
)
from gitopsd.config.notifications import annotation_subscriptions
from gitopsd.config.projects import project_names, read_appproject
from gitopsd.config.reader import Reader
from gitopsd.config.rules import check_name, check_namespace
from gitopsd.config.templating import instantiate
from gitopsd.config.yamlpos import IssueLog, compose_documents, line_of, suggest
from gitopsd.errors import ConfigIssue
from gitopsd.model.fleet import (
    Application,
    Cluster,
    ClusterSelector,
    Destination,
    Fleet,
    RejectedApplication,
    Source,
)
from gitopsd.model.projects import DEFAULT_PROJECT, Project

__all__ = [
    "ARGO_API_VERSION",
    "ARGO_DESTINATION_FIELDS",
    "ARGO_SOURCE_FIELDS",
    "ARGO_SPEC_FIELDS",
    "ArgoApplications",
    "applications_from_argocd",
    "projects_from_argocd",
    "read_argocd_applications",
]

ARGO_API_VERSION = "argoproj.io/v1alpha1"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
ARGO_SPEC_FIELDS = ("project", "source", "sources", "destination", "syncPolicy", "ignoreDifferences")
ARGO_DESTINATION_FIELDS = ("server", "name", "namespace")
ARGO_TOP_IGNORED = ("operation",)  # a sync request carried in the object: gitopsd takes them by API

SPEC_IGNORED = ("info", "revisionHistoryLimit")
SPEC_UNSUPPORTED = ("sourceHydrator",)


@dataclass(frozen=True)
class ArgoApplications:
    """What a set of Application manifests gave: the applications gitopsd runs, the ones it
    refuses (each with its reasons), problems that belong to no one Application (a file that is
    not YAML, an Application without a name) and warnings about fields that change nothing."""

    applications: tuple[Application, ...] = ()
    rejected: tuple[RejectedApplication, ...] = ()
    problems: tuple[ConfigIssue, ...] = ()
    warnings: tuple[ConfigIssue, ...] = ()
    reasons: tuple[ConfigIssue, ...] = ()  # the issues of every rejected Application


def applications_from_argocd(files: Mapping[str, str], fleet: Fleet, origin: str
                             ) -> tuple[Application, ...]:
    """The applications of ``read_argocd_applications``; ``ConfigError`` listing every problem
    (of every Application) when there is any. For ``gitopsd validate`` and the tests."""
    got = read_argocd_applications(files, fleet, origin)
    log = IssueLog()
    for issue in got.problems:
        log.add(issue)
    for issue in got.reasons:
        log.add(issue)
    log.raise_if_any()
    return got.applications


def read_argocd_applications(files: Mapping[str, str], fleet: Fleet, origin: str, *,
                             entry: str = "") -> ArgoApplications:
    """Applications defined by the Argo CD ``Application`` manifests in ``files``.

    ``files`` maps a path (relative to the repository path that was read, or
    naming a render's output) to its YAML text. ``origin``
    names where they came from (for example ``env@main:clusters/prod/apps``);
    each issue's file is ``<origin>/<path>``. ``entry`` names the fleet's
    ``argocd`` entry for the rejected ones. Applications are sorted by name.
    """
    problems = IssueLog()
    warnings = IssueLog()
    found: list[tuple[Application | None, Cluster | None, IssueLog, Reader, Node, str]] = []
    beside = [p.name for p in _projects(files, origin, IssueLog())]
    known = project_names(fleet.projects) + tuple(beside)
    for path in sorted(files):
        file = f"{origin.rstrip('/')}/{path.lstrip('/')}" if origin else path
        for doc in compose_documents(files[path], file, problems):
            if _scalar(doc, "kind") != "Application":
                continue
            api = _scalar(doc, "apiVersion")
            if not api.startswith("argoproj.io/"):
                continue
            own = IssueLog()
            r = Reader(file, own)
            meta = _child(doc, "metadata")
            name_node = _child(meta, "name") if meta is not None else None
            name = _scalar(meta, "name") if meta is not None else ""
            if api != ARGO_API_VERSION:
                r.issue(_child(doc, "apiVersion"), "apiVersion",
                        f"unsupported Application version '{api}'; expected {ARGO_API_VERSION}")
                app, cluster = None, None
            else:
                app, cluster = _convert(r, doc, fleet, warnings, known)
            if name_node is None or not name:
                for issue in own:
                    problems.add(issue)
                if name_node is None:
                    r.log = problems
                    r.issue(meta or doc, "metadata", "missing required field 'name'")
                continue
            found.append((app, cluster, own, r, name_node, name))
    taken = {a.name: "the fleet file" for a in fleet.applications}
    taken.update({s.name: "the fleet file" for s in fleet.argocd_sources})
    first: dict[str, str] = {}
    accepted: list[Application] = []
    rejected: list[RejectedApplication] = []
    reasons: list[ConfigIssue] = []
    for app, cluster, own, r, name_node, name in found:
        where = f"{r.file}:{line_of(name_node)}"
        if name in taken:
            r.issue(name_node, "metadata.name",
                    f"application '{name}' is already defined in {taken[name]}")
        elif name in first:
            r.issue(name_node, "metadata.name",
                    f"duplicate application name '{name}' (first at {first[name]})")
        else:
            first[name] = where
        if len(own) or app is None:
            issues = own.error().issues or [ConfigIssue(r.file, line_of(name_node),
                                                        "metadata.name", "cannot be read")]
            reasons.extend(issues)
            rejected.append(RejectedApplication(name=name, origin=entry or origin,
                                                reasons=tuple(str(i) for i in issues),
                                                summary=_summary(issues[0]),
                                                cluster=cluster.name if cluster else ""))
        else:
            accepted.append(app)
    return ArgoApplications(
        applications=tuple(sorted(accepted, key=lambda a: a.name)),
        rejected=tuple(sorted(rejected, key=lambda a: (a.name, a.reasons))),
        problems=tuple(problems.error().issues), warnings=tuple(warnings.error().issues),
        reasons=tuple(reasons))


def _summary(issue: ConfigIssue) -> str:
    """ISSUE with what is wrong first and where last."""
    what = f"{issue.field}: {issue.message}" if issue.field else issue.message
    return f"{what} ({issue.file}:{issue.line})" if issue.line else f"{what} ({issue.file})"


def projects_from_argocd(files: Mapping[str, str], origin: str) -> tuple[Project, ...]:
    """Projects defined by the Argo CD ``AppProject`` manifests in ``files`` (as for
    ``read_argocd_applications``). Raises ``ConfigError`` listing every problem, a
    name defined twice among them included; returns them sorted by name."""
    log = IssueLog()
    found = _projects(files, origin, log)
    log.raise_if_any()
    return found


def _projects(files: Mapping[str, str], origin: str, log: IssueLog) -> tuple[Project, ...]:
    found: dict[str, Project] = {}
    for path in sorted(files):
        file = f"{origin.rstrip('/')}/{path.lstrip('/')}" if origin else path
        r = Reader(file, log)
        for doc in compose_documents(files[path], file, IssueLog()):
            if _scalar(doc, "kind") != "AppProject" or not _scalar(doc, "apiVersion").startswith(
                    "argoproj.io/"):
                continue
            if _scalar(doc, "apiVersion") != ARGO_API_VERSION:
                r.issue(_child(doc, "apiVersion"), "apiVersion",
                        f"unsupported AppProject version '{_scalar(doc, 'apiVersion')}'; "
                        f"expected {ARGO_API_VERSION}")
                continue
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


def _child(node: Node, name: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, ScalarNode) and k.value == name), None)


def _scalar(node: Node, name: str) -> str:
    child = _child(node, name)
    return str(child.value) if isinstance(child, ScalarNode) else ""


def _convert(r: Reader, doc: Node, fleet: Fleet, warnings: IssueLog, projects: tuple[str, ...]
             ) -> tuple[Application | None, Cluster | None]:
    """DOC as an application (None when it has problems, all recorded in ``r``), and the
    cluster its destination names when that much could be read."""
    meta = _child(doc, "metadata")
    name_node = _child(meta, "name") if meta is not None else None
    name = r.string(name_node, "metadata.name") if name_node is not None else None
    if name and (reason := check_name(name, "application")):
        r.issue(name_node, "metadata.name", reason)
    warn = Reader(r.file, warnings)
    for key, at in ignored_fields(doc, ARGO_TOP_IGNORED):
        warn.issue(at, key, f"field '{key}' is ignored by gitopsd")
    spec_node = _child(doc, "spec")
    if spec_node is None:
        r.issue(doc, "", "missing required field 'spec'")
        return None, None
    for key, at in ignored_fields(spec_node, SPEC_IGNORED):
        warn.issue(at, f"spec.{key}", f"field '{key}' is ignored by gitopsd")
    spec = r.mapping(spec_node, "spec", ARGO_SPEC_FIELDS, required=("destination",),
                     ignored=SPEC_IGNORED, unsupported=SPEC_UNSUPPORTED)
    if spec is None:
        return None, None
    positions: Positions = {}
    source: Source | None = None
    if "source" in spec and "sources" in spec:
        r.issue(spec["sources"], "spec.sources", "set either spec.source or spec.sources, not both")
    elif "source" in spec:
        source = read_source(r, spec["source"], "spec.source", fleet, positions, warn)
    elif "sources" in spec:
        source = read_sources(r, spec["sources"], "spec.sources", fleet, positions, warn)
    else:
        r.issue(spec_node, "spec", "missing required field 'source' (or 'sources')")
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
    cluster = target[0] if target is not None else None
    if source is None or target is None or name_node is None or not name:
        return None, cluster
    cluster, namespace = target
    app = Application(name=name, source=source,
                      destination=Destination(ClusterSelector(names=(cluster.name,)), namespace),
                      sync_policy=policy, ignore_differences=ignore,
                      cascade_delete=_cascades(meta), project=project,
                      subscriptions=annotation_subscriptions(warn, meta, fleet.notifications))
    _, problems = instantiate(app, cluster, fleet.name)
    anchor = spec.get("source") or spec.get("sources")
    for problem in problems:
        where, line = positions.get(problem.field, ("spec.source", line_of(anchor)))
        r.issue_at(where, line, problem.message)
    return app, cluster


def _cascades(meta: Node | None) -> bool:
    """Argo CD's resources finalizer (any variant) asks for a cascading delete."""
    finalizers = _child(meta, "finalizers") if meta is not None else None
    if not isinstance(finalizers, SequenceNode):
        return False
    return any(isinstance(item, ScalarNode) and str(item.value).startswith(RESOURCES_FINALIZER)
               for item in finalizers.value)


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
        if name is None:
            return None
        try:
            return match_cluster_name(name, fleet.clusters), namespace
        except NoMatch as exc:
            r.issue(f["name"], f"{p}.name", str(exc))
            return None
    if "server" in f:
        server = r.string(f["server"], f"{p}.server")
        if server is None:
            return None
        try:
            return match_server(server, fleet.clusters), namespace
        except NoMatch as exc:
            r.issue(f["server"], f"{p}.server", str(exc))
            return None
    r.issue(node, p, "missing required field 'server' or 'name'")
    return None
