"""The shapes of a Jsonnet file's output that become objects, by Argo CD's rules.

Argo CD reads an evaluated ``.jsonnet`` file as an array of objects (each
element one object, ``null`` elements skipped) or else as one object; ``null``
yields nothing. Anything else is an error, and so is an object without
``kind`` (an object of objects, keyed by name, is the usual slip: its fix is
an array, ``std.objectValues(...)``). Objects of ``kind: List`` are expanded
later, as for YAML. This module only sorts values into objects and problems;
evaluating Jsonnet is the render edge's work.
"""

from __future__ import annotations

from typing import Any

__all__ = ["jsonnet_objects"]


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__


def jsonnet_objects(value: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The objects a Jsonnet output VALUE stands for, and the problems found (one line each)."""
    if value is None:
        return [], []
    if isinstance(value, dict):
        if "kind" in value:
            return [value], []
        if value and all(isinstance(v, dict) and "kind" in v for v in value.values()):
            return [], ["the output is an object of objects (keyed by "
                        f"{', '.join(sorted(value)[:3])}{', ...' if len(value) > 3 else ''}); "
                        "return an array of objects instead, e.g. std.objectValues(...)"]
        return [], ["the output is an object without 'kind': return one Kubernetes object "
                    "or an array of objects"]
    if isinstance(value, list):
        found: list[dict[str, Any]] = []
        problems: list[str] = []
        for index, item in enumerate(value):
            if item is None:
                continue
            if isinstance(item, dict):
                found.append(item)
            else:
                problems.append(f"element {index} of the output array is {_kind_of(item)}, "
                                "not an object")
        return found, problems
    return [], [f"the output is {_kind_of(value)}: return one Kubernetes object or an array "
                "of objects"]
