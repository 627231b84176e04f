"""Files to objects: parse each file with the daemon's own rules and attach field positions.

Manifests and patches go through ``core.manifests.parse_files``, so a file
passes here exactly when the daemon could read it; its ``ManifestError``
becomes findings with file, line and rule id. Each parsed object becomes an
``Item``: a policy ``Subject`` (body, file, line, field lines) plus its
resource key. Kustomization files are read for syntax and handed back as
subjects for the kustomization policy check. Rules about what an object must
contain belong to ``core.manifests``, not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from gitopsd.core.manifests import parse_files
from gitopsd.core.manifests.yaml12 import YamlError, load_documents
from gitopsd.core.policy import Finding, Subject, finding
from gitopsd.errors import ManifestError
from gitopsd.model import ResourceKey, SourceLocation
from gitopsd.validation import rules
from gitopsd.validation.files import Role, SourceFile, read_text
from gitopsd.validation.positions import object_lines

_PROBLEM = re.compile(r"^(?P<file>.*?)(?::(?P<line>\d+))?: (?P<rest>.*)$")
_HEADER = re.compile(r"^\d+ problems in manifests:$")


@dataclass
class Item:
    """One object to check, where it came from, and (in fleet mode) its application.

    ``patch`` marks Kustomize patches: partial objects that skip schema,
    duplicate and cluster checks. ``cluster`` and ``app`` are set for rendered
    objects.
    """

    subject: Subject
    key: ResourceKey
    patch: bool = False
    app: str = ""
    cluster: str = ""

    @property
    def label(self) -> str:
        """The object for messages, with its application instance when it was rendered."""
        where = f" (application {self.app} on cluster {self.cluster})" if self.app else ""
        return self.subject.description + where


@dataclass
class Loaded:
    """What reading files or rendering applications produced: objects, kustomizations, findings,
    and how many files were read and application instances rendered."""

    items: list[Item] = field(default_factory=list)
    kustomizations: list[Subject] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    instances: int = 0

    def extend(self, other: Loaded) -> None:
        self.items.extend(other.items)
        self.kustomizations.extend(other.kustomizations)
        self.findings.extend(other.findings)
        self.files += other.files
        self.instances += other.instances


def manifest_findings(error: ManifestError, *, prefix: str = "") -> list[Finding]:
    """The problems of a ``ManifestError`` as findings.

    Each line of the error names ``<prefix><file>[:<line>]: <problem>``;
    PREFIX (a ``repo@revision:`` part) is removed wherever it occurs.
    """
    found = []
    for raw in str(error).splitlines():
        text = raw.strip()
        if not text or _HEADER.match(text):
            continue
        if prefix:
            text = text.replace(prefix, "")
        match = _PROBLEM.match(text)
        file, line, rest = ("", 0, text) if match is None else (
            match["file"], int(match["line"] or 0), match["rest"])
        if "invalid YAML" in rest or "invalid JSON" in rest or "not UTF-8" in rest:
            rule = rules.YAML_SYNTAX
        elif "is defined twice" in rest:
            rule = rules.DUPLICATE_OBJECT
        else:
            rule = rules.MANIFEST_INVALID
        found.append(finding(rule, rest, file=file, line=line))
    return found


def load_file(source: SourceFile) -> Loaded:
    """Parse one file according to its role."""
    out = Loaded(files=1)
    text = read_text(source.path)
    if text is None:
        out.findings.append(finding(rules.YAML_SYNTAX, "file is not UTF-8 text", file=source.rel, line=0))
        return out
    if source.role is Role.KUSTOMIZATION:
        return _kustomization(source, text, out)
    try:
        manifests = parse_files({source.rel: text}, origin=SourceLocation())
    except ManifestError as exc:
        out.findings.extend(manifest_findings(exc))
        return out
    positions = object_lines(text) if manifests else {}
    for manifest in manifests:
        subject = Subject(manifest.body, source.rel, manifest.source.line,
                          positions.get(manifest.source.line, {}))
        out.items.append(Item(subject, manifest.key, patch=source.role is Role.PATCH))
    return out


def _kustomization(source: SourceFile, text: str, out: Loaded) -> Loaded:
    try:
        docs = list(load_documents(text))
    except YamlError as exc:
        out.findings.append(finding(rules.YAML_SYNTAX, f"invalid YAML: {exc.problem}",
                                    file=source.rel, line=exc.line))
        return out
    positions = object_lines(text)
    for doc in docs:
        if isinstance(doc.value, dict):
            out.kustomizations.append(Subject(doc.value, source.rel, doc.line,
                                              positions.get(doc.line, {})))
    return out
