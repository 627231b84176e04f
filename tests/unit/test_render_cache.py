"""The render cache: keys, LRU order, bounds and counters."""

from __future__ import annotations

import pytest

from gitopsd.edges.render import RenderCache, Rendered, RendererKind, cache_key
from gitopsd.model import HelmParams


def result(text: str) -> Rendered:
    """A kustomize-like result with ``text``."""
    return Rendered(text=text, files=None, renderer="kustomize")


def test_hit_and_miss_are_counted() -> None:
    """A get before put is a miss, after put a hit returning the same value."""
    cache = RenderCache()
    key = cache_key("sha1", RendererKind.KUSTOMIZE, "apps/x")
    assert cache.get(key) is None
    stored = result("kind: A\n")
    cache.put(key, stored)
    assert cache.get(key) is stored
    assert (cache.stats.hits, cache.stats.misses, cache.stats.entries) == (1, 1, 1)


def test_least_recently_used_is_evicted_first() -> None:
    """Past the entry bound, the entry used longest ago goes first."""
    cache = RenderCache(max_entries=2)
    a, b, c = (cache_key(s, RendererKind.PLAIN, ".") for s in ("a", "b", "c"))
    cache.put(a, result("a"))
    cache.put(b, result("b"))
    assert cache.get(a) is not None
    cache.put(c, result("c"))
    assert a in cache
    assert b not in cache
    assert c in cache
    assert len(cache) == 2


def test_byte_bound_evicts_and_refuses_oversized() -> None:
    """Entries are evicted to stay under the byte bound; one larger than the bound is not kept."""
    cache = RenderCache(max_entries=10, max_bytes=10)
    k1, k2, k3 = (cache_key(s, RendererKind.PLAIN, ".") for s in ("1", "2", "3"))
    cache.put(k1, result("x" * 6))
    cache.put(k2, result("y" * 6))
    assert k1 not in cache
    assert k2 in cache
    cache.put(k3, result("z" * 11))
    assert k3 not in cache
    assert cache.stats.bytes == 6


def test_replacing_an_entry_keeps_the_byte_count_right() -> None:
    """Putting the same key twice counts its bytes once."""
    cache = RenderCache()
    key = cache_key("s", RendererKind.PLAIN, ".")
    cache.put(key, result("abc"))
    cache.put(key, result("abcdef"))
    assert (cache.stats.entries, cache.stats.bytes) == (1, 6)


def test_plain_files_count_towards_size() -> None:
    """A plain result's file texts count towards the byte bound."""
    cache = RenderCache(max_bytes=100)
    key = cache_key("s", RendererKind.PLAIN, ".")
    cache.put(key, Rendered(text="a" * 40, files={"a.yaml": "a" * 40}, renderer="plain"))
    assert cache.stats.bytes == 80


HELM = {"release": "web", "namespace": "prod", "kube_version": "v1.34.4",
        "helm": HelmParams(value_files=("a.yaml",), values={"x": 1})}


@pytest.mark.parametrize("kind", [RendererKind.PLAIN, RendererKind.KUSTOMIZE])
def test_cluster_parameters_do_not_split_tool_independent_keys(kind: RendererKind) -> None:
    """Plain and Kustomize output does not depend on release, namespace or kube version."""
    assert cache_key("sha", kind, "p", **HELM) == cache_key("sha", kind, "p")  # type: ignore[arg-type]


@pytest.mark.parametrize(("field", "value"), [
    ("release", "api"),
    ("namespace", "staging"),
    ("kube_version", "v1.33.0"),
    ("helm", HelmParams(value_files=("b.yaml",), values={"x": 1})),
    ("helm", HelmParams(value_files=("a.yaml",), values={"x": 2})),
    ("helm", HelmParams(value_files=("a.yaml",), values={"x": 1, "y": {"z": [1]}})),
])
def test_every_helm_parameter_is_part_of_the_key(field: str, value: object) -> None:
    """Changing any Helm input gives a different key."""
    changed = {**HELM, field: value}
    base = cache_key("sha", RendererKind.HELM, "c", **HELM)  # type: ignore[arg-type]
    assert cache_key("sha", RendererKind.HELM, "c", **changed) != base  # type: ignore[arg-type]


def test_key_depends_on_tree_and_path() -> None:
    """Another commit or another path is another key."""
    base = cache_key("sha1", RendererKind.PLAIN, "a")
    assert cache_key("sha2", RendererKind.PLAIN, "a") != base
    assert cache_key("sha1", RendererKind.PLAIN, "b") != base
    assert cache_key(("repo", "sha1"), RendererKind.PLAIN, "a") != base


def test_helm_values_key_ignores_mapping_order() -> None:
    """Equal values in a different insertion order give the same key."""
    one = HelmParams(values={"a": 1, "b": {"c": 2, "d": 3}})
    two = HelmParams(values={"b": {"d": 3, "c": 2}, "a": 1})
    assert (cache_key("s", RendererKind.HELM, ".", helm=one)
            == cache_key("s", RendererKind.HELM, ".", helm=two))
