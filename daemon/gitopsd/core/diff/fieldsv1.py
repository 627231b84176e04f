"""Server-side apply field sets (``managedFields[].fieldsV1``) applied to objects.

A field set is a tree whose keys name children: ``f:<field>`` a map field,
``k:<json>`` a list element by its key fields, ``v:<json>`` a set element by
value, ``i:<n>`` a list element by index, and ``.`` the node itself. Diffing
uses it to drop, from desired and live alike, what another manager owns
(``ignoreDifferences.managedFieldsManagers``). This module only reads the
format; it never decides whose fields to drop.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def _is_leaf(subset: Any) -> bool:
    return isinstance(subset, Mapping) and not subset


def _owns_self(subset: Any) -> bool:
    return isinstance(subset, Mapping) and "." in subset


def _decode(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _Unmatched


class _Unmatched:
    """Stands for a malformed element selector, which matches nothing."""


def _matches(element: Any, selector: Any) -> bool:
    if not isinstance(element, dict) or not isinstance(selector, dict):
        return False
    return all(element.get(k) == v for k, v in selector.items())


def remove_fields(value: Any, fields: Mapping[str, Any]) -> None:
    """Remove from ``value`` (in place) every field the field set ``fields`` names.

    Leaves are removed; a list element whose own node (``.``) is in the set is
    removed whole, since that manager created it; a map emptied by the removal
    disappears too when the manager owned the map itself.
    """
    if isinstance(value, dict):
        _remove_from_map(value, fields)
    elif isinstance(value, list):
        _remove_from_list(value, fields)


def _remove_from_map(value: dict[str, Any], fields: Mapping[str, Any]) -> None:
    for selector, subset in fields.items():
        if not selector.startswith("f:"):
            continue
        name = selector[2:]
        if name not in value:
            continue
        if _is_leaf(subset):
            del value[name]
            continue
        child = value[name]
        was_filled = isinstance(child, (dict, list)) and bool(child)
        remove_fields(child, subset)
        if was_filled and not child and _owns_self(subset):
            del value[name]


def _remove_from_list(value: list[Any], fields: Mapping[str, Any]) -> None:
    drop: set[int] = set()
    for selector, subset in fields.items():
        targets: list[int] = []
        if selector.startswith("k:"):
            keys = _decode(selector[2:])
            targets = [i for i, element in enumerate(value) if _matches(element, keys)]
        elif selector.startswith("v:"):
            wanted = _decode(selector[2:])
            targets = [i for i, element in enumerate(value) if element == wanted]
            drop.update(targets)
            continue
        elif selector.startswith("i:") and selector[2:].isdigit():
            index = int(selector[2:])
            targets = [index] if index < len(value) else []
        for index in targets:
            if _is_leaf(subset) or _owns_self(subset):
                drop.add(index)
            else:
                remove_fields(value[index], subset)
    for index in sorted(drop, reverse=True):
        del value[index]
