"""A whole daemon on in-memory ports: one fake cluster, one fake Git repository, one fleet.

``StaticDesired`` stands for the desired side of a single reconciler;
``FakeGit`` serves plain-YAML files per commit and moves its one ref with
``commit``; ``FakeWatch`` lists the fake cluster's objects of a kind and then
delivers what a test ``send``s; ``Recorder`` stands for both the metrics and
the history ports and keeps every call. ``fleet_on`` builds a one-cluster,
one-application fleet whose source is the fake repository's ``app/`` folder.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitopsd.engine.ports import Obj
from gitopsd.model import (
    AppInstance,
    Application,
    Cluster,
    ClusterSelector,
    Destination,
    Fleet,
    HelmParams,
    JsonnetParams,
    Manifest,
    Repository,
    Revision,
    Source,
    SyncPolicy,
)
from tests.engine.fakecluster import FakeCluster


@dataclass
class GitStats:
    listings: int = 0
    fetches: int = 0


class FakeGit:
    """One repository whose ref ``main`` points at the last commit made."""

    def __init__(self) -> None:
        self.commits: dict[str, dict[str, bytes]] = {}
        self.head = ""
        self.ensured: list[str | None] = []  # the sha each ensure was given
        self.counters = GitStats()
        self.fetched: set[str] = set()  # the commits an ensure has brought into the "cache"
        self.broken: str = ""  # when set, ensure and poll fail as an unreachable remote, with this message

    def commit(self, files: Mapping[str, Any]) -> str:
        """A new commit of FILES ({path: object or YAML text}); ``main`` moves to it."""
        sha = f"{len(self.commits) + 1:040x}"
        self.commits[sha] = {p: (v if isinstance(v, str) else yaml.safe_dump(v)).encode()
                             for p, v in files.items()}
        self.head = sha
        return sha

    async def ensure(self, repo: Repository, ref: str, sha: str | None = None) -> Revision:
        from gitopsd.errors import RepositoryUnavailable

        self.ensured.append(sha)
        if self.broken:
            raise RepositoryUnavailable(self.broken)
        if not sha:
            self.counters.listings += 1
        elif sha not in self.fetched:
            self.counters.fetches += 1
        self.fetched.add(sha or self.head)
        return Revision(repo.name, ref, sha or self.head)

    async def read_tree(self, repo: Repository, sha: str, path: str = ".", *,
                        max_file_size: int | None = None,
                        limited_suffixes: tuple[str, ...] = ()) -> dict[str, bytes]:
        from gitopsd.errors import SourceTooLarge

        prefix = "" if path in ("", ".") else path.rstrip("/") + "/"
        files = {p: b for p, b in self.commits[sha].items() if p.startswith(prefix)}
        for name, data in files.items():
            if max_file_size is not None and len(data) > max_file_size \
                    and (not limited_suffixes or name.endswith(limited_suffixes)):
                raise SourceTooLarge(f"{repo.name}@{sha[:12]}:{name}: the file is {len(data)} "
                                     f"bytes, over the limit of {max_file_size} bytes")
        return files

    def materialise(self, repo: Repository, sha: str,
                    path: str = ".") -> contextlib.AbstractAsyncContextManager[Path]:
        raise NotImplementedError("plain YAML only")

    async def render_jsonnet(self, root: Path, path: str, files: tuple[str, ...],
                             params: JsonnetParams, *, cache_key: str,
                             max_output: int = 0) -> Mapping[str, str]:
        raise NotImplementedError("plain YAML only")

    async def poll(self, repo: Repository, refs: Collection[str]) -> dict[str, str]:
        from gitopsd.errors import RepositoryUnavailable

        if self.broken:
            raise RepositoryUnavailable(self.broken)
        self.counters.listings += 1
        return {ref: self.head for ref in refs}

    def stats(self, repo: Repository) -> GitStats:
        return self.counters


class StaticDesired:
    """A DesiredPort that always wants the same manifests at one commit."""

    def __init__(self, manifests: tuple[Manifest, ...]) -> None:
        self._manifests = manifests

    async def resolve(self, instance: AppInstance, commit: str | None = None) -> Revision:
        return Revision("env", "main", "a" * 40)

    async def manifests(self, instance: AppInstance, revision: Revision) -> tuple[Manifest, ...]:
        return self._manifests

    def warnings(self, instance: AppInstance, revision: Revision) -> tuple[str, ...]:
        return ()

    def source_key(self, instance: AppInstance, revision: Revision) -> str:
        return revision.sha


class NoRenderer:
    async def render(self, root: Path, path: str, *, release_name: str, namespace: str,
                     helm: HelmParams, kube_version: str, cache_key: str,
                     max_output: int = 0, ref_files: Any = None) -> str:
        raise NotImplementedError("plain YAML only")


class FakeWatch:
    """The fleet's watch of a fake cluster: a list of what is there, then what tests send."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        self.kinds: set[str] = set()
        self.failing: dict[str, Exception] = {}  # kind -> what its watch raises (a CRD gone, say)
        self._events: dict[str, asyncio.Queue[tuple[str, Obj]]] = {}

    async def __call__(self, api_version: str, kind: str, label_selector: str, on_event: Any) -> None:
        if kind in self.failing:
            raise self.failing[kind]
        queue = self._events.setdefault(kind, asyncio.Queue())
        on_event("LISTING", None)
        for obj in await self.cluster.select(api_version, kind, label_selector=label_selector):
            on_event("LISTED", obj)
        on_event("SYNCED", None)
        self.kinds.add(kind)
        while True:
            etype, obj = await queue.get()
            on_event(etype, obj)

    def send(self, etype: str, obj: Obj) -> None:
        self._events.setdefault(str(obj["kind"]), asyncio.Queue()).put_nowait((etype, obj))


@dataclass
class Recorder:
    """Metrics and history ports that keep every call as (method, arguments)."""

    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args, kwargs))
            if name == "record":
                async def done() -> bool:
                    return True
                return done()
            return None
        return call

    def of(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(a, k) for n, a, k in self.calls if n == name]


def fleet_on(cluster: str = "alpha", *, self_heal: bool = True, namespace: str = "web") -> Fleet:
    app = Application(name="web", source=Source(repo="env", target_revision="main", path="app"),
                      destination=Destination(ClusterSelector(names=(cluster,)), namespace),
                      sync_policy=SyncPolicy(automated=True, prune=True, self_heal=self_heal))
    return Fleet(name="f", clusters=(Cluster(name=cluster, kubeconfig="unused"),),
                 repositories=(Repository(name="env", url="ssh://git@example.invalid/env.git"),),
                 applications=(app,), instances=(AppInstance("web", cluster, app.source, namespace),))


def configmap(name: str, data: Mapping[str, str],
              annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": dict(data)}


async def eventually(check: Any, *, timeout: float = 5.0) -> None:
    """Wait until CHECK() is true; fail with its last value after TIMEOUT seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"still false after {timeout}s: {check.__doc__ or check}")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(daemon: Any) -> AsyncIterator[Any]:
    await daemon.start()
    try:
        yield daemon
    finally:
        await daemon.stop()
