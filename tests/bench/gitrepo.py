"""The benchmarks' Git source: a local bare repository and a working clone that pushes to it.

Commits and pushes use the ``git`` command line, as a person or CI job pushing
to a Git host would; the daemon reads the bare repository by its path.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pygit2

ENV = {
    "GIT_AUTHOR_NAME": "gitopsd bench", "GIT_AUTHOR_EMAIL": "bench@gitopsd.invalid",
    "GIT_COMMITTER_NAME": "gitopsd bench", "GIT_COMMITTER_EMAIL": "bench@gitopsd.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0",
}


def git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, **ENV}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.strip()[:500]}")
    return done.stdout


class Repo:
    """A bare repository at ``bare`` and a clone at ``work`` on branch main."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "env.git"
        self.work = root / "work"
        root.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", "--initial-branch=main", str(self.bare), cwd=root)
        git("init", "--quiet", "--initial-branch=main", str(self.work), cwd=root)
        git("remote", "add", "origin", str(self.bare), cwd=self.work)

    @property
    def url(self) -> str:
        return str(self.bare)

    def write(self, files: dict[str, str], message: str = "update") -> str:
        """Write FILES (path -> text), commit them and push; returns the new SHA."""
        for name, text in files.items():
            target = self.work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        git("add", "--all", cwd=self.work)
        git("commit", "--quiet", "--allow-empty", "-m", message, cwd=self.work)
        return self.push()

    def revert_head(self) -> str:
        """``git revert`` the last commit and push; returns the new SHA."""
        git("revert", "--no-edit", "HEAD", cwd=self.work)
        return self.push()

    def push(self) -> str:
        git("push", "--quiet", "origin", "HEAD:refs/heads/main", cwd=self.work)
        return self.head()

    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.work).strip()


class Clone:
    """A bare clone of its own that fetches with libgit2 in-process, as the floor for commit-to-applied.

    Fetching in-process (no ``git`` subprocess) keeps the floor as low as a
    pull-based tool's Git step can be.
    """

    def __init__(self, url: str, path: Path) -> None:
        self.repo = pygit2.init_repository(str(path), bare=True)
        self.remote = self.repo.remotes.create("origin", url, "+refs/heads/main:refs/remotes/origin/main")

    def fetch(self) -> str:
        self.remote.fetch()
        return str(self.repo.references["refs/remotes/origin/main"].target)

    def show(self, sha: str, name: str) -> str:
        commit = self.repo.get(sha)
        assert isinstance(commit, pygit2.Commit)
        blob = commit.tree / name
        assert isinstance(blob, pygit2.Blob)
        return blob.data.decode()
