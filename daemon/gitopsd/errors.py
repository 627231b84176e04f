"""The one exception hierarchy of gitopsd.

Every error a user can see is a ``GitopsdError``. Errors raised by foreign
libraries (kubernetes_asyncio, pygit2, asyncssh, subprocesses) are translated
into this hierarchy at the edge that called the library, so that nothing above
the edges needs to know those libraries exist. Messages are one sentence that
names the thing at fault; they never carry credentials or secret values.

    GitopsdError
    ├── ConfigError            fleet file invalid (carries every ConfigIssue)
    ├── SourceError            desired state could not be produced
    │   ├── GitError           listing, fetching or reading a repository
    │   │   └── RepositoryUnavailable  the remote did not answer a listing or fetch
    │   ├── RenderError        kustomize / helm / plain rendering failed
    │   │   └── SourceTooLarge a source file or a render output is past its size limit
    │   ├── ManifestError      a rendered object is malformed or duplicated
    │   ├── DecryptError       a SOPS-encrypted file could not be decrypted
    │   └── SignatureInvalid   a revision is not signed by an allowed key
    ├── ClusterError           talking to a cluster failed
    │   ├── ClusterUnreachable connection refused, timed out, TLS failure
    │   └── ApiError           the API server answered with an error status
    │       └── UnknownKind    no resource is served for an apiVersion and kind
    ├── SyncError              a sync could not complete safely
    │   ├── OwnershipConflict  an object belongs to somebody else
    │   ├── PruneRefused       a prune would delete too much
    │   ├── ProjectViolation   an object, repository or destination its project forbids
    │   ├── InventoryError     an in-cluster inventory is unreadable or not ours
    │   ├── SyncDeadline       a wave did not become healthy in time
    │   ├── SyncWindowClosed   a sync window refuses this sync now
    │   ├── OwnedElsewhere     another daemon sharing the fleet owns the instance
    │   └── RollbackRefused    a rollback while automated sync would undo it
    ├── LocalClusterError      a local control plane failed to start or stop
    └── NotificationError      a notification receiver refused or did not answer
"""

from __future__ import annotations

from dataclasses import dataclass


class GitopsdError(Exception):
    """Base of every error gitopsd reports to a user."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a fleet file, located by file, line and field path."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class ConfigError(GitopsdError):
    """The fleet file is invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class SourceError(GitopsdError):
    """Desired state could not be produced from a source."""


class GitError(SourceError):
    """A Git repository could not be listed, fetched or read."""


class RepositoryUnavailable(GitError):
    """Listing or fetching a repository failed: unreachable, credentials or host key refused,
    or no such repository. What was asked of it may be fine; the repository did not answer."""


class RenderError(SourceError):
    """A renderer (plain, Kustomize, Helm) failed."""


class SourceTooLarge(RenderError):
    """A manifest file or a render output is larger than the fleet's size limit for it.

    Raised before the bytes are parsed, so one huge file costs no parsing at all.
    """


class ManifestError(SourceError):
    """A rendered object is malformed, invalid or duplicated."""


class DecryptError(SourceError):
    """A SOPS-encrypted file could not be decrypted, or the keys to decrypt it could not be read."""


class SignatureInvalid(SourceError):
    """A revision's commit or tag is unsigned, badly signed, or signed by a key not allowed.

    ``commit`` is the object at fault (a commit or tag id), ``signer`` who signed
    it as far as the verifier could tell (empty when unknown), ``reason`` why it
    was refused.
    """

    def __init__(self, message: str, *, commit: str = "", signer: str = "",
                 reason: str = "") -> None:
        super().__init__(message)
        self.commit = commit
        self.signer = signer
        self.reason = reason


class ClusterError(GitopsdError):
    """Talking to a cluster failed."""


class ClusterUnreachable(ClusterError):
    """The cluster's API server could not be reached."""


class ApiError(ClusterError):
    """The API server answered a request with an error status."""

    def __init__(self, message: str, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class UnknownKind(ApiError):
    """The cluster serves no resource for an apiVersion and kind (yet)."""


class SyncError(GitopsdError):
    """A sync could not complete safely."""


class OwnershipConflict(SyncError):
    """An object exists but is owned by another application or tool."""


class PruneRefused(SyncError):
    """A prune would delete more than the allowed share of the inventory."""


class ProjectViolation(SyncError):
    """What a sync would write (or its repository, or its destination) lies outside the
    application's project; nothing of that sync is written."""


class InventoryError(SyncError):
    """An application's in-cluster inventory cannot be read or belongs to another app."""


class SyncDeadline(SyncError):
    """A sync or one of its waves did not finish before its deadline."""


class SyncWindowClosed(SyncError):
    """A sync window refuses this sync now (a manual sync where no window allows manualSync)."""


class OwnedElsewhere(SyncError):
    """Another daemon sharing the fleet owns the instance: a manual sync is for that daemon."""


class RollbackRefused(SyncError):
    """A rollback of an instance whose automated sync would move it back to Git's head at once."""


class LocalClusterError(GitopsdError):
    """A local control plane could not be started or stopped."""


class NotificationError(GitopsdError):
    """A notification could not be delivered; the message names the service, never its address."""
