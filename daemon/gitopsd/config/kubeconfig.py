"""The API server URL of a kubeconfig context, read without a Kubernetes client.

The fleet file names a kubeconfig and optionally a context; the cluster's
``server`` is needed to match Argo CD ``destination.server`` values. This
module reads the file's YAML and nothing else: no credentials are loaded,
and no error message repeats file content.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["KubeconfigProblem", "server_of"]


class KubeconfigProblem(Exception):
    """The kubeconfig was read but does not say which server to use."""


def _named(items: Any, name: str) -> dict[str, Any] | None:
    if not isinstance(items, list):
        return None
    for item in items:
        if isinstance(item, dict) and item.get("name") == name:
            return item
    return None


def server_of(text: str, context: str = "") -> str:
    """Server URL of ``context`` (default: the current context) in kubeconfig ``text``.

    Raises ``KubeconfigProblem`` with a one-line reason.
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        raise KubeconfigProblem("is not valid YAML") from None
    if not isinstance(doc, dict):
        raise KubeconfigProblem("is not a kubeconfig (expected a mapping)")
    name = context or doc.get("current-context") or ""
    if not name:
        raise KubeconfigProblem("has no current-context; set the cluster's 'context'")
    ctx = _named(doc.get("contexts"), str(name))
    if ctx is None:
        raise KubeconfigProblem(f"has no context '{name}'")
    cluster_name = (ctx.get("context") or {}).get("cluster") if isinstance(
        ctx.get("context"), dict) else None
    if not cluster_name:
        raise KubeconfigProblem(f"context '{name}' names no cluster")
    cluster = _named(doc.get("clusters"), str(cluster_name))
    if cluster is None or not isinstance(cluster.get("cluster"), dict):
        raise KubeconfigProblem(f"has no cluster '{cluster_name}' (used by context '{name}')")
    server = cluster["cluster"].get("server")
    if not isinstance(server, str) or not server:
        raise KubeconfigProblem(f"cluster '{cluster_name}' has no server URL")
    return server
