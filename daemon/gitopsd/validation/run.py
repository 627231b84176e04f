"""One validation run: collect objects, learn CRD schemas, check, optionally dry-run.

Order of work: files named on the command line (or the whole repository
when neither paths nor a fleet is given) and, with a fleet, every
application's rendered output; then CRDs from those objects and from the
rest of the repository; then schema checks, duplicates within a directory,
policy, and last the optional cluster dry-run. Usage and I/O problems raise
``GitopsdError`` (or ``ConfigError`` for the fleet and policy files); every
problem in the manifests themselves is a finding. Apart from duplicates within
a directory, the checks themselves live in the modules this one calls.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from gitopsd.core.manifests import parse_files
from gitopsd.core.policy import Finding, check_kustomization, check_object, finding
from gitopsd.edges.binaries import K8S_VERSION
from gitopsd.errors import ManifestError
from gitopsd.model import SourceLocation, objects
from gitopsd.validation import rules, schema_check
from gitopsd.validation.documents import Item, Loaded, load_file
from gitopsd.validation.files import collect, find_repo_root, read_text, relative, walk_tree
from gitopsd.validation.policyfile import load_policy
from gitopsd.validation.report import Report, unique
from gitopsd.validation.schemas import SchemaStore

CRD_KIND = "CustomResourceDefinition"


@dataclass(frozen=True)
class Options:
    """What to validate and how; see ``gitopsd validate --help``."""

    paths: tuple[Path, ...] = ()
    root: Path | None = None
    config: Path | None = None
    repo_dirs: Mapping[str, Path] = field(default_factory=dict)
    kube_version: str = K8S_VERSION
    policy: Path | None = None
    ignore_missing_schemas: bool = False
    against_cluster: bool = False
    cluster_timeout: float = 120.0


def repository_root(options: Options) -> Path:
    """--root, else the Git top level above the first path (or the current directory)."""
    if options.root is not None:
        return options.root.absolute()
    start = options.paths[0] if options.paths else Path.cwd()
    start = start.absolute()
    return find_repo_root(start if start.is_dir() else start.parent)


def validate(options: Options) -> Report:
    """Run every check ``options`` asks for and return the report."""
    root = repository_root(options)
    policy = load_policy(options.policy, root)
    store = SchemaStore(options.kube_version)
    loaded = Loaded()
    seen_files: set[Path] = set()
    charts: list[Path] = []
    if options.paths or options.config is None:
        for source in collect(options.paths or (root,), root, charts):
            seen_files.add(source.path)
            loaded.extend(load_file(source))
    if options.config is not None:
        from gitopsd.validation.fleet import render_fleet

        loaded.extend(render_fleet(options.config, options.repo_dirs, root,
                                   kube_version=options.kube_version))
    for item in loaded.items:
        if item.key.kind == CRD_KIND and not item.patch:
            store.add_crd(item.subject.body)
    other_crds = []
    if options.paths or options.config is not None:
        other_crds = list(repository_crds(root, skip=seen_files))
        for body in other_crds:
            store.add_crd(body)
    findings = list(loaded.findings)
    findings.extend(directory_duplicates(loaded.items))
    for item in loaded.items:
        found = check_object(item.subject, policy, partial=item.patch)
        if not item.patch:
            found += schema_check.check(item.subject, store, ignore_missing=options.ignore_missing_schemas)
        findings.extend(_in_app(found, item))
    for subject in loaded.kustomizations:
        findings.extend(check_kustomization(subject, policy))
    report = Report(unique(findings), files=loaded.files, objects=len(loaded.items),
                    instances=loaded.instances, schemas=store.label)
    report.notes.extend(f"skipped Helm chart {relative(chart, root)}: its templates are checked when "
                        "rendered (--config)" for chart in charts if options.config is None)
    if options.against_cluster:
        from gitopsd.validation.cluster import against_cluster

        dry_findings, sent = against_cluster(loaded.items, crds=other_crds,
                                             timeout=options.cluster_timeout)
        report.findings = unique([*report.findings, *dry_findings])
        report.dry_run = sent
    return report


def _in_app(found: list[Finding], item: Item) -> list[Finding]:
    """FOUND with the application instance named in each subject, for rendered objects."""
    if not item.app:
        return found
    return [replace(f, subject=item.label) for f in found]


def repository_crds(root: Path, *, skip: set[Path]) -> Iterable[dict[str, object]]:
    """CRD objects in files under ROOT not already read (a cheap text test comes first)."""
    for path in walk_tree(root):
        if path in skip:
            continue
        text = read_text(path)
        if text is None or CRD_KIND not in text:
            continue
        try:
            manifests = parse_files({relative(path, root): text}, origin=SourceLocation())
        except ManifestError:
            continue
        for manifest in manifests:
            if manifest.key.kind == CRD_KIND:
                yield dict(manifest.body)


def directory_duplicates(items: Iterable[Item]) -> list[Finding]:
    """The same object defined twice among the files of one directory (outside fleet renders)."""
    found = []
    first: dict[tuple[str, object], Item] = {}
    for item in sorted((i for i in items if not i.patch and not i.app),
                       key=lambda i: (i.subject.file, i.subject.line)):
        if not objects.name(item.subject.body):
            continue
        directory = os.path.dirname(item.subject.file)
        other = first.setdefault((directory, item.key), item)
        if other is item or other.subject.file == item.subject.file:
            continue
        where = f"{other.subject.file}:{other.subject.line}"
        found.append(finding(rules.DUPLICATE_OBJECT, f"{item.key} is defined twice: here and at {where}",
                             file=item.subject.file, line=item.subject.line,
                             subject=item.subject.description))
    return found
