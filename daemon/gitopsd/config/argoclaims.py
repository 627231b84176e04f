"""What a fleet repository or cluster answers for in Argo CD Applications, as read from the file.

A repository's ``aliases`` are further URLs an Application's ``repoURL`` may
use for it; a cluster's ``servers`` are further API server URLs its
``destination.server`` may use (``https://kubernetes.default.svc`` for the
cluster Argo CD ran in). This module only reads and checks them; matching is
``config.argomatch``'s. Problems go to the ``Reader``.
"""

from __future__ import annotations

from yaml.nodes import Node

from gitopsd.config.reader import Reader
from gitopsd.config.rules import check_server_url
from gitopsd.model.giturls import parse_git_url

__all__ = ["read_aliases", "read_servers"]


def read_aliases(r: Reader, node: Node, p: str) -> tuple[str, ...]:
    """URLs an Argo CD ``repoURL`` may use for this repository; never fetched, only matched."""
    out = []
    for i, item in enumerate(r.sequence(node, p) or []):
        url = r.string(item, f"{p}[{i}]")
        if url is None:
            continue
        try:
            if parse_git_url(url).has_password:
                r.issue(item, f"{p}[{i}]", "an alias must not contain a password")
                continue
        except ValueError as exc:
            r.issue(item, f"{p}[{i}]", str(exc))
            continue
        out.append(url)
    return tuple(out)


def read_servers(r: Reader, node: Node, p: str) -> tuple[str, ...]:
    """API server URLs an Argo CD ``destination.server`` may use for this cluster."""
    out = []
    for i, item in enumerate(r.sequence(node, p) or []):
        url = r.string(item, f"{p}[{i}]")
        if url is None:
            continue
        if reason := check_server_url(url):
            r.issue(item, f"{p}[{i}]", reason)
            continue
        out.append(url)
    return tuple(out)
