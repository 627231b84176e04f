"""Sync tasks as sorted values, the one order they run in, and the plan that holds them.

The order (``SyncTask.sort_key``) is total and documented in the package
docstring. This module only defines values and their order; the planner
decides which tasks exist and where dependency fixes move them, and the engine
executes them. Nothing here talks to a cluster.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import groupby

from gitopsd.core.plan.hooks import HookSpec, Phase
from gitopsd.core.plan.options import AppOptions, PropagationPolicy, ResourceOptions
from gitopsd.errors import PruneRefused
from gitopsd.model.resources import Manifest, ResourceKey


class TaskAction(enum.Enum):
    """What a task does to its object."""

    APPLY = "apply"  # apply the desired object (server-side unless its options say otherwise)
    PRUNE = "prune"  # delete a live object that left the desired state
    HOOK = "hook"    # create a hook object and wait for it to finish


class _Stage(enum.IntEnum):
    """Where a task sits inside its phase: applies and hooks, then prunes, then PruneLast."""

    RUN = 0
    PRUNE = 1
    PRUNE_LAST = 2


@dataclass(frozen=True)
class Preconditions:
    """The live incarnation a delete was decided on (its uid and resourceVersion), after its
    tracking id was checked on that version: the API server refuses the delete for any other."""

    uid: str
    resource_version: str = ""


@dataclass(frozen=True)
class SyncTask:
    """One step of a sync.

    ``wave`` is the wave the task runs in: the object's sync wave, or the wave a
    dependency fix moved it to; for a prune, the live object's sync wave.
    ``kind_rank`` is Argo CD's kind order (``core.kinds.kind_rank``); the
    Namespace created by ``CreateNamespace`` has rank -1 so that it is first.
    ``manifest`` is the body to apply (None for prunes; a ``generateName`` hook's
    body carries its derived ``metadata.name``). ``api_version`` is the version to
    use in requests (the live object's for prunes). ``options`` are the object's
    effective sync options: the application's overridden by its own annotation.
    ``prune_last`` puts a prune into the final implicit wave. ``tracked`` is False
    only for the Namespace created by ``CreateNamespace``: it is applied but kept
    out of the inventory, so it is never pruned. ``preconditions`` name the live
    object a prune deletes; a prune without them had no live object when compared.
    """

    phase: Phase
    wave: int
    kind_rank: int
    key: ResourceKey
    action: TaskAction
    manifest: Manifest | None
    options: ResourceOptions
    hook: HookSpec | None = None
    api_version: str = ""
    prune_last: bool = False
    tracked: bool = True
    preconditions: Preconditions | None = None

    @property
    def _stage(self) -> _Stage:
        if self.action is not TaskAction.PRUNE:
            return _Stage.RUN
        return _Stage.PRUNE_LAST if self.prune_last else _Stage.PRUNE

    @property
    def sort_key(self) -> tuple[int, int, int, int, str, str, str, str]:
        """The task's place in the total order (see the package docstring)."""
        stage = self._stage
        if stage is _Stage.RUN:
            wave, rank = self.wave, self.kind_rank
        else:
            wave = -self.wave if stage is _Stage.PRUNE else 0
            rank = -self.kind_rank
        key = self.key
        return (self.phase.order, stage, wave, rank, key.namespace, key.name, key.group,
                key.kind)

    def __str__(self) -> str:
        what = self.action.value if self.hook is None else f"{self.hook.phase.value} hook"
        last = " last" if self.prune_last else ""
        return f"{self.phase.value}/{self.wave}{last} {what} {self.key}"


def sort_tasks(tasks: Iterable[SyncTask]) -> tuple[SyncTask, ...]:
    """Tasks in the total order."""
    return tuple(sorted(tasks, key=lambda t: t.sort_key))


class SkipReason(enum.Enum):
    """Why a desired or inventoried object gets no task."""

    HOOK_SKIP = "HookSkip"              # annotated hook: Skip
    HOOK_NOT_RUN = "HookNotRun"         # a hook for an event a sync does not run
    IN_SYNC = "InSync"                  # ApplyOutOfSyncOnly and the object is in sync
    PRUNE_DISABLED = "PruneDisabled"    # the live object says Prune=false
    PRUNE_NEEDS_CONFIRM = "PruneNeedsConfirm"  # Prune=confirm and no explicit prune request
    PRUNE_NOT_ENABLED = "PruneNotEnabled"      # neither automated prune nor a prune request
    PRUNE_IN_USE = "PruneInUse"         # a Namespace that still holds desired objects
    PRUNE_REFUSED = "PruneRefused"      # the prune guard refused this sync's prunes
    PRUNE_NOT_OURS = "PruneNotOurs"     # the live object is no longer this application's
    PRUNE_OUTSIDE_PROJECT = "PruneOutsideProject"  # the application's project does not cover it


@dataclass(frozen=True)
class Skipped:
    """An object that gets no task, and why."""

    key: ResourceKey
    reason: SkipReason
    message: str

    def __str__(self) -> str:
        return f"{self.key} skipped: {self.message}"


WaveId = tuple[Phase, int]
"""A group's label: its phase and wave (the final implicit prune wave is last wave + 1)."""


def group_waves(tasks: Iterable[SyncTask]) -> list[tuple[WaveId, tuple[SyncTask, ...]]]:
    """Consecutive sorted tasks grouped into the steps an executor runs one by one.

    A new group starts when the phase, the wave or the kind of step changes
    (applies and hooks, prunes, PruneLast prunes), so a group never mixes
    applies with prunes. Prune groups are labelled with their live sync wave;
    the PruneLast group with one more than the highest wave of its phase.
    """
    ordered = sort_tasks(tasks)
    groups: list[tuple[WaveId, tuple[SyncTask, ...]]] = []
    for (_, stage, _), members in groupby(
            ordered, key=lambda t: (t.phase.order, t._stage, t.sort_key[2])):
        group = tuple(members)
        phase = group[0].phase
        if stage is _Stage.PRUNE_LAST:
            wave = max(t.wave for t in ordered if t.phase is phase) + 1
        else:
            wave = group[0].wave
        groups.append(((phase, wave), group))
    return groups


@dataclass(frozen=True)
class Plan:
    """A sync as data: ordered tasks, what is left out and why, and the prune verdict.

    ``tasks`` hold every task of a sync that succeeds, in order; ``sync_fail_hooks``
    run only when it fails. ``prune_refused`` is a message when the prune guard
    refused this sync's prunes (they then appear in ``skipped``, not in
    ``tasks``): an engine must not run such a plan as if nothing happened (see
    ``ensure_prune_allowed``).
    """

    tasks: tuple[SyncTask, ...]
    sync_fail_hooks: tuple[SyncTask, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    prune_refused: str | None = None
    options: AppOptions = field(default_factory=AppOptions)

    def waves(self) -> list[tuple[WaveId, tuple[SyncTask, ...]]]:
        """``tasks`` grouped for the wave-by-wave executor (see ``group_waves``)."""
        return group_waves(self.tasks)

    @property
    def prune_tasks(self) -> tuple[SyncTask, ...]:
        return tuple(t for t in self.tasks if t.action is TaskAction.PRUNE)

    @property
    def apply_tasks(self) -> tuple[SyncTask, ...]:
        return tuple(t for t in self.tasks if t.action is TaskAction.APPLY)

    def hooks(self, phase: Phase) -> tuple[SyncTask, ...]:
        """The hook tasks of one phase, in order (SyncFail ones included)."""
        pool = self.sync_fail_hooks if phase is Phase.SYNC_FAIL else self.tasks
        return tuple(t for t in pool if t.hook is not None and t.phase is phase)

    @property
    def propagation_policy(self) -> PropagationPolicy:
        return self.options.prune_propagation_policy

    @property
    def fail_on_shared_resource(self) -> bool:
        return self.options.fail_on_shared_resource

    def ensure_prune_allowed(self) -> None:
        """Raise ``PruneRefused`` with the guard's message when prunes were refused."""
        if self.prune_refused is not None:
            raise PruneRefused(self.prune_refused)
