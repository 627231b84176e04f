"""Turning rendered text into validated, namespaced, unique ``Manifest`` values.

Problems are collected over the whole input and raised once, as a
``ManifestError`` whose lines each name the source location and the object.
Messages name keys and kinds but never quote values, since a value may be a
Secret's. This module must not resolve anything against a live cluster.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from gitopsd.core.kinds import is_cluster_scoped
from gitopsd.core.manifests.jsonnet import jsonnet_objects
from gitopsd.core.manifests.yaml12 import YamlError, load_documents
from gitopsd.core.marks import HOOK_ANNOTATIONS
from gitopsd.errors import ManifestError
from gitopsd.model import objects
from gitopsd.model.resources import Manifest, ResourceKey, SourceLocation

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
"""File name endings ``parse_files`` reads; every other file is ignored."""

_KUSTOMIZE_GROUP = "kustomize.config.k8s.io"
_CRD = ("apiextensions.k8s.io", "CustomResourceDefinition")
_HELM_SOURCE = re.compile(r"^# Source: (\S.*?)\s*$")


@dataclass
class _Raw:
    """An object as read, before scoping: its body and where it starts."""

    body: dict[str, Any]
    where: SourceLocation


class _Issues:
    """Every problem found in one parse, each a line naming location and object."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: SourceLocation, problem: str, body: Mapping[str, Any] | None = None) -> None:
        subject = f" {_describe(body)}:" if body is not None else ""
        self.lines.append(f"{where or '<input>'}:{subject} {problem}")

    def raise_if_any(self) -> None:
        if len(self.lines) == 1:
            raise ManifestError(self.lines[0])
        if self.lines:
            raise ManifestError(f"{len(self.lines)} problems in manifests:\n"
                                + "\n".join(f"  {line}" for line in self.lines))


def _describe(body: Mapping[str, Any]) -> str:
    kind = body.get("kind")
    meta = objects.meta(body)
    name: object = meta.get("name") or meta.get("generateName")
    kind_text = kind if isinstance(kind, str) and kind else "<no kind>"
    name_text = name if isinstance(name, str) and name else "<no name>"
    return f"{kind_text}/{name_text}"


def _group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def parse_stream(text: str, *, origin: SourceLocation, default_namespace: str = "",
                 cluster_scoped: Collection[tuple[str, str]] = ()) -> tuple[Manifest, ...]:
    """Parse a rendered stream of YAML (or JSON) documents into manifests.

    Empty documents are skipped and ``kind: List`` documents expanded into
    their items. Every other document must be a Kubernetes object with
    ``apiVersion``, ``kind`` and ``metadata.name`` (hooks may use
    ``metadata.generateName`` instead; their key then carries that prefix as
    the name and they are exempt from the duplicate check). Namespaced objects
    without a namespace get ``default_namespace``; cluster-scoped ones (built
    in, listed in ``cluster_scoped``, or defined with ``scope: Cluster`` by a
    CRD in the same stream) lose any namespace they carry.

    Each manifest's source is ``origin`` with the line at which its document
    starts; where Helm marked a document with ``# Source: chart/templates/x``,
    the path names that template inside ``origin.path`` (taken to be the
    chart's directory) and the line is left out, since it would count lines of
    rendered output rather than of the template. Raises ``ManifestError``
    listing every problem.
    """
    issues = _Issues()
    raws = list(_read_yaml(text, origin, issues, lenient=False))
    return _finish(raws, issues, default_namespace, cluster_scoped)


def parse_files(files: Mapping[str, str], *, origin: SourceLocation,
                default_namespace: str = "",
                cluster_scoped: Collection[tuple[str, str]] = ()) -> tuple[Manifest, ...]:
    """Parse the files of a plain directory (path -> text) into manifests.

    Files are read in sorted path order; only ``.yaml``, ``.yml`` and
    ``.json`` files are considered, and ``.jsonnet`` files whose text is their
    evaluated output (JSON; ``jsonnet_objects`` says which shapes it may
    take). Documents that are plainly not Kubernetes objects are ignored:
    those without a ``kind`` key (values files, Helm's ``Chart.yaml``, lists
    of settings) and Kustomize's own configuration
    (``kustomize.config.k8s.io``). A document with a ``kind`` is held to the
    rules of ``parse_stream``. Paths are reported as given, under
    ``origin``'s repository and revision.
    """
    issues = _Issues()
    raws: list[_Raw] = []
    for path in sorted(files):
        where = replace(origin, path=path, line=0)
        if path.lower().endswith(".jsonnet"):
            raws.extend(_read_jsonnet(files[path], where, issues))
            continue
        if not path.lower().endswith(MANIFEST_SUFFIXES):
            continue
        if path.lower().endswith(".json"):
            raws.extend(_read_json(files[path], where, issues))
        else:
            raws.extend(_read_yaml(files[path], where, issues, lenient=True))
    return _finish(raws, issues, default_namespace, cluster_scoped)


def _helm_sources(text: str) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _HELM_SOURCE.match(line)
        if match:
            found.append((number, match.group(1)))
    return found


def _template_location(origin: SourceLocation, template: str) -> SourceLocation:
    inside_chart = template.split("/", 1)[1] if "/" in template else template
    path = posixpath.join(origin.path, inside_chart) if origin.path else template
    return replace(origin, path=path, line=0)


def _read_yaml(text: str, origin: SourceLocation, issues: _Issues, *,
               lenient: bool) -> Iterator[_Raw]:
    sources = _helm_sources(text)
    previous_end = 0
    try:
        for doc in load_documents(text):
            template = next((path for line, path in reversed(sources)
                             if previous_end <= line < doc.line), None)
            previous_end = doc.end_line
            if template is not None:
                where = _template_location(origin, template)
                item_where = [where] * len(doc.item_lines)
            else:
                where = replace(origin, line=doc.line)
                item_where = [replace(origin, line=line) for line in doc.item_lines]
            yield from _objects(doc.value, where, item_where, issues, lenient=lenient)
    except YamlError as exc:
        issues.add(replace(origin, line=exc.line), f"invalid YAML: {exc.problem}")


def _read_json(text: str, origin: SourceLocation, issues: _Issues) -> Iterator[_Raw]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"duplicate key {key!r}")
            result[key] = value
        return result

    try:
        value = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        issues.add(replace(origin, line=exc.lineno), f"invalid JSON: {exc.msg}")
        return
    except ValueError as exc:
        issues.add(origin, f"invalid JSON: {exc}")
        return
    where = replace(origin, line=1)
    values = value if isinstance(value, list) else [value]
    for item in values:
        yield from _objects(item, where, [], issues, lenient=True)


def _read_jsonnet(text: str, origin: SourceLocation, issues: _Issues) -> Iterator[_Raw]:
    """The objects of one evaluated Jsonnet file (its JSON output), by Argo CD's rules."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        issues.add(origin, f"Jsonnet output is not JSON: {exc.msg}")
        return
    found, problems = jsonnet_objects(value)
    for problem in problems:
        issues.add(origin, problem)
    for item in found:
        yield from _objects(item, origin, [], issues, lenient=False)


def _objects(value: Any, where: SourceLocation, item_where: list[SourceLocation],
             issues: _Issues, *, lenient: bool) -> Iterator[_Raw]:
    """The objects of one document: itself, or the items of a ``kind: List``."""
    if value is None:
        return
    if not isinstance(value, dict):
        if not lenient:
            issues.add(where, "document is not a Kubernetes object (not a mapping)")
        return
    if lenient and ("kind" not in value or _is_kustomize_config(value)):
        return
    if value.get("kind") == "List":
        items = value.get("items") or []
        if not isinstance(items, list):
            issues.add(where, "items of a List must be a sequence", value)
            return
        for index, item in enumerate(items):
            item_at = item_where[index] if index < len(item_where) else where
            if not isinstance(item, dict):
                issues.add(item_at, f"List item {index} is not a Kubernetes object")
                continue
            if _valid(item, item_at, issues):
                yield _Raw(item, item_at)
        return
    if _valid(value, where, issues):
        yield _Raw(value, where)


def _is_kustomize_config(value: Mapping[str, Any]) -> bool:
    api_version = value.get("apiVersion")
    return isinstance(api_version, str) and _group(api_version) == _KUSTOMIZE_GROUP


def _is_hook(annotations: Mapping[str, Any]) -> bool:
    return any(name in annotations for name in HOOK_ANNOTATIONS)


def _valid(body: dict[str, Any], where: SourceLocation, issues: _Issues) -> bool:
    """Check the fields every object needs; report each problem, True if none."""
    before = len(issues.lines)
    api_version = body.get("apiVersion")
    if not isinstance(api_version, str) or not api_version:
        issues.add(where, "apiVersion is missing", body)
    elif api_version.count("/") > 1 or api_version.startswith("/") or api_version.endswith("/"):
        issues.add(where, f"apiVersion {api_version!r} is not of the form [group/]version", body)
    kind = body.get("kind")
    if not isinstance(kind, str) or not kind:
        issues.add(where, "kind is missing", body)
    meta = body.get("metadata")
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        issues.add(where, "metadata is not a mapping", body)
        return False
    for field in ("labels", "annotations"):
        entries = meta.get(field)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            issues.add(where, f"metadata.{field} is not a mapping", body)
            continue
        for key, value in entries.items():
            if not isinstance(key, str) or not isinstance(value, str):
                issues.add(where, f"metadata.{field}[{key!r}] must be a string; quote it", body)
    name = meta.get("name")
    generate_name = meta.get("generateName")
    annotations = meta.get("annotations")
    hook = isinstance(annotations, dict) and _is_hook(annotations)
    if name is not None and (not isinstance(name, str) or not name):
        issues.add(where, "metadata.name must be a non-empty string", body)
    elif name is None and not (hook and isinstance(generate_name, str) and generate_name):
        problem = "metadata.name is missing"
        if generate_name:
            problem += " (metadata.generateName is allowed only on hooks)"
        issues.add(where, problem, body)
    namespace = meta.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        issues.add(where, "metadata.namespace must be a string", body)
    return len(issues.lines) == before


def _crd_scopes(raws: list[_Raw]) -> set[tuple[str, str]]:
    """(group, kind) of every custom resource the input defines with ``scope: Cluster``."""
    scoped = set()
    for raw in raws:
        if (_group(raw.body["apiVersion"]), raw.body["kind"]) != _CRD:
            continue
        spec = raw.body.get("spec")
        if not isinstance(spec, Mapping) or spec.get("scope") != "Cluster":
            continue
        names = spec.get("names")
        group, kind = spec.get("group"), names.get("kind") if isinstance(names, Mapping) else None
        if isinstance(group, str) and isinstance(kind, str):
            scoped.add((group, kind))
    return scoped


def _finish(raws: list[_Raw], issues: _Issues, default_namespace: str,
            cluster_scoped: Collection[tuple[str, str]]) -> tuple[Manifest, ...]:
    """Scope namespaces, build keys, reject duplicates, raise every problem found."""
    extra = _crd_scopes(raws) | set(cluster_scoped)
    seen: dict[ResourceKey, SourceLocation] = {}
    manifests: list[Manifest] = []
    for raw in raws:
        body = raw.body
        meta = body.setdefault("metadata", {})
        group = _group(body["apiVersion"])
        if is_cluster_scoped(group, body["kind"], extra):
            meta.pop("namespace", None)
        elif not meta.get("namespace"):
            if default_namespace:
                meta["namespace"] = default_namespace
            else:
                meta.pop("namespace", None)
        generated = not meta.get("name")
        key = ResourceKey(group, body["kind"], meta.get("namespace", ""),
                          meta["generateName"] if generated else meta["name"])
        if not generated:
            if key in seen:
                issues.add(raw.where, f"{key} is defined twice: here and at {seen[key]}")
                continue
            seen[key] = raw.where
        manifests.append(Manifest(key, body, raw.where))
    issues.raise_if_any()
    return tuple(manifests)
