"""The Git port over working trees: the daemon's desired-state code, fed from disk.

``gitopsd validate --config`` renders applications from the files as they
are in the checkout, before anything is committed or merged, so every
repository of the fleet is mapped to a directory. Every ref resolves to the
pseudo-revision ``working-tree``; ``materialise`` hands out the directory
itself (nothing is copied, nothing is written). For that reason a
``DesiredState`` built on it must not be given a SOPS ``DecryptPort``: that
port decrypts inside the materialised tree, which here is the user's checkout.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace

from gitopsd.errors import GitError, SourceTooLarge
from gitopsd.model import Repository, Revision

WORKTREE_SHA = "working-tree"


class WorkingTrees:
    """A ``GitPort`` whose repositories are directories on disk."""

    def __init__(self, dirs: Mapping[str, Path]) -> None:
        self.dirs = {name: path.absolute() for name, path in dirs.items()}

    def directory(self, repo: str) -> Path:
        try:
            return self.dirs[repo]
        except KeyError:
            raise GitError(f"repository {repo!r} is not mapped to a working tree") from None

    def _inside(self, repo: Repository, path: str) -> Path:
        root = self.directory(repo.name)
        target = Path(os.path.normpath(root / path))
        if target != root and root not in target.parents:
            raise GitError(f"path {path!r} leaves the working tree of {repo.name}")
        if not target.exists():
            raise GitError(f"path {path!r} does not exist in the working tree {root}")
        return target

    async def ensure(self, repo: Repository, ref: str, sha: str | None = None) -> Revision:
        self.directory(repo.name)
        return Revision(repo.name, ref, WORKTREE_SHA)

    async def read_tree(self, repo: Repository, sha: str, path: str = ".", *,
                        max_file_size: int | None = None,
                        limited_suffixes: tuple[str, ...] = ()) -> dict[str, bytes]:
        return await asyncio.to_thread(self._read_tree, repo, path, max_file_size,
                                       limited_suffixes)

    def _read_tree(self, repo: Repository, path: str, max_file_size: int | None,
                   limited_suffixes: tuple[str, ...]) -> dict[str, bytes]:
        root = self.directory(repo.name)
        target = self._inside(repo, path)

        def read(full: Path) -> bytes:
            rel = full.relative_to(root).as_posix()
            if max_file_size is not None and (not limited_suffixes
                                              or rel.lower().endswith(limited_suffixes)):
                size = full.stat().st_size
                if size > max_file_size:
                    raise SourceTooLarge(f"{repo.name}:{rel}: the file is {size} bytes, over the "
                                         f"limit of {max_file_size} bytes per manifest file; "
                                         "it was not read")
            return full.read_bytes()

        if target.is_file():
            return {target.relative_to(root).as_posix(): read(target)}
        files: dict[str, bytes] = {}
        for current, dirs, names in os.walk(target):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            for name in sorted(names):
                full = Path(current) / name
                if full.is_file():
                    files[full.relative_to(root).as_posix()] = read(full)
        return files

    @asynccontextmanager
    async def materialise(self, repo: Repository, sha: str, path: str = ".") -> AsyncIterator[Path]:
        target = self._inside(repo, path)
        if not target.is_dir():
            raise GitError(f"path {path!r} is not a directory in the working tree of {repo.name}")
        yield target

    async def poll(self, repo: Repository, refs: Collection[str]) -> dict[str, str]:
        return {ref: WORKTREE_SHA for ref in refs}

    def stats(self, repo: Repository) -> SimpleNamespace:
        """A working tree is never listed or fetched."""
        return SimpleNamespace(listings=0, fetches=0)
