"""pytest fixtures for real Git: bare repositories, commits, and an SSH server for them.

- ``git_server`` (session): a ``GitSSHServer`` on 127.0.0.1 serving every bare
  repository under a session directory, with a generated host key; its
  ``client_key_file`` is the only key it accepts and its ``known_hosts_file``
  lists its host key as ``[127.0.0.1]:<port> <key>``.
- ``git_client_key`` / ``git_known_hosts``: those two files as paths.
- ``git_repos`` (function): a factory of fresh bare repositories that the
  server serves; ``BareRepo.commit({path: text}, branch=...)`` writes a commit
  straight into the repository (as a push would) and returns its SHA.

Commits are made with pygit2 in the test process; nothing here talks to the
code under test.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest
from pygit2.enums import ObjectType

from tests.testenv.gitserver import GitSSHServer, write_client_key

_SIG = pygit2.Signature("gitopsd tests", "tests@gitopsd.invalid", 1_700_000_000, 0)
_counter = itertools.count(1)


@dataclass
class GitServerInfo:
    """A running SSH Git server plus the client-side files needed to reach it."""

    server: GitSSHServer
    root: Path
    client_key_file: Path
    known_hosts_file: Path

    @property
    def port(self) -> int:
        return self.server.port

    def url(self, repo: str) -> str:
        """``ssh://git@127.0.0.1:<port>/<repo>.git``."""
        return self.server.url(repo)


@dataclass
class BareRepo:
    """A bare repository on disk, served by the SSH server under ``name``."""

    name: str
    path: Path
    ssh_url: str

    @property
    def file_url(self) -> str:
        return f"file://{self.path}"

    def _repo(self) -> pygit2.Repository:
        return pygit2.Repository(str(self.path))

    def head(self, branch: str = "main") -> str:
        """Current SHA of BRANCH."""
        return str(self._repo().references[f"refs/heads/{branch}"].target)

    def commit(self, files: Mapping[str, str | bytes | None], *, branch: str = "main",
               message: str = "update", replace: bool = False,
               links: Mapping[str, str] | None = None, executable: tuple[str, ...] = ()) -> str:
        """Commit FILES onto BRANCH and return the new commit's SHA.

        FILES maps repo-relative paths to contents; ``None`` deletes a path. The
        previous tree of BRANCH is kept unless ``replace``. ``links`` adds
        symbolic links (path -> target); ``executable`` marks paths 0755.
        """
        repo = self._repo()
        ref = repo.references.get(f"refs/heads/{branch}")
        parents = [ref.target] if ref is not None else []
        flat: dict[str, tuple[pygit2.Oid, int]] = {}
        if ref is not None and not replace:
            _flatten(repo, repo[ref.target].peel(pygit2.Commit).tree, "", flat)
        for path, text in files.items():
            if text is None:
                flat.pop(path, None)
                continue
            data = text.encode() if isinstance(text, str) else text
            mode = pygit2.GIT_FILEMODE_BLOB_EXECUTABLE if path in executable \
                else pygit2.GIT_FILEMODE_BLOB
            flat[path] = (repo.create_blob(data), mode)
        for path, target in (links or {}).items():
            flat[path] = (repo.create_blob(target.encode()), pygit2.GIT_FILEMODE_LINK)
        tree = _build(repo, flat)
        sha = repo.create_commit(f"refs/heads/{branch}", _SIG, _SIG, message, tree, parents)
        return str(sha)

    def tag(self, name: str, target: str, *, annotated: bool = True) -> str:
        """Create tag NAME at commit TARGET; return the tag ref's own object id."""
        repo = self._repo()
        if annotated:
            oid = repo.create_tag(name, pygit2.Oid(hex=target), ObjectType.COMMIT,
                                  _SIG, f"tag {name}")
            return str(oid)
        repo.references.create(f"refs/tags/{name}", pygit2.Oid(hex=target))
        return target

    def set_config(self, key: str, value: str) -> None:
        self._repo().config[key] = value


def _flatten(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str,
             out: dict[str, tuple[pygit2.Oid, int]]) -> None:
    for entry in tree:
        path = f"{prefix}{entry.name}"
        sub = repo[entry.id]
        if isinstance(sub, pygit2.Tree):
            _flatten(repo, sub, f"{path}/", out)
        else:
            out[path] = (entry.id, entry.filemode)


def _build(repo: pygit2.Repository, flat: Mapping[str, tuple[pygit2.Oid, int]]) -> pygit2.Oid:
    files: dict[str, tuple[pygit2.Oid, int]] = {}
    dirs: dict[str, dict[str, tuple[pygit2.Oid, int]]] = {}
    for path, value in flat.items():
        head, sep, rest = path.partition("/")
        if sep:
            dirs.setdefault(head, {})[rest] = value
        else:
            files[head] = value
    builder = repo.TreeBuilder()
    for name, (oid, mode) in files.items():
        builder.insert(name, oid, mode)
    for name, sub in dirs.items():
        builder.insert(name, _build(repo, sub), pygit2.GIT_FILEMODE_TREE)
    return builder.write()


@pytest.fixture(scope="session")
def git_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitServerInfo]:
    """A session-wide SSH Git server with its client key and known_hosts files."""
    root = tmp_path_factory.mktemp("git-served")
    keys = tmp_path_factory.mktemp("git-client")
    key = write_client_key(keys)
    server = GitSSHServer(root, [(keys / "id_ed25519.pub").read_text().strip()]).start()
    known_hosts = keys / "known_hosts"
    known_hosts.write_text(server.known_hosts_line + "\n")
    try:
        yield GitServerInfo(server, root, key, known_hosts)
    finally:
        server.stop()


@pytest.fixture
def git_client_key(git_server: GitServerInfo) -> Path:
    """The private key file the SSH Git server accepts."""
    return git_server.client_key_file


@pytest.fixture
def git_known_hosts(git_server: GitServerInfo) -> Path:
    """A known_hosts file with the SSH Git server's key in ``[127.0.0.1]:<port>`` form."""
    return git_server.known_hosts_file


class RepoFactory:
    """Makes fresh bare repositories under the served root."""

    def __init__(self, server: GitServerInfo, prefix: str) -> None:
        self.server = server
        self.prefix = prefix

    def new(self, name: str = "") -> BareRepo:
        stem = f"{self.prefix}-{name or 'repo'}-{next(_counter)}"
        path = self.server.root / f"{stem}.git"
        pygit2.init_repository(str(path), bare=True, initial_head="main")
        return BareRepo(stem, path, self.server.url(stem))


@pytest.fixture
def git_repos(git_server: GitServerInfo, request: pytest.FixtureRequest) -> RepoFactory:
    """Factory of fresh bare repositories served over SSH (``git_repos.new()``)."""
    prefix = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-")[:40] or "t"
    return RepoFactory(git_server, prefix)
