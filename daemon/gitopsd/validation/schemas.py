"""Schemas by (apiVersion, kind): built-in kinds from kubernetes-validate, custom kinds from CRDs.

Built-in schemas are the JSON Schemas the ``kubernetes-validate`` package
ships for each Kubernetes minor version (its ``*-local-strict`` set, which
rejects unknown fields). The version used is the newest one the package has
that is not newer than the requested one; the package is read offline, from
its installed data. A built-in schema file is only used when its
group/version/kind matches exactly, so a custom ``apps.example.com/v1
Deployment`` is never checked as ``apps/v1 Deployment``. Custom kinds get
their schema from the CRDs added with ``add_crd``. Validators are built once
per kind and reused. Schemas are never fetched from the network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema
from kubernetes_validate.utils import all_versions
from referencing import Registry, Resource

from gitopsd.errors import GitopsdError
from gitopsd.validation import crds

SCHEMA_PACKAGE = "kubernetes_validate"
DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"
OBJECT_META_REF = DEFINITIONS_ID + "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$")


def _minor(version: str) -> tuple[int, int] | None:
    match = _VERSION.match(version.strip())
    return (int(match[1]), int(match[2])) if match else None


def schema_version(requested: str) -> str:
    """The kubernetes-validate schema version used for REQUESTED (``v1.34.4`` -> ``1.34.0``).

    Raises GitopsdError when REQUESTED is malformed or outside the range the
    installed package covers.
    """
    wanted = _minor(requested)
    if wanted is None:
        raise GitopsdError(f"--kube-version {requested!r} is not a version like 1.34 or v1.34.4")
    available = sorted((m, v) for v in all_versions() if (m := _minor(v)) is not None)
    usable = [v for m, v in available if m <= wanted]
    if not usable or wanted > available[-1][0]:
        first, last = available[0][1], available[-1][1]
        raise GitopsdError(f"no schemas for Kubernetes {requested}: the installed kubernetes-validate "
                           f"covers {first} to {last}")
    return str(usable[-1])


@dataclass(frozen=True)
class Schema:
    """A validator and what it came from (``Kubernetes 1.34`` or ``CRD widgets.example.com``)."""

    validator: Any
    origin: str


class SchemaStore:
    """Validators for built-in kinds at one Kubernetes version, plus the CRDs added."""

    def __init__(self, kube_version: str) -> None:
        self.version = schema_version(kube_version)
        self._dir = resources.files(SCHEMA_PACKAGE).joinpath(
            "kubernetes-json-schema", f"v{self.version}-local-strict")
        definitions = json.loads(self._dir.joinpath("_definitions.json").read_text(encoding="utf-8"))
        self._registry: Registry = Resource.from_contents(definitions) @ Registry()
        self._builtin: dict[tuple[str, str], Schema | None] = {}
        self._custom: dict[tuple[str, str, str], Schema | None] = {}

    @property
    def label(self) -> str:
        return f"Kubernetes {self.version.rsplit('.', 1)[0]}"

    def add_crd(self, body: Mapping[str, Any]) -> None:
        """Learn the schemas of every version a CRD object defines (the first CRD of a kind wins)."""
        for version in crds.versions(body, OBJECT_META_REF):
            key = (version.group, version.version, version.kind)
            if key in self._custom:
                continue
            schema = None
            if version.schema is not None:
                validator = jsonschema.Draft202012Validator(version.schema, registry=self._registry)
                schema = Schema(validator, f"CRD {version.crd or version.kind}")
            self._custom[key] = schema

    def knows_custom(self, api_version: str, kind: str) -> bool:
        group, version = _split(api_version)
        return (group, version, kind) in self._custom

    def lookup(self, api_version: str, kind: str) -> Schema | None:
        """The schema for objects of API_VERSION and KIND, or None when none is known.

        A CRD version without a schema (``x-kubernetes-preserve-unknown-fields``
        on everything) is known but has no validator: ``knows_custom`` tells
        that case apart.
        """
        group, version = _split(api_version)
        custom = self._custom.get((group, version, kind))
        if custom is not None:
            return custom
        key = (api_version, kind)
        if key not in self._builtin:
            self._builtin[key] = self._load_builtin(group, version, kind)
        return self._builtin[key]

    def _load_builtin(self, group: str, version: str, kind: str) -> Schema | None:
        short = group.split(".", 1)[0]
        name = f"{kind.lower()}-{short}-{version}.json" if group else f"{kind.lower()}-{version}.json"
        entry = self._dir.joinpath(name)
        if not entry.is_file():
            return None
        schema = json.loads(entry.read_text(encoding="utf-8"))
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        if not any(g.get("group", "") == group and g.get("version") == version and g.get("kind") == kind
                   for g in gvks if isinstance(g, dict)):
            return None
        registry = Resource.from_contents(schema) @ self._registry
        return Schema(jsonschema.Draft202012Validator(schema, registry=registry), self.label)


def _split(api_version: str) -> tuple[str, str]:
    if "/" in api_version:
        group, version = api_version.rsplit("/", 1)
        return group, version
    return "", api_version
