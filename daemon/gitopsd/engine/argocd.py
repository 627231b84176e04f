"""Applications defined by Argo CD ``Application`` manifests kept in Git.

A fleet's ``argocd`` entries name repository paths (the env-repo layout
``clusters/prod/apps/*.yaml``). ``expand_argocd_sources`` reads those files
at their resolved revision through the Git port, converts them with
``gitopsd.config.projects_from_argocd`` and ``applications_from_argocd`` and
returns a fleet whose projects, applications and instances include them (an
Application may name an AppProject of any source). It reads Git only; it never talks
to a cluster and never renders anything.
"""

from __future__ import annotations

from dataclasses import replace

from gitopsd.config import applications_from_argocd, expand_instances, projects_from_argocd
from gitopsd.engine.ports import GitPort
from gitopsd.errors import ConfigError, ConfigIssue, SourceError
from gitopsd.model import Application, ArgoCDAppSource, Fleet
from gitopsd.model.projects import Project

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


async def expand_argocd_sources(fleet: Fleet, git: GitPort) -> Fleet:
    """FLEET (as loaded from its file) with the applications of its Argo CD sources added.

    Each source's revision is resolved with ``git.ensure`` and the files under
    its path are read with ``git.read_tree``. Problems in the Application files
    raise ``ConfigError`` whose issues name ``<repo>@<ref>:<file>`` and line;
    Git failures raise the Git error with the source's name in front. The
    result keeps ``argocd_sources`` and has its instances re-expanded.
    """
    if not fleet.argocd_sources:
        return fleet
    added: list[Application] = []
    defined_by: dict[str, str] = {}
    issues: list[ConfigIssue] = []
    read = [(source, await _read_source(fleet, source, git)) for source in fleet.argocd_sources]
    projects = _projects(fleet, [files for _, files in read], issues)
    fleet = replace(fleet, projects=fleet.projects + projects)
    for source, files in read:
        try:
            apps = applications_from_argocd(files, fleet, "")
        except ConfigError as exc:
            issues.extend(exc.issues)
            continue
        where = _origin(source)
        for app in apps:
            if app.name in defined_by:
                issues.append(ConfigIssue(where, 0, "metadata.name",
                                          f"application '{app.name}' is also defined by "
                                          f"{defined_by[app.name]}"))
                continue
            defined_by[app.name] = f"argocd entry '{source.name}' ({where})"
            added.append(app)
    if issues:
        raise ConfigError(issues)
    expanded = replace(fleet, applications=fleet.applications + tuple(added))
    return replace(expanded, instances=expand_instances(expanded))


def _projects(fleet: Fleet, sources: list[dict[str, str]], issues: list[ConfigIssue]
              ) -> tuple[Project, ...]:
    """The AppProjects of every source; a name the fleet file or another source defines too
    is reported at the later definition."""
    defined = {p.name: f"the fleet file ({p.origin})" for p in fleet.projects}
    found: list[Project] = []
    for files in sources:
        try:
            projects = projects_from_argocd(files, "")
        except ConfigError as exc:
            issues.extend(exc.issues)
            continue
        for project in projects:
            if project.name in defined:
                file, _, line = project.origin.rpartition(":")
                issues.append(ConfigIssue(file, int(line) if line.isdigit() else 0, "metadata.name",
                                          f"project '{project.name}' is already defined by "
                                          f"{defined[project.name]}"))
                continue
            defined[project.name] = project.origin
            found.append(project)
    return tuple(found)


def _origin(source: ArgoCDAppSource) -> str:
    path = source.path.strip("/") or "."
    return f"{source.repo}@{source.target_revision}:{path}"


async def _read_source(fleet: Fleet, source: ArgoCDAppSource, git: GitPort) -> dict[str, str]:
    """The manifest files of SOURCE as {"<repo>@<ref>:<repo path>": text}."""
    repo = fleet.repository(source.repo)
    path = source.path.strip("/") or "."
    try:
        revision = await git.ensure(repo, source.target_revision)
        blobs = await git.read_tree(repo, revision.sha, path)
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
