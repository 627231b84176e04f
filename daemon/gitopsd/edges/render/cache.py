"""An LRU cache of render results, so an unchanged commit is never rendered twice.

Keys are built from the tree's identity (normally the commit SHA), the path
and only those parameters that can change the renderer's output: Helm results
depend on release, namespace, kube version and values, while plain and
Kustomize results are shared by every cluster. The cache is bounded both in
entries and in bytes of text. It holds values only; it must not render.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from gitopsd.edges.render.helm import plain_data
from gitopsd.edges.render.request import Rendered, RendererKind
from gitopsd.model import HelmParams

DEFAULT_MAX_ENTRIES = 256
DEFAULT_MAX_BYTES = 512 * 1024 * 1024

CacheKey = tuple[Hashable, ...]


@dataclass(frozen=True)
class CacheStats:
    """Counters of a render cache."""

    hits: int
    misses: int
    entries: int
    bytes: int


def _canonical(values: Mapping[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)


def cache_key(
    tree: tuple[object, ...] | str,
    kind: RendererKind,
    path: str,
    *,
    release: str = "",
    namespace: str = "",
    kube_version: str = "",
    helm: HelmParams | None = None,
    ref_files: Mapping[str, str] | None = None,
) -> CacheKey:
    """The key of one render; Helm-only parameters are ignored for other renderers."""
    tree_key = tuple(tree) if isinstance(tree, tuple) else (tree,)
    if kind is not RendererKind.HELM:
        return (tree_key, kind.value, path)
    params = helm or HelmParams()
    return (tree_key, kind.value, path, release, namespace, kube_version,
            tuple(params.value_files), _canonical(plain_data(params.values)),
            tuple((p.name, p.value, p.force_string) for p in params.parameters),
            tuple(sorted((ref_files or {}).items())))


def _size(result: Rendered) -> int:
    return len(result.text) + sum(len(t) for t in (result.files or {}).values())


class RenderCache:
    """A least-recently-used map from cache key to Rendered, bounded in count and size."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[CacheKey, tuple[Rendered, int]] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> Rendered | None:
        """The cached result (now most recently used), counting a hit or a miss."""
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return item[0]

    def put(self, key: CacheKey, result: Rendered) -> None:
        """Store a result, evicting the least recently used ones past the bounds."""
        size = _size(result)
        self._drop(key)
        if self.max_entries <= 0 or size > self.max_bytes:
            return
        self._items[key] = (result, size)
        self._bytes += size
        while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._items)))

    def _drop(self, key: CacheKey) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self._bytes -= item[1]

    def clear(self) -> None:
        """Forget every entry (counters are kept)."""
        self._items.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    @property
    def stats(self) -> CacheStats:
        return CacheStats(self.hits, self.misses, len(self._items), self._bytes)
