"""Comparing one desired object with its live counterpart.

``diff_objects`` is the full comparison behind sync status and ``gitopsd diff``:
both sides normalised, a unified diff of their YAML renderings with Secret
values masked. ``drifted`` is the cheap check that a watch event warrants a
self-heal: does live still carry everything desired asked for? Neither talks
to a cluster; the caller brings the dry-run result and the live object.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from gitopsd.core.diff.normalize import (
    managed_field_sets,
    mask_secrets,
    normalize,
    rules_for,
)
from gitopsd.model.fleet import IgnoreDifference
from gitopsd.model.resources import ResourceKey


class DiffState(enum.Enum):
    """How a live object stands against its desired state."""

    IN_SYNC = "InSync"
    OUT_OF_SYNC = "OutOfSync"
    MISSING = "Missing"          # desired, not live
    EXTRANEOUS = "Extraneous"    # live (and ours), no longer desired


@dataclass(frozen=True)
class ObjectDiff:
    """The comparison of one object: its key, state and a readable, masked diff."""

    key: ResourceKey
    state: DiffState
    text: str = ""

    @property
    def in_sync(self) -> bool:
        return self.state is DiffState.IN_SYNC


def render(obj: Mapping[str, Any]) -> str:
    """YAML with sorted keys, block style: a stable text for diffs ("" for an empty object)."""
    if not obj:
        return ""
    return yaml.safe_dump(dict(obj), sort_keys=True, default_flow_style=False,
                          allow_unicode=True, width=120)


def _unified(key: ResourceKey, live: Mapping[str, Any], desired: Mapping[str, Any]) -> str:
    lines = difflib.unified_diff(
        render(live).splitlines(), render(desired).splitlines(),
        fromfile=f"live {key}", tofile=f"desired {key}", lineterm="")
    return "\n".join(lines) + "\n"


def _prepared(desired: Mapping[str, Any] | None, live: Mapping[str, Any] | None,
              key: ResourceKey, ignore: Sequence[IgnoreDifference],
              managed_by: str) -> tuple[dict[str, Any], dict[str, Any]]:
    rules = rules_for(key, ignore)
    pointers = [p for rule in rules for p in rule.json_pointers]
    managers = [m for rule in rules for m in rule.managed_fields_managers]
    expressions = [e for rule in rules for e in rule.jq_path_expressions]
    field_sets = managed_field_sets(live, managers, exclude=managed_by)
    return (normalize(desired, pointers=pointers, field_sets=field_sets, expressions=expressions)
            if desired else {},
            normalize(live, pointers=pointers, field_sets=field_sets, expressions=expressions)
            if live else {})


def diff_objects(desired: Mapping[str, Any] | None, live: Mapping[str, Any] | None, *,
                 ignore: Sequence[IgnoreDifference] = (),
                 managed_by: str = "gitopsd") -> ObjectDiff:
    """Compare ``desired`` with ``live`` for one object.

    ``desired`` is the server-side-apply dry-run result of the manifest, or the
    manifest itself when the object does not exist; None means the object is
    no longer desired. ``live`` is the current object, or None when absent.
    Fields the ``ignore`` rules name are left out of both sides, including
    fields that the rules' managers own in ``live``'s managed fields;
    ``managed_by`` (gitopsd's own field manager) is never one of them, so an
    ignore rule cannot hide gitopsd's own changes. Raises ``ValueError`` when
    both are None or an ignore rule holds a malformed JSON pointer.
    """
    subject = desired or live
    if not subject:
        raise ValueError("diff_objects needs a desired or a live object")
    key = ResourceKey.of(subject)
    left, right = _prepared(desired, live, key, ignore, managed_by)
    masked_live, masked_desired = mask_secrets(right, left)
    if live is None:
        return ObjectDiff(key, DiffState.MISSING, _unified(key, {}, masked_desired))
    if desired is None:
        return ObjectDiff(key, DiffState.EXTRANEOUS, _unified(key, masked_live, {}))
    if left == right:
        return ObjectDiff(key, DiffState.IN_SYNC)
    return ObjectDiff(key, DiffState.OUT_OF_SYNC, _unified(key, masked_live, masked_desired))


def _is_zero(value: Any) -> bool:
    """Values the API server may omit when stored (Go's omitempty)."""
    return value is None or value == "" or value == {} or value == [] or value is False \
        or (type(value) is int and value == 0)


def _scalar_equal(want: Any, have: Any) -> bool:
    if isinstance(want, bool) or isinstance(have, bool):
        return want is have
    if (isinstance(want, (int, float)) and isinstance(have, str)) \
            or (isinstance(want, str) and isinstance(have, (int, float))):
        return str(want) == str(have)
    return bool(want == have)


def _named(items: Sequence[Any]) -> bool:
    return bool(items) and all(isinstance(i, Mapping) and "name" in i for i in items)


def _contains(want: Any, have: Any) -> bool:
    """True when ``have`` carries everything ``want`` asks for."""
    if isinstance(want, Mapping):
        if not isinstance(have, Mapping):
            return not want
        return all(_contains(value, have[name]) if name in have else _is_zero(value)
                   for name, value in want.items())
    if isinstance(want, list):
        if not isinstance(have, list):
            return not want and have is None
        if _named(want) and _named(have):
            by_name = {item["name"]: item for item in have}
            return all(item["name"] in by_name and _contains(item, by_name[item["name"]])
                       for item in want)
        return len(want) == len(have) and all(_contains(w, h) for w, h in zip(want, have, strict=True))
    return _scalar_equal(want, have)


def drifted(desired: Mapping[str, Any], live: Mapping[str, Any],
            ignore: Sequence[IgnoreDifference] = (), *, managed_by: str = "gitopsd") -> bool:
    """True when ``live`` no longer carries every field ``desired`` sets.

    A cheap check for watch events, not a full diff: maps compare as subsets
    (live may hold defaults and other managers' fields); lists of maps that
    all have a ``name`` (containers, env, named ports) match element by name,
    as subsets, in any order; other lists must have the same length and match
    element by element. Scalars compare as written, except that a number and
    its string spelling are equal (``replicas: "3"``); quantities are not
    canonicalised, so ``0.5`` against ``500m`` counts as drift. Desired zero
    values (``false``, ``0``, ``""``, empty maps and lists) match an absent
    field. Server metadata, status and ignored fields take no part.
    """
    key = ResourceKey.of(desired)
    want, have = _prepared(desired, live, key, ignore, managed_by)
    return not _contains(want, have)
