"""Plain values shared by every room: no I/O, no clocks, no randomness."""

from gitopsd.model.changeset import Change, ChangeAction, ChangeSet
from gitopsd.model.fleet import (
    AppInstance,
    Application,
    ArgoCDAppSource,
    Backoff,
    Bastion,
    Cluster,
    ClusterSelector,
    Destination,
    Fleet,
    HelmParams,
    IgnoreDifference,
    Repository,
    Retry,
    Settings,
    Source,
    SyncPolicy,
)
from gitopsd.model.health import Health, HealthStatus
from gitopsd.model.outcome import Outcome, OutcomeKind
from gitopsd.model.resources import Manifest, ResourceKey, SourceLocation
from gitopsd.model.revision import Revision
from gitopsd.model.status import (
    ConditionReason,
    ConditionType,
    ErrorKind,
    SyncResult,
    SyncStatus,
    error_kind,
)

__all__ = [
    "AppInstance",
    "Application",
    "ArgoCDAppSource",
    "Backoff",
    "Bastion",
    "Change",
    "ChangeAction",
    "ChangeSet",
    "Cluster",
    "ClusterSelector",
    "ConditionReason",
    "ConditionType",
    "Destination",
    "ErrorKind",
    "Fleet",
    "Health",
    "HealthStatus",
    "HelmParams",
    "IgnoreDifference",
    "Manifest",
    "Outcome",
    "OutcomeKind",
    "Repository",
    "ResourceKey",
    "Retry",
    "Revision",
    "Settings",
    "Source",
    "SourceLocation",
    "SyncPolicy",
    "SyncResult",
    "SyncStatus",
    "error_kind",
]
