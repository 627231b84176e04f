"""Which fleet repository an Argo CD ``repoURL`` names, and which cluster a ``destination``.

Argo CD Applications name repositories by URL and clusters by API server URL
(``https://kubernetes.default.svc`` for "the cluster Argo CD runs in") or by
name. A fleet repository answers for its ``url`` and its ``aliases``, compared
by repository identity (``model.giturls``: transport, user, ``.git`` and case
ignored); a fleet cluster answers for its kubeconfig's server and its
``servers``, compared as normalised URLs, and for its name. Pure: returns the
match or raises ``NoMatch`` with a message that says how to fix the fleet file;
it reads no file and must not report issues itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from gitopsd.config.yamlpos import suggest
from gitopsd.model.fleet import Cluster, Repository
from gitopsd.model.giturls import parse_git_url, repository_identity, safe_url

__all__ = ["IN_CLUSTER_SERVER", "NoMatch", "match_cluster_name", "match_repository",
           "match_server", "normal_server"]

IN_CLUSTER_SERVER = "https://kubernetes.default.svc"
_DEFAULT_PORTS = {"https": 443, "http": 80}


class NoMatch(ValueError):
    """No single fleet repository or cluster answers; the message says why and what to add."""


def match_repository(url: str, repositories: Sequence[Repository]) -> Repository:
    """The one fleet repository whose ``url`` or an ``aliases`` entry names URL's repository."""
    shown = safe_url(url)
    exact = [r for r in repositories if url.strip() in (r.url.strip(), *map(str.strip, r.aliases))]
    if len(exact) == 1:
        return exact[0]
    try:
        identity = parse_git_url(url).identity
    except ValueError as exc:
        raise NoMatch(f"invalid repoURL: {exc}") from None
    matches = [r for r in repositories
               if identity in {repository_identity(u) for u in (r.url, *r.aliases)}]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(r.name for r in matches)
        raise NoMatch(f"repoURL '{shown}' matches several fleet repositories ({names})")
    raise NoMatch(f"repoURL '{shown}' is not a repository of the fleet; add it to a "
                  "repository's 'aliases' in the fleet file, or add the repository")


def normal_server(url: str) -> str:
    """URL as compared: scheme and host lower-case, default port and trailing slash dropped."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text.rstrip("/").lower()
    if not parts.scheme or not parts.hostname:
        return text.rstrip("/").lower()
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def match_server(server: str, clusters: Sequence[Cluster]) -> Cluster:
    """The one fleet cluster whose kubeconfig server or ``servers`` entry is SERVER."""
    wanted = normal_server(server)
    matches = [c for c in clusters
               if wanted in {normal_server(s) for s in (c.server, *c.servers) if s}]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(c.name for c in matches)
        raise NoMatch(f"server '{server}' names several fleet clusters ({names}); "
                      "use destination.name")
    hint = (" (the cluster Argo CD runs in: list it under that cluster's 'servers')"
            if wanted == IN_CLUSTER_SERVER else "")
    raise NoMatch(f"no fleet cluster answers for server '{server}'{hint}; add it to a "
                  "cluster's 'servers' in the fleet file, or use destination.name")


def match_cluster_name(name: str, clusters: Sequence[Cluster]) -> Cluster:
    """The fleet cluster called NAME (Argo CD's ``destination.name``)."""
    found = next((c for c in clusters if c.name == name), None)
    if found is None:
        raise NoMatch(f"unknown cluster '{name}'{suggest(name, [c.name for c in clusters])}")
    return found
