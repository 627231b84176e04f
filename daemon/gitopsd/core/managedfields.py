"""Taking back fields that gitopsd once wrote without server-side apply.

An object gitopsd created or updated the old way (a plain create or update)
carries a ``managedFields`` entry of manager ``gitopsd`` with operation
``Update``. Server-side apply does not count such an entry as the apply
manager's, so a field later removed from Git would stay in the object for
good. ``upgraded`` folds those entries into the ``Apply`` entry of the same
manager, as client-go's csaupgrade does, after which every field gitopsd set
belongs to its applies again. This module only computes the new list; the
engine writes it (a JSON patch guarded by the object's resourceVersion) and
decides when.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from gitopsd.model import objects


def _main(entry: Mapping[str, Any]) -> bool:
    return not entry.get("subresource")


def _union(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """The union of two ``fieldsV1`` field sets."""
    merged = copy.deepcopy(dict(a))
    for name, subset in b.items():
        mine = merged.get(name)
        if isinstance(mine, Mapping) and isinstance(subset, Mapping):
            merged[name] = _union(mine, subset)
        else:
            merged[name] = copy.deepcopy(subset)
    return merged


def stale_entries(obj: Mapping[str, Any], manager: str = objects.FIELD_MANAGER) -> list[Mapping[str, Any]]:
    """OBJ's ``managedFields`` entries of MANAGER written by an update rather than an apply."""
    entries = objects.meta(obj).get("managedFields") or ()
    return [e for e in entries if isinstance(e, Mapping) and e.get("manager") == manager
            and e.get("operation") == "Update" and _main(e)]


def upgraded(entries: Sequence[Mapping[str, Any]],
             manager: str = objects.FIELD_MANAGER) -> list[dict[str, Any]] | None:
    """ENTRIES with MANAGER's ``Update`` entries folded into its ``Apply`` entry (made from the
    first of them when there is none), or None when there is nothing to fold."""
    stale = [i for i, e in enumerate(entries) if e.get("manager") == manager
             and e.get("operation") == "Update" and _main(e)]
    if not stale:
        return None
    applied = next((i for i, e in enumerate(entries) if e.get("manager") == manager
                    and e.get("operation") == "Apply" and _main(e)), None)
    base = applied if applied is not None else stale[0]
    entry = copy.deepcopy(dict(entries[base]))
    fields: Mapping[str, Any] = entry.get("fieldsV1") or {}
    for i in stale:
        fields = _union(fields, entries[i].get("fieldsV1") or {})
    entry.update(operation="Apply", fieldsType="FieldsV1", fieldsV1=fields)
    result: list[dict[str, Any]] = []
    for i, e in enumerate(entries):
        if i == base:
            result.append(entry)
        elif i not in stale:
            result.append(copy.deepcopy(dict(e)))
    return result
