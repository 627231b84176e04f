"""Turn pygit2/libgit2 failures into ``gitopsd.errors.RepositoryUnavailable`` with a useful sentence.

Each message names the repository, its URL without credentials and the cause
(unreachable, authentication failed, unknown or changed host key, repository
not found). Causes quoted from libgit2 are scrubbed of the raw URL and of every
secret the caller knows (tokens, URL passwords) before they are used.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from gitopsd.errors import RepositoryUnavailable
from gitopsd.model import Repository
from gitopsd.model.giturls import safe_url

from .credentials import AuthRejected, Callbacks
from .known_hosts import lists_host
from .urls import endpoint

_UNREACHABLE = ("failed to connect", "connection refused", "timed out", "could not resolve",
                "failed to resolve", "no route to host", "network is unreachable",
                "failed to start ssh session", "connection reset", "name or service not known")
_AUTH = ("authentication", "401", "403", "permission denied", "too many redirects")
_MISSING = ("does not appear to be a git repository", "404", "repository not found",
            "could not find repository", "not a git repository")


def scrub(text: str, url: str, secrets: Iterable[str] = ()) -> str:
    """TEXT on one line, with URL shown without credentials and SECRETS masked."""
    text = " ".join(text.split())
    text = text.replace(url, safe_url(url))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def missing_local_path(url: str) -> str | None:
    """The directory a local repository URL names when it does not exist, else None."""
    path = unquote(urlsplit(url).path) if url.startswith("file://") else url
    return None if os.path.exists(path) else path


def where(repo: Repository) -> str:
    """``name (url-without-credentials)``, the way every message names a repository."""
    return f"{repo.name} ({safe_url(repo.url)})"


def host_key_error(repo: Repository, known_hosts_file: Path | None) -> RepositoryUnavailable:
    """The SSH server's key was not accepted: unknown host or changed key."""
    ep = endpoint(repo.url)
    shown = str(known_hosts_file) if known_hosts_file else "known_hosts"
    try:
        text = known_hosts_file.read_text() if known_hosts_file else ""
    except OSError:
        text = ""
    if lists_host(text, ep.host, ep.port):
        return RepositoryUnavailable(
            f"host key for {ep.host_port} does not match the key in known_hosts {shown} "
            f"(the key changed or the host is an impostor); refusing to connect to {where(repo)}")
    return RepositoryUnavailable(f"host key for {ep.host_port} is not in known_hosts {shown}; "
                                 f"refusing to connect to {where(repo)}")


def translate(exc: BaseException, repo: Repository, action: str, *,
              callbacks: Callbacks | None = None, known_hosts_file: Path | None = None,
              secrets: Iterable[str] = ()) -> RepositoryUnavailable:
    """A RepositoryUnavailable describing why ACTION ("list", "fetch", ...) of REPO failed with EXC."""
    ep = endpoint(repo.url)
    if callbacks is not None and callbacks.host_rejected:
        if ep.transport == "ssh":
            return host_key_error(repo, known_hosts_file)
        return RepositoryUnavailable(f"TLS certificate of {ep.host} is not trusted; "
                                     f"refusing to connect to {where(repo)}")
    if isinstance(exc, AuthRejected):
        return RepositoryUnavailable(f"authentication failed for {where(repo)}: "
                                     f"{scrub(exc.reason, repo.url, secrets)}")
    missing = missing_local_path(repo.url) if ep.transport == "local" else None
    if missing is not None:
        return RepositoryUnavailable(f"cannot {action} {repo.name}: repository path {missing} does not exist")
    cause = scrub(str(exc) or type(exc).__name__, repo.url, secrets)
    low = cause.lower()
    if any(p in low for p in _AUTH):
        return RepositoryUnavailable(f"authentication failed for {where(repo)}: {cause}")
    if any(p in low for p in _UNREACHABLE):
        return RepositoryUnavailable(f"cannot reach {where(repo)}: {cause}")
    if any(p in low for p in _MISSING):
        return RepositoryUnavailable(f"repository {where(repo)} not found: {cause}")
    return RepositoryUnavailable(f"cannot {action} {where(repo)}: {cause}")


_REF_OK = re.compile(r"^[\w./@{}^~-]+$")


def shown_ref(ref: str) -> str:
    """REF quoted for a message, truncated if it is long or strange."""
    return repr(ref if len(ref) <= 200 and _REF_OK.match(ref) else ref[:60] + "...")
