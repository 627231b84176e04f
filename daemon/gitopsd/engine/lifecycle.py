"""Hook objects and deletions on one cluster, for syncs and for application removals.

A sync's hooks, a ``Replace=true,Force=true`` recreate, a sync's prunes and an
application's removal all run a hook object (replace an earlier one, create
it, wait until it finishes, delete it by its delete policies) or delete
objects and wait until they are gone. This module is the one place that does
it, so the executor and the remover cannot drift apart. A delete names the
incarnation (uid) and, where the caller read one, the version
(resourceVersion) its caller decided on, as preconditions; when the API server
refuses them, the object is read again: another incarnation, or one the
caller's check no longer accepts (its tracking id changed), is left alone and
reported as lost; the same object merely changed since is deleted at its new
version. Whether a hook has finished, and how, is ``core.health.hook_state``'s
to say, after every read.

It must not decide which hooks run, what is deleted or in what order, and it
reads no annotations: callers pass delete policies, propagation and
deadlines, and whether an object is still theirs is their check's to say. It
talks to the cluster only through ``ClusterPort``, takes time from the engine
``Clock`` and never waits past the deadline it is given.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gitopsd.core.health import HookPhase, HookState, hook_state
from gitopsd.core.health import assess as builtin_assess
from gitopsd.core.health.custom import Assess
from gitopsd.core.plan import DeletePolicy
from gitopsd.engine.clock import Clock
from gitopsd.engine.ports import ClusterPort, Obj
from gitopsd.errors import ApiError, ClusterError, SyncDeadline
from gitopsd.model import ResourceKey, objects


class Previous(enum.Enum):
    """The caller did not read the hook's previous object: delete it by name, whoever it is."""

    UNREAD = "unread"


MAX_CONFLICTS = 3  # deletes refused because the object changed, before giving up for this pass

Check = Callable[[ResourceKey, Obj], str]
"""Why the caller may no longer delete the live object at a key ("" when it still may)."""


@dataclass(frozen=True)
class Target:
    """One object to act on; with ``uid``, only that incarnation of it, and with
    ``resource_version`` only while it is still the version the caller read."""

    api_version: str
    key: ResourceKey
    uid: str | None = None
    resource_version: str | None = None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Target:
        """The object BODY names, whichever incarnation of it."""
        return cls(str(body.get("apiVersion", "")), ResourceKey.of(body))


@dataclass
class HookRun:
    """What running one hook came to.

    ``created`` is the object the API server created (None when creating
    failed); ``error`` is the cluster error that stopped the run and ``stage``
    the step it stopped at: ``create`` (replacing the previous object
    included), ``wait`` or ``cleanup``.
    """

    key: ResourceKey
    state: HookState
    created: Obj | None = None
    error: Exception | None = None
    stage: str = ""

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.state.phase is HookPhase.SUCCEEDED


@dataclass
class WaveResult:
    """What deleting one wave did: gone, already absent when asked, failed (with why), no
    longer the caller's to delete (with why: left alone), still being deleted at the deadline."""

    deleted: list[ResourceKey] = field(default_factory=list)
    absent: list[ResourceKey] = field(default_factory=list)
    failed: list[tuple[ResourceKey, str]] = field(default_factory=list)
    lost: list[tuple[ResourceKey, str]] = field(default_factory=list)
    pending: list[ResourceKey] = field(default_factory=list)


@dataclass(frozen=True)
class _Sent:
    """One delete request: accepted (for TARGET at its last version), absent, or refused because
    HOLDER, which holds the name now, is not the caller's to delete (WHY)."""

    target: Target
    accepted: bool = False
    holder: Obj | None = None
    why: str = ""


def reason(e: Exception) -> str:
    """One line for a cluster error, saying so when it was a permission refusal."""
    if isinstance(e, ApiError) and e.status == 403:
        return f"forbidden: {e}"
    return str(e)


def _uid(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("uid") or "")


class Lifecycle:
    """Runs hooks and deletes objects on CLUSTER, polling every POLL seconds of CLOCK."""

    def __init__(self, cluster: ClusterPort, clock: Clock, *, poll: float = 0.5,
                 assess: Assess = builtin_assess) -> None:
        self.assess = assess
        self.cluster = cluster
        self.clock = clock
        self.poll = poll

    async def _get(self, target: Target) -> Obj | None:
        key = target.key
        return await self.cluster.get(target.api_version, key.kind, key.name, key.namespace)

    async def _delete(self, target: Target, propagation: str) -> bool:
        key = target.key
        return await self.cluster.delete(target.api_version, key.kind, key.name, key.namespace,
                                         propagation=propagation, uid=target.uid,
                                         resource_version=target.resource_version)

    async def _send(self, target: Target, propagation: str, check: Check | None) -> _Sent:
        """Delete TARGET with its preconditions; when they are refused, read the object again and
        decide (see the module docstring). Raises ``ClusterError`` when a call fails, or when the
        object keeps changing under ``MAX_CONFLICTS`` deletes."""
        for _ in range(MAX_CONFLICTS):
            if await self._delete(target, propagation):
                return _Sent(target, accepted=True)
            if target.uid is None and target.resource_version is None:
                return _Sent(target)
            current = await self._get(target)
            if current is None:
                return _Sent(target)
            if target.uid is not None and _uid(current) != target.uid:
                return _Sent(target, holder=current, why="replaced by another object")
            why = check(target.key, current) if check is not None else ""
            if why:
                return _Sent(target, holder=current, why=why)
            target = replace(target, resource_version=objects.resource_version(current) or None)
        raise ApiError(f"{target.key} kept changing while being deleted", status=409)

    async def delete_and_wait(self, target: Target, *, propagation: str, deadline: float,
                              late: str = "", check: Check | None = None) -> Obj | None:
        """Delete TARGET and wait until it is gone.

        Returns None once nothing holds its name, or the object that holds it now
        when TARGET names a uid and another object took its place, or CHECK says
        the object is no longer the caller's. Raises ``SyncDeadline`` (with LATE,
        or a message naming the object) when it is still there at DEADLINE, and
        ``ClusterError`` when a call fails.
        """
        sent = await self._send(target, propagation, check)
        if sent.holder is not None:
            return sent.holder
        if not sent.accepted:
            return None
        target = sent.target
        while True:
            current = await self._get(target)
            if current is None:
                return None
            if target.uid is not None and _uid(current) != target.uid:
                return current
            if self.clock.now() >= deadline:
                raise SyncDeadline(late or f"{target.key} was not deleted before the deadline")
            await self.clock.sleep(self.poll)

    async def wait_for_hook(self, target: Target, *, deadline: float) -> HookState:
        """Read the hook object every poll until it has finished; Failed when DEADLINE passes first."""
        while True:
            state = hook_state(await self._get(target), self.assess)
            if state.done:
                return state
            if self.clock.now() >= deadline:
                return HookState(HookPhase.FAILED, "not finished by the deadline"
                                 + (f": {state.message}" if state.message else ""))
            await self.clock.sleep(self.poll)

    async def run_hook(self, body: Mapping[str, Any], policies: Collection[DeletePolicy], *,
                       deadline: float, previous: Obj | Previous | None = Previous.UNREAD) -> HookRun:
        """Run one hook object: with BeforeHookCreation the previous one goes first (waited for),
        then BODY is created and followed until it finishes, then deleted when its outcome is
        one of POLICIES (HookSucceeded, HookFailed).

        PREVIOUS is the object that held the hook's name when the caller read it (None: there
        was none, so nothing is deleted first); left UNREAD, the name is deleted whoever holds it.
        Without BeforeHookCreation, a PREVIOUS that was read is applied over and followed as
        this run's hook rather than created again.
        """
        target = Target.of(body)
        run = HookRun(target.key, HookState(HookPhase.FAILED, "not run"))
        try:
            run.stage = "create"
            if DeletePolicy.BEFORE_HOOK_CREATION in policies and target.key.name and previous is not None:
                old = Target(target.api_version, target.key,
                             None if isinstance(previous, Previous) else _uid(previous) or None)
                other = await self.delete_and_wait(
                    old, propagation="Foreground", deadline=deadline,
                    late=f"the previous hook {target.key} was not deleted before the deadline")
                if other is not None:
                    raise ApiError(f"hook {target.key} was created again by someone else while the "
                                   "previous one was being deleted", status=409)
            if isinstance(previous, Mapping) and DeletePolicy.BEFORE_HOOK_CREATION not in policies:
                # kept by its delete policy, or created by a request whose answer was lost: the
                # application's object that holds the name is applied over, as Argo CD does
                run.created = await self.cluster.apply(body)
            else:
                run.created = await self.cluster.create(body)
            # a generateName hook has its name only now
            run.key = replace(target.key, name=str((run.created.get("metadata") or {}).get("name")
                                                   or target.key.name))
            created = Target(target.api_version, run.key, _uid(run.created) or None)
            run.stage = "wait"
            run.state = await self.wait_for_hook(created, deadline=deadline)
            run.stage = "cleanup"
            succeeded = run.state.phase is HookPhase.SUCCEEDED
            if (succeeded and DeletePolicy.HOOK_SUCCEEDED in policies) or (
                    not succeeded and DeletePolicy.HOOK_FAILED in policies):
                await self._delete(created, "Background")
        except (ClusterError, SyncDeadline) as e:
            run.error = e
            return run
        run.stage = ""
        return run

    async def delete_wave(self, targets: Sequence[Target], *, propagation: str, deadline: float,
                          wait: bool = True, check: Check | None = None) -> WaveResult:
        """Delete TARGETS (in order), leaving alone those CHECK no longer accepts; with WAIT, follow
        them until every one is gone (or has been replaced by another object): those still there
        at DEADLINE are pending."""
        result = WaveResult()
        requested: list[Target] = []
        for target in targets:
            try:
                sent = await self._send(target, propagation, check)
            except ClusterError as e:
                result.failed.append((target.key, reason(e)))
                continue
            if sent.holder is not None:
                result.lost.append((target.key, sent.why))
            elif not sent.accepted:
                result.absent.append(target.key)
            elif wait:
                requested.append(sent.target)
            else:
                result.deleted.append(target.key)
        while requested:
            still = []
            for target in requested:
                try:
                    now = await self._get(target)
                except ClusterError:
                    still.append(target)
                    continue
                if now is not None and (target.uid is None or _uid(now) == target.uid):
                    still.append(target)
                else:
                    result.deleted.append(target.key)
            requested = still
            if requested and self.clock.now() >= deadline:
                result.pending.extend(t.key for t in requested)
                break
            if requested:
                await self.clock.sleep(self.poll)
        return result
