"""The fleet as validated values: clusters, repositories, applications, instances.

``gitopsd.config`` builds these from a fleet file; nothing here reads files.
Durations are seconds as floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gitopsd.model.healthchecks import HealthCheckSpec
from gitopsd.model.helmrepos import HelmRepository
from gitopsd.model.notifications import Notifications, Subscription
from gitopsd.model.projects import BUILTIN_DEFAULT, DEFAULT_PROJECT, Project
from gitopsd.model.signing import VerifyPolicy


@dataclass(frozen=True)
class Bastion:
    """An SSH jump host through which a cluster's API server is reached."""

    host: str
    user: str
    key_file: str
    known_hosts_file: str
    port: int = 22


@dataclass(frozen=True)
class Cluster:
    name: str
    kubeconfig: str
    context: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    server: str = ""  # API URL, when known from the kubeconfig
    bastion: Bastion | None = None
    qps: float = 50.0
    burst: int = 100
    kube_version: str = ""  # used by Helm when the cluster cannot be asked
    # further API server URLs that name this cluster in Argo CD Applications
    # (``destination.server``), such as https://kubernetes.default.svc
    servers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Repository:
    name: str
    url: str
    ssh_key_file: str = ""
    known_hosts_file: str = ""
    token_file: str = ""
    username: str = "git"
    poll_interval: float = 30.0
    verify: VerifyPolicy | None = None  # commit signatures required, when set
    # further URLs that name this repository in Argo CD Applications (``repoURL``)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class HelmParameter:
    """One ``helm --set`` (``--set-string`` when ``force_string``)."""

    name: str
    value: str
    force_string: bool = False


@dataclass(frozen=True)
class HelmParams:
    release_name: str = ""
    # relative to the chart directory, or ``$<ref>/<path>``: a file of the source named <ref>
    value_files: tuple[str, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    parameters: tuple[HelmParameter, ...] = ()  # win over value files and values, as in Helm


@dataclass(frozen=True)
class SourceRef:
    """A further source whose files an application's value files name as ``$<name>/<path>``."""

    name: str
    repo: str
    target_revision: str = "HEAD"


@dataclass(frozen=True)
class JsonnetVar:
    """A Jsonnet top-level argument or external variable: a string, or Jsonnet code."""

    name: str
    value: str
    code: bool = False


@dataclass(frozen=True)
class JsonnetParams:
    """Argo CD's ``directory.jsonnet``; ``libs`` are search paths relative to the repository root."""

    tlas: tuple[JsonnetVar, ...] = ()
    ext_vars: tuple[JsonnetVar, ...] = ()
    libs: tuple[str, ...] = ()


@dataclass(frozen=True)
class DirectoryParams:
    """Argo CD's ``directory`` options of a plain directory source.

    Only the top directory is read unless ``recurse``; ``include`` and
    ``exclude`` are globs (Argo CD's syntax) matched against each file's path
    relative to the source path; empty means every file / none.
    """

    recurse: bool = False
    include: str = ""
    exclude: str = ""
    jsonnet: JsonnetParams = field(default_factory=JsonnetParams)


@dataclass(frozen=True)
class Source:
    """Where an application's manifests come from.

    A Git source names a ``repositories`` entry in ``repo``, a ref in
    ``target_revision`` and a directory in ``path``. A chart source (``chart``
    set) names a ``helmRepositories`` entry in ``repo`` and the chart version
    or range in ``target_revision`` ("" for the newest); ``path`` is unused.
    """

    repo: str
    target_revision: str = "HEAD"
    path: str = "."
    helm: HelmParams = field(default_factory=HelmParams)
    directory: DirectoryParams = field(default_factory=DirectoryParams)
    refs: tuple[SourceRef, ...] = ()
    chart: str = ""


@dataclass(frozen=True)
class ClusterSelector:
    names: tuple[str, ...] = ()
    match_labels: Mapping[str, str] = field(default_factory=dict)

    def matches(self, cluster: Cluster) -> bool:
        if self.names and cluster.name not in self.names:
            return False
        return all(cluster.labels.get(k) == v for k, v in self.match_labels.items())


@dataclass(frozen=True)
class Destination:
    clusters: ClusterSelector
    namespace: str = ""


@dataclass(frozen=True)
class Backoff:
    """Argo CD's retry backoff: wait = duration * factor**n, capped at max_duration."""

    duration: float = 5.0
    factor: float = 2.0
    max_duration: float = 180.0


@dataclass(frozen=True)
class Retry:
    limit: int = 5  # < 0 means unlimited
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(frozen=True)
class SyncPolicy:
    automated: bool = False
    prune: bool = False
    self_heal: bool = False
    allow_empty: bool = False
    sync_options: tuple[str, ...] = ()
    retry: Retry = field(default_factory=Retry)
    sync_timeout: float = 300.0
    max_prune_share: float = 0.5  # refuse to prune more than this share of the inventory


@dataclass(frozen=True)
class IgnoreDifference:
    group: str = ""
    kind: str = ""
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    managed_fields_managers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Application:
    name: str
    source: Source
    destination: Destination
    sync_policy: SyncPolicy = field(default_factory=SyncPolicy)
    ignore_differences: tuple[IgnoreDifference, ...] = ()
    # when it leaves the fleet (or stops selecting a cluster), delete what it deployed there
    cascade_delete: bool = False
    project: str = DEFAULT_PROJECT  # the project whose rules bound what it deploys
    # its own notification subscriptions (Argo CD's notifications.argoproj.io/subscribe.* annotations)
    subscriptions: tuple[Subscription, ...] = ()


@dataclass(frozen=True, order=True)
class AppInstance:
    """One application on one cluster: the unit of queueing, status and tracing.

    ``source`` is the application's source with per-cluster templates resolved.
    """

    app: str
    cluster: str
    source: Source = field(compare=False)
    namespace: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        return f"{self.app}/{self.cluster}"


@dataclass(frozen=True)
class ArgoCDAppSource:
    """A repository path whose Argo CD ``Application`` manifests define applications.

    The engine reads the files at ``repo@target_revision:path`` and converts them
    with ``gitopsd.config.applications_from_argocd``.
    """

    name: str
    repo: str
    target_revision: str = "HEAD"
    path: str = "."
    helm: HelmParams = field(default_factory=HelmParams)  # when the path is a Helm chart


@dataclass(frozen=True)
class RejectedApplication:
    """An Argo CD Application gitopsd cannot honour: it is shown with its reasons, never applied.

    ``cluster`` is the fleet cluster its destination names, when that much could be read.
    ``reasons`` are ``file:line: field: message`` lines; ``summary`` is the first
    as ``field: message (file:line)``, for a one-line status.
    """

    name: str
    origin: str  # the argocd entry that read it
    reasons: tuple[str, ...]
    cluster: str = ""
    summary: str = ""


MAX_MANIFEST_FILE_SIZE = 4 * 1024 * 1024
MAX_RENDER_OUTPUT_SIZE = 16 * 1024 * 1024


@dataclass(frozen=True)
class Coordination:
    """``settings.coordination``: the daemons sharing this fleet meet through member Leases
    in NAMESPACE of CLUSTER, and split the instances between them."""

    cluster: str
    namespace: str = "gitopsd-system"
    lease_duration: float = 12.0  # a member Lease unchanged this long is dead
    renew_interval: float = 3.0  # at most a quarter of lease_duration
    pin_label: str = ""  # a cluster label whose value names the member (host) to own its instances
    epsilon: float = 0.25  # load bound: a member carries at most ceil(average * (1 + epsilon))


@dataclass(frozen=True)
class Settings:
    """Fleet-wide daemon settings from the fleet file's ``settings`` block."""

    listen: str = "127.0.0.1:8088"  # host:port of the HTTP server
    inventory_namespace: str = "gitopsd-system"
    sync_timeout: float = 300.0  # default for SyncPolicy.sync_timeout
    otlp_endpoint: str = ""  # OTLP/HTTP traces endpoint; empty disables export
    max_manifest_file_size: int = MAX_MANIFEST_FILE_SIZE  # bytes of one manifest file in Git
    max_render_output_size: int = MAX_RENDER_OUTPUT_SIZE  # bytes of one application's manifests
    state_dir: str = ""  # absolute; "" leaves it to --state-dir and the environment
    ui: bool = True  # the status pages under /ui
    traces_url: str = ""  # a trace viewer's URL with ``{traceId}`` in it; "" shows no trace links
    coordination: Coordination | None = None  # None: one daemon, one Lease per cluster


@dataclass(frozen=True)
class Fleet:
    name: str
    clusters: tuple[Cluster, ...]
    repositories: tuple[Repository, ...]
    applications: tuple[Application, ...]
    instances: tuple[AppInstance, ...] = ()
    source_file: str = ""
    settings: Settings = field(default_factory=Settings)
    argocd_sources: tuple[ArgoCDAppSource, ...] = ()
    rejected_applications: tuple[RejectedApplication, ...] = ()
    health_checks: tuple[HealthCheckSpec, ...] = ()
    projects: tuple[Project, ...] = ()  # declared projects; ``default`` is built in unless declared
    notifications: Notifications = field(default_factory=Notifications)
    helm_repositories: tuple[HelmRepository, ...] = ()

    def cluster(self, name: str) -> Cluster:
        return next(c for c in self.clusters if c.name == name)

    def repository(self, name: str) -> Repository:
        return next(r for r in self.repositories if r.name == name)

    def helm_repository(self, name: str) -> HelmRepository:
        return next(r for r in self.helm_repositories if r.name == name)

    def source_url(self, source: Source) -> str:
        """The URL SOURCE is read from: its Helm repository's for a chart, else its Git one's."""
        if source.chart:
            return self.helm_repository(source.repo).url
        return self.repository(source.repo).url

    def application(self, name: str) -> Application:
        return next(a for a in self.applications if a.name == name)

    def project(self, name: str) -> Project | None:
        """The project NAME: declared, else the built-in ``default``; None when there is none."""
        found = next((p for p in self.projects if p.name == name), None)
        if found is None and name == DEFAULT_PROJECT:
            return BUILTIN_DEFAULT
        return found
