"""Composition root: builds the edges from the fleet and wires them into the engine.

This is the only module that knows both the edges and the engine. The daemon
(``gitopsd run``) and the one-shot verbs (``render``, ``diff``, ``sync``)
are assembled here; none of their logic lives here. The one-shot verbs find
their application through ``with_application`` (one expansion of Argo CD
sources for all of them) and reach a cluster through ``compare_instance`` and
``sync_instance``; printing is the CLI's.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitopsd.core.health.custom import HealthChecks
from gitopsd.core.instances import defines
from gitopsd.core.policy.projects import scope_of
from gitopsd.edges.git import GitSource
from gitopsd.edges.kube import KubeClient, Objects
from gitopsd.edges.render import ChartFetcher, ChartSource, Renderer, RenderRequest
from gitopsd.edges.sops import Decryptor
from gitopsd.edges.telemetry.spans import OtelTracing
from gitopsd.engine.argocd import expand_argocd_sources
from gitopsd.engine.desired import DesiredState
from gitopsd.engine.sync import Comparison, Reconciler, SyncRequest
from gitopsd.model import AppInstance, Application, Fleet, HelmParams, JsonnetParams, Outcome


def default_state_dir(fleet: Fleet | None = None) -> Path:
    """When --state-dir is not given: $GITOPSD_STATE_DIR, else the fleet file's
    ``settings.stateDir``, else systemd's $STATE_DIRECTORY, else ~/.local/state/gitopsd."""
    chosen = os.environ.get("GITOPSD_STATE_DIR") or (fleet.settings.state_dir if fleet else "") \
        or os.environ.get("STATE_DIRECTORY")
    if chosen:
        return Path(chosen.split(":")[0])
    return Path.home() / ".local" / "state" / "gitopsd"


class RenderAdapter:
    """The engine's RenderPort over edges.render.Renderer."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    async def render(self, root: Path, path: str, *, release_name: str, namespace: str,
                     helm: HelmParams, kube_version: str, cache_key: str,
                     max_output: int = 0, ref_files: Mapping[str, str] | None = None) -> str:
        result = await self.renderer.render(RenderRequest(
            root=root, path=path, release_name=release_name, namespace=namespace, helm=helm,
            kube_version=kube_version, cache_key=cache_key, max_output=max_output,
            ref_files=dict(ref_files or {})))
        return result.text

    async def render_jsonnet(self, root: Path, path: str, files: tuple[str, ...],
                             params: JsonnetParams, *, cache_key: str,
                             max_output: int = 0) -> Mapping[str, str]:
        return await self.renderer.render_jsonnet(root, path, files, params, cache_key=cache_key,
                                                  max_output=max_output)


@dataclass
class Sources:
    """The desired-state side of a fleet: Git, renderers and the parsed-manifest cache."""

    fleet: Fleet
    git: GitSource
    renderer: Renderer
    desired: DesiredState

    @classmethod
    def build(cls, fleet: Fleet, state_dir: Path, *, git_timeout: float = 30.0) -> Sources:
        git = GitSource(state_dir, timeout=git_timeout)
        fetcher = ChartFetcher(state_dir)
        renderer = Renderer(charts=fetcher, helm_repositories=fleet.helm_repositories)
        return cls(fleet, git, renderer, DesiredState(fleet, git, RenderAdapter(renderer),
                                                      decryptor=Decryptor.from_env(),
                                                      charts=ChartSource(fetcher)))

    async def close(self) -> None:
        await self.renderer.aclose()


@dataclass
class ClusterConn:
    """One cluster's client, object operations and reconciler."""

    name: str
    client: KubeClient
    objects: Objects
    reconciler: Reconciler
    extra: dict[str, object] = field(default_factory=dict)

    async def close(self) -> None:
        await self.client.close()


def health_checks(fleet: Fleet) -> HealthChecks:
    """FLEET's health checks, compiled; Lua time limits read the monotonic clock."""
    return HealthChecks(fleet.health_checks, clock=time.monotonic)


async def connect_cluster(fleet: Fleet, name: str, sources: Sources, *,
                          inventory_namespace: str | None = None,
                          health_poll: float = 0.5, health: HealthChecks | None = None) -> ClusterConn:
    """Cluster NAME of FLEET; its inventories live in the fleet's inventory namespace
    unless INVENTORY_NAMESPACE says otherwise. HEALTH: the fleet's checks, when already built."""
    client = await KubeClient.connect(fleet.cluster(name))
    objects = Objects(client)
    health = health or health_checks(fleet)
    reconciler = Reconciler(fleet=fleet.name, cluster=objects, desired=sources.desired,
                            inventory_namespace=inventory_namespace
                            or fleet.settings.inventory_namespace,
                            health_poll=health_poll, tracing=OtelTracing(), assess=health.assess,
                            scopes=functools.partial(scope_of, fleet))
    return ClusterConn(name, client, objects, reconciler)


# -- one-shot verbs (render, diff, sync) -------------------------------------------


async def with_application(fleet: Fleet, app: str, sources: Sources) -> Fleet:
    """FLEET as loaded from its file, with APP defined if its Argo CD sources define it.

    Those sources are read from Git only when the fleet file lacks APP, so a
    verb about an application of the file never depends on them.
    """
    if defines(fleet, app) or not fleet.argocd_sources:
        return fleet
    return await expand_argocd_sources(fleet, sources.git, RenderAdapter(sources.renderer))


async def compare_instance(fleet: Fleet, app: Application, instance: AppInstance,
                           sources: Sources, *, with_diff: bool = False) -> Comparison:
    """INSTANCE's desired state against its cluster, read-only; the connection is closed."""
    conn = await connect_cluster(fleet, instance.cluster, sources)
    try:
        return await conn.reconciler.compare(instance, app, with_diff=with_diff)
    finally:
        await conn.close()


async def sync_instance(fleet: Fleet, app: Application, instance: AppInstance,
                        sources: Sources, *, prune: bool = False) -> Outcome:
    """One manual sync of INSTANCE from this process; the connection is closed."""
    conn = await connect_cluster(fleet, instance.cluster, sources)
    try:
        done = await conn.reconciler.reconcile(instance, app,
                                               SyncRequest(manual=True, prune=prune))
        return done.outcome
    finally:
        await conn.close()


def oneshot_sources(fleet: Fleet, state_dir: Path, *, render_timeout: float | None = None,
                    git_timeout: float = 30.0, decrypt: bool = False) -> Sources:
    """Sources for ``gitopsd render``/``diff``: each Kustomize or Helm run is bounded by
    ``render_timeout`` seconds (the renderer's default when None). With ``decrypt``, SOPS
    files are decrypted with the host's age key as a sync does (``diff`` compares what a
    sync would apply, and masks Secret values itself); ``render`` prints them as in Git."""
    from gitopsd.edges.render import Limits

    git = GitSource(state_dir, timeout=git_timeout)
    limits = Limits(timeout=render_timeout) if render_timeout else None
    fetcher = ChartFetcher(state_dir, limits=limits)
    renderer = Renderer(limits=limits, charts=fetcher, helm_repositories=fleet.helm_repositories)
    decryptor = Decryptor.from_env() if decrypt else None
    return Sources(fleet, git, renderer, DesiredState(fleet, git, RenderAdapter(renderer),
                                                      decryptor=decryptor,
                                                      charts=ChartSource(fetcher)))
