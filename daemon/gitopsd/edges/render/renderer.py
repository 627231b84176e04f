"""The render edge's front door: choose the renderer, consult the cache, run it.

Jsonnet files of a plain directory source are evaluated through
``render_jsonnet`` (the engine decides which files; see ``core.directory``).

``Renderer.render`` resolves the request's path inside the tree, picks Helm
(Chart.yaml), Kustomize (a kustomization file) or plain, and returns the
cached result when the same tree, path and output-relevant parameters were
rendered before. Concurrent requests for the same key share one render, and
at most ``max_concurrency`` renders run at once. It must not parse manifests.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from gitopsd.edges import binaries
from gitopsd.edges.render.cache import CacheKey, RenderCache, cache_key
from gitopsd.edges.render.charts import ChartFetcher
from gitopsd.edges.render.helm import render_helm
from gitopsd.edges.render.jsonnet import render_jsonnet
from gitopsd.edges.render.kustomize import render_kustomize
from gitopsd.edges.render.plain import render_plain
from gitopsd.edges.render.request import (
    Rendered,
    RendererKind,
    RenderRequest,
    detect_kind,
    normalize_path,
    resolve_in_tree,
)
from gitopsd.edges.render.runner import Limits
from gitopsd.errors import RenderError
from gitopsd.model import JsonnetParams
from gitopsd.model.helmrepos import HelmRepository


@dataclass(frozen=True)
class RenderStats:
    """Counters of a Renderer: cache hits and misses, renders run, renders shared."""

    hits: int
    misses: int
    renders: int
    shared: int


@dataclass(frozen=True)
class _Plan:
    kind: RendererKind
    tree: Path
    target: Path
    rel: str
    release: str
    namespace: str
    kube_version: str
    request: RenderRequest
    limits: Limits


class Renderer:
    """Renders source paths to YAML streams, with caching and guarded tool runs.

    ``kustomize`` and ``helm`` are explicit binary paths; when None they are
    looked up with ``gitopsd.edges.binaries.find`` at render time. With
    ``charts``, Helm dependencies missing from a chart's ``charts/`` are pulled
    (``helm_repositories`` give credentials); without, such a chart fails.
    """

    def __init__(
        self,
        *,
        cache: RenderCache | None = None,
        limits: Limits | None = None,
        max_concurrency: int = 2,
        kustomize: str | None = None,
        helm: str | None = None,
        default_kube_version: str = binaries.K8S_VERSION,
        charts: ChartFetcher | None = None,
        helm_repositories: tuple[HelmRepository, ...] = (),
    ) -> None:
        self.charts = charts
        self.helm_repositories = helm_repositories
        self.cache = cache if cache is not None else RenderCache()
        self.limits = limits or Limits()
        self.default_kube_version = default_kube_version
        self._binaries = {RendererKind.KUSTOMIZE: kustomize, RendererKind.HELM: helm}
        self._slots = asyncio.Semaphore(max(1, max_concurrency))
        self._inflight: dict[CacheKey, asyncio.Task[Rendered]] = {}
        self._renders = 0
        self._shared = 0

    @property
    def stats(self) -> RenderStats:
        return RenderStats(self.cache.hits, self.cache.misses, self._renders, self._shared)

    async def render(self, req: RenderRequest) -> Rendered:
        """The rendered YAML of ``req.path``; RenderError naming renderer, path and cause."""
        plan = self._plan(req)
        if not req.cache_key:
            return await self._run(plan)
        key = cache_key(req.cache_key, plan.kind, plan.rel, release=plan.release,
                        namespace=plan.namespace, kube_version=plan.kube_version,
                        helm=req.helm, ref_files=req.ref_files)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._run(plan))
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._settle(key, t))
        else:
            self._shared += 1
        return await asyncio.shield(task)

    async def render_jsonnet(self, root: Path, path: str, files: tuple[str, ...],
                             params: JsonnetParams, *, cache_key: str = "",
                             max_output: int = 0) -> Mapping[str, str]:
        """The JSON output of each Jsonnet file of FILES (relative to ROOT) of the directory
        source PATH; RenderError naming the file and line of a failed evaluation."""
        rel = normalize_path(path)
        target = resolve_in_tree(root, rel)
        tree = Path(await asyncio.to_thread(os.path.realpath, root))
        limits = replace(self.limits, max_output=max_output) if max_output else self.limits
        key: CacheKey = ((cache_key,), "jsonnet", rel, files, repr(params))
        cached = self.cache.get(key) if cache_key else None
        if cached is not None and cached.files is not None:
            return cached.files
        async with self._slots:
            self._renders += 1
            out = await render_jsonnet(tree, target, rel, files, params, limits)
        if cache_key:
            self.cache.put(key, Rendered(text="", files=MappingProxyType(dict(out)),
                                         renderer="jsonnet"))
        return out

    async def aclose(self) -> None:
        """Cancel renders still running (their tool processes are killed) and wait for them."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _settle(self, key: CacheKey, task: asyncio.Task[Rendered]) -> None:
        self._inflight.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return  # failures are not cached: the next request tries again
        self.cache.put(key, task.result())

    def _plan(self, req: RenderRequest) -> _Plan:
        rel = normalize_path(req.path)
        target = resolve_in_tree(req.root, rel)
        return _Plan(
            kind=detect_kind(target),
            tree=Path(os.path.realpath(req.root)),
            target=target,
            rel=rel,
            release=req.helm.release_name or req.release_name,
            namespace=req.namespace,
            kube_version=req.kube_version or self.default_kube_version,
            request=req,
            limits=replace(self.limits, max_output=req.max_output) if req.max_output
            else self.limits,
        )

    def _binary(self, kind: RendererKind, rel: str) -> str:
        explicit = self._binaries.get(kind)
        if explicit:
            return explicit
        try:
            return binaries.find(kind.value)
        except binaries.BinaryNotFound as exc:
            raise RenderError(f"{kind.value} is needed to render {rel!r}: {exc}") from None

    async def _run(self, plan: _Plan) -> Rendered:
        async with self._slots:
            self._renders += 1
            if plan.kind is RendererKind.PLAIN:
                return await asyncio.to_thread(
                    render_plain, plan.tree, plan.target, plan.limits.max_output)
            binary = self._binary(plan.kind, plan.rel)
            if plan.kind is RendererKind.KUSTOMIZE:
                return await render_kustomize(
                    binary, plan.tree, plan.target, plan.rel, plan.limits)
            return await render_helm(
                binary, plan.tree, plan.target, plan.rel, release=plan.release,
                namespace=plan.namespace, kube_version=plan.kube_version,
                params=plan.request.helm, limits=plan.limits,
                ref_files=plan.request.ref_files, fetcher=self.charts,
                repositories=self.helm_repositories)
