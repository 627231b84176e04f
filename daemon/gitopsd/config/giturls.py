"""Git repository URLs as a fleet file may write them, and their identity for matching.

Accepted forms: ``ssh://[user@]host[:port]/path``, scp-like ``user@host:path``,
``https://host/path`` (``http://`` too), ``file:///abs/path`` and an absolute
local path. Two spellings of one repository (``git@host:org/r.git`` and
``https://host/org/r``) share an identity, which is how Argo CD ``repoURL``s
are matched to fleet repositories. Nothing here touches the network, and no
function returns or reports a password embedded in a URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["GitURL", "parse_git_url", "redact", "same_repository"]

_SCP = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[A-Za-z0-9.\-]+):(?P<path>(?!//).+)$")
_DEFAULT_PORTS = {"ssh": 22, "https": 443, "http": 80}


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
        """Transport-independent name: ``host/path`` without ``.git``, or the local path."""
        path = self.path.rstrip("/")
        path = path.removesuffix(".git")
        if self.transport == "file":
            return path
        return f"{self.host.lower()}/{path.lstrip('/')}"


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
    m = _SCP.match(text)
    if m:
        return GitURL("ssh", m["host"], m["path"], m["user"] or "")
    raise ValueError("not a repository URL; use ssh://, https://, file://, user@host:path "
                     "or an absolute path")


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to show."""
    parts = urlsplit(url) if "://" in url else None
    if parts is None or parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()


def same_repository(a: str, b: str) -> bool:
    """Whether two URLs name the same repository (transport and user ignored)."""
    try:
        return parse_git_url(a).identity == parse_git_url(b).identity
    except ValueError:
        return False
