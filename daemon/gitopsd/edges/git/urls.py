"""Repository URLs as the Git edge needs them: transport and cache directory names.

Parsing, matching and redaction of repository URLs are shared with config and
the engine and live in ``gitopsd.model.giturls``; every message that names a
repository goes through its ``safe_url`` so that a password or token embedded
in a URL never reaches a log or an exception. This module only looks at
strings; it never touches the network or the disk.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from gitopsd.model.giturls import SCP_URL, safe_url

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
        m = SCP_URL.match(url)
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
