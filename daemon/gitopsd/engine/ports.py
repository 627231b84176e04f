"""The engine's view of the edges: small Protocols the composition root fills.

The engine depends on these shapes only, so it can be driven by in-memory
fakes in engine tests and by the real Kubernetes and Git edges in the daemon.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gitopsd.model import AppInstance, HelmParams, JsonnetParams, Manifest, Repository, Revision
from gitopsd.model.helmrepos import HelmRepository
from gitopsd.model.notifications import ClusterEvent, Notice

Obj = dict[str, Any]


class ClusterPort(Protocol):
    """Object operations on one cluster (implemented by edges.kube.Objects)."""

    async def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Obj | None: ...

    async def apply(self, body: Mapping[str, Any], *, dry_run: bool = False,
                    force: bool = True) -> Obj: ...

    async def create(self, body: Mapping[str, Any], *, dry_run: bool = False) -> Obj: ...

    async def set_managed_fields(self, live: Mapping[str, Any],
                                 entries: Sequence[Mapping[str, Any]]) -> Obj:
        """Replace LIVE's managedFields with ENTRIES if LIVE is still the stored version."""
        ...

    async def select(self, api_version: str, kind: str, *, namespace: str = "",
                     label_selector: str = "") -> list[Obj]:
        """Every object of a kind (in NAMESPACE) matching LABEL_SELECTOR."""
        ...

    async def replace(self, body: Mapping[str, Any]) -> Obj: ...

    async def delete(self, api_version: str, kind: str, name: str, namespace: str = "", *,
                     propagation: str = "Foreground", uid: str | None = None,
                     resource_version: str | None = None) -> bool:
        """Delete an object; False when it is gone, or is not the UID / RESOURCE_VERSION named."""
        ...

    async def namespaced(self, api_version: str, kind: str) -> bool | None:
        """Whether the kind is namespaced; None when the cluster does not serve it."""
        ...

    def invalidate(self, group: str | None = None) -> None:
        """Forget cached discovery for GROUP (after CRDs change)."""
        ...


class DesiredPort(Protocol):
    """Desired state of an instance: resolve its revision, then its manifests."""

    async def resolve(self, instance: AppInstance, commit: str | None = None) -> Revision: ...

    async def manifests(self, instance: AppInstance, revision: Revision) -> tuple[Manifest, ...]: ...

    def warnings(self, instance: AppInstance, revision: Revision) -> tuple[str, ...]:
        """What the render of INSTANCE's manifests at REVISION passed over (files that may hold
        manifests but are not read); empty when nothing was, or before they are rendered."""
        ...

    def source_key(self, instance: AppInstance, revision: Revision) -> str:
        """A fingerprint of everything INSTANCE's manifests at REVISION were rendered from (the
        revision, the revisions of other sources it reads, its source parameters)."""
        ...


class GitPort(Protocol):
    """Repositories (implemented by edges.git.GitSource)."""

    async def ensure(self, repo: Repository, ref: str, sha: str | None = None) -> Revision: ...

    async def read_tree(self, repo: Repository, sha: str, path: str = ".", *,
                        max_file_size: int | None = None,
                        limited_suffixes: tuple[str, ...] = ()) -> dict[str, bytes]:
        """Files under PATH; one past MAX_FILE_SIZE (among LIMITED_SUFFIXES, all when empty)
        raises ``SourceTooLarge`` before it is read."""
        ...

    def materialise(self, repo: Repository, sha: str,
                    path: str = ".") -> AbstractAsyncContextManager[Path]: ...

    async def poll(self, repo: Repository, refs: Collection[str]) -> dict[str, str]: ...

    def stats(self, repo: Repository) -> Any:
        """Counters with ``listings`` and ``fetches`` done for REPO so far."""
        ...


class ChartPort(Protocol):
    """Packaged Helm charts as sources (implemented by edges.render.ChartSource)."""

    async def resolve(self, repo: HelmRepository, chart: str, version: str) -> Revision:
        """CHART at VERSION (exact, a range, or "" for the newest) in REPO, fetched; the
        revision's ``sha`` is ``<version>@sha256:<digest>``."""
        ...

    def materialise(self, repo: HelmRepository, chart: str,
                    revision: Revision) -> AbstractAsyncContextManager[Path]:
        """A directory holding the unpacked chart as ``<chart>/``, removed on exit."""
        ...


class DecryptPort(Protocol):
    """SOPS-encrypted files decrypted in memory (implemented by edges.sops.Decryptor).

    Errors are ``DecryptError``s whose message starts with the ``name`` given
    and never carries file content. ``is_encrypted`` and ``decrypt`` are called
    from a worker thread (they parse whole files), so they must not use the
    event loop.
    """

    def is_encrypted(self, text: str) -> bool:
        """Whether TEXT is a SOPS file: a document with a top-level ``sops`` mapping holding
        ``mac`` and ``lastmodified``."""
        ...

    def decrypt(self, text: str, *, name: str) -> str:
        """The clear text of TEXT in its own format, its MAC verified."""
        ...

    async def decrypt_tree(self, root: Path, *, name: str, required: str = ".") -> int:
        """Decrypt in place the SOPS files of a temporary materialised tree; return how many.

        Files under REQUIRED must decrypt; elsewhere those that cannot are left as they are.
        """
        ...


class RenderPort(Protocol):
    """Kustomize, Helm and Jsonnet rendering of a materialised tree (adapts edges.render.Renderer).

    Output past MAX_OUTPUT bytes (0: the renderer's own limit) raises ``SourceTooLarge``.
    REF_FILES holds the text of each ``$<ref>/<path>`` value file of HELM (read from
    another source by the caller).
    """

    async def render(self, root: Path, path: str, *, release_name: str, namespace: str,
                     helm: HelmParams, kube_version: str, cache_key: str,
                     max_output: int = 0, ref_files: Mapping[str, str] | None = None
                     ) -> str: ...

    async def render_jsonnet(self, root: Path, path: str, files: tuple[str, ...],
                             params: JsonnetParams, *, cache_key: str,
                             max_output: int = 0) -> Mapping[str, str]:
        """The JSON output of each Jsonnet file of FILES (repository-relative) of the
        directory source PATH in the materialised tree ROOT."""
        ...


class WatchPort(Protocol):
    """A label-selected list-then-watch of one kind on one cluster; returns when it drops."""

    async def __call__(self, api_version: str, kind: str, label_selector: str,
                       on_event: Any) -> None: ...


class MetricsPort(Protocol):
    """What the engine reports as metrics (implemented by edges.telemetry.metrics.Metrics)."""

    def set_instance(self, app: str, cluster: str, sync_status: str, health_status: str) -> None: ...
    def remove_instance(self, app: str, cluster: str) -> None: ...
    def sync_finished(self, app: str, cluster: str, result: str) -> None: ...
    def reconcile_finished(self, cluster: str, seconds: float) -> None: ...
    def drift_detected(self, app: str, cluster: str, count: int = 1) -> None: ...
    def selfheal_fight(self, app: str, cluster: str) -> None: ...
    def set_sync_window_active(self, app: str, kind: str, active: bool) -> None: ...
    def set_queue_depth(self, depth: int) -> None: ...
    def queue_waited(self, seconds: float) -> None: ...
    def git_request(self, repo: str, request_type: str, ok: bool) -> None: ...
    def signature_invalid(self, repo: str, app: str, cluster: str) -> None: ...
    def watch_reconnected(self, cluster: str) -> None: ...
    def set_cluster_connected(self, cluster: str, connected: bool) -> None: ...
    def task_restarted(self, task: str) -> None: ...
    def set_members(self, members: int, owned: int) -> None: ...
    def handed_over(self, direction: str, count: int) -> None: ...
    def lease_renewed(self, seconds: float, ok: bool) -> None: ...
    def member_leases_collected(self, count: int) -> None: ...


class HistoryPort(Protocol):
    """Sync history (implemented by edges.store.HistoryStore)."""

    async def record(self, app: str, cluster: str, *, revision: str, started: float, duration: float,
                     result: str, message: str = "", trace_id: str = "",
                     changes: Mapping[str, Any] | None = None) -> bool: ...


class AppliedPort(Protocol):
    """The source keys of instances' last successful syncs, kept across restarts (implemented by
    edges.applied.AppliedFile)."""

    def load(self) -> dict[str, str]: ...
    def save(self, keys: Mapping[str, str]) -> None: ...


class IncidentPort(Protocol):
    """Open problems kept across restarts (implemented by edges.notifications.incidents.IncidentFile),
    so an incident opened before a restart is resolved after it."""

    def load(self) -> list[Notice]: ...
    def save(self, notices: Sequence[Notice]) -> None: ...


class NotifyPort(Protocol):
    """Notification delivery (implemented by edges.notifications.Dispatcher).

    ``deliver`` only queues: it never waits for a receiver, so a slow or dead
    one cannot slow a sync or a repair.
    """

    def deliver(self, service: str, recipients: tuple[str, ...], notice: Notice, text: str) -> None:
        """Queue NOTICE, worded TEXT, for SERVICE (to RECIPIENTS, where the service has any)."""
        ...


class EventPort(Protocol):
    """Kubernetes Events in target clusters (implemented by edges.kube.events.EventRecorder).

    ``record`` only queues, like ``NotifyPort.deliver``.
    """

    def record(self, event: ClusterEvent, *, namespace: str, inventory: str) -> None:
        """Record EVENT on the ConfigMap INVENTORY in NAMESPACE of the event's cluster."""
        ...


AttrValue = str | int | float | bool


class Step(enum.StrEnum):
    """The steps of a pass the engine traces; the tracing edge names their spans."""

    RECONCILE = "reconcile"  # the root span: one pass over one instance
    SOURCE = "source"
    RENDER = "render"
    DIFF = "diff"
    PLAN = "plan"
    APPLY_WAVE = "apply wave"
    PRUNE = "prune"
    HEALTH = "health"
    HOOK = "hook"


class SpanPort(Protocol):
    """One open span."""

    @property
    def trace_id(self) -> str:
        """The trace's id as 32 hex digits ("0" * 32 when nothing is recorded)."""
        ...

    def set(self, **attributes: AttrValue) -> None:
        """Attributes by the engine's names (app, cluster, revision, wave, ...)."""
        ...

    def event(self, name: str, **attributes: AttrValue) -> None: ...

    def fail(self, message: str) -> None:
        """The step failed, for MESSAGE."""
        ...

    def context(self) -> object:
        """What a later span may link to (a retry links to the attempt it repeats)."""
        ...


class TracingPort(Protocol):
    """Spans for the steps of a pass (implemented by edges.telemetry.spans.OtelTracing).

    Attribute names are the engine's plain words; the edge maps them onto
    OpenTelemetry's semantic conventions and gitopsd's own ``gitopsd.*`` names.
    """

    def span(self, step: Step, title: str = "", *, links: Sequence[object] = (),
             **attributes: AttrValue) -> AbstractContextManager[SpanPort]:
        """Open a span for STEP (named TITLE when given) as the current one, until the block ends."""
        ...

    def current(self) -> SpanPort:
        """The span open now (a span that records nothing when there is none)."""
        ...


class _NoSpan:
    trace_id = "0" * 32

    def set(self, **attributes: AttrValue) -> None:
        return None

    def event(self, name: str, **attributes: AttrValue) -> None:
        return None

    def fail(self, message: str) -> None:
        return None

    def context(self) -> object:
        return None


class NoTracing:
    """The port filled with nothing: for engine tests and tools that export no traces."""

    @contextlib.contextmanager
    def _span(self) -> Iterator[SpanPort]:
        yield _NoSpan()

    def span(self, step: Step, title: str = "", *, links: Sequence[object] = (),
             **attributes: AttrValue) -> AbstractContextManager[SpanPort]:
        return self._span()

    def current(self) -> SpanPort:
        return _NoSpan()


@dataclass
class ClusterHandle:
    """What the daemon needs of one cluster."""

    name: str
    objects: ClusterPort
    watch: WatchPort
