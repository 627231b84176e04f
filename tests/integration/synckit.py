"""Builds a real reconciler for one application on a local cluster from a local Git repo."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitopsd.app import ClusterConn, Sources, connect_cluster
from gitopsd.engine.sync import SyncRequest
from gitopsd.localcluster import LocalCluster
from gitopsd.model import (
    AppInstance,
    Application,
    Cluster,
    ClusterSelector,
    Destination,
    DirectoryParams,
    Fleet,
    IgnoreDifference,
    Outcome,
    Repository,
    Source,
    SyncPolicy,
)
from tests.testenv.git_fixtures import BareRepo

FLEET = "testfleet"


@dataclass
class Kit:
    app: Application
    instance: AppInstance
    conn: ClusterConn
    sources: Sources
    repo: BareRepo
    writes: list[tuple[str, str]] = field(default_factory=list)

    async def sync(self, **request: Any) -> Outcome:
        return (await self.conn.reconciler.reconcile(self.instance, self.app, SyncRequest(**request))).outcome


def make_fleet(cluster: LocalCluster, repo: BareRepo, *, app: str, path: str, namespace: str,
               policy: SyncPolicy, kubeconfig: Path | None = None,
               ignore: tuple[IgnoreDifference, ...] = (), cascade: bool = False,
               directory: DirectoryParams | None = None) -> tuple[Fleet, Application]:
    application = Application(
        name=app, source=Source(repo="env", target_revision="main", path=path,
                                directory=directory or DirectoryParams()),
        destination=Destination(ClusterSelector(names=(cluster.name,)), namespace), sync_policy=policy,
        ignore_differences=ignore, cascade_delete=cascade)
    fleet = Fleet(
        name=FLEET,
        clusters=(Cluster(name=cluster.name, kubeconfig=str(kubeconfig or cluster.kubeconfig),
                          server=cluster.server),),
        repositories=(Repository(name="env", url=str(repo.path)),),
        applications=(application,),
        instances=(AppInstance(app, cluster.name, application.source, namespace),),
    )
    return fleet, application


@asynccontextmanager
async def kit(cluster: LocalCluster, repo: BareRepo, state_dir: Path, *, app: str, path: str,
              namespace: str, policy: SyncPolicy, kubeconfig: Path | None = None,
              health_poll: float = 0.2, ignore: tuple[IgnoreDifference, ...] = (),
              cascade: bool = False, directory: DirectoryParams | None = None) -> AsyncIterator[Kit]:
    fleet, application = make_fleet(cluster, repo, app=app, path=path, namespace=namespace,
                                    policy=policy, kubeconfig=kubeconfig, ignore=ignore, cascade=cascade,
                                    directory=directory)
    sources = Sources.build(fleet, state_dir)
    conn = await connect_cluster(fleet, cluster.name, sources, health_poll=health_poll)
    k = Kit(application, fleet.instances[0], conn, sources, repo)
    original = conn.objects.client.request

    async def counting(method: str, path: str, **kw: Any) -> Any:
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            k.writes.append((method, path))
        return await original(method, path, **kw)

    conn.objects.client.request = counting  # type: ignore[method-assign]
    try:
        yield k
    finally:
        await conn.close()
        await sources.close()


def cm(name: str, data: Mapping[str, str], annotations: Mapping[str, str] | None = None) -> str:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = dict(annotations)
    import yaml

    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": dict(data)})
