"""Bringing desired and live objects to a comparable form.

Drops what the API server writes (status, uid, resourceVersion, managed
fields, ...), folds a Secret's write-only ``stringData`` into ``data`` as the
API server does, removes what ``ignoreDifferences`` excludes, and masks
Secret values. Every function returns a new tree and leaves its input alone.
This module must not decide whether objects are in sync.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gitopsd.core.diff.fieldsv1 import remove_fields
from gitopsd.core.diff.pointer import PointerError, parse_pointer, remove_pointer
from gitopsd.model import objects
from gitopsd.model.fleet import IgnoreDifference
from gitopsd.model.jqpath import parse_jq_path, remove_paths
from gitopsd.model.resources import ResourceKey

SERVER_METADATA = (
    "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
    "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
)
"""Metadata fields the API server populates; never part of a comparison."""

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
"""Client-side apply's copy of the last applied object (holds Secret values too)."""

MASK = "++++++++"
"""What a Secret value looks like in masked output; longer masks mark other values."""

_SECRET_FIELDS = ("data", "stringData")


def is_secret(obj: Mapping[str, Any]) -> bool:
    """True for core-group Secrets, whose ``data``/``stringData`` values are masked."""
    return obj.get("kind") == "Secret" and obj.get("apiVersion") == "v1"


def _matches(rule: IgnoreDifference, key: ResourceKey) -> bool:
    def same(wanted: str, actual: str, *, empty_is_any: bool) -> bool:
        return wanted == "*" or wanted == actual or (empty_is_any and not wanted)

    return (same(rule.group, key.group, empty_is_any=False)
            and same(rule.kind, key.kind, empty_is_any=True)
            and same(rule.name, key.name, empty_is_any=True)
            and same(rule.namespace, key.namespace, empty_is_any=True))


def rules_for(key: ResourceKey, ignore: Iterable[IgnoreDifference]) -> tuple[IgnoreDifference, ...]:
    """The ignore rules that apply to ``key``.

    ``group`` must match exactly (``""`` is the core group); ``kind``, ``name``
    and ``namespace`` match anything when empty; ``*`` matches anything.
    """
    return tuple(rule for rule in ignore if _matches(rule, key))


def managed_field_sets(live: Mapping[str, Any] | None, managers: Iterable[str], *,
                       exclude: str = "") -> tuple[Mapping[str, Any], ...]:
    """The ``fieldsV1`` sets that ``managers`` hold in ``live`` (never ``exclude``'s)."""
    if not live:
        return ()
    wanted = set(managers) - {exclude}
    entries = objects.meta(live).get("managedFields") or ()
    return tuple(
        entry["fieldsV1"] for entry in entries
        if isinstance(entry, Mapping) and entry.get("manager") in wanted
        and entry.get("fieldsType", "FieldsV1") == "FieldsV1"
        and isinstance(entry.get("fieldsV1"), Mapping)
    )


def _fold_string_data(obj: dict[str, Any]) -> None:
    string_data = obj.pop("stringData", None)
    if not isinstance(string_data, Mapping) or not string_data:
        return
    data = obj.get("data")
    data = dict(data) if isinstance(data, Mapping) else {}
    for name, value in string_data.items():
        text = value if isinstance(value, str) else str(value)
        data[name] = base64.b64encode(text.encode()).decode()
    obj["data"] = data


def strip_server_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without status, server-populated metadata and ``last-applied-configuration``."""
    result = copy.deepcopy(dict(obj))
    result.pop("status", None)
    meta = result.get("metadata")
    if isinstance(meta, dict):
        for name in SERVER_METADATA:
            meta.pop(name, None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            annotations.pop(LAST_APPLIED, None)
    if is_secret(result):
        _fold_string_data(result)
    return result


def _drop_empty_metadata_maps(obj: dict[str, Any]) -> None:
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        for name in ("labels", "annotations"):
            if name in meta and not meta[name]:
                del meta[name]


def normalize(obj: Mapping[str, Any], *, pointers: Sequence[str] = (),
              field_sets: Sequence[Mapping[str, Any]] = (),
              expressions: Sequence[str] = ()) -> dict[str, Any]:
    """``obj`` as compared: server fields stripped, ignored pointers, fields and jq paths removed.

    Raises ``ValueError`` for a malformed JSON pointer or an unsupported jq path expression.
    """
    result: Any = strip_server_fields(obj)
    for fields in field_sets:
        remove_fields(result, fields)
    for pointer in pointers:
        try:
            result = remove_pointer(result, parse_pointer(pointer))
        except PointerError as exc:
            raise ValueError(str(exc)) from None
    if result is None:
        return {}
    for expression in expressions:
        parsed = parse_jq_path(expression)
        result = remove_paths(result, parsed.paths(result))
    _drop_empty_metadata_maps(result)
    return dict(result)


def masked(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy safe to log or print: every Secret value replaced by the same mask.

    Objects that are not Secrets come back as plain copies.
    """
    return mask_secrets(obj)[0]


def mask_secrets(*objs: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Copies of ``objs`` with Secret values masked consistently across all of them.

    Per value name, equal values get the same mask and different values
    different ones (``++++++++``, ``+++++++++``, ...), so a diff still shows
    what changed without showing any value. ``None`` comes back as ``{}``.
    """
    copies = [copy.deepcopy(dict(obj)) if obj else {} for obj in objs]
    masks: dict[tuple[str, str], dict[str, str]] = {}
    for obj in copies:
        if not is_secret(obj):
            continue
        for field in _SECRET_FIELDS:
            values = obj.get(field)
            if not isinstance(values, dict):
                continue
            for name, value in values.items():
                seen = masks.setdefault((field, name), {})
                fingerprint = repr(value)
                if fingerprint not in seen:
                    seen[fingerprint] = MASK + "+" * len(seen)
                values[name] = seen[fingerprint]
        annotations = objects.meta(obj).get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            annotations[LAST_APPLIED] = MASK
    return copies
