"""Typed, forgiving reads of live Kubernetes objects for the health checks.

Live objects arrive as loosely typed mappings; a check must never crash on a
missing or oddly typed field, so every read here returns a typed default
instead of raising. This module only reads: it never builds a verdict.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EMPTY: Mapping[str, Any] = {}

_MAX_MESSAGE = 400
_SPACES = re.compile(r"\s+")


def get(obj: Mapping[str, Any], *path: str) -> Any:
    """The value at ``path`` below ``obj``, or None where the path breaks."""
    node: Any = obj
    for name in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(name)
    return node


def mapping(obj: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    """The mapping at ``path``; empty when absent or not a mapping."""
    value = get(obj, *path)
    return value if isinstance(value, Mapping) else EMPTY


def integer(obj: Mapping[str, Any], *path: str, default: int = 0) -> int:
    """The integer at ``path``; ``default`` when absent or not an integer."""
    value = get(obj, *path)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return default


def optional_integer(obj: Mapping[str, Any], *path: str) -> int | None:
    """The integer at ``path``, or None when absent or not an integer."""
    value = get(obj, *path)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def string(obj: Mapping[str, Any], *path: str) -> str:
    """The string at ``path``; empty when absent or not a string."""
    value = get(obj, *path)
    return value if isinstance(value, str) else ""


def flag(obj: Mapping[str, Any], *path: str) -> bool:
    """True only when the value at ``path`` is the boolean true."""
    return get(obj, *path) is True


def items(obj: Mapping[str, Any], *path: str) -> list[Mapping[str, Any]]:
    """The mappings in the list at ``path``; other entries are skipped."""
    value = get(obj, *path)
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def annotation(obj: Mapping[str, Any], name: str) -> str:
    """The value of annotation ``name``; empty when absent."""
    return string(obj, "metadata", "annotations", name)


def timestamp(obj: Mapping[str, Any], *path: str) -> datetime | None:
    """The RFC 3339 time at ``path``, or None when absent or unreadable."""
    text = string(obj, *path)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def one_line(text: str) -> str:
    """``text`` with whitespace runs collapsed and long text shortened."""
    text = _SPACES.sub(" ", text).strip()
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1].rstrip() + "…"
    return text


@dataclass(frozen=True)
class Condition:
    """One entry of ``status.conditions``."""

    type: str
    status: str
    reason: str = ""
    message: str = ""
    observed_generation: int | None = None

    @property
    def is_true(self) -> bool:
        return self.status == "True"

    @property
    def is_false(self) -> bool:
        return self.status == "False"

    def explain(self) -> str:
        """``reason: message`` (either part may be missing), on one line."""
        parts = [p for p in (self.reason, one_line(self.message)) if p]
        return ": ".join(parts)


def _condition(raw: Mapping[str, Any]) -> Condition:
    return Condition(
        type=string(raw, "type"),
        status=string(raw, "status"),
        reason=string(raw, "reason"),
        message=string(raw, "message"),
        observed_generation=optional_integer(raw, "observedGeneration"),
    )


def conditions(obj: Mapping[str, Any]) -> list[Condition]:
    """All readable ``status.conditions`` in the order the server lists them."""
    return [_condition(raw) for raw in items(obj, "status", "conditions")]


def conditions_from(raw: Sequence[Any]) -> list[Condition]:
    """Conditions from an already decoded list (an annotation, for example)."""
    return [_condition(item) for item in raw if isinstance(item, Mapping)]


def condition(obj: Mapping[str, Any], type_: str) -> Condition | None:
    """The last condition of type ``type_``, or None when there is none."""
    found = None
    for cond in conditions(obj):
        if cond.type == type_:
            found = cond
    return found


def generation(obj: Mapping[str, Any]) -> int:
    """``metadata.generation``; 0 when the server has not set it."""
    return integer(obj, "metadata", "generation")


def observed_generation(obj: Mapping[str, Any]) -> int | None:
    """``status.observedGeneration``, or None when the controller omits it."""
    return optional_integer(obj, "status", "observedGeneration")


def generation_lag(obj: Mapping[str, Any]) -> str:
    """Why the controller's status is stale, or empty when it is current.

    The status describes an older spec when ``status.observedGeneration`` is
    below ``metadata.generation``; objects without an observed generation are
    taken as current.
    """
    observed = observed_generation(obj)
    wanted = generation(obj)
    if observed is not None and observed < wanted:
        return (f"Waiting for the controller to observe generation {wanted} "
                f"(observed {observed})")
    return ""


def rollout_lag(obj: Mapping[str, Any]) -> str:
    """Why a workload's status is stale, or empty when it is current.

    Workload controllers always write ``status.observedGeneration``, so a
    missing value means the controller has not looked at the object yet.
    """
    observed = integer(obj, "status", "observedGeneration")
    wanted = generation(obj)
    if wanted > observed:
        return f"Waiting for rollout: generation {wanted} not yet observed (observed {observed})"
    return ""
