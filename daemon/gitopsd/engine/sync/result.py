"""What one run of the sync executor did: its changes, its prunes and the health it saw.

A plain record the executor fills and the reconciler reads; each change is
also an event on the span open when it was added. It decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitopsd.engine.ports import NoTracing, TracingPort
from gitopsd.model import Change, ChangeAction, Health, ResourceKey


@dataclass
class ExecResult:
    changes: list[Change] = field(default_factory=list)
    error: str = ""
    pruned: set[ResourceKey] = field(default_factory=set)  # confirmed gone
    failed_prunes: set[ResourceKey] = field(default_factory=set)
    pending_prunes: set[ResourceKey] = field(default_factory=set)  # sent, not confirmed gone
    released: set[ResourceKey] = field(default_factory=set)  # no longer the application's
    healths: dict[ResourceKey, Health] = field(default_factory=dict)
    tracing: TracingPort = field(default_factory=NoTracing, repr=False)

    def add(self, key: ResourceKey, action: ChangeAction, message: str = "") -> None:
        self.changes.append(Change(key, action, message))
        self.tracing.current().event("object", object=str(key), action=action.value,
                                     **({"message": message[:300]} if message else {}))
