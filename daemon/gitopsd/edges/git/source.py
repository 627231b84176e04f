"""``GitSource``: the asynchronous face of the Git edge that the engine calls.

One ``GitSource`` serves a whole fleet. It keeps one bare cache per repository
URL, lists remotes cheaply to detect change, fetches only commits the cache
lacks (depth 1 where the transport allows it), and reads files without a
checkout. Every libgit2 call runs in a worker thread under a capacity limiter;
``anyio.to_thread.run_sync`` is used without abandoning on cancellation, so a
cancelled caller still waits for its thread, and locks are never released while
a thread is using the cache. libgit2's connect and read timeouts bound that wait.

It never checks anything out into a shared place and never decides what to
deploy; it only answers "what is the SHA of this ref" and "what are the files
of this commit". When a repository has a ``verify`` policy, ``ensure`` returns
a revision only after its signatures were verified (``signed``): a revision
that fails is never handed to anything that reads its tree.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread
import pygit2

from gitopsd.errors import GitError, RepositoryUnavailable, SignatureInvalid, SourceTooLarge
from gitopsd.model import Repository, Revision
from gitopsd.model.giturls import url_secret
from gitopsd.model.signing import VerifyMode

from . import bindings, known_hosts
from .cache import UNSHALLOW_DEPTH, RepoCache, RepoStats, mirror, refspec, resolve
from .credentials import AuthRejected, Callbacks, read_token
from .failures import shown_ref, translate, where
from .signed import Enforcer, Ledger
from .tree import BlobTooLarge, SizeLimit, TreeProblem, lookup, normalise, read_blobs, write_tree
from .urls import cache_name, is_full_sha

T = TypeVar("T")


class GitSource:
    """Listing, fetching and reading of a fleet's repositories.

    ``timeout`` (seconds) becomes libgit2's server connect and read timeouts,
    which are process-wide settings: the last ``GitSource`` made sets them.
    ``concurrency`` bounds simultaneous libgit2 operations.
    """

    def __init__(self, state_dir: str | Path, *, timeout: float = 30.0,
                 concurrency: int = 4) -> None:
        bindings.realize()  # before any worker thread makes a libgit2 call
        self.root = Path(state_dir) / "git"
        self.timeout = timeout
        self._limiter = anyio.CapacityLimiter(concurrency)
        self._caches: dict[str, RepoCache] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        millis = max(1, int(timeout * 1000))
        pygit2.settings.server_connect_timeout = millis
        pygit2.settings.server_timeout = millis
        self._work = self.root / "work"
        shutil.rmtree(self._work, ignore_errors=True)
        known_hosts.GATE.settle(self.root / "home" / "default")
        self._enforcer = Enforcer(Ledger(self.root / "verified.json"))

    # -- public API -------------------------------------------------------

    def stats(self, repo: Repository) -> RepoStats:
        """Counters of remote listings and fetches done for REPO's URL (a live object)."""
        return self._cache(repo).stats

    def cache_path(self, repo: Repository) -> Path:
        """Directory of REPO's bare cache."""
        return self._cache(repo).path

    async def list_heads(self, repo: Repository) -> dict[str, str]:
        """Every ref the remote advertises, as {ref: sha}; annotated tags peeled to commits.

        Exactly one remote listing; no objects are transferred.
        """
        cache = self._cache(repo)
        start = time.monotonic()
        heads = await self._network(repo, "list", cache.list_heads)
        took = time.monotonic() - start
        cache.stats.listings += 1
        cache.stats.listing_seconds += took
        cache.stats.last_listing_seconds = took
        cache.last_heads = heads
        return dict(heads)

    async def poll(self, repo: Repository, refs: Collection[str]) -> dict[str, str]:
        """Commit SHAs of the watched REFS (as given) from one remote listing.

        Branch names, tag names, full ref names and ``HEAD`` are looked up in a
        single listing, however many refs are asked for; full 40-hex SHAs map to
        themselves and need no listing. Refs the remote lacks are absent from
        the result (``ensure`` reports them as errors).
        """
        shas = {r: r.lower() for r in refs if is_full_sha(r)}
        names = [r for r in refs if r not in shas]
        if names:
            heads = await self.list_heads(repo)
            for ref in names:
                found = resolve(heads, ref)
                if found is not None:
                    shas[ref] = found[1]
        return shas

    async def ensure(self, repo: Repository, ref: str, sha: str | None = None) -> Revision:
        """Make sure the commit REF points to is in the cache; return it as a Revision.

        With a ``verify`` policy on REPO, the revision is returned only once its
        signatures satisfy it; otherwise ``SignatureInvalid`` is raised.

        ``sha``, when given, is REF's SHA from a recent ``poll``: if that commit is
        cached, nothing touches the network, and otherwise the poll's listing is
        reused to name the ref to fetch. Without it a branch, tag or ``HEAD``
        costs one listing. A full 40-hex SHA needs no listing; it is fetched
        (depth 1, else the whole history) only when the cache lacks it.
        A fetch happens only when the wanted commit is missing.
        """
        revision = await self._resolve(repo, ref, sha)
        if repo.verify is not None:
            await self._verify(repo, revision)
        return revision

    async def _resolve(self, repo: Repository, ref: str, sha: str | None) -> Revision:
        cache = self._cache(repo)
        if is_full_sha(ref):
            return await self._ensure_sha(repo, ref.lower(), ref)
        if sha and is_full_sha(sha):
            have = await self._blocking(cache.commit_sha, sha.lower())
            if have == sha.lower():
                return Revision(repo.name, ref, have)
        found = resolve(cache.last_heads, ref) if sha else None
        if found is None or found[1] != (sha or "").lower():
            found = resolve(await self.list_heads(repo), ref)
        if found is None:
            raise GitError(f"revision {shown_ref(ref)} not found in {where(repo)}")
        name, want = found
        async with self._lock(cache):
            have = await self._blocking(cache.commit_sha, want)
            if have is None:
                depth = 1 if cache.endpoint.is_shallow_capable and not _full_history(repo) else 0
                await self._fetch(repo, [refspec(name)], depth)
                have = await self._blocking(cache.commit_sha, want)
                if have is None:
                    # The ref moved between listing and fetch: take what was fetched.
                    have = await self._blocking(cache.commit_sha, mirror(name))
        if have is None:
            raise GitError(f"revision {shown_ref(ref)} of {where(repo)} is not a commit")
        return Revision(repo.name, ref, have)

    async def read_tree(self, repo: Repository, sha: str, path: str = ".", *,
                        max_file_size: int | None = None,
                        limited_suffixes: tuple[str, ...] = ()) -> dict[str, bytes]:
        """All files under PATH at commit SHA, recursively, as {repo-relative path: bytes}.

        PATH "." is the repository root; a file path returns just that file.
        The commit is fetched first if the cache lacks it. A file larger than
        MAX_FILE_SIZE bytes whose name ends with one of LIMITED_SUFFIXES (any
        file when empty) raises ``SourceTooLarge`` naming it; its size is read
        from the object header, so its content is never loaded.
        """
        commit = await self._commit(repo, sha)
        limit = None if max_file_size is None else SizeLimit(max_file_size, limited_suffixes)
        return await self._read(repo, sha, path, lambda r, c: read_blobs(r, c, path, limit),
                                commit)

    async def show_file(self, repo: Repository, sha: str, path: str) -> bytes:
        """Content of the single file PATH at commit SHA."""
        try:
            clean = normalise(path)
        except TreeProblem as exc:
            raise GitError(f"{exc} in {repo.name} at {sha[:12]}") from None
        files = await self.read_tree(repo, sha, clean)
        if list(files) != [clean]:
            raise GitError(f"path {clean} is a directory in {repo.name} at {sha[:12]}")
        return files[clean]

    async def describe(self, repo: Repository, sha: str) -> dict[str, str]:
        """``subject`` and ``author`` (name) of commit SHA as the local cache has it, for people to
        read; {} when the cache does not hold it. Never fetches."""
        if not is_full_sha(sha):
            return {}
        cache = self._cache(repo)

        def run() -> dict[str, str]:
            commit = cache.open()[sha.lower()].peel(pygit2.Commit)
            return {"subject": commit.message.strip().split("\n", 1)[0][:200], "author": commit.author.name}

        try:
            return await self._blocking(run)
        except (pygit2.GitError, KeyError, ValueError, OSError):
            return {}

    @asynccontextmanager
    async def materialise(self, repo: Repository, sha: str,
                          path: str = ".") -> AsyncIterator[Path]:
        """Write the whole tree of commit SHA to a temporary directory; yield PATH within it.

        The whole tree is written because renderers may reach outside PATH
        (Kustomize's ``../base``). The directory is removed on exit.
        """
        commit = await self._commit(repo, sha)
        self._work.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix=f"{sha[:12]}-", dir=self._work))
        try:
            def write(r: pygit2.Repository, c: pygit2.Commit) -> Path:
                clean = normalise(path)
                obj = lookup(c, clean)
                if not isinstance(obj, pygit2.Tree):
                    raise TreeProblem(f"path {clean} is not a directory")
                write_tree(r, c.tree, root)
                return root if clean == "." else root / clean

            yield await self._read(repo, sha, path, write, commit)
        finally:
            await anyio.to_thread.run_sync(shutil.rmtree, root, True)

    # -- internals --------------------------------------------------------

    async def _verify(self, repo: Repository, revision: Revision) -> None:
        """Raise ``SignatureInvalid`` unless REVISION satisfies REPO's verify policy."""
        policy = repo.verify
        assert policy is not None
        cache = self._cache(repo)
        if policy.mode is VerifyMode.STRICT and await self._blocking(cache.is_shallow):
            async with self._lock(cache):
                await self._fetch(repo, ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
                                  UNSHALLOW_DEPTH)
        tag = await self._tag_object(repo, revision) if policy.mode is VerifyMode.TAG else None

        def run() -> None:
            self._enforcer.enforce(repo.name, policy, cache.open(), revision.ref, revision.sha, tag)

        try:
            await self._blocking(run)
        except (pygit2.GitError, KeyError, ValueError) as exc:
            raise SignatureInvalid(f"commit {revision.sha[:12]} of repository {repo.name} cannot be "
                                   f"verified: {' '.join(str(exc).split())}", commit=revision.sha,
                                   reason="unreadable") from None

    async def _tag_object(self, repo: Repository, revision: Revision) -> str | None:
        """Id of the object the tag REVISION.ref names (fetched if needed); None when it is no tag."""
        if is_full_sha(revision.ref):
            return None
        cache = self._cache(repo)
        found = resolve(cache.last_heads, revision.ref)
        if found is None or found[1] != revision.sha:
            found = resolve(await self.list_heads(repo), revision.ref)
        if found is None or not found[0].startswith("refs/tags/"):
            return None
        name = found[0]

        def local() -> str | None:
            r = cache.open()
            target = r.references.get(name)
            obj = r.get(target.target) if target is not None else None
            if obj is None or str(obj.peel(pygit2.Commit).id) != revision.sha:
                return None
            return str(obj.id)

        tag = await self._blocking(local)
        if tag is None:
            async with self._lock(cache):
                await self._fetch(repo, [refspec(name)],
                                  1 if cache.endpoint.is_shallow_capable and not _full_history(repo) else 0)
            tag = await self._blocking(local)
        return tag

    def _cache(self, repo: Repository) -> RepoCache:
        cache = self._caches.get(repo.url)
        if cache is None:
            cache = RepoCache(repo.url, self.root / cache_name(repo.url))
            self._caches[repo.url] = cache
        return cache

    def _lock(self, cache: RepoCache) -> asyncio.Lock:
        return self._locks.setdefault(cache.url, asyncio.Lock())

    async def _blocking(self, fn: Callable[..., T], *args: object) -> T:
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def _commit(self, repo: Repository, sha: str) -> str:
        if not is_full_sha(sha):
            raise GitError(f"{shown_ref(sha)} is not a full commit SHA of {where(repo)}")
        return (await self._ensure_sha(repo, sha.lower(), sha)).sha

    async def _read(self, repo: Repository, sha: str, path: str,
                    fn: Callable[[pygit2.Repository, pygit2.Commit], T], commit: str) -> T:
        cache = self._cache(repo)

        def run() -> T:
            r = cache.open()
            return fn(r, r[commit].peel(pygit2.Commit))

        try:
            return await self._blocking(run)
        except TreeProblem as exc:
            raise GitError(f"{exc} in {repo.name} at {sha[:12]}") from None
        except BlobTooLarge as exc:
            raise SourceTooLarge(
                f"{repo.name}@{sha[:12]}:{exc.path}: the file is {exc.size} bytes, over the "
                f"limit of {exc.limit} bytes per manifest file; it was not read") from None
        except (pygit2.GitError, KeyError, ValueError, OSError) as exc:
            raise GitError(f"cannot read {path} of {where(repo)} at {sha[:12]}: "
                           f"{' '.join(str(exc).split())}") from None

    async def _ensure_sha(self, repo: Repository, sha: str, ref: str) -> Revision:
        cache = self._cache(repo)
        have = await self._blocking(cache.commit_sha, sha)
        if have is not None:
            return Revision(repo.name, ref, have)
        async with self._lock(cache):
            have = await self._blocking(cache.commit_sha, sha)
            if have is None and cache.endpoint.is_shallow_capable and cache.fetch_by_id:
                # Servers that allow fetching any reachable commit by id serve this;
                # others refuse (remembered), and the full fetch below finds it.
                try:
                    await self._fetch(repo, [f"+{sha}:refs/gitopsd/commits/{sha}"],
                                      0 if _full_history(repo) else 1)
                except GitError as exc:
                    cache.fetch_by_id = "specific object" not in str(exc)
                have = await self._blocking(cache.commit_sha, sha)
            if have is None:
                shallow = await self._blocking(cache.is_shallow)
                await self._fetch(repo, ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
                                  UNSHALLOW_DEPTH if shallow else 0)
                have = await self._blocking(cache.commit_sha, sha)
        if have is None:
            raise GitError(f"revision {shown_ref(ref)} not found in {where(repo)}")
        return Revision(repo.name, ref, have)

    async def _fetch(self, repo: Repository, refspecs: list[str], depth: int) -> None:
        if depth == 0 and _full_history(repo) and await self._blocking(self._cache(repo).is_shallow):
            depth = UNSHALLOW_DEPTH
        cache = self._cache(repo)
        start = time.monotonic()
        try:
            await self._network(repo, "fetch",
                                lambda cb: cache.fetch(refspecs, cb, depth=depth))
        finally:
            took = time.monotonic() - start
            cache.stats.fetches += 1
            cache.stats.fetch_seconds += took
            cache.stats.last_fetch_seconds = took

    async def _network(self, repo: Repository, action: str,
                       fn: Callable[[Callbacks], T]) -> T:
        """Run FN(callbacks) in a thread with REPO's credentials and known_hosts."""
        cache = self._cache(repo)
        ep = cache.endpoint
        kh_file = Path(repo.known_hosts_file or Path.home() / ".ssh" / "known_hosts")
        secrets = [url_secret(repo.url)]

        def run() -> T:
            callbacks: Callbacks | None = None
            try:
                token = read_token(repo) if ep.transport in ("http", "https") else ""
                secrets.append(token)
                callbacks = Callbacks(repo, ep, token)
                if ep.transport != "ssh":
                    return fn(callbacks)
                try:
                    home = known_hosts.private_home(self.root / "home", kh_file)
                except OSError as exc:
                    raise RepositoryUnavailable(
                        f"known_hosts file {kh_file} cannot be read ({exc.strerror}); "
                        f"refusing to connect to {where(repo)}") from None
                with known_hosts.GATE.use(home):
                    return fn(callbacks)
            except GitError:
                raise
            except (pygit2.GitError, AuthRejected, OSError, ValueError) as exc:
                raise translate(exc, repo, action, callbacks=callbacks,
                                known_hosts_file=kh_file, secrets=secrets) from None

        return await self._blocking(run)



def _full_history(repo: Repository) -> bool:
    """Strict verification walks history, so its caches are never shallow."""
    return repo.verify is not None and repo.verify.mode is VerifyMode.STRICT
