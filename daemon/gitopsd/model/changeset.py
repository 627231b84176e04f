"""What a sync did, per object: the ChangeSet every apply returns."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from gitopsd.model.resources import ResourceKey


class ChangeAction(enum.Enum):
    CREATED = "created"
    CONFIGURED = "configured"
    UNCHANGED = "unchanged"
    PRUNED = "pruned"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Change:
    """The result of one task on one object."""

    key: ResourceKey
    action: ChangeAction
    message: str = ""

    def __str__(self) -> str:
        tail = f": {self.message}" if self.message else ""
        return f"{self.key} {self.action.value}{tail}"


@dataclass(frozen=True)
class ChangeSet:
    """An ordered, immutable list of changes; partial when a sync stopped early."""

    changes: tuple[Change, ...] = field(default_factory=tuple)

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def plus(self, more: Iterable[Change]) -> ChangeSet:
        return ChangeSet(self.changes + tuple(more))

    def by_action(self, action: ChangeAction) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is action)

    @property
    def failed(self) -> tuple[Change, ...]:
        return self.by_action(ChangeAction.FAILED)

    @property
    def wrote(self) -> bool:
        """True when any change reached the cluster."""
        return any(c.action in (ChangeAction.CREATED, ChangeAction.CONFIGURED, ChangeAction.PRUNED)
                   for c in self.changes)

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.changes:
            counts[c.action.value] = counts.get(c.action.value, 0) + 1
        return counts
