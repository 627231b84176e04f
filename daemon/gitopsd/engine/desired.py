"""Desired state of an instance: its revision and its manifests.

Resolves the instance's target revision through the Git port, reads plain
directories straight from the commit tree, materialises a tree only when
Kustomize or Helm must run, and parses the result with ``core.manifests``.
SOPS-encrypted files are decrypted through the optional DecryptPort right
before parsing: in memory for plain directories; for Kustomize and Helm, in
place inside the temporary materialised tree, which is deleted as soon as the
render is done (a clear copy exists on disk, in the private work directory,
only while the renderer runs).
Parsed manifests are cached per (commit, path, parameters, cluster inputs),
so an unchanged commit is never rendered or parsed twice.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import PurePosixPath

from gitopsd.core.manifests import parse_files, parse_stream
from gitopsd.engine.ports import DecryptPort, GitPort, RenderPort
from gitopsd.errors import DecryptError, ManifestError, RenderError
from gitopsd.model import AppInstance, Fleet, Manifest, Repository, Revision, SourceLocation

RENDER_MARKERS = ("kustomization.yaml", "kustomization.yml", "Kustomization", "Chart.yaml")
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

ClusterScoped = Callable[[str], frozenset[tuple[str, str]]]


class DesiredState:
    def __init__(self, fleet: Fleet, git: GitPort, renderer: RenderPort, *,
                 kube_version: Callable[[str], str] | None = None,
                 cluster_scoped: ClusterScoped | None = None, cache_size: int = 512,
                 decryptor: DecryptPort | None = None) -> None:
        self.fleet = fleet
        self.git = git
        self.renderer = renderer
        self.kube_version = kube_version or (lambda cluster: "")
        self.cluster_scoped = cluster_scoped or (lambda cluster: frozenset())
        self.decryptor = decryptor
        self._cache: OrderedDict[tuple[object, ...], tuple[Manifest, ...]] = OrderedDict()
        self._cache_size = cache_size
        self.renders = 0

    def repository(self, instance: AppInstance) -> Repository:
        return self.fleet.repository(instance.source.repo)

    async def resolve(self, instance: AppInstance, commit: str | None = None) -> Revision:
        """The instance's target revision; COMMIT is its head as a poll saw it, which saves a
        listing when that commit is already cached."""
        return await self.git.ensure(self.repository(instance), instance.source.target_revision, commit)

    async def manifests(self, instance: AppInstance, revision: Revision) -> tuple[Manifest, ...]:
        src = instance.source
        cluster = self.fleet.cluster(instance.cluster)
        kube_version = cluster.kube_version or self.kube_version(instance.cluster)
        key = (revision.repo, revision.sha, src.path, instance.namespace, instance.app,
               src.helm.release_name, src.helm.value_files,
               tuple(sorted((k, repr(v)) for k, v in src.helm.values.items())), kube_version)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        result = await self._render(instance, revision, kube_version)
        self._cache[key] = result
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result

    async def _render(self, instance: AppInstance, revision: Revision,
                      kube_version: str) -> tuple[Manifest, ...]:
        repo = self.repository(instance)
        path = instance.source.path.strip("/") or "."
        files = await self.git.read_tree(repo, revision.sha, path)
        base = "" if path == "." else path + "/"
        top = {name[len(base):] for name in files if "/" not in name[len(base):]}
        origin = SourceLocation(repo.name, revision.sha, "" if path == "." else path)
        extra = self.cluster_scoped(instance.cluster)
        self.renders += 1
        if any(marker in top for marker in RENDER_MARKERS):
            async with self.git.materialise(repo, revision.sha, path) as directory:
                root = directory
                for _ in PurePosixPath(path).parts if path != "." else ():
                    root = root.parent
                if self.decryptor is not None:
                    opened = await self.decryptor.decrypt_tree(
                        root, name=f"{repo.name}@{revision.sha[:12]}", required=path)
                    origin = replace(origin, decrypted=opened > 0)
                text = await self.renderer.render(
                    root, path, release_name=instance.source.helm.release_name or instance.app,
                    namespace=instance.namespace, helm=instance.source.helm,
                    kube_version=kube_version, cache_key=f"{repo.name}@{revision.sha}")
            if self.decryptor is not None and self.decryptor.is_encrypted(text):
                raise DecryptError(f"{repo.name}@{revision.sha[:12]}:{path}: the rendered output holds a "
                                   "SOPS-encrypted document that this host cannot decrypt")
            return parse_stream(text, origin=origin, default_namespace=instance.namespace,
                                cluster_scoped=extra)
        texts = _decode({n: b for n, b in files.items()
                         if n.lower().endswith(MANIFEST_SUFFIXES) and not _hidden(n[len(base):])},
                        origin)
        opened = False
        if self.decryptor is not None:
            opened = any(self.decryptor.is_encrypted(t) for t in texts.values())
            texts = _decrypted(texts, self.decryptor, origin)
        return parse_files(texts, origin=SourceLocation(repo.name, revision.sha, decrypted=opened),
                           default_namespace=instance.namespace, cluster_scoped=extra)


def _hidden(relative: str) -> bool:
    """True for files under a dot-directory or dot-files (``.github/``, ``.pre-commit-config.yaml``)."""
    return any(part.startswith(".") for part in relative.split("/"))


def _decrypted(texts: Mapping[str, str], decryptor: DecryptPort,
               origin: SourceLocation) -> dict[str, str]:
    """TEXTS with every SOPS-encrypted file replaced by its clear text (in memory only)."""
    prefix = f"{origin.repo}@{origin.revision[:12]}"
    return {name: decryptor.decrypt(text, name=f"{prefix}:{name}") if decryptor.is_encrypted(text) else text
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
