"""Desired state of an instance: its revision and its manifests.

Resolves the instance's target revision through the Git port, reads plain
directories straight from the commit tree (the files ``core.directory``
selects by the source's ``directory`` options, whose warnings are kept beside
the manifests), materialises a tree only when Kustomize, Helm or Jsonnet must
run, and parses the result with ``core.manifests``.
SOPS-encrypted files are decrypted through the optional DecryptPort right
before parsing: in memory for plain directories; for Kustomize and Helm, in
place inside the temporary materialised tree, which is deleted as soon as the
render is done (a clear copy exists on disk, in the private work directory,
only while the renderer runs).
Helm value files named ``$<ref>/<path>`` are read from the source ``ref``
names (``Source.refs``, Argo CD's multi-source) at its own resolved revision,
which is part of the cache key.
Parsed manifests are cached per (commit, path, parameters, cluster inputs),
so an unchanged commit is never rendered or parsed twice.
A chart source (``Source.chart``) is resolved and unpacked through the
ChartPort instead of Git; its revision is the chart version and digest.

One application's huge source must not stall the others: a manifest file past
``settings.maxManifestFileSize`` is refused by its size in Git before it is
read, a render output or a plain directory past ``settings.maxRenderOutputSize``
before it is parsed, and parsing and decryption run on this object's own
worker threads, never on the event loop that serves health, watches and the
other applications.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TypeVar

from gitopsd.config import format_size
from gitopsd.core.buildenv import build_env, substituted
from gitopsd.core.directory import MANIFEST_SUFFIXES, SOURCE_SUFFIXES, select_files
from gitopsd.core.manifests import parse_files, parse_stream
from gitopsd.engine.ports import ChartPort, DecryptPort, GitPort, RenderPort
from gitopsd.errors import DecryptError, ManifestError, RenderError, SourceTooLarge
from gitopsd.model import AppInstance, Fleet, Manifest, Repository, Revision, SourceLocation
from gitopsd.model.giturls import safe_url

RENDER_MARKERS = ("kustomization.yaml", "kustomization.yml", "Kustomization", "Chart.yaml")

ClusterScoped = Callable[[str], frozenset[tuple[str, str]]]
T = TypeVar("T")

Rendered = tuple[tuple[Manifest, ...], tuple[str, ...]]
"""An instance's manifests at a revision, and the warnings of their render."""

PARSE_THREADS = 2
"""Worker threads for parsing and decryption: few, so that they leave the GIL to the loop."""


class DesiredState:
    def __init__(self, fleet: Fleet, git: GitPort, renderer: RenderPort, *,
                 kube_version: Callable[[str], str] | None = None,
                 cluster_scoped: ClusterScoped | None = None, cache_size: int = 512,
                 decryptor: DecryptPort | None = None, executor: Executor | None = None,
                 charts: ChartPort | None = None) -> None:
        self.fleet = fleet
        self.charts = charts
        self.git = git
        self.renderer = renderer
        self.kube_version = kube_version or (lambda cluster: "")
        self.cluster_scoped = cluster_scoped or (lambda cluster: frozenset())
        self.decryptor = decryptor
        self._cache: OrderedDict[tuple[object, ...], Rendered] = OrderedDict()
        self._warned: dict[str, tuple[str, tuple[str, ...]]] = {}  # instance -> (sha, its warnings)
        self._sources: dict[str, tuple[str, str]] = {}  # instance -> (sha, its source key)
        self._cache_size = cache_size
        self._executor = executor or ThreadPoolExecutor(PARSE_THREADS,
                                                        thread_name_prefix="gitopsd-parse")
        self.renders = 0

    def repository(self, instance: AppInstance) -> Repository:
        return self.fleet.repository(instance.source.repo)

    async def resolve(self, instance: AppInstance, commit: str | None = None) -> Revision:
        """The instance's target revision; COMMIT is its head as a poll saw it, which saves a
        listing when that commit is already cached."""
        if instance.source.chart:
            src = instance.source
            return await self._chart_port().resolve(self.fleet.helm_repository(src.repo),
                                                    src.chart, src.target_revision)
        return await self.git.ensure(self.repository(instance), instance.source.target_revision, commit)

    def _key(self, instance: AppInstance, revision: Revision, refs: Mapping[str, str]
             ) -> tuple[object, ...]:
        src = instance.source
        return (revision.repo, revision.sha, src.path, instance.namespace, instance.app,
                src.helm.release_name, src.helm.value_files,
                tuple(sorted((k, repr(v)) for k, v in src.helm.values.items())),
                self._kube_version(instance), src.directory, src.helm.parameters,
                tuple(sorted(refs.items())))

    def _kube_version(self, instance: AppInstance) -> str:
        return self.fleet.cluster(instance.cluster).kube_version or self.kube_version(instance.cluster)

    async def manifests(self, instance: AppInstance, revision: Revision) -> tuple[Manifest, ...]:
        refs = await self._ref_revisions(instance)
        key = self._key(instance, revision, refs)
        self._sources[instance.key] = (revision.sha, hashlib.sha256(repr(key).encode()).hexdigest()[:32])
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self._warned[instance.key] = (revision.sha, cached[1])
            return cached[0]
        result = await self._render(instance, revision, self._kube_version(instance), refs)
        self._cache[key] = result
        self._warned[instance.key] = (revision.sha, result[1])
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result[0]

    def warnings(self, instance: AppInstance, revision: Revision) -> tuple[str, ...]:
        """What the last render of INSTANCE at REVISION passed over: files that may hold
        manifests but were not read (see ``core.directory``)."""
        sha, warnings = self._warned.get(instance.key, ("", ()))
        return warnings if sha == revision.sha else ()

    def source_key(self, instance: AppInstance, revision: Revision) -> str:
        """What the last render of INSTANCE at REVISION was made from, as a digest; REVISION's SHA
        before it is rendered."""
        sha, key = self._sources.get(instance.key, ("", ""))
        return key if sha == revision.sha else revision.sha

    async def _offload(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """FN(*ARGS, **KWARGS) on a parse thread, so that the event loop stays free."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))

    async def _ref_revisions(self, instance: AppInstance) -> dict[str, str]:
        """The commit each ref the instance's value files name resolves to now."""
        used = {name[1:].partition("/")[0] for name in instance.source.helm.value_files
                if name.startswith("$")}
        out = {}
        for ref in instance.source.refs:
            if ref.name in used:
                repo = self.fleet.repository(ref.repo)
                out[ref.name] = (await self.git.ensure(repo, ref.target_revision)).sha
        return out

    async def _ref_files(self, instance: AppInstance, refs: Mapping[str, str]) -> dict[str, str]:
        """The text of each ``$<ref>/<path>`` value file, read at the ref's commit."""
        out = {}
        by_name = {ref.name: ref for ref in instance.source.refs}
        for name in instance.source.helm.value_files:
            if not name.startswith("$"):
                continue
            ref_name, _, path = name[1:].partition("/")
            ref = by_name.get(ref_name)
            if ref is None or ref_name not in refs:
                raise RenderError(f"value file {name!r}: no source is named '{ref_name}'")
            repo = self.fleet.repository(ref.repo)
            sha = refs[ref_name]
            blobs = await self.git.read_tree(
                repo, sha, path, max_file_size=self.fleet.settings.max_manifest_file_size,
                limited_suffixes=MANIFEST_SUFFIXES)
            data = blobs.get(path)
            if data is None:
                raise RenderError(f"value file {name!r}: {repo.name}@{sha[:12]} has no file "
                                  f"{path!r}")
            try:
                out[name] = data.decode("utf-8")
            except UnicodeDecodeError:
                raise RenderError(f"value file {name!r}: not UTF-8 text") from None
        return out

    def _chart_port(self) -> ChartPort:
        if self.charts is None:
            raise RenderError("chart sources are not available here")
        return self.charts

    async def _render_chart(self, instance: AppInstance, revision: Revision, kube_version: str,
                            refs: Mapping[str, str]) -> Rendered:
        """The manifests of a chart source at REVISION (its version and digest)."""
        src = instance.source
        repo = self.fleet.helm_repository(src.repo)
        limit = self.fleet.settings.max_render_output_size
        where = f"{repo.name}:{src.chart}@{revision.sha.partition('@')[0]}"
        ref_files = await self._ref_files(instance, refs)
        self.renders += 1
        async with self._chart_port().materialise(repo, src.chart, revision) as root:
            try:
                text = await self.renderer.render(
                    root, src.chart, release_name=src.helm.release_name or instance.app,
                    namespace=instance.namespace, helm=src.helm, kube_version=kube_version,
                    cache_key=f"chart:{repo.url}/{src.chart}@{revision.sha}", max_output=limit,
                    ref_files=ref_files)
            except SourceTooLarge as exc:
                raise SourceTooLarge(f"{where}: {exc} {_setting(limit)}") from None
        if len(text) > limit:
            raise SourceTooLarge(f"{where}: the render output is over the limit of {limit} bytes "
                                 f"{_setting(limit)}")
        origin = SourceLocation(repo.name, revision.sha, src.chart)
        return await self._offload(_parse_rendered, text, None, where, origin=origin,
                                   default_namespace=instance.namespace,
                                   cluster_scoped=self.cluster_scoped(instance.cluster)), ()

    async def _render(self, instance: AppInstance, revision: Revision,
                      kube_version: str, refs: Mapping[str, str]) -> Rendered:
        if instance.source.chart:
            return await self._render_chart(instance, revision, kube_version, refs)
        repo = self.repository(instance)
        settings = self.fleet.settings
        path = instance.source.path.strip("/") or "."
        where = f"{repo.name}@{revision.sha[:12]}:{path}"
        try:
            files = await self.git.read_tree(repo, revision.sha, path,
                                             max_file_size=settings.max_manifest_file_size,
                                             limited_suffixes=SOURCE_SUFFIXES)
        except SourceTooLarge as exc:
            raise SourceTooLarge(f"{exc} (settings.maxManifestFileSize: "
                                 f"{format_size(settings.max_manifest_file_size)})") from None
        base = "" if path == "." else path + "/"
        top = {name[len(base):] for name in files if "/" not in name[len(base):]}
        origin = SourceLocation(repo.name, revision.sha, "" if path == "." else path)
        extra = self.cluster_scoped(instance.cluster)
        self.renders += 1
        if any(marker in top for marker in RENDER_MARKERS):
            ref_files = await self._ref_files(instance, refs)
            text, opened = await self._rendered(instance, repo, revision, path, kube_version,
                                                ref_files)
            if len(text) > settings.max_render_output_size:  # a cached render of a larger limit
                raise SourceTooLarge(f"{where}: the render output is over the limit of "
                                     f"{settings.max_render_output_size} bytes "
                                     f"{_setting(settings.max_render_output_size)}")
            return await self._offload(_parse_rendered, text, self.decryptor, where,
                                       origin=replace(origin, decrypted=opened),
                                       default_namespace=instance.namespace,
                                       cluster_scoped=extra), ()
        chosen = select_files(files, base, instance.source.directory, where)
        manifests = {n: files[n] for n in chosen.manifests}
        total = sum(len(data) for data in manifests.values())
        if total > settings.max_render_output_size:
            raise SourceTooLarge(f"{where}: the manifest files total {total} bytes, over the limit "
                                 f"of {settings.max_render_output_size} bytes "
                                 f"{_setting(settings.max_render_output_size)}")
        if chosen.jsonnet:
            outputs = await self._jsonnet(instance, repo, revision, path, chosen.jsonnet,
                                          settings.max_render_output_size - total)
            manifests.update((name, text.encode()) for name, text in outputs.items())
        parsed = await self._offload(_parse_plain, manifests, self.decryptor,
                                     origin=SourceLocation(repo.name, revision.sha),
                                     default_namespace=instance.namespace, cluster_scoped=extra)
        return parsed, chosen.warnings

    async def _jsonnet(self, instance: AppInstance, repo: Repository, revision: Revision,
                       path: str, files: tuple[str, ...], budget: int) -> Mapping[str, str]:
        """The evaluated output of the Jsonnet FILES of PATH, within BUDGET bytes in all; the
        values of its arguments and variables see Argo CD's build environment."""
        where = f"{repo.name}@{revision.sha[:12]}:{path}"
        limit = self.fleet.settings.max_render_output_size
        env = build_env(app=instance.app, namespace=instance.namespace, revision=revision.sha,
                        repo_url=safe_url(repo.url), path=instance.source.path,
                        target_revision=instance.source.target_revision)
        params = substituted(instance.source.directory.jsonnet, env)
        async with self.git.materialise(repo, revision.sha, path) as directory:
            root = _repository_root(directory, path)
            try:
                outputs = await self.renderer.render_jsonnet(
                    root, path, files, params,
                    cache_key=f"{repo.name}@{revision.sha}", max_output=max(1, budget))
            except SourceTooLarge as exc:
                raise SourceTooLarge(f"{where}: {exc} {_setting(limit)}") from None
            except RenderError as exc:
                raise RenderError(f"{where}: {exc}") from None
        if sum(len(text) for text in outputs.values()) > budget:  # a cached render of a larger limit
            raise SourceTooLarge(f"{where}: the manifests and Jsonnet output are over the limit of "
                                 f"{limit} bytes {_setting(limit)}")
        return outputs

    async def _rendered(self, instance: AppInstance, repo: Repository, revision: Revision,
                        path: str, kube_version: str,
                        ref_files: Mapping[str, str]) -> tuple[str, bool]:
        """The Kustomize or Helm output of PATH, and whether SOPS files were decrypted for it."""
        limit = self.fleet.settings.max_render_output_size
        async with self.git.materialise(repo, revision.sha, path) as directory:
            root = _repository_root(directory, path)
            opened = 0
            if self.decryptor is not None:
                opened = await self.decryptor.decrypt_tree(
                    root, name=f"{repo.name}@{revision.sha[:12]}", required=path)
            try:
                text = await self.renderer.render(
                    root, path, release_name=instance.source.helm.release_name or instance.app,
                    namespace=instance.namespace, helm=instance.source.helm,
                    kube_version=kube_version, cache_key=f"{repo.name}@{revision.sha}",
                    max_output=limit, ref_files=ref_files)
            except SourceTooLarge as exc:
                raise SourceTooLarge(f"{repo.name}@{revision.sha[:12]}:{path}: {exc} "
                                     f"{_setting(limit)}") from None
        return text, opened > 0


def _repository_root(directory: Path, path: str) -> Path:
    """The root of a materialised tree, given the directory of PATH within it."""
    for _ in PurePosixPath(path).parts if path != "." else ():
        directory = directory.parent
    return directory


def _setting(limit: int) -> str:
    return f"(settings.maxRenderOutputSize: {format_size(limit)})"


def _parse_rendered(text: str, decryptor: DecryptPort | None, where: str, *,
                    origin: SourceLocation, default_namespace: str,
                    cluster_scoped: Collection[tuple[str, str]]) -> tuple[Manifest, ...]:
    """Manifests of a Kustomize or Helm output (blocking: runs on a parse thread)."""
    if decryptor is not None and decryptor.is_encrypted(text):
        raise DecryptError(f"{where}: the rendered output holds a "
                           "SOPS-encrypted document that this host cannot decrypt")
    return parse_stream(text, origin=origin, default_namespace=default_namespace,
                        cluster_scoped=cluster_scoped)


def _parse_plain(files: Mapping[str, bytes], decryptor: DecryptPort | None, *,
                 origin: SourceLocation, default_namespace: str,
                 cluster_scoped: Collection[tuple[str, str]]) -> tuple[Manifest, ...]:
    """Manifests of a plain directory's files, SOPS files decrypted in memory (blocking)."""
    texts = _decode(files, origin)
    sealed = {n for n, t in texts.items() if decryptor.is_encrypted(t)} if decryptor else set()
    if decryptor is not None and sealed:
        texts = _decrypted(texts, sealed, decryptor, origin)
    return parse_files(texts, origin=replace(origin, decrypted=bool(sealed)),
                       default_namespace=default_namespace, cluster_scoped=cluster_scoped)


def _decrypted(texts: Mapping[str, str], sealed: Collection[str], decryptor: DecryptPort,
               origin: SourceLocation) -> dict[str, str]:
    """TEXTS with the SOPS-encrypted files SEALED replaced by their clear text (in memory only)."""
    prefix = f"{origin.repo}@{origin.revision[:12]}"
    return {name: decryptor.decrypt(text, name=f"{prefix}:{name}") if name in sealed else text
            for name, text in texts.items()}


def _decode(files: Mapping[str, bytes], origin: SourceLocation) -> dict[str, str]:
    out = {}
    for name, data in files.items():
        try:
            out[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ManifestError(f"{origin.repo}@{origin.revision[:12]}:{name}: not UTF-8 text") from None
    return out


__all__ = ["DesiredState", "RenderError"]
