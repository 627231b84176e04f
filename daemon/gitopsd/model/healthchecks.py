"""User-supplied health checks as the fleet file declares them: which kinds, which code.

``gitopsd.config`` builds these from the fleet file's ``health`` section, an
Argo CD ``argocd-cm`` ConfigMap and a directory of ``health.lua`` files;
``gitopsd.core.health.custom`` compiles and applies them. Nothing here
compiles, reads files or judges an object.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class CheckTier(enum.Enum):
    """Where a check came from; configured checks are consulted before library ones."""

    CONFIGURED = "configured"  # the fleet file's health entries and argocd-cm
    LIBRARY = "library"        # a luaDirectory, like Argo CD's resource_customizations


@dataclass(frozen=True)
class CelExprs:
    """Flux's ``healthCheckExprs`` fields; empty strings are absent expressions."""

    current: str
    in_progress: str = ""
    failed: str = ""


@dataclass(frozen=True)
class ScriptOrigin:
    """Where a check's code was written: file, 1-based line of its first line, field path."""

    file: str
    line: int
    field: str


@dataclass(frozen=True)
class HealthCheckSpec:
    """One check for the kinds whose ``group/kind`` match ``group`` and ``kind`` (globs).

    Exactly one of ``lua`` and ``cel`` is set. ``api_version``, when set (Flux
    entries), must equal the object's ``apiVersion`` too. ``name`` says which
    check decided, as ``gitopsd health`` prints it (``lua:<file or key>``,
    ``cel``).
    """

    group: str
    kind: str
    name: str
    origin: ScriptOrigin
    lua: str = ""
    use_open_libs: bool = False
    cel: CelExprs | None = None
    api_version: str = ""
    tier: CheckTier = CheckTier.CONFIGURED

    @property
    def is_wildcard(self) -> bool:
        return any(c in self.group + self.kind for c in "*?[")
