"""Read-only accessors for the metadata of a Kubernetes object body.

Object bodies travel through gitopsd as plain mappings (parsed YAML, API
responses). Every room reads the same few metadata fields, and a body read
from a file or an old object may lack ``metadata`` or hold ``null`` where a
mapping belongs; these functions answer with an empty value then, so callers
never repeat ``(obj.get("metadata") or {}).get(...)``.

They only read: they never copy, change or validate a body (the manifest
parser reports malformed metadata), and they know no label or annotation
names (those are ``gitopsd.core.marks``').
"""

from collections.abc import Mapping
from typing import Any

_EMPTY: Mapping[str, Any] = {}

FIELD_MANAGER = "gitopsd"  # the field manager of every write gitopsd makes


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else _EMPTY


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``metadata``, or an empty mapping when it is absent or not a mapping."""
    return _mapping(obj.get("metadata"))


def annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``metadata.annotations``, or an empty mapping."""
    return _mapping(meta(obj).get("annotations"))


def labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``metadata.labels``, or an empty mapping."""
    return _mapping(meta(obj).get("labels"))


def _text(obj: Mapping[str, Any], field: str) -> str:
    value = meta(obj).get(field)
    return str(value) if value else ""


def name(obj: Mapping[str, Any]) -> str:
    """``metadata.name``, or "" when it is absent or empty."""
    return _text(obj, "name")


def namespace(obj: Mapping[str, Any]) -> str:
    """``metadata.namespace``, or "" (cluster-scoped, or the default namespace)."""
    return _text(obj, "namespace")


def resource_version(obj: Mapping[str, Any]) -> str:
    """``metadata.resourceVersion``, or "" for a body that never came from a server."""
    return _text(obj, "resourceVersion")


def uid(obj: Mapping[str, Any]) -> str:
    """``metadata.uid``, or ""."""
    return _text(obj, "uid")
