"""Read a commit's files straight from the object store: no checkout, no index.

``read_blobs`` returns the blobs under a path as {repo-relative path: bytes},
refusing a blob past a size limit by its header, before its content is read;
``write_tree`` writes a whole commit tree into a directory for renderers that
need files on disk (Kustomize may reach ``../base``). Both keep the result
inside the repository: symbolic links that point outside the tree are refused,
and entry names that could escape a directory (``..``, ``/``) are rejected.
Submodules are left as empty directories. Blocking; run in a worker thread.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import FileMode

_LINK = int(FileMode.LINK)
_EXEC = int(FileMode.BLOB_EXECUTABLE)
_COMMIT = int(FileMode.COMMIT)
_TREE = int(FileMode.TREE)


class TreeProblem(Exception):
    """A path is missing, or the tree holds something unsafe to read or write."""


class BlobTooLarge(Exception):
    """A file under a size limit is larger than it; its content was not read."""

    def __init__(self, path: str, size: int, limit: int) -> None:
        super().__init__(f"{path} is {size} bytes, over the limit of {limit} bytes")
        self.path = path
        self.size = size
        self.limit = limit


@dataclass(frozen=True)
class SizeLimit:
    """At most ``max_bytes`` per file whose name ends with one of ``suffixes`` (all when empty)."""

    max_bytes: int
    suffixes: tuple[str, ...] = ()

    def check(self, repo: pygit2.Repository, path: str, oid: pygit2.Oid) -> None:
        """BlobTooLarge when the blob OID at PATH is limited and too large (read from its header)."""
        if self.suffixes and not path.lower().endswith(self.suffixes):
            return
        _, size = repo.odb.read_header(oid)
        if size > self.max_bytes:
            raise BlobTooLarge(path, size, self.max_bytes)


def normalise(path: str) -> str:
    """Repo-relative POSIX path with "." for the root; ".." and absolute paths refused."""
    clean = posixpath.normpath("/" + path.strip()).lstrip("/") if path.strip() else ""
    if any(part == ".." for part in path.split("/")):
        raise TreeProblem(f"path {path!r} leaves the repository")
    return clean or "."


def _tree(repo: pygit2.Repository, oid: pygit2.Oid) -> pygit2.Tree:
    obj = repo[oid]
    if not isinstance(obj, pygit2.Tree):
        raise TreeProblem(f"object {oid} is not a tree")
    return obj


def _blob(repo: pygit2.Repository, oid: pygit2.Oid) -> pygit2.Blob:
    obj = repo[oid]
    if not isinstance(obj, pygit2.Blob):
        raise TreeProblem(f"object {oid} is not a blob")
    return obj


def _check_name(name: str) -> None:
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise TreeProblem(f"tree entry name {name!r} is not allowed")


def lookup(commit: pygit2.Commit, path: str) -> pygit2.Object:
    """The tree or blob at PATH of COMMIT; TreeProblem when it does not exist."""
    path = normalise(path)
    if path == ".":
        return commit.tree
    try:
        return commit.tree[path]
    except KeyError:
        raise TreeProblem(f"path {path} does not exist") from None


def _link_target(link_path: str, target: str) -> str:
    """Repo-relative path a symlink at LINK_PATH with TARGET points to, or TreeProblem."""
    if target.startswith("/"):
        raise TreeProblem(f"symbolic link {link_path} points outside the repository")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(link_path), target))
    if joined == ".." or joined.startswith("../"):
        raise TreeProblem(f"symbolic link {link_path} points outside the repository")
    return joined


def read_blobs(repo: pygit2.Repository, commit: pygit2.Commit, path: str,
               limit: SizeLimit | None = None) -> dict[str, bytes]:
    """All files under PATH of COMMIT, recursively, keyed by repo-relative path.

    A symbolic link to a file inside the repository reads as that file; links to
    directories are skipped (they would be read twice or loop). A file LIMIT
    covers that is larger than it raises BlobTooLarge before it is read.
    """
    base = normalise(path)
    obj = lookup(commit, base)
    out: dict[str, bytes] = {}
    if isinstance(obj, pygit2.Blob):
        out[base] = _blob_data(repo, commit, base, obj, _file_mode(commit, base), limit)
        return out
    if not isinstance(obj, pygit2.Tree):
        raise TreeProblem(f"path {base} is neither a file nor a directory")
    _walk(repo, commit, obj, "" if base == "." else base, out, limit)
    return out


def _file_mode(commit: pygit2.Commit, path: str) -> int:
    parent, _, name = path.rpartition("/")
    tree = commit.tree if not parent else commit.tree[parent]
    if not isinstance(tree, pygit2.Tree):
        raise TreeProblem(f"path {parent} is not a directory")
    return int(tree[name].filemode)


def _blob_data(repo: pygit2.Repository, commit: pygit2.Commit, path: str,
               blob: pygit2.Blob, mode: int, limit: SizeLimit | None = None) -> bytes:
    if mode != _LINK:
        if limit is not None:
            limit.check(repo, path, blob.id)
        return bytes(blob.data)
    target = _link_target(path, blob.data.decode("utf-8", "surrogateescape"))
    for _ in range(40):
        try:
            obj = commit.tree[target] if target != "." else commit.tree
        except KeyError:
            raise TreeProblem(f"symbolic link {path} points to missing {target}") from None
        mode = _file_mode(commit, target) if target != "." else _TREE
        if mode != _LINK:
            if not isinstance(obj, pygit2.Blob):
                raise IsADirectoryError(target)
            if limit is not None:
                limit.check(repo, path, obj.id)
            return bytes(obj.data)
        if not isinstance(obj, pygit2.Blob):
            raise TreeProblem(f"symbolic link {target} is not a blob")
        target = _link_target(target, obj.data.decode("utf-8", "surrogateescape"))
    raise TreeProblem(f"symbolic link {path} loops")


def _walk(repo: pygit2.Repository, commit: pygit2.Commit, tree: pygit2.Tree, prefix: str,
          out: dict[str, bytes], limit: SizeLimit | None) -> None:
    for entry in tree:
        name = entry.name or ""
        _check_name(name)
        rel = f"{prefix}/{name}" if prefix else name
        mode = int(entry.filemode)
        if mode == _TREE:
            _walk(repo, commit, _tree(repo, entry.id), rel, out, limit)
        elif mode == _COMMIT:
            continue
        else:
            try:
                if limit is not None and mode != _LINK:
                    limit.check(repo, rel, entry.id)
                out[rel] = _blob_data(repo, commit, rel, _blob(repo, entry.id), mode, limit)
            except IsADirectoryError:
                continue


def write_tree(repo: pygit2.Repository, tree: pygit2.Tree, dest: Path, prefix: str = "") -> None:
    """Write TREE's files into the existing directory DEST (modes and in-tree links kept)."""
    for entry in tree:
        name = entry.name or ""
        _check_name(name)
        rel = f"{prefix}/{name}" if prefix else name
        target = dest / name
        mode = int(entry.filemode)
        if mode == _TREE:
            target.mkdir()
            write_tree(repo, _tree(repo, entry.id), target, rel)
        elif mode == _COMMIT:
            target.mkdir()
        elif mode == _LINK:
            link = _blob(repo, entry.id).data.decode("utf-8", "surrogateescape")
            _link_target(rel, link)
            os.symlink(link, target)
        else:
            target.write_bytes(_blob(repo, entry.id).data)
            if mode == _EXEC:
                target.chmod(0o755)
