"""The local bare cache of one repository URL, and the blocking libgit2 calls on it.

Layout: ``<state_dir>/git/<stem>-<sha256(url)[:16]>`` is a bare repository into
which fetched refs are mirrored under their own names (``refs/heads/main`` ->
``refs/heads/main``; the remote ``HEAD`` -> ``refs/gitopsd/HEAD``). Whether a
revision needs fetching is decided by the presence of its commit object, not by
those refs, so a ref that moves back to a known commit costs nothing.

Everything here blocks and must run in a worker thread. Each call opens its
own ``pygit2.Repository`` (pygit2 objects are not thread-safe; separate objects
on one repository are); writes are serialised by the caller's per-cache lock.
A cache that cannot be opened is deleted and recreated: nothing in it is
needed for correctness.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pygit2
from pygit2.enums import FetchPrune

from .credentials import Callbacks
from .urls import endpoint, is_full_sha

# libgit2's GIT_FETCH_DEPTH_UNSHALLOW: turn a shallow cache into a complete one.
UNSHALLOW_DEPTH = 2147483647
HEAD_MIRROR = "refs/gitopsd/HEAD"


@dataclass
class RepoStats:
    """Network work done for one repository URL since the cache object was made."""

    listings: int = 0
    fetches: int = 0
    listing_seconds: float = 0.0
    fetch_seconds: float = 0.0
    last_listing_seconds: float = 0.0
    last_fetch_seconds: float = 0.0


def candidates(ref: str) -> list[str]:
    """Remote ref names REF may mean, in order of preference (branch before tag)."""
    if ref == "HEAD" or ref.startswith("refs/"):
        return [ref]
    return [f"refs/heads/{ref}", f"refs/tags/{ref}"]


def resolve(heads: dict[str, str], ref: str) -> tuple[str, str] | None:
    """(remote ref name, commit sha) of REF in a listing, or None when it is absent."""
    for name in candidates(ref):
        if name in heads:
            return name, heads[name]
    return None


def refspec(name: str) -> str:
    """Fetch refspec that mirrors remote ref NAME into the cache."""
    return f"+{name}:{mirror(name)}"


def mirror(name: str) -> str:
    """The cache's local name for remote ref NAME."""
    return HEAD_MIRROR if name == "HEAD" else name


def fold_peeled(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Listing as {ref: sha}, with annotated tags replaced by the commit they point to."""
    heads: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for name, sha in pairs:
        if name.endswith("^{}"):
            peeled[name[:-3]] = sha
        else:
            heads[name] = sha
    heads.update((k, v) for k, v in peeled.items() if k in heads)
    return heads


class RepoCache:
    """The bare cache of one URL (blocking methods; see the module docstring)."""

    def __init__(self, url: str, path: Path) -> None:
        self.url = url
        self.path = path
        self.endpoint = endpoint(url)
        self.stats = RepoStats()
        self.last_heads: dict[str, str] = {}
        self.fetch_by_id = True  # False once the server refused to serve a commit by id
        self._open_lock = threading.Lock()

    @property
    def _proxy(self) -> Literal[True] | None:
        return True if self.endpoint.transport in ("http", "https") else None

    def open(self) -> pygit2.Repository:
        """A fresh Repository object on the cache, creating or recreating the cache."""
        with self._open_lock:
            try:
                return pygit2.Repository(str(self.path))
            except (pygit2.GitError, KeyError, OSError):
                if self.path.exists():
                    shutil.rmtree(self.path)
                self.path.parent.mkdir(parents=True, exist_ok=True)
                return pygit2.init_repository(str(self.path), bare=True)

    def list_heads(self, callbacks: Callbacks) -> dict[str, str]:
        remote = self.open().remotes.create_anonymous(self.url)
        heads = remote.list_heads(callbacks=callbacks, proxy=self._proxy)
        return fold_peeled((h.name, str(h.oid)) for h in heads if h.name)

    def fetch(self, refspecs: list[str], callbacks: Callbacks, *, depth: int) -> None:
        remote = self.open().remotes.create_anonymous(self.url)
        remote.fetch(refspecs, callbacks=callbacks, proxy=self._proxy, depth=depth,
                     prune=FetchPrune.NO_PRUNE)

    def is_shallow(self) -> bool:
        return bool(self.open().is_shallow)

    def commit_sha(self, target: str) -> str | None:
        """Commit SHA of TARGET (a full SHA, or a local ref name) if the cache has it.

        Annotated tags are peeled. None when absent or not a commit.
        """
        repo = self.open()
        try:
            if is_full_sha(target):
                obj = repo.get(target.lower())
            else:
                ref = repo.references.get(target)
                obj = repo.get(ref.resolve().target) if ref is not None else None
            if obj is None:
                return None
            return str(obj.peel(pygit2.Commit).id)
        except (pygit2.GitError, KeyError, ValueError, pygit2.InvalidSpecError):
            return None
