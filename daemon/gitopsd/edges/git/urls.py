"""Repository URLs: transport, redaction for messages, cache directory names.

Every message that names a repository goes through ``safe_url`` so that a
password or token embedded in a URL never reaches a log or an exception. This
module only looks at strings; it never touches the network or the disk.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+):(?P<path>(?!//).*)$")
_FULL_SHA = re.compile(r"^[0-9a-fA-F]{40}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Endpoint:
    """The parts of a repository URL gitopsd cares about."""

    transport: str  # "local", "ssh", "https" or "http"
    host: str = ""
    port: int = 0
    user: str = ""

    @property
    def host_port(self) -> str:
        """``host:port`` as used in host-key messages (port 22 when unset)."""
        return f"{self.host}:{self.port or 22}"

    @property
    def is_shallow_capable(self) -> bool:
        """libgit2's local transport refuses depth > 0; the network ones allow it."""
        return self.transport != "local"


def endpoint(url: str) -> Endpoint:
    """Classify URL; scp-like ``user@host:path`` counts as SSH."""
    if url.startswith("/") or url.startswith("file://"):
        return Endpoint("local")
    if "://" not in url:
        m = _SCP_LIKE.match(url)
        if m:
            return Endpoint("ssh", m["host"], 22, m["user"] or "")
        return Endpoint("local")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("ssh", "git+ssh", "ssh+git"):
        transport = "ssh"
    elif scheme in ("https", "http"):
        transport = scheme
    else:
        transport = scheme
    try:
        port = parts.port or 0
    except ValueError:
        port = 0
    return Endpoint(transport, parts.hostname or "", port, parts.username or "")


def safe_url(url: str) -> str:
    """URL with any password or token removed from its userinfo (user names are kept)."""
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
    """The secret part of URL's userinfo (password, or a lone HTTP token), or ""."""
    if "://" not in url:
        return ""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    if not userinfo:
        return ""
    if ":" in userinfo:
        return userinfo.split(":", 1)[1]
    return userinfo if parts.scheme.lower() in ("http", "https") else ""


def local_path(url: str) -> str:
    """Filesystem path of a local repository URL."""
    return urlsplit(url).path if url.startswith("file://") else url


def cache_name(url: str) -> str:
    """Directory name of URL's cache: a readable stem plus a hash of the whole URL."""
    stem = safe_url(url).rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    stem = stem.removesuffix(".git")
    stem = _UNSAFE.sub("-", stem).strip("-.")[:40] or "repo"
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return f"{stem}-{digest}"


def is_full_sha(ref: str) -> bool:
    """True for a full 40-hex commit id."""
    return bool(_FULL_SHA.match(ref))
