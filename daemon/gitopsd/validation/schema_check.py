"""Objects against their schemas, with findings that name the field and never its value.

jsonschema's own messages quote the offending value, which could be Secret
data, so each error is described here from the schema side only: the field
path, what the schema expects, and the JSON type that was found. Unknown
fields are reported at the unknown key's own line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jsonschema
import referencing.exceptions

from gitopsd.core.policy import FieldPath, Finding, Rule, Subject, finding, is_sops_encrypted
from gitopsd.validation import rules
from gitopsd.validation.schemas import SchemaStore

MAX_ERRORS_PER_OBJECT = 20
_TYPE_NAMES = {"object": "a mapping", "array": "a list", "string": "a string",
               "integer": "an integer", "number": "a number", "boolean": "true or false",
               "null": "null"}


def dotted(path: FieldPath) -> str:
    """``spec.containers[0].image`` for ("spec", "containers", 0, "image")."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(object)"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _expected(types: Any) -> list[str]:
    names = [types] if isinstance(types, str) else list(types or [])
    return [t for t in names if t != "null"] or names


def _describe_types(types: list[str]) -> str:
    return " or ".join(_TYPE_NAMES.get(t, t) for t in dict.fromkeys(types))


def _unknown_keys(error: jsonschema.ValidationError) -> list[str]:
    if not isinstance(error.instance, Mapping):
        return []
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    known = set(schema.get("properties") or {})
    patterns = list(schema.get("patternProperties") or {})
    return [str(k) for k in error.instance
            if k not in known and not any(re.search(p, str(k)) for p in patterns)]


def describe(error: jsonschema.ValidationError) -> list[tuple[Rule, FieldPath, str]]:
    """(rule, field path, message) for one schema error; unknown fields give one entry per key."""
    path: FieldPath = tuple(error.absolute_path)
    where = dotted(path)
    keyword = str(error.validator)
    value = error.validator_value
    if keyword == "type":
        return [(rules.SCHEMA_TYPE, path, f"{where}: expected {_describe_types(_expected(value))}, "
                 f"got {_TYPE_NAMES[json_type(error.instance)]}")]
    if keyword in ("oneOf", "anyOf") and error.context \
            and all(sub.validator == "type" for sub in error.context):
        types = [t for sub in error.context for t in _expected(sub.validator_value)]
        return [(rules.SCHEMA_TYPE, path, f"{where}: expected {_describe_types(types)}, "
                 f"got {_TYPE_NAMES[json_type(error.instance)]}")]
    if keyword in ("additionalProperties", "unevaluatedProperties") and value is False:
        keys = _unknown_keys(error)
        return [(rules.SCHEMA_UNKNOWN_FIELD, (*path, key), f"{where}: unknown field {key!r}")
                for key in keys] or [(rules.SCHEMA_UNKNOWN_FIELD, path, f"{where}: unknown field")]
    if keyword == "required":
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        missing = [name for name in value if name not in instance]
        return [(rules.SCHEMA_REQUIRED, path, f"{where}: missing required field {name!r}")
                for name in missing]
    if keyword == "enum":
        allowed = ", ".join(repr(v) for v in list(value)[:12] if v is not None)
        return [(rules.SCHEMA_VALUE, path, f"{where}: must be one of {allowed}")]
    if keyword == "const":
        return [(rules.SCHEMA_VALUE, path, f"{where}: must be {value!r}")]
    if keyword == "pattern":
        return [(rules.SCHEMA_VALUE, path, f"{where}: does not match the pattern {value}")]
    bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if keyword in bounds:
        return [(rules.SCHEMA_VALUE, path, f"{where}: must be {bounds[keyword]} {value}")]
    sizes = {"minLength": ("at least", "characters"), "maxLength": ("at most", "characters"),
             "minItems": ("at least", "items"), "maxItems": ("at most", "items"),
             "minProperties": ("at least", "fields"), "maxProperties": ("at most", "fields")}
    if keyword in sizes:
        bound, unit = sizes[keyword]
        return [(rules.SCHEMA_VALUE, path, f"{where}: must have {bound} {value} {unit}")]
    if keyword == "uniqueItems":
        return [(rules.SCHEMA_VALUE, path, f"{where}: items must be unique")]
    return [(rules.SCHEMA_VALUE, path, f"{where}: does not satisfy the schema's {keyword!r} rule")]


def check(subject: Subject, store: SchemaStore, *, ignore_missing: bool) -> list[Finding]:
    """Schema findings for one full object (Kustomize patches are not passed here)."""
    api_version = subject.body.get("apiVersion")
    kind = subject.kind
    if not isinstance(api_version, str) or not kind:
        return []
    schema = store.lookup(api_version, kind)
    if schema is None:
        if ignore_missing or store.knows_custom(api_version, kind):
            return []
        return [finding(rules.SCHEMA_MISSING,
                        f"no schema for {kind} in {api_version} ({store.label} has none and no "
                        "CustomResourceDefinition in the repository defines it)",
                        file=subject.file, line=subject.line, subject=subject.description)]
    body = subject.body
    if is_sops_encrypted(body):
        body = {k: v for k, v in body.items() if k != "sops"}
    found: list[Finding] = []
    try:
        errors = sorted(schema.validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    except (jsonschema.exceptions.SchemaError, referencing.exceptions.Unresolvable, ValueError,
            re.error) as exc:
        return [finding(rules.SCHEMA_MISSING, f"the schema from {schema.origin} cannot be used: "
                        f"{type(exc).__name__}", file=subject.file, line=subject.line,
                        subject=subject.description)]
    for error in errors:
        for rule, path, message in describe(error):
            found.append(finding(rule, f"{message} ({schema.origin})", file=subject.file,
                                 line=subject.line_of(path), subject=subject.description))
            if len(found) >= MAX_ERRORS_PER_OBJECT:
                return found
    return found
