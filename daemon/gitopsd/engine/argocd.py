"""Applications defined by Argo CD ``Application`` manifests kept in Git.

A fleet's ``argocd`` entries name repository paths: a directory of
Application files (the env-repo layout ``clusters/prod/apps/*.yaml``), or a
Helm chart or Kustomization that renders them (the app-of-apps pattern).
``expand_argocd_sources`` reads each path at its resolved revision through
the Git port, renders it through the render port when it holds a
``Chart.yaml`` or a kustomization, reads the AppProjects among them
(``gitopsd.config.projects_from_argocd``; an Application may name an
AppProject of any source), converts the Applications with
``gitopsd.config.read_argocd_applications`` and returns a fleet whose
projects, applications and instances include the ones gitopsd can honour; the
others are kept in ``Fleet.rejected_applications`` with their reasons, and
never stop the rest. It never talks to a cluster.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePosixPath

import structlog

from gitopsd.config import expand_instances, projects_from_argocd, read_argocd_applications
from gitopsd.core.directory import MANIFEST_SUFFIXES
from gitopsd.engine.ports import GitPort, RenderPort
from gitopsd.errors import ConfigError, ConfigIssue, SourceError
from gitopsd.model import Application, ArgoCDAppSource, Fleet, RejectedApplication
from gitopsd.model.projects import Project

CHART_FILE = "Chart.yaml"
KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")

log = structlog.get_logger("gitopsd.argocd")


async def expand_argocd_sources(fleet: Fleet, git: GitPort,
                                renderer: RenderPort | None = None, *,
                                logged: set[str] | None = None) -> Fleet:
    """FLEET (as loaded from its file) with the applications of its Argo CD sources added.

    Each source's revision is resolved with ``git.ensure``; its files are read
    with ``git.read_tree``, or its chart or kustomization rendered with
    RENDERER (a path that needs rendering without one raises ``SourceError``).
    An Application that cannot be honoured is added to
    ``rejected_applications`` (and logged); problems that belong to no
    Application (a file that is not YAML) raise ``ConfigError`` naming
    ``<repo>@<ref>:<file>`` and line; Git and render failures raise their error
    with the source's name in front. The result has its instances re-expanded.
    LOGGED, when given, holds the warnings and rejections already logged by
    earlier calls (each is logged once; a caller that re-reads on every poll
    passes the same set).
    """
    said: set[str] = set() if logged is None else logged
    if not fleet.argocd_sources:
        return fleet
    added: list[Application] = []
    rejected: list[RejectedApplication] = []
    defined_by: dict[str, str] = {}
    issues: list[ConfigIssue] = []
    read = [(source, await _read_source(fleet, source, git, renderer))
            for source in fleet.argocd_sources]
    projects = _projects(fleet, [files for _, files in read], issues)
    fleet = replace(fleet, projects=fleet.projects + projects)
    for source, files in read:
        got = read_argocd_applications(files, fleet, "", entry=source.name)
        issues.extend(got.problems)
        for warning in got.warnings:
            if _first(said, f"warning {warning}"):
                log.warning("argocd.application.field_ignored", entry=source.name,
                            where=str(warning))
        where = _origin(source)
        for app in got.applications:
            if app.name in defined_by:
                rejected.append(RejectedApplication(
                    app.name, source.name, (f"{where}: metadata.name: application '{app.name}' "
                                            f"is also defined by {defined_by[app.name]}",),
                    cluster=next(iter(app.destination.clusters.names), "")))
                continue
            defined_by[app.name] = f"argocd entry '{source.name}' ({where})"
            added.append(app)
        rejected.extend(got.rejected)
    if issues:
        raise ConfigError(issues)
    for bad in rejected:
        if _first(said, f"rejected {bad.name} {bad.reasons}"):
            log.error("argocd.application.rejected", app=bad.name, entry=bad.origin,
                      reasons=list(bad.reasons))
    expanded = replace(fleet, applications=fleet.applications + tuple(added),
                       rejected_applications=tuple(rejected))
    return replace(expanded, instances=expand_instances(expanded))


def _projects(fleet: Fleet, sources: list[dict[str, str]], issues: list[ConfigIssue]
              ) -> tuple[Project, ...]:
    """The AppProjects of every source; a name the fleet file or another source defines too
    is reported at the later definition (one file read by two entries defines it once)."""
    defined = {p.name: f"the fleet file ({p.origin})" for p in fleet.projects}
    found: list[Project] = []
    for files in sources:
        try:
            projects = projects_from_argocd(files, "")
        except ConfigError as exc:
            issues.extend(exc.issues)
            continue
        for project in projects:
            if defined.get(project.name) == project.origin:
                continue
            if project.name in defined:
                file, _, line = project.origin.rpartition(":")
                issues.append(ConfigIssue(file, int(line) if line.isdigit() else 0, "metadata.name",
                                          f"project '{project.name}' is already defined by "
                                          f"{defined[project.name]}"))
                continue
            defined[project.name] = project.origin
            found.append(project)
    return tuple(found)


def _first(said: set[str], line: str) -> bool:
    """Whether LINE is new to SAID (and remember it)."""
    if line in said:
        return False
    said.add(line)
    return True


def _origin(source: ArgoCDAppSource) -> str:
    path = source.path.strip("/") or "."
    return f"{source.repo}@{source.target_revision}:{path}"


async def _read_source(fleet: Fleet, source: ArgoCDAppSource, git: GitPort,
                       renderer: RenderPort | None) -> dict[str, str]:
    """SOURCE's Application manifests as {"<repo>@<ref>:<file>": text}; a chart or kustomization
    is rendered and its output is one entry named after the path and the tool."""
    repo = fleet.repository(source.repo)
    path = source.path.strip("/") or "."
    try:
        revision = await git.ensure(repo, source.target_revision)
        blobs = await git.read_tree(repo, revision.sha, path)
        base = "" if path == "." else path + "/"
        top = {name[len(base):] for name in blobs if "/" not in name[len(base):]}
        tool = "helm template" if CHART_FILE in top else \
            "kustomize build" if top.intersection(KUSTOMIZATIONS) else ""
        if tool:
            if renderer is None:
                raise SourceError(f"{path} needs {tool}, and no renderer was given")
            async with git.materialise(repo, revision.sha, path) as directory:
                root = directory
                for _ in PurePosixPath(path).parts if path != "." else ():
                    root = root.parent
                text = await renderer.render(
                    root, path, release_name=source.helm.release_name or source.name,
                    namespace="", helm=source.helm, kube_version="",
                    cache_key=f"{repo.name}@{revision.sha}",
                    max_output=fleet.settings.max_render_output_size)
            return {f"{source.repo}@{source.target_revision}:{path} ({tool} output)": text}
    except SourceError as exc:
        raise type(exc)(f"argocd entry '{source.name}' ({_origin(source)}): {exc}") from None
    files: dict[str, str] = {}
    issues: list[ConfigIssue] = []
    for name, data in sorted(blobs.items()):
        if not name.endswith(MANIFEST_SUFFIXES):
            continue
        shown = f"{source.repo}@{source.target_revision}:{name}"
        try:
            files[shown] = data.decode("utf-8")
        except UnicodeDecodeError:
            issues.append(ConfigIssue(shown, 0, "", "not UTF-8 text"))
    if issues:
        raise ConfigError(issues)
    return files


__all__ = ["expand_argocd_sources"]
