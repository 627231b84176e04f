"""What an object's annotations say about when it is applied: phase, wave, hook.

Argo CD marks hooks with ``argocd.argoproj.io/hook`` and orders objects with
``argocd.argoproj.io/sync-wave``; Helm charts mark hooks with ``helm.sh/hook``
and order them with ``helm.sh/hook-weight``. This module reads both into
values. Argo CD's own annotations are checked strictly, because the people who
write them can fix them. Helm hook types that gitopsd does not run (``test``,
``pre-delete``, ``pre-rollback``...) and unknown Helm delete policies are
accepted and have no effect, as in Argo CD, because they usually come from
third-party charts.

Functions here raise ``ValueError`` with a message that does not name the
object; the planner adds the object and its source location. Nothing here reads
a clock or a random source: names for ``generateName`` hooks are derived from
the sync id the caller passes in.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from gitopsd.core.marks import (
    HELM_DELETE_POLICY_ANNOTATION,
    HELM_HOOK_ANNOTATION,
    HELM_WEIGHT_ANNOTATION,
    HOOK_ANNOTATION,
    HOOK_DELETE_POLICY_ANNOTATION,
    SYNC_WAVE_ANNOTATION,
)

GENERATED_SUFFIX_LENGTH: Final = 5
_MAX_GENERATE_NAME_BASE: Final = 63 - GENERATED_SUFFIX_LENGTH  # as the API server truncates


class Phase(enum.Enum):
    """Sync phases in the order they run; ``SYNC_FAIL`` runs only after a failure."""

    PRE_SYNC = "PreSync"
    SYNC = "Sync"
    POST_SYNC = "PostSync"
    SYNC_FAIL = "SyncFail"

    @property
    def order(self) -> int:
        return _PHASE_ORDER[self]


_PHASE_ORDER: Final = {phase: index for index, phase in enumerate(Phase)}


class DeletePolicy(enum.Enum):
    """When a hook object is deleted (``argocd.argoproj.io/hook-delete-policy``)."""

    BEFORE_HOOK_CREATION = "BeforeHookCreation"
    HOOK_SUCCEEDED = "HookSucceeded"
    HOOK_FAILED = "HookFailed"


_HELM_DELETE_POLICIES: Final = {
    "before-hook-creation": DeletePolicy.BEFORE_HOOK_CREATION,
    "hook-succeeded": DeletePolicy.HOOK_SUCCEEDED,
    "hook-failed": DeletePolicy.HOOK_FAILED,
}

_HELM_PHASES: Final = {
    "pre-install": Phase.PRE_SYNC,
    "pre-upgrade": Phase.PRE_SYNC,
    "post-install": Phase.POST_SYNC,
    "post-upgrade": Phase.POST_SYNC,
}

_HELM_NOT_A_HOOK: Final = "crd-install"  # Helm 2 marked CRDs this way; they are plain objects

_SKIP: Final = "Skip"
_DELETION_HOOKS: Final = ("PreDelete", "PostDelete")
_ARGO_HOOK_TYPES: Final = (*(p.value for p in Phase), _SKIP, *_DELETION_HOOKS)

_INTEGER: Final = re.compile(r"^[+-]?[0-9]+$")


@dataclass(frozen=True)
class HookSpec:
    """How one hook task runs: its phase, delete policies and original ``generateName``.

    ``delete_policies`` is never empty: BeforeHookCreation when none is given.
    ``generate_name`` is set when the task's name was derived from it.
    """

    phase: Phase
    delete_policies: frozenset[DeletePolicy]
    generate_name: str = ""


class HookRole(enum.Enum):
    """What the hook annotations make of an object."""

    PLAIN = "plain"        # not a hook: applied in the Sync phase and tracked
    HOOK = "hook"          # run in ``phases``
    SKIP = "skip"          # ``hook: Skip``: never applied
    NOT_RUN = "not-run"    # a hook for an event gitopsd does not run during a sync


@dataclass(frozen=True)
class HookMarking:
    """The hook annotations of one object, read."""

    role: HookRole
    phases: tuple[Phase, ...] = ()
    delete_policies: frozenset[DeletePolicy] = frozenset({DeletePolicy.BEFORE_HOOK_CREATION})
    reason: str = ""  # why a SKIP or NOT_RUN object is not applied


def _csv(value: Any) -> list[str]:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    return [item.strip() for item in value.split(",") if item.strip()]


def read_hook(annotations: Mapping[str, Any]) -> HookMarking:
    """Read ``argocd.argoproj.io/hook`` or, when that is absent, ``helm.sh/hook``.

    Raises ``ValueError`` for unknown Argo CD hook types or delete policies.
    """
    policies = _delete_policies(annotations)
    if HOOK_ANNOTATION in annotations:
        try:
            types = _csv(annotations[HOOK_ANNOTATION])
        except ValueError as exc:
            raise ValueError(f"{HOOK_ANNOTATION} {exc}") from None
        unknown = [t for t in types if t not in _ARGO_HOOK_TYPES]
        if unknown or not types:
            raise ValueError(f"{HOOK_ANNOTATION} has unknown type(s) "
                             f"{', '.join(unknown) or '(empty)'}; known types: "
                             f"{', '.join(_ARGO_HOOK_TYPES)}")
        if _SKIP in types:
            if len(types) > 1:
                raise ValueError(f"{HOOK_ANNOTATION}: Skip cannot be combined with other types")
            return HookMarking(HookRole.SKIP, reason=f"annotated {HOOK_ANNOTATION}: Skip")
        phases = tuple(sorted({Phase(t) for t in types if t not in _DELETION_HOOKS},
                              key=lambda p: p.order))
        if not phases:
            return HookMarking(HookRole.NOT_RUN, delete_policies=policies,
                               reason=f"{'/'.join(types)} hook runs only when the "
                                      "application is deleted")
        return HookMarking(HookRole.HOOK, phases, policies)
    helm = annotations.get(HELM_HOOK_ANNOTATION)
    if helm is None:
        return HookMarking(HookRole.PLAIN)
    try:
        helm_types = _csv(helm)
    except ValueError as exc:
        raise ValueError(f"{HELM_HOOK_ANNOTATION} {exc}") from None
    if helm_types == [_HELM_NOT_A_HOOK]:
        return HookMarking(HookRole.PLAIN)
    phases = tuple(sorted({_HELM_PHASES[t] for t in helm_types if t in _HELM_PHASES},
                          key=lambda p: p.order))
    if not phases:
        return HookMarking(HookRole.NOT_RUN, delete_policies=policies,
                           reason=f"Helm hook {','.join(helm_types) or '(empty)'} is not run "
                                  "by a sync")
    return HookMarking(HookRole.HOOK, phases, policies)


def deletion_hook_types(annotations: Mapping[str, Any]) -> tuple[str, ...]:
    """``PreDelete``/``PostDelete`` when an object is an Argo CD deletion hook, else ()."""
    value = annotations.get(HOOK_ANNOTATION)
    if not isinstance(value, str):
        return ()
    return tuple(t for t in _csv(value) if t in _DELETION_HOOKS)


def _delete_policies(annotations: Mapping[str, Any]) -> frozenset[DeletePolicy]:
    found: set[DeletePolicy] = set()
    if HOOK_DELETE_POLICY_ANNOTATION in annotations:
        try:
            names = _csv(annotations[HOOK_DELETE_POLICY_ANNOTATION])
        except ValueError as exc:
            raise ValueError(f"{HOOK_DELETE_POLICY_ANNOTATION} {exc}") from None
        known = [p.value for p in DeletePolicy]
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"{HOOK_DELETE_POLICY_ANNOTATION} has unknown value(s) "
                             f"{', '.join(unknown)}; known values: {', '.join(known)}")
        found.update(DeletePolicy(n) for n in names)
    helm = annotations.get(HELM_DELETE_POLICY_ANNOTATION)
    if isinstance(helm, str):
        found.update(_HELM_DELETE_POLICIES[n] for n in _csv(helm) if n in _HELM_DELETE_POLICIES)
    return frozenset(found or {DeletePolicy.BEFORE_HOOK_CREATION})


def read_wave(annotations: Mapping[str, Any]) -> int:
    """The object's sync wave: ``sync-wave``, else ``helm.sh/hook-weight``, else 0.

    As in Argo CD the Helm weight counts for any object that has no sync-wave.
    Raises ``ValueError`` when the value is not an integer.
    """
    for name in (SYNC_WAVE_ANNOTATION, HELM_WEIGHT_ANNOTATION):
        if name not in annotations:
            continue
        value = annotations[name]
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INTEGER.match(value.strip()):
            return int(value.strip())
        raise ValueError(f"{name} must be an integer, got {str(value)[:40]!r}")
    return 0


def generated_name(generate_name: str, *, sync_id: str, phase: Phase,
                   body: Mapping[str, Any]) -> str:
    """A deterministic name for a ``generateName`` hook in one sync.

    The suffix is the first five hex digits of a SHA-256 over the sync id, the
    phase and the object's body, so a retried sync reuses its names while two
    different hooks with the same ``generateName`` (or one hook in two phases)
    get different ones. The prefix is truncated like the API server does.
    """
    material = json.dumps([sync_id, phase.value, body], sort_keys=True, default=str,
                          separators=(",", ":"))
    digest = hashlib.sha256(material.encode()).hexdigest()
    return generate_name[:_MAX_GENERATE_NAME_BASE] + digest[:GENERATED_SUFFIX_LENGTH]
