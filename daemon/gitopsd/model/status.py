"""The words of an application instance's status: sync status, results, conditions, errors.

The status board, the API, the metrics, the history and the notifications all
speak about the same few states; they are spelled once, here, as ``StrEnum``s
so that a member compares equal to (and formats as) the string users see in
``gitopsd status``, the API's JSON and metric labels. Argo CD's spellings are
kept where Argo CD has the same idea, so that habits and dashboards carry over.

Only names live here: deciding which state an instance is in is the engine's
job, showing it is the edges'.
"""

from __future__ import annotations

import enum

from gitopsd.errors import GitopsdError


class SyncStatus(enum.StrEnum):
    """Whether an instance's live objects match Git (Argo CD's ``status.sync.status``)."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


class SyncResult(enum.StrEnum):
    """How a finished sync is counted (Argo CD's operation phases, the metrics' ``phase``)."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ERROR = "Error"


class ConditionType(enum.StrEnum):
    """The type of a condition on an instance's status row."""

    CLUSTER_UNREACHABLE = "ClusterUnreachable"
    WATCH_ERROR = "WatchError"
    OUT_OF_SYNC = "OutOfSync"
    SELF_HEAL_FIGHT = "SelfHealFight"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    SYNC_ERROR = "SyncError"
    LEASE_HELD_ELSEWHERE = "LeaseHeldElsewhere"
    SOURCE_UNAVAILABLE = "SourceUnavailable"  # the instance's repository does not answer
    SIGNATURE_INVALID = "SignatureInvalid"
    PROJECT_VIOLATION = "ProjectViolation"  # something the application's project forbids
    SYNC_WINDOW_CLOSED = "SyncWindowClosed"  # a sync window stops automated syncs and self-heal now
    SOURCE_WARNING = "SourceWarning"  # the source holds files that may be manifests but are not read
    INVALID_SPEC = "InvalidSpecError"  # an Argo CD Application gitopsd cannot honour (Argo CD's name)


class ConditionReason(enum.StrEnum):
    """Why a condition holds; a ``SyncError``, ``SignatureInvalid`` or ``ProjectViolation``
    condition's reason is the pass's ``OutcomeKind``."""

    DRIFT_DETECTED = "DriftDetected"
    REPEATED_DRIFT = "RepeatedDrift"
    SELF_HEAL_BACKOFF = "SelfHealBackoff"
    WATCH_FAILED = "WatchFailed"
    STALLED = "Stalled"
    ANOTHER_WRITER = "AnotherWriter"
    POLL_FAILED = "PollFailed"    # the repository's poll (remote listing) failed
    FETCH_FAILED = "FetchFailed"  # a sync could not list or fetch the repository
    DENY_WINDOW_ACTIVE = "DenyWindowActive"  # a deny sync window is active
    OUTSIDE_ALLOW_WINDOWS = "OutsideAllowWindows"  # allow sync windows apply, none is active
    UNREAD_FILES = "UnreadFiles"  # a SourceWarning: files of the source that are not read
    UNSUPPORTED_APPLICATION = "UnsupportedApplication"  # refused when its file was read


class ErrorKind(enum.StrEnum):
    """The error that ended a reconcile pass (``Outcome.error``): a class of ``gitopsd.errors``."""

    GITOPSD = "GitopsdError"
    CONFIG = "ConfigError"
    SOURCE = "SourceError"
    GIT = "GitError"
    REPOSITORY_UNAVAILABLE = "RepositoryUnavailable"
    RENDER = "RenderError"
    SOURCE_TOO_LARGE = "SourceTooLarge"
    MANIFEST = "ManifestError"
    DECRYPT = "DecryptError"
    SIGNATURE_INVALID = "SignatureInvalid"
    CLUSTER = "ClusterError"
    CLUSTER_UNREACHABLE = "ClusterUnreachable"
    API = "ApiError"
    UNKNOWN_KIND = "UnknownKind"
    SYNC = "SyncError"
    OWNERSHIP_CONFLICT = "OwnershipConflict"
    PRUNE_REFUSED = "PruneRefused"
    PROJECT_VIOLATION = "ProjectViolation"
    INVENTORY = "InventoryError"
    SYNC_DEADLINE = "SyncDeadline"
    SYNC_WINDOW_CLOSED = "SyncWindowClosed"
    ROLLBACK_REFUSED = "RollbackRefused"
    OWNED_ELSEWHERE = "OwnedElsewhere"
    LOCAL_CLUSTER = "LocalClusterError"
    NOTIFICATION = "NotificationError"


_KINDS = {kind.value: kind for kind in ErrorKind}


def error_kind(error: GitopsdError) -> str:
    """``Outcome.error`` for ERROR: its ``ErrorKind``, or its class name for a class defined elsewhere."""
    name = type(error).__name__
    return _KINDS.get(name, name)
