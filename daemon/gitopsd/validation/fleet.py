"""``--config``: every application instance rendered from the working tree, as the daemon would.

Rendering goes through the daemon's own ``DesiredState`` with the daemon's
``Renderer`` (plain directories, Kustomize, Helm), with each repository of
the fleet mapped to a directory by ``WorkingTrees``. Applications defined by
Argo CD ``Application`` manifests (``argocd`` entries) are read from the
working tree too. Rendered objects are traced back to the file and line they
came from: plain files directly, Kustomize output through the files its
kustomization reaches, Helm output to its template. Findings about the
rendering itself (render failures, duplicates, namespaces outside the
destination, what an application's project forbids) are made here; schema and
policy checks happen in ``run``.
Nothing here fetches from Git remotes or talks to the fleet's clusters.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from gitopsd.app import RenderAdapter
from gitopsd.config import (
    applications_from_argocd,
    expand_instances,
    load_fleet,
    projects_from_argocd,
)
from gitopsd.core.policy import Finding, Subject, finding
from gitopsd.edges.render import Renderer
from gitopsd.engine.desired import DesiredState
from gitopsd.errors import ConfigError, GitopsdError, ManifestError, RenderError, SourceError
from gitopsd.model import AppInstance, Application, Fleet, Manifest, ResourceKey, objects
from gitopsd.validation import rules
from gitopsd.validation.documents import Item, Loaded, load_file, manifest_findings
from gitopsd.validation.files import (
    KUSTOMIZATION_FILES,
    MANIFEST_SUFFIXES,
    collect,
    kustomization_in,
    reachable_files,
    relative,
)
from gitopsd.validation.projects import project_findings
from gitopsd.validation.worktree import WORKTREE_SHA, WorkingTrees

_MISSING_TOOL = re.compile(r"^(kustomize|helm) is needed to render ")


@dataclass
class _Index:
    """A working tree's objects by (kind, name) and by (file, line), for tracing rendered output."""

    root: Path
    by_name: dict[tuple[str, str], list[Item]] = field(default_factory=dict)
    by_place: dict[tuple[str, int], Item] = field(default_factory=dict)

    @classmethod
    def build(cls, directory: Path) -> _Index:
        index = cls(directory)
        loaded = Loaded()
        for source in collect([directory], directory):
            loaded.extend(load_file(source))
        for item in loaded.items:
            index.by_place[(item.subject.file, item.subject.line)] = item
            name = objects.name(item.subject.body)
            index.by_name.setdefault((item.subject.kind, name), []).append(item)
        return index


def repository_dirs(fleet: Fleet, mapping: Mapping[str, Path], root: Path) -> dict[str, Path]:
    """Which directory each repository is read from.

    Explicit ``--repo-dir NAME=DIR`` mappings win; without any, a fleet with
    exactly one repository reads it from ROOT. Raises GitopsdError for
    unknown names, or when several repositories are left unmapped.
    """
    names = [repo.name for repo in fleet.repositories]
    unknown = sorted(set(mapping) - set(names))
    if unknown:
        raise GitopsdError(f"--repo-dir names unknown repositories: {', '.join(unknown)} "
                           f"(the fleet has {', '.join(names) or 'none'})")
    if mapping:
        return {name: path.absolute() for name, path in mapping.items()}
    if len(names) == 1:
        return {names[0]: root}
    raise GitopsdError(f"the fleet has {len(names)} repositories ({', '.join(names)}); say which "
                       "working tree holds each with --repo-dir NAME=DIR (unmapped ones are skipped)")


def render_fleet(config: Path, mapping: Mapping[str, Path], root: Path, *,
                 kube_version: str) -> Loaded:
    """Render every instance whose repository has a working tree; objects and findings."""
    fleet = load_fleet(config, check_files=False)
    dirs = repository_dirs(fleet, mapping, root)
    trees = WorkingTrees(dirs)
    out = Loaded()
    instances = [i for i in fleet.instances if i.source.repo in dirs]
    apps = {a.name: (a, fleet) for a in fleet.applications}
    instances += _argocd_instances(fleet, trees, root, out, apps)
    indexes = {name: _Index.build(path) for name, path in dirs.items()}
    rendered = asyncio.run(_render_all(fleet, trees, instances, kube_version))
    out.instances = len(rendered)
    seen: dict[tuple[str, ResourceKey], tuple[str, str, int]] = {}
    for instance, result in rendered:
        repo_dir = dirs[instance.source.repo]
        app_path = _clean(instance.source.path)
        if isinstance(result, Exception):
            out.findings.extend(_failure(result, instance, repo_dir, app_path, root))
            continue
        index = indexes[instance.source.repo]
        reach = _reach(repo_dir, app_path)
        items: dict[ResourceKey, Item] = {}
        for manifest in result:
            item = _item(manifest, instance, index, reach, repo_dir, app_path, root)
            out.items.append(item)
            items[manifest.key] = item
            out.findings.extend(_placement(item, instance, seen))
        app, bounds = apps[instance.app]
        out.findings.extend(project_findings(bounds, app, instance, result, items,
                                             relative(config.absolute(), root)))
    return out


def _clean(path: str) -> str:
    return path.strip("/") or "."


def _argocd_instances(fleet: Fleet, trees: WorkingTrees, root: Path, out: Loaded,
                      apps: dict[str, tuple[Application, Fleet]]) -> list[AppInstance]:
    """The instances of the Argo CD Applications in the working trees; their applications go
    into APPS, and the AppProjects beside them into the fleet the findings are made against."""
    instances: list[AppInstance] = []
    for source in fleet.argocd_sources:
        if source.repo not in trees.dirs:
            continue
        directory = trees.dirs[source.repo] / _clean(source.path)
        files = {}
        for path in sorted(directory.rglob("*")) if directory.is_dir() else []:
            if path.is_file() and path.name.endswith(MANIFEST_SUFFIXES):
                files[path.relative_to(directory).as_posix()] = path.read_text(encoding="utf-8",
                                                                               errors="replace")
        origin = relative(directory, root)
        try:
            found = applications_from_argocd(files, fleet, origin)
            projects = projects_from_argocd(files, origin)
            known = {p.name for p in fleet.projects}
            scoped = replace(fleet, projects=fleet.projects + tuple(
                p for p in projects if p.name not in known))
            apps.update((a.name, (a, scoped)) for a in found)
            instances.extend(expand_instances(scoped, found))
        except ConfigError as exc:
            out.findings.extend(finding(rules.MANIFEST_INVALID,
                                        f"{issue.field}: {issue.message}" if issue.field else issue.message,
                                        file=issue.file, line=issue.line) for issue in exc.issues)
    return instances


async def _render_all(fleet: Fleet, trees: WorkingTrees, instances: Sequence[AppInstance],
                      kube_version: str) -> list[tuple[AppInstance, tuple[Manifest, ...] | Exception]]:
    renderer = Renderer()
    desired = DesiredState(fleet, trees, RenderAdapter(renderer), kube_version=lambda _: kube_version)
    results: list[tuple[AppInstance, tuple[Manifest, ...] | Exception]] = []
    try:
        for instance in instances:
            try:
                revision = await desired.resolve(instance)
                results.append((instance, await desired.manifests(instance, revision)))
            except RenderError as exc:
                if _MISSING_TOOL.match(str(exc)):
                    raise GitopsdError(str(exc)) from None
                results.append((instance, exc))
            except SourceError as exc:
                results.append((instance, exc))
    finally:
        await renderer.aclose()
    return results


def _failure(exc: Exception, instance: AppInstance, repo_dir: Path, app_path: str,
             root: Path) -> list[Finding]:
    where = f"application {instance.app} on cluster {instance.cluster}"
    if isinstance(exc, ManifestError):
        found = manifest_findings(exc, prefix=f"{instance.source.repo}@{WORKTREE_SHA}:")
        return [replace(f, file=relative(repo_dir / f.file, root) if f.file else f.file, subject=where)
                for f in found]
    text = str(exc).replace(f"{instance.source.repo}@{WORKTREE_SHA}:", "")
    rule = rules.DUPLICATE_OBJECT if "already registered id" in text else rules.RENDER_FAILED
    return [finding(rule, text, file=_app_file(repo_dir, app_path, root), line=0, subject=where)]


def _app_file(repo_dir: Path, app_path: str, root: Path) -> str:
    directory = repo_dir / app_path
    for name in (*KUSTOMIZATION_FILES, "Chart.yaml"):
        if (directory / name).is_file():
            return relative(directory / name, root)
    return relative(directory, root)


def _reach(repo_dir: Path, app_path: str) -> set[Path]:
    directory = repo_dir / app_path
    return reachable_files(directory) if kustomization_in(directory) else set()


def _item(manifest: Manifest, instance: AppInstance, index: _Index, reach: set[Path],
          repo_dir: Path, app_path: str, root: Path) -> Item:
    """The rendered object with the file, line and field lines of its origin."""
    scope = app_path.rstrip("/") + "/"
    origin = index.by_place.get((manifest.source.path, manifest.source.line))
    if origin is None and not (repo_dir / manifest.source.path).is_file():
        origin = _trace(manifest, index, reach)
    if origin is not None:
        file = relative(repo_dir / origin.subject.file, root)
        subject = Subject(manifest.body, file, origin.subject.line, origin.subject.lines, scope=scope)
    else:
        file = manifest.source.path or app_path
        subject = Subject(manifest.body, relative(repo_dir / file, root), manifest.source.line
                          if (repo_dir / file).is_file() else 0, scope=scope)
    return Item(subject, manifest.key, app=instance.app, cluster=instance.cluster)


def _trace(manifest: Manifest, index: _Index, reach: set[Path]) -> Item | None:
    """The source object a rendered one most likely came from: same kind and name, preferring
    files the kustomization reaches, full objects over patches, and the same namespace."""
    candidates = index.by_name.get((manifest.key.kind, manifest.key.name), [])
    if not candidates:
        return None
    reached = [c for c in candidates if (index.root / c.subject.file) in reach]
    pool = reached or candidates

    def rank(item: Item) -> tuple[bool, bool, str, int]:
        namespace = objects.namespace(item.subject.body)
        return (item.patch, namespace not in ("", manifest.key.namespace), item.subject.file,
                item.subject.line)

    return min(pool, key=rank)


def _placement(item: Item, instance: AppInstance,
               seen: dict[tuple[str, ResourceKey], tuple[str, str, int]]) -> list[Finding]:
    """Duplicates across applications on one cluster, and namespaces outside the destination.

    Messages leave the cluster out (it is in the subject), so the same problem
    on several clusters is reported once.
    """
    found = []
    subject = item.subject
    key = item.key
    generated = not objects.name(subject.body)
    if not generated:
        first = seen.get((instance.cluster, key))
        if first is None:
            seen[(instance.cluster, key)] = (instance.app, subject.file, subject.line)
        elif first[0] != instance.app:
            where = f"{first[1]}:{first[2]}" if first[2] else first[1]
            found.append(finding(rules.DUPLICATE_OBJECT,
                                 f"{key} is also rendered by application {first[0]} (at {where})",
                                 file=subject.file, line=subject.line, subject=item.label))
    if instance.namespace and key.namespace and key.namespace != instance.namespace:
        found.append(finding(rules.NAMESPACE_OUTSIDE,
                             f"{key} is in namespace {key.namespace}, outside application "
                             f"{instance.app}'s destination namespace {instance.namespace}",
                             file=subject.file, line=subject.line_of(("metadata", "namespace")),
                             subject=item.label))
    return found
