"""A ``git revert`` commit prepared in a fresh local clone, for ``gitopsd rollback --revert``.

Rolling back the GitOps way changes Git, not the cluster: this clones the
application's repository into a directory of the user's choosing with the
``git`` command (so the user's own credentials and SSH agent apply, as they
will for the push), checks out the branch, reverts one commit there and stops.
It never pushes; the caller prints the command that would. Failures of ``git``
become ``GitError`` carrying git's last line of output, with any password or
token in the URL removed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gitopsd.errors import GitError
from gitopsd.model.giturls import safe_url

__all__ = ["PreparedRevert", "prepare_revert"]

GIT_TIMEOUT = 300.0


@dataclass(frozen=True)
class PreparedRevert:
    """A revert commit waiting in DIRECTORY on BRANCH, and the command that pushes it."""

    directory: Path
    branch: str
    commit: str
    push_command: str


def _git(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, url: str = "") -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise GitError("the git command is not installed") from None
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} did not finish within {GIT_TIMEOUT:.0f}s") from None
    if done.returncode != 0:
        lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {done.returncode}"
        if url:
            last = last.replace(url, safe_url(url))
        raise GitError(f"git {args[0]} failed: {last}")
    return done.stdout.strip()


def prepare_revert(url: str, branch: str, revision: str, directory: Path, *,
                   ssh_key_file: str = "", known_hosts_file: str = "") -> PreparedRevert:
    """Clone URL's BRANCH ("" or ``HEAD``: the default branch) into DIRECTORY (which must not
    exist or be empty) and commit the revert of REVISION there; nothing is pushed."""
    if directory.exists() and any(directory.iterdir()):
        raise GitError(f"{directory} exists and is not empty; pass another --dir")
    env = dict(os.environ)
    if ssh_key_file:
        ssh = ["ssh", "-i", ssh_key_file, "-o", "IdentitiesOnly=yes"]
        if known_hosts_file:
            ssh += ["-o", f"UserKnownHostsFile={known_hosts_file}"]
        env["GIT_SSH_COMMAND"] = shlex.join(ssh)
    clone = ["clone", "--quiet", "--no-tags"]
    if branch and branch != "HEAD":
        clone += ["--branch", branch]
    _git(*clone, url, str(directory), env=env, url=url)
    branch = _git("rev-parse", "--abbrev-ref", "HEAD", cwd=directory)
    parents = _git("rev-list", "--parents", "-n", "1", revision, cwd=directory).split()
    mainline = ["-m", "1"] if len(parents) > 2 else []
    _git("-c", "core.editor=true", "revert", "--no-edit", *mainline, revision, cwd=directory, env=env)
    commit = _git("rev-parse", "HEAD", cwd=directory)
    push = shlex.join(["git", "-C", str(directory), "push", "origin", f"HEAD:{branch}"])
    return PreparedRevert(directory, branch, commit, push)
