"""Git repository URLs: parsing, identity for matching, and redaction for messages.

Accepted forms: ``ssh://[user@]host[:port]/path``, scp-like ``user@host:path``,
``https://host/path`` (``http://`` too), ``file:///abs/path`` and an absolute
local path. Two spellings of one repository (``git@host:org/r.git`` and
``https://host/org/r``) share an identity, which is how Argo CD ``repoURL``s
and webhook payloads are matched to fleet repositories.

The fleet loader (config), the Git edge and the engine all need these rules,
and config, edges and engine may not share code except through model; so the
one implementation lives here. Nothing here touches the network or the disk,
and no function returns a password or token embedded in a URL except
``url_secret``, whose job is to find it so that it can be masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

__all__ = ["SCP_URL", "GitURL", "parse_git_url", "repository_identity", "safe_url",
           "same_repository", "url_secret"]

SCP_URL = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[A-Za-z0-9.\-]+):(?P<path>(?!//).+)$")
"""scp-like ``[user@]host:path`` (an SSH repository without a scheme)."""

_DEFAULT_PORTS = {"ssh": 22, "https": 443, "http": 80}
_SSH_ALIASES = ("git", "git+ssh", "ssh+git")
"""Schemes that only ever name a repository another spelling also reaches (webhook payloads)."""


@dataclass(frozen=True)
class GitURL:
    """A parsed repository URL; ``transport`` is ``ssh``, ``https``, ``http`` or ``file``."""

    transport: str
    host: str
    path: str
    user: str = ""
    port: int = 0
    has_password: bool = False

    @property
    def identity(self) -> str:
        """Transport-independent name: ``host/path`` without ``.git``, or the local path.

        Host and path of a network URL are compared without regard to case, as
        Argo CD does; a local path keeps its case.
        """
        path = self.path.rstrip("/")
        path = path.removesuffix(".git")
        if self.transport == "file":
            return path
        return f"{self.host}/{path.lstrip('/')}".lower()


def parse_git_url(url: str) -> GitURL:
    """Parse ``url``; raises ``ValueError`` with a reason that never contains the URL."""
    text = url.strip()
    if not text:
        raise ValueError("must not be empty")
    if text.startswith("/"):
        return GitURL("file", "", text)
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme == "file":
            if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
                raise ValueError("a file:// URL must name an absolute local path (file:///srv/repo)")
            return GitURL("file", "", parts.path)
        if scheme not in _DEFAULT_PORTS:
            raise ValueError(f"unsupported URL scheme '{scheme}'; use ssh://, https://, file:// "
                             "or an absolute path")
        try:
            port = parts.port or 0
        except ValueError:
            raise ValueError("the URL has an invalid port") from None
        if not parts.hostname:
            raise ValueError("the URL has no host")
        if not parts.path.strip("/"):
            raise ValueError("the URL has no repository path")
        if port == _DEFAULT_PORTS[scheme]:
            port = 0
        return GitURL(scheme, parts.hostname, parts.path, parts.username or "", port,
                      parts.password is not None)
    m = SCP_URL.match(text)
    if m:
        return GitURL("ssh", m["host"], m["path"], m["user"] or "")
    raise ValueError("not a repository URL; use ssh://, https://, file://, user@host:path "
                     "or an absolute path")


def repository_identity(url: str) -> str | None:
    """``parse_git_url(url).identity``, or None when ``url`` names no repository.

    ``git://`` and ``git+ssh://`` spellings (which webhook payloads carry, and
    a fleet file may not use) have the identity of the same host and path.
    """
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if sep and scheme.lower() in _SSH_ALIASES:
        text = f"ssh://{rest}"
    try:
        return parse_git_url(text).identity
    except ValueError:
        return None


def same_repository(a: str, b: str) -> bool:
    """Whether two URLs name the same repository (transport, user, port and case ignored)."""
    identity = repository_identity(a)
    return identity is not None and identity == repository_identity(b)


def safe_url(url: str) -> str:
    """``url`` with any password or token removed from its userinfo (user names are kept)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None and "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    # A lone userinfo on an HTTP URL is usually a token: drop it entirely.
    if parts.scheme.lower() in ("http", "https") and ":" not in userinfo:
        user = ""
    netloc = f"{user}@{hostport}" if user else hostport
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def url_secret(url: str) -> str:
    """The secret part of ``url``'s userinfo (password, or a lone HTTP token), or ""."""
    if "://" not in url:
        return ""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    if not userinfo:
        return ""
    if ":" in userinfo:
        return userinfo.split(":", 1)[1]
    return userinfo if parts.scheme.lower() in ("http", "https") else ""
