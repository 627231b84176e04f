"""Argo CD's build environment: the ``$ARGOCD_APP_*`` variables in Jsonnet parameters.

Argo CD substitutes these variables in the values of a directory source's
Jsonnet top-level arguments and external variables before it evaluates the
files (``$NAME`` and ``${NAME}``; ``$$`` is a literal ``$``; an unknown name
becomes empty, as Go's ``os.Expand`` does). gitopsd has no projects, so
``ARGOCD_APP_PROJECT_NAME`` is not set. This module only substitutes text; it
must not read the environment of the process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace

from gitopsd.model import JsonnetParams, JsonnetVar

__all__ = ["build_env", "envsubst", "substituted"]

_VARIABLE = re.compile(r"\$(?:\$|\{([^}]*)\}|([A-Za-z0-9_]+))")


def build_env(*, app: str, namespace: str, revision: str, repo_url: str, path: str,
              target_revision: str) -> dict[str, str]:
    """The variables Argo CD sets for one render of an application at REVISION."""
    return {
        "ARGOCD_APP_NAME": app,
        "ARGOCD_APP_NAMESPACE": namespace,
        "ARGOCD_APP_REVISION": revision,
        "ARGOCD_APP_REVISION_SHORT": revision[:7],
        "ARGOCD_APP_REVISION_SHORT_8": revision[:8],
        "ARGOCD_APP_SOURCE_REPO_URL": repo_url,
        "ARGOCD_APP_SOURCE_PATH": path,
        "ARGOCD_APP_SOURCE_TARGET_REVISION": target_revision,
    }


def envsubst(text: str, env: Mapping[str, str]) -> str:
    """TEXT with each ``$NAME`` and ``${NAME}`` replaced by its value in ENV ("" if unset)."""
    def one(match: re.Match[str]) -> str:
        name = match.group(1) if match.group(1) is not None else match.group(2)
        return "$" if name is None else env.get(name, "")
    return _VARIABLE.sub(one, text)


def substituted(params: JsonnetParams, env: Mapping[str, str]) -> JsonnetParams:
    """PARAMS with the build environment substituted in every argument's and variable's value."""
    def each(items: tuple[JsonnetVar, ...]) -> tuple[JsonnetVar, ...]:
        return tuple(replace(v, value=envsubst(v.value, env)) for v in items)
    return replace(params, tlas=each(params.tlas), ext_vars=each(params.ext_vars))
