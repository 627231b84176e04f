"""CustomResourceDefinition schemas as JSON Schema, so custom resources validate offline.

A CRD's ``openAPIV3Schema`` is OpenAPI 3.0 with Kubernetes extensions. The
conversion here keeps the validation keywords, turns ``nullable`` into a
``null`` type, ``x-kubernetes-int-or-string`` into "integer or string", and
closes every object that lists ``properties`` (unknown fields are rejected,
as the API server's strict field validation does) unless
``x-kubernetes-preserve-unknown-fields`` keeps it open. ``apiVersion``,
``kind`` and ``metadata`` (the built-in ObjectMeta schema) are added at the
root. Nothing here reads files.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gitopsd.model import objects

_KEEP = ("enum", "minimum", "maximum", "minLength", "maxLength", "pattern", "minItems",
         "maxItems", "uniqueItems", "multipleOf", "minProperties", "maxProperties", "required",
         "format")
_NESTED_LISTS = ("allOf", "anyOf", "oneOf")


@dataclass(frozen=True)
class CrdVersion:
    """One served version of a custom kind and its JSON Schema (None: no schema given)."""

    group: str
    version: str
    kind: str
    schema: dict[str, Any] | None
    crd: str


def versions(body: Mapping[str, Any], object_meta_ref: str = "") -> Iterator[CrdVersion]:
    """The versions a CRD object defines (apiextensions v1, or v1beta1's single schema).

    OBJECT_META_REF, when given, is the ``$ref`` that root ``metadata`` is checked against.
    """
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        return
    group, names = spec.get("group"), spec.get("names")
    kind = names.get("kind") if isinstance(names, Mapping) else None
    if not isinstance(group, str) or not isinstance(kind, str):
        return
    crd = objects.name(body)
    shared = _openapi(spec.get("validation"))
    entries = spec.get("versions")
    if isinstance(entries, list) and entries:
        for entry in entries:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
                continue
            raw = _openapi(entry.get("schema")) or shared
            yield CrdVersion(group, entry["name"], kind, root_schema(raw, object_meta_ref), crd)
    elif isinstance(spec.get("version"), str):
        yield CrdVersion(group, spec["version"], kind, root_schema(shared, object_meta_ref), crd)


def _openapi(container: Any) -> Mapping[str, Any] | None:
    if isinstance(container, Mapping) and isinstance(container.get("openAPIV3Schema"), Mapping):
        schema: Mapping[str, Any] = container["openAPIV3Schema"]
        return schema
    return None


def root_schema(raw: Mapping[str, Any] | None, object_meta_ref: str = "") -> dict[str, Any] | None:
    """The JSON Schema for whole objects of a kind whose CRD gives RAW (None: no schema)."""
    if raw is None:
        return None
    schema = convert(raw)
    if schema.get("additionalProperties") is False or "properties" in schema:
        props = dict(schema.get("properties") or {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"$ref": object_meta_ref} if object_meta_ref else {"type": "object"})
        schema["properties"] = props
    schema.setdefault("type", "object")
    return schema


def convert(raw: Mapping[str, Any], depth: int = 0, *, close: bool = True) -> dict[str, Any]:
    """One OpenAPI v3 (structural) schema node as a JSON Schema 2020-12 node.

    CLOSE is False inside ``allOf``/``anyOf``/``oneOf``/``not``, whose branches
    only add constraints to the fields declared around them.
    """
    if depth > 64:
        return {}
    out: dict[str, Any] = {key: raw[key] for key in _KEEP if key in raw}
    if raw.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    elif isinstance(raw.get("type"), str):
        out["type"] = [raw["type"], "null"] if raw.get("nullable") else raw["type"]
    if raw.get("type") == "number" or raw.get("type") == "integer":
        for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
            if raw.get(exclusive) is True and bound in raw:
                out[exclusive] = out.pop(bound)
    props = raw.get("properties")
    if isinstance(props, Mapping):
        out["properties"] = {str(k): convert(v, depth + 1) for k, v in props.items()
                             if isinstance(v, Mapping)}
    items = raw.get("items")
    if isinstance(items, Mapping):
        out["items"] = convert(items, depth + 1)
    extra = raw.get("additionalProperties")
    if isinstance(extra, Mapping):
        out["additionalProperties"] = convert(extra, depth + 1)
    elif isinstance(extra, bool):
        out["additionalProperties"] = extra
    elif close and isinstance(props, Mapping) \
            and not raw.get("x-kubernetes-preserve-unknown-fields") \
            and not raw.get("x-kubernetes-embedded-resource"):
        out["additionalProperties"] = False
    for key in _NESTED_LISTS:
        value = raw.get(key)
        if isinstance(value, list):
            out[key] = [convert(v, depth + 1, close=False) for v in value if isinstance(v, Mapping)]
    if isinstance(raw.get("not"), Mapping):
        out["not"] = convert(raw["not"], depth + 1, close=False)
    if raw.get("x-kubernetes-embedded-resource") and isinstance(out.get("properties"), dict):
        for name in ("apiVersion", "kind"):
            out["properties"].setdefault(name, {"type": "string"})
        out["properties"].setdefault("metadata", {"type": "object"})
    return out
