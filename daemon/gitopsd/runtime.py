"""``gitopsd run``: the daemon process, assembled from the composition root's parts.

Loads the fleet file, configures logs, traces and metrics, connects every
cluster, starts the engine and the HTTP server (and publishes its address in
the state directory for ``gitopsd status``), speaks sd_notify, and handles
SIGTERM (finish syncs at safe points, then stop) and SIGHUP (reload the fleet
file; an invalid file is rejected and the running fleet is kept).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from gitopsd import __version__
from gitopsd.app import RenderAdapter, health_checks
from gitopsd.config import load_fleet
from gitopsd.core.inventory import inventory_name
from gitopsd.core.notices import NoticeGate
from gitopsd.edges.api import ApiServer
from gitopsd.edges.api.endpoint import Endpoint, client_url, ensure_token, publish, withdraw
from gitopsd.edges.applied import AppliedFile
from gitopsd.edges.git import GitSource
from gitopsd.edges.history import MirroredHistory
from gitopsd.edges.kube import KubeClient, Objects
from gitopsd.edges.kube.events import EventRecorder
from gitopsd.edges.kube.history import ClusterHistory
from gitopsd.edges.kube.watch import watch_kind
from gitopsd.edges.notifications import Dispatcher
from gitopsd.edges.notifications.incidents import IncidentFile
from gitopsd.edges.notify import Notifier
from gitopsd.edges.render import ChartFetcher, ChartSource, Renderer
from gitopsd.edges.sops import Decryptor
from gitopsd.edges.store import HistoryStore
from gitopsd.edges.telemetry.logging import configure_logging, register_secret
from gitopsd.edges.telemetry.metrics import Metrics
from gitopsd.edges.telemetry.spans import OtelTracing
from gitopsd.edges.telemetry.tracing import configure_tracing, shutdown_tracing
from gitopsd.engine.applied import Applied
from gitopsd.engine.argocd import expand_argocd_sources
from gitopsd.engine.daemon import Daemon, Settings
from gitopsd.engine.desired import DesiredState
from gitopsd.engine.ports import ClusterHandle
from gitopsd.engine.windows import WindowsByApp
from gitopsd.errors import ConfigError, GitopsdError
from gitopsd.model import Fleet

log = structlog.get_logger("gitopsd.runtime")


@dataclass
class RunOptions:
    config: str
    state_dir: Path
    listen: str = ""
    api_token_file: str | None = None
    webhook_secret_file: str | None = None
    log_level: str = "info"
    resync: float = 180.0
    workers: int = 8
    loopback_reads: bool = True  # GET /api/v1 from this host without a token


def _watch_port(objects: Objects) -> Any:
    async def watch(api_version: str, kind: str, label_selector: str, on_event: Any) -> None:
        info = await objects.info(api_version, kind)
        await watch_kind(objects, info, on_event, label_selector=label_selector)
    return watch


class Backend:
    """The HTTP API's view of the running daemon."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def daemon(self) -> Daemon:
        assert self.runtime.daemon is not None
        return self.runtime.daemon

    def instances(self) -> list[dict[str, Any]]:
        return self.daemon.status_rows()

    def clusters(self) -> list[dict[str, Any]]:
        return self.daemon.cluster_rows()

    def members(self) -> list[dict[str, Any]]:
        return self.daemon.writers.members()

    async def history(self, app: str, cluster: str, limit: int) -> list[dict[str, Any]]:
        rows = [e.as_dict() for e in await self.runtime.history.history(app, cluster, limit)]
        described = {rev: await self.commit(app, cluster, rev) for rev in {row["revision"] for row in rows}}
        for row in rows:
            row.update(described[row["revision"]])
        return rows

    async def commit(self, app: str, cluster: str, revision: str) -> dict[str, str]:
        entry = self.daemon.instances.get(f"{app}/{cluster}")
        repos = [r for r in self.daemon.fleet.repositories if entry and r.name == entry[0].source.repo]
        return await self.runtime.git.describe(repos[0], revision) if repos and revision else {}

    def request_sync(self, app: str, cluster: str | None) -> list[str]:
        return self.daemon.request_sync(app, cluster)

    async def rollback(self, app: str, cluster: str, entry_id: int) -> dict[str, Any]:
        entry = await self.runtime.history.entry(app, cluster, entry_id)
        if entry is None:
            raise KeyError(f"no history entry {entry_id} of {app} on cluster {cluster}")
        keys = self.daemon.rollback(app, cluster, entry.revision)
        return {"enqueued": keys, "revision": entry.revision}

    async def inspect(self, app: str, cluster: str) -> dict[str, Any]:
        return await self.daemon.inspect(app, cluster)

    def repo_push(self, repo: str, ref: str | None) -> list[str]:
        return self.daemon.repo_push(repo)

    def ready(self) -> tuple[bool, str]:
        return (False, "starting") if self.runtime.daemon is None else self.daemon.ready()

    def metrics(self) -> tuple[bytes, str]:
        return self.runtime.metrics.render(), self.runtime.metrics.content_type


class Runtime:
    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.metrics = Metrics()
        self.store = HistoryStore(options.state_dir)
        self.history = MirroredHistory(self.store)  # mirrored into the clusters once they are built
        self.git = GitSource(options.state_dir)
        self.charts = ChartFetcher(options.state_dir)
        self.renderer = Renderer(charts=self.charts)
        self.daemon: Daemon | None = None
        self.clients: list[KubeClient] = []
        self.api: ApiServer | None = None
        self.notifier = Notifier.from_env(unset_environment=True)
        self.dispatcher = Dispatcher(metrics=self.metrics)  # kept across reloads: queued notices stay
        self.events: EventRecorder | None = None
        self.notice_gate = NoticeGate()  # what was told and which problems are open, across reloads
        self.incidents = IncidentFile(options.state_dir)  # ... and the open ones across restarts
        self.applied = Applied(AppliedFile(options.state_dir))  # what each instance last synced from
        self.stop_event = asyncio.Event()
        self.base: Fleet | None = None
        self.complete = True  # the fleet holds every application (its Argo CD files were read)
        self.argocd_logged: set[str] = set()  # Argo CD warnings and rejections already logged
        # who holds the fleet's Leases: the same host and state directory is the same daemon
        # (a restart or reload takes its Leases back at once); any other must wait for them
        self.identity = f"{socket.gethostname()}:{options.state_dir.resolve()}"

    async def build(self, fleet: Fleet) -> Daemon:
        clients = {}
        for cluster in fleet.clusters:
            clients[cluster.name] = await KubeClient.connect(cluster)
        handles, by_cluster = {}, {}
        for name, client in clients.items():
            objects = by_cluster[name] = Objects(client)
            handles[name] = ClusterHandle(name, objects, _watch_port(objects))
        self.clients = list(clients.values())
        self.dispatcher.configure(fleet.notifications)
        self.events = EventRecorder(by_cluster, instance=self.identity, metrics=self.metrics)
        self.history.cluster = ClusterHistory(by_cluster, namespace=fleet.settings.inventory_namespace,
                                              name=inventory_name)
        self.renderer.helm_repositories = fleet.helm_repositories
        desired = DesiredState(fleet, self.git, RenderAdapter(self.renderer),
                               decryptor=Decryptor.from_env(), charts=ChartSource(self.charts))
        settings = Settings(workers=self.options.workers, resync=self.options.resync,
                            inventory_namespace=fleet.settings.inventory_namespace,
                            remove_orphans=self.complete, identity=self.identity)
        return Daemon(fleet, handles, self.git, desired, metrics=self.metrics, history=self.history,
                      settings=settings, tracing=OtelTracing(), assess=health_checks(fleet).assess,
                      windows=WindowsByApp.of(fleet), notify=self.dispatcher, events=self.events,
                      notice_gate=self.notice_gate, incidents=self.incidents, applied=self.applied)

    async def close_clients(self) -> None:
        if self.history.cluster is not None:
            await self.history.cluster.flush(2.0)
            await self.history.cluster.aclose()
            self.history.cluster = None
        if self.events is not None:
            await self.events.flush(2.0)
            await self.events.aclose()
            self.events = None
        for client in self.clients:
            await client.close()
        self.clients = []

    async def expand(self, base: Fleet) -> Fleet:
        """BASE with the applications its Argo CD sources define; BASE alone if they cannot be read
        (and then nothing is removed for having left the fleet until they can)."""
        try:
            fleet = await expand_argocd_sources(base, self.git, RenderAdapter(self.renderer),
                                                logged=self.argocd_logged)
        except GitopsdError as e:
            log.error("argocd.sources.failed", error=str(e))
            self.complete = False
            return base
        self.complete = True
        return fleet

    async def replace_daemon(self, fleet: Fleet) -> None:
        old = self.daemon
        if old is not None:
            await old.stop(handover=False)  # a reload: the next daemon renews the same member Lease
        await self.close_clients()
        self.daemon = await self.build(fleet)
        if old is not None:  # the registry and the notice gate outlive the daemon: forget who left
            for inst in set(old.fleet.instances) - set(fleet.instances):
                self.metrics.remove_instance(inst.app, inst.cluster)
                if self.complete:  # not when Argo CD files could not be read and only look gone
                    self.notice_gate.forget(inst.app, inst.cluster)
                    self.applied.drop(inst.key)
        await self.daemon.start()

    async def reload(self) -> None:
        self.notifier.reloading()
        try:
            base = load_fleet(self.options.config)
        except ConfigError as e:
            log.error("reload.rejected", config=self.options.config, issues=[str(i) for i in e.issues])
            self.notifier.ready("reload rejected; running the previous fleet")
            return
        self.base = base
        fleet = await self.expand(base)
        await self.replace_daemon(fleet)
        log.info("reload.done", fleet=fleet.name, instances=len(fleet.instances))
        self.notifier.ready(f"reloaded fleet {fleet.name}")

    async def follow_argocd_sources(self) -> None:
        """Re-read the Argo CD Application and AppProject files as their repositories move; rebuild
        on change (a narrowed AppProject binds the next passes at once)."""
        while True:
            base = self.base
            if base is None or not base.argocd_sources:
                return
            interval = min(base.repository(s.repo).poll_interval for s in base.argocd_sources)
            await asyncio.sleep(interval)
            fleet = await self.expand(base)
            if not self.complete:
                continue  # keep running what was last read rather than dropping those applications
            current = self.daemon.fleet if self.daemon is not None else None
            if current is not None and (fleet.applications, fleet.instances, fleet.projects,
                                        fleet.rejected_applications) != \
                    (current.applications, current.instances, current.projects,
                     current.rejected_applications):
                log.info("argocd.sources.changed", applications=len(fleet.applications))
                await self.replace_daemon(fleet)

    async def run(self, base: Fleet, webhook_secret: str) -> int:
        self.base = base
        configure_tracing(__version__, endpoint=base.settings.otlp_endpoint or None)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop_event.set)
        loop.add_signal_handler(signal.SIGINT, self.stop_event.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        fleet = await self.expand(base)
        self.daemon = await self.build(fleet)
        host, _, port = (self.options.listen or fleet.settings.listen).rpartition(":")
        secrets = {p: webhook_secret for p in ("github", "gitlab", "generic")} if webhook_secret else {}
        token_file = self.options.api_token_file or self._own_token()
        self.api = ApiServer(Backend(self), host=host or "127.0.0.1", port=int(port),
                             token_file=token_file, webhook_secrets=secrets,
                             loopback_reads=self.options.loopback_reads, ui=fleet.settings.ui,
                             traces_url=fleet.settings.traces_url)
        bound = await self.api.start()
        publish(self.options.state_dir, Endpoint(client_url(*bound), token_file, os.getpid()))
        log.info("daemon.started", fleet=fleet.name, instances=len(fleet.instances),
                 listen=f"{bound[0]}:{bound[1]}", version=__version__,
                 ui=client_url(*bound) + "/ui/" if fleet.settings.ui else "")
        await self.daemon.start()
        keepalive = asyncio.ensure_future(self.notifier.keep_alive())
        ready_task = asyncio.ensure_future(self._announce_ready())
        follower = asyncio.ensure_future(self.follow_argocd_sources())
        await self.stop_event.wait()
        log.info("daemon.stopping")
        self.notifier.stopping()
        ready_task.cancel()
        keepalive.cancel()
        follower.cancel()
        if self.daemon is not None:
            await self.daemon.stop()
        await self.api.stop()
        await self.dispatcher.flush(5.0)
        await self.dispatcher.aclose()
        withdraw(self.options.state_dir, os.getpid())
        await self.renderer.aclose()
        await self.close_clients()
        await self.store.close()
        shutdown_tracing(5.0)
        log.info("daemon.stopped")
        return 0

    def _own_token(self) -> str:
        """The token file this daemon made in its state directory (no --api-token-file given)."""
        path = ensure_token(self.options.state_dir)
        register_secret(path.read_text(encoding="utf-8").strip())
        return str(path)

    async def _announce_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while loop.time() < deadline:
            if self.daemon is not None and self.daemon.ready()[0]:
                break
            await asyncio.sleep(0.2)
        self.notifier.ready("syncing")
        log.info("daemon.ready")


def _read_secrets(options: RunOptions, fleet: Fleet) -> str:
    """Register every credential gitopsd reads so logs can never show it; return the webhook secret."""
    paths = [r.token_file for r in fleet.repositories if r.token_file]
    paths += [r.ssh_key_file for r in fleet.repositories if r.ssh_key_file]
    paths += [p for p in (options.api_token_file, options.webhook_secret_file) if p]
    for path in paths:
        if os.path.isfile(path):
            text = Path(path).read_text(errors="replace")
            register_secret(text.strip())
            for line in text.splitlines():  # key files: every line of the body on its own
                if len(line) >= 16 and not line.startswith("-----"):
                    register_secret(line.strip())
    if options.webhook_secret_file:
        try:
            return Path(options.webhook_secret_file).read_text().strip()
        except OSError as e:
            raise GitopsdError(f"cannot read webhook secret file {options.webhook_secret_file}: "
                               f"{e.strerror}") from None
    return ""


def run(options: RunOptions) -> int:
    """Run the daemon until SIGTERM; the fleet file is validated before anything starts."""
    configure_logging(options.log_level)
    fleet = load_fleet(options.config)
    webhook_secret = _read_secrets(options, fleet)
    return asyncio.run(Runtime(options).run(fleet, webhook_secret))
