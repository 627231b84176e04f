"""Composition root: builds the edges from the fleet and wires them into the engine.

This is the only module that knows both the edges and the engine. The daemon
(``gitopsd run``) and the one-shot verbs (``render``, ``diff``, ``sync``)
are assembled here; none of their logic lives here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gitopsd.edges.git import GitSource
from gitopsd.edges.kube import KubeClient, Objects
from gitopsd.edges.render import Renderer, RenderRequest
from gitopsd.edges.sops import Decryptor
from gitopsd.engine.desired import DesiredState
from gitopsd.engine.sync import Reconciler
from gitopsd.model import Fleet, HelmParams


def default_state_dir() -> Path:
    """--state-dir, else $GITOPSD_STATE_DIR, else systemd's $STATE_DIRECTORY, else ~/.local/state."""
    for var in ("GITOPSD_STATE_DIR", "STATE_DIRECTORY"):
        value = os.environ.get(var)
        if value:
            return Path(value.split(":")[0])
    return Path.home() / ".local" / "state" / "gitopsd"


class RenderAdapter:
    """The engine's RenderPort over edges.render.Renderer."""

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer

    async def render(self, root: Path, path: str, *, release_name: str, namespace: str,
                     helm: HelmParams, kube_version: str, cache_key: str) -> str:
        result = await self.renderer.render(RenderRequest(
            root=root, path=path, release_name=release_name, namespace=namespace, helm=helm,
            kube_version=kube_version, cache_key=cache_key))
        return result.text


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
        renderer = Renderer()
        return cls(fleet, git, renderer, DesiredState(fleet, git, RenderAdapter(renderer),
                                                      decryptor=Decryptor.from_env()))

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


async def connect_cluster(fleet: Fleet, name: str, sources: Sources, *,
                          inventory_namespace: str = "gitopsd-system",
                          health_poll: float = 0.5) -> ClusterConn:
    client = await KubeClient.connect(fleet.cluster(name))
    objects = Objects(client)
    reconciler = Reconciler(fleet=fleet.name, cluster=objects, desired=sources.desired,
                            inventory_namespace=inventory_namespace, health_poll=health_poll)
    return ClusterConn(name, client, objects, reconciler)


# -- one-shot verbs (render, diff) -------------------------------------------------


def oneshot_sources(fleet: Fleet, state_dir: Path, *, render_timeout: float | None = None,
                    git_timeout: float = 30.0) -> Sources:
    """Sources for ``gitopsd render``/``diff``: each Kustomize or Helm run is bounded by
    ``render_timeout`` seconds (the renderer's default when None)."""
    from gitopsd.edges.render import Limits

    git = GitSource(state_dir, timeout=git_timeout)
    renderer = Renderer(limits=Limits(timeout=render_timeout) if render_timeout else None)
    return Sources(fleet, git, renderer, DesiredState(fleet, git, RenderAdapter(renderer)))
